"""Draw the style preview cards in presets/previews/ (run: python presets/make_style_cards.py).

The cards are *designed* cards, not model output: each shows a palette and a motif
typical of the style, drawn as an illustration so nobody mistakes it for a sample of
what a model will draw. They carry no text of their own: the picker writes the style's
name on the card, and a second, drawn name peeked out behind it. Drawn with Pillow only
(its built-in font, no system fonts), deterministic, so re-running gives byte-identical
files.
"""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path
from typing import Callable

from PIL import Image, ImageDraw, ImageFilter, ImageFont

SIZE = 256
SCALE = 2  # draw at 2× and downsample: cheap anti-aliasing
S = SIZE * SCALE
PRESETS_DIR = Path(__file__).resolve().parent

RGB = tuple[int, int, int]


def _lerp(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def vertical_gradient(stops: list[RGB]) -> Image.Image:
    """A top-to-bottom gradient through evenly spaced colour stops."""
    img = Image.new("RGB", (1, S))
    px = img.load()
    for y in range(S):
        pos = y / (S - 1) * (len(stops) - 1)
        i = min(int(pos), len(stops) - 2)
        px[0, y] = _lerp(stops[i], stops[i + 1], pos - i)
    return img.resize((S, S))


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size * SCALE)  # type: ignore[return-value]


def _glow(img: Image.Image, draw_fn: Callable[[ImageDraw.ImageDraw], None], radius: int) -> Image.Image:
    """Draw shapes twice: once blurred underneath (the glow), once sharp on top."""
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw_fn(ImageDraw.Draw(layer))
    glow = layer.filter(ImageFilter.GaussianBlur(radius * SCALE))
    out = Image.alpha_composite(img.convert("RGBA"), glow)
    out = Image.alpha_composite(out, layer)
    return out.convert("RGB")


# --- one painter per style -------------------------------------------------------

def card_auto() -> Image.Image:
    img = vertical_gradient([(58, 64, 84), (94, 104, 130), (150, 160, 182)])
    d = ImageDraw.Draw(img)
    # a text field with a cursor: "your prompt, as written"
    x0, y0, x1, y1 = int(S * 0.14), int(S * 0.24), int(S * 0.86), int(S * 0.52)
    d.rounded_rectangle((x0 + 8, y0 + 10, x1 + 8, y1 + 10), radius=28, fill=(40, 44, 60))
    d.rounded_rectangle((x0, y0, x1, y1), radius=28, fill=(246, 247, 251), outline=(200, 206, 222), width=4)
    for i, w in enumerate((0.56, 0.42)):
        ly = y0 + 46 + i * 52
        d.rounded_rectangle((x0 + 36, ly, x0 + 36 + int((x1 - x0) * w), ly + 22), radius=11, fill=(170, 178, 200))
    cx = x0 + 36 + int((x1 - x0) * 0.42) + 18
    d.rectangle((cx, y0 + 92, cx + 6, y0 + 128), fill=(60, 110, 240))
    img = img.convert("RGBA")
    return img.convert("RGB")


def card_3d_anime() -> Image.Image:
    img = vertical_gradient([(255, 190, 220), (200, 190, 255), (150, 215, 255)])
    d = ImageDraw.Draw(img)
    cx, cy, r = S // 2, int(S * 0.40), int(S * 0.24)
    d.ellipse((cx - r + 14, cy - r + 24, cx + r + 14, cy + r + 24), fill=(150, 130, 200))
    # toon shading: flat bands instead of a smooth falloff
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 122, 170))
    d.ellipse((cx - r, cy - r, cx + int(r * 0.7), cy + int(r * 0.7)), fill=(255, 160, 196))
    d.ellipse((cx - int(r * 0.85), cy - int(r * 0.85), cx + int(r * 0.25), cy + int(r * 0.25)), fill=(255, 196, 220))
    d.ellipse((cx - int(r * 0.55), cy - int(r * 0.62), cx - int(r * 0.2), cy - int(r * 0.27)), fill=(255, 255, 255))
    d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(90, 40, 90), width=6)
    for sx, sy, sr in ((0.16, 0.16, 22), (0.84, 0.22, 16), (0.8, 0.6, 12), (0.2, 0.58, 10)):
        _star(d, int(S * sx), int(S * sy), sr * SCALE, (255, 255, 255))
    return img


def _star(d: ImageDraw.ImageDraw, cx: int, cy: int, r: int, fill: RGB) -> None:
    """A four-pointed sparkle."""
    k = r // 4
    d.polygon([(cx, cy - r), (cx + k, cy - k), (cx + r, cy), (cx + k, cy + k),
               (cx, cy + r), (cx - k, cy + k), (cx - r, cy), (cx - k, cy - k)], fill=fill)


def card_3d_model() -> Image.Image:
    img = vertical_gradient([(236, 238, 242), (206, 210, 218), (170, 174, 184)])
    cx, cy, a = S // 2, int(S * 0.44), int(S * 0.2)
    h = int(a * 0.58)
    # soft contact shadow
    shadow = Image.new("L", img.size, 0)
    ImageDraw.Draw(shadow).ellipse((cx - a - 20, cy + a + 10, cx + a + 20, cy + a + 60), fill=120)
    shadow = shadow.filter(ImageFilter.GaussianBlur(14 * SCALE))
    img = Image.composite(Image.new("RGB", img.size, (110, 114, 124)), img, shadow)
    d = ImageDraw.Draw(img)
    top = [(cx, cy - a), (cx + a, cy - a + h), (cx, cy - a + 2 * h), (cx - a, cy - a + h)]
    left = [(cx - a, cy - a + h), (cx, cy - a + 2 * h), (cx, cy + a), (cx - a, cy + a - h)]
    right = [(cx + a, cy - a + h), (cx, cy - a + 2 * h), (cx, cy + a), (cx + a, cy + a - h)]
    d.polygon(top, fill=(120, 170, 235))
    d.polygon(left, fill=(62, 108, 180))
    d.polygon(right, fill=(40, 78, 140))
    # wireframe edges, the mark of a modelling tool
    for poly in (top, left, right):
        d.line(poly + [poly[0]], fill=(235, 240, 255), width=3, joint="curve")
    for p in top + [left[3], right[3], left[2]]:
        d.ellipse((p[0] - 6, p[1] - 6, p[0] + 6, p[1] + 6), fill=(255, 170, 40))
    return img


def card_japanese_anime() -> Image.Image:
    img = vertical_gradient([(70, 150, 235), (130, 195, 245), (215, 236, 250)])
    d = ImageDraw.Draw(img)
    for cx, cy, w in ((0.28, 0.22, 0.22), (0.74, 0.34, 0.18)):
        x, y, r = int(S * cx), int(S * cy), int(S * w)
        for dx, dy, k in ((-0.6, 0.1, 0.5), (0, -0.15, 0.65), (0.6, 0.1, 0.5), (0, 0.2, 0.55)):
            rr = int(r * k)
            d.ellipse((x + int(dx * r) - rr, y + int(dy * r) - rr // 2, x + int(dx * r) + rr, y + int(dy * r) + rr),
                      fill=(255, 255, 255))
    d.polygon([(0, int(S * 0.70)), (int(S * 0.3), int(S * 0.58)), (int(S * 0.62), int(S * 0.66)),
               (S, int(S * 0.56)), (S, S), (0, S)], fill=(70, 160, 110))
    d.polygon([(0, int(S * 0.78)), (int(S * 0.45), int(S * 0.70)), (S, int(S * 0.76)), (S, S), (0, S)],
              fill=(40, 120, 85))
    rng = random.Random(7)
    for _ in range(34):
        x, y = rng.randrange(S), rng.randrange(int(S * 0.05), int(S * 0.72))
        r = rng.randrange(5, 11) * SCALE
        _blossom(d, x, y, r, rng.random() * math.tau)
    return img


def _blossom(d: ImageDraw.ImageDraw, x: int, y: int, r: int, angle: float) -> None:
    for k in range(5):
        t = angle + k * math.tau / 5
        px, py = x + math.cos(t) * r * 0.6, y + math.sin(t) * r * 0.6
        pr = r * 0.5
        d.ellipse((px - pr, py - pr, px + pr, py + pr), fill=(255, 190, 210))
    d.ellipse((x - r * 0.22, y - r * 0.22, x + r * 0.22, y + r * 0.22), fill=(250, 120, 160))


def card_movie() -> Image.Image:
    img = vertical_gradient([(18, 52, 66), (40, 98, 110), (220, 130, 60), (60, 34, 30)])
    d = ImageDraw.Draw(img)
    sun_y = int(S * 0.58)
    img = _glow(img, lambda g: g.ellipse((S // 2 - 70, sun_y - 70, S // 2 + 70, sun_y + 70),
                                         fill=(255, 200, 120, 255)), 22)
    d = ImageDraw.Draw(img)
    d.rectangle((0, sun_y, S, S), fill=(36, 26, 30))
    # a lone figure on the horizon
    fx = int(S * 0.66)
    d.ellipse((fx - 9, sun_y - 62, fx + 9, sun_y - 44), fill=(20, 14, 18))
    d.rounded_rectangle((fx - 12, sun_y - 44, fx + 12, sun_y), radius=8, fill=(20, 14, 18))
    # film grain, seeded so the file is reproducible
    rng = random.Random(42)
    grain = Image.new("L", (SIZE, SIZE))
    grain.putdata([rng.randrange(0, 40) for _ in range(SIZE * SIZE)])
    grain = grain.resize((S, S))
    img = Image.composite(Image.new("RGB", img.size, (0, 0, 0)), img, grain.point(lambda v: v // 3))
    d = ImageDraw.Draw(img)
    bar = int(S * 0.14)  # 2.39:1 letterbox
    d.rectangle((0, 0, S, bar), fill=(0, 0, 0))
    d.rectangle((0, S - bar, S, S), fill=(0, 0, 0))
    return img


def card_comic() -> Image.Image:
    img = Image.new("RGB", (S, S), (255, 214, 40))
    d = ImageDraw.Draw(img)
    step = 22 * SCALE // 2
    for gy in range(0, S + step, step):
        for gx in range(0, S + step, step):
            off = step // 2 if (gy // step) % 2 else 0
            t = (gx + gy) / (2 * S)  # dots grow toward the bottom-right corner
            r = 1.5 + 7 * t
            x = gx + off
            d.ellipse((x - r, gy - r, x + r, gy + r), fill=(236, 60, 50))
    # starburst
    cx, cy = int(S * 0.36), int(S * 0.42)
    pts = []
    for k in range(24):
        rr = (0.3 if k % 2 == 0 else 0.19) * S
        t = k * math.tau / 24
        pts.append((cx + math.cos(t) * rr, cy + math.sin(t) * rr))
    d.polygon(pts, fill=(255, 255, 255), outline=(0, 0, 0), width=7)
    d.text((cx, cy), "POW!", font=_font(30), fill=(236, 40, 40), anchor="mm",
           stroke_width=3 * SCALE, stroke_fill=(0, 0, 0))
    # speech bubble
    bx0, by0, bx1, by1 = int(S * 0.56), int(S * 0.08), int(S * 0.94), int(S * 0.34)
    d.polygon([(bx0 + 40, by1 - 10), (bx0 + 10, by1 + 44), (bx0 + 90, by1 - 10)], fill=(255, 255, 255),
              outline=(0, 0, 0), width=7)
    d.ellipse((bx0, by0, bx1, by1), fill=(255, 255, 255), outline=(0, 0, 0), width=7)
    d.polygon([(bx0 + 44, by1 - 18), (bx0 + 20, by1 + 30), (bx0 + 84, by1 - 18)], fill=(255, 255, 255))
    d.text(((bx0 + bx1) // 2, (by0 + by1) // 2), "Wow!", font=_font(18), fill=(0, 0, 0), anchor="mm")
    return img


def card_cyberpunk() -> Image.Image:
    img = vertical_gradient([(12, 6, 30), (50, 10, 70), (110, 20, 110), (20, 6, 40)])
    horizon = int(S * 0.56)
    r = int(S * 0.22)
    sun_y = horizon - int(S * 0.1)

    def sun(g: ImageDraw.ImageDraw) -> None:
        g.ellipse((S // 2 - r, sun_y - r, S // 2 + r, sun_y + r), fill=(255, 80, 190, 255))

    img = _glow(img, sun, 16)
    d = ImageDraw.Draw(img)
    for k in range(5):  # retro sun stripes, only across the sun's lower half
        y = sun_y + 12 + k * 18
        d.rectangle((S // 2 - r, y, S // 2 + r, y + 4 + 2 * k), fill=(86, 16, 96))
    # skyline silhouettes on both sides, leaving the sun in view
    rng = random.Random(3)
    for x_start, x_end in ((0, int(S * 0.3)), (int(S * 0.7), S)):
        x = x_start
        while x < x_end:
            w = min(rng.randrange(22, 50) * SCALE // 2, x_end - x)
            h = rng.randrange(50, 170) * SCALE // 2
            d.rectangle((x, horizon - h, x + w, horizon), fill=(16, 8, 34))
            for wy in range(horizon - h + 10, horizon - 6, 14):
                for wx in range(x + 6, x + w - 8, 12):
                    if rng.random() < 0.3:
                        d.rectangle((wx, wy, wx + 4, wy + 5), fill=(0, 240, 255))
            x += w + 2
    d.rectangle((0, horizon, S, S), fill=(10, 4, 24))

    def grid(g: ImageDraw.ImageDraw) -> None:
        for k in range(-12, 13):
            g.line((S // 2 + k * 20, horizon, S // 2 + k * 150, S), fill=(0, 230, 255, 255), width=3)
        for k in range(1, 12):
            y = horizon + int((S - horizon) * (k / 11) ** 1.8)
            g.line((0, y, S, y), fill=(255, 60, 200, 255), width=3)

    img = _glow(img, grid, 4)
    return img


def card_fantasy() -> Image.Image:
    img = vertical_gradient([(20, 18, 60), (70, 40, 120), (200, 120, 150), (40, 60, 90)])
    d = ImageDraw.Draw(img)
    rng = random.Random(11)
    for _ in range(70):
        x, y, r = rng.randrange(S), rng.randrange(int(S * 0.5)), rng.choice((1, 1, 2, 3))
        d.ellipse((x - r, y - r, x + r, y + r), fill=(255, 250, 220))
    img = _glow(img, lambda g: g.ellipse((int(S * 0.66), int(S * 0.1), int(S * 0.86), int(S * 0.3)),
                                         fill=(255, 245, 210, 255)), 18)
    d = ImageDraw.Draw(img)
    d.polygon([(0, int(S * 0.7)), (int(S * 0.18), int(S * 0.44)), (int(S * 0.34), int(S * 0.62)),
               (int(S * 0.52), int(S * 0.38)), (int(S * 0.74), int(S * 0.64)), (int(S * 0.9), int(S * 0.48)),
               (S, int(S * 0.6)), (S, S), (0, S)], fill=(54, 44, 96))
    # castle on a crag
    base = int(S * 0.66)
    c = (24, 20, 48)
    d.polygon([(int(S * 0.22), S), (int(S * 0.34), base), (int(S * 0.66), base), (int(S * 0.8), S)], fill=c)
    for x0, w, h in ((0.36, 0.07, 0.2), (0.45, 0.1, 0.14), (0.57, 0.07, 0.24)):
        xa, xb, top = int(S * x0), int(S * (x0 + w)), base - int(S * h)
        d.rectangle((xa, top, xb, base), fill=c)
        d.polygon([(xa - 6, top), ((xa + xb) // 2, top - int(S * 0.08)), (xb + 6, top)], fill=c)
        d.rectangle(((xa + xb) // 2 - 4, top + 20, (xa + xb) // 2 + 4, top + 34), fill=(255, 200, 90))
    for _ in range(26):  # floating sparks
        x, y = rng.randrange(S), rng.randrange(int(S * 0.3), int(S * 0.75))
        _star(d, x, y, rng.randrange(4, 10), (255, 230, 150))
    return img


PAINTERS: dict[str, Callable[[], Image.Image]] = {
    "auto": card_auto,
    "3d-anime": card_3d_anime,
    "3d-model": card_3d_model,
    "japanese-anime": card_japanese_anime,
    "movie": card_movie,
    "comic": card_comic,
    "cyberpunk": card_cyberpunk,
    "fantasy": card_fantasy,
}


def render_card(style_id: str) -> Image.Image:
    big = PAINTERS[style_id]().convert("RGB")
    return big.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def main(presets_dir: Path = PRESETS_DIR) -> list[Path]:
    """Write one card per style listed in styles.json; returns the written paths."""
    styles = json.loads((presets_dir / "styles.json").read_text(encoding="utf-8"))["styles"]
    out_dir = presets_dir / "previews"
    out_dir.mkdir(exist_ok=True)
    written = []
    for style in styles:
        if style["id"] not in PAINTERS:
            raise SystemExit(f"no card painter for style {style['id']!r}; add one to {__file__}")
        path = out_dir / style["preview"]
        # 256-colour palette keeps each card small; gradients survive thanks to dithering.
        card = render_card(style["id"]).quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                                 dither=Image.Dither.FLOYDSTEINBERG)
        card.save(path, optimize=True)
        written.append(path)
    return written


if __name__ == "__main__":
    for p in main(Path(sys.argv[1]) if len(sys.argv) > 1 else PRESETS_DIR):
        print(f"{p}  {p.stat().st_size // 1024} KB")

"""Masks and canvases for repainting and extending: pure PIL/numpy, no torch.

Why a module of its own: every step that decides WHICH pixels may change lives here, so
the promise "pixels outside the mask stay as they were" is kept in one place:

- `prepare_mask` turns whatever arrived (a grey mask, an RGBA layer, another size) into
  the hard mask (255: repaint) and the feathered one the result is pasted back with;
- `fill_masked` sets what the masked area holds before denoising (A1111's
  inpainting_fill: the original pixels, noise, or a blank grey);
- `crop_box` is "only the masked area": the mask's box plus padding, grown to the
  working aspect so the crop is not squashed;
- `paste_back` composites the model's output over the ORIGINAL image through the
  feathered mask, so every pixel where the feathered mask is 0 is the original's byte
  for byte (the VAE round trip never touches them);
- `extend_canvas` grows the canvas on chosen sides and masks exactly the new area.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from .params import OUTPAINT_SIDES, RequestRejected

THRESHOLD = 128  # a mask pixel at or above this is "repaint"


class EmptyMask(RequestRejected):
    """Nothing is painted: there is nothing to repaint."""


@dataclass(frozen=True)
class PreparedMask:
    hard: Image.Image  # "L", 0 or 255: where the model may draw
    soft: Image.Image  # "L", the hard mask feathered by the blur: how the result is pasted back
    box: tuple[int, int, int, int]  # the hard mask's bounding box (left, top, right, bottom)
    note: str | None = None  # e.g. "the mask was resized from 64×64 to 128×128"


def mask_from_upload(mask: Image.Image) -> Image.Image:
    """One "L" channel from what a client sent: a mask with transparency is read by its
    alpha channel where the colour channels carry nothing (a brush layer on transparent),
    otherwise by brightness (white: repaint), as A1111 reads it."""
    if mask.mode in ("RGBA", "LA", "PA") or (mask.mode == "P" and "transparency" in mask.info):
        rgba = mask.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"))
        if alpha.min() < 255:  # a layer: painted = opaque
            return Image.fromarray(alpha, "L")
        return rgba.convert("L")
    return mask.convert("L")


def prepare_mask(mask: Image.Image, size: tuple[int, int], *, blur: int = 0, invert: bool = False,
                 feather_inside_only: bool = False) -> PreparedMask:
    """The hard and feathered masks for an image of `size`. A mask of another size is
    resized to it (with a note saying so); an empty one raises EmptyMask."""
    grey = mask_from_upload(mask)
    note = None
    if grey.size != tuple(size):
        note = (f"The mask was {grey.width}×{grey.height} and the image {size[0]}×{size[1]}; "
                "the mask was resized to the image.")
        grey = grey.resize(tuple(size), Image.Resampling.NEAREST)
    hard = np.where(np.asarray(grey) >= THRESHOLD, 255, 0).astype(np.uint8)
    if invert:
        hard = 255 - hard
    if not hard.any():
        raise EmptyMask("The mask is empty: paint over the part of the picture to repaint."
                        if not invert else "The inverted mask is empty: the whole picture is painted, so nothing "
                        "outside it would be repainted; paint less.")
    hard_image = Image.fromarray(hard, "L")
    soft_image = feather(hard_image, blur, inside_only=feather_inside_only)
    ys, xs = np.nonzero(hard)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return PreparedMask(hard=hard_image, soft=soft_image, box=box, note=note)


def feather(hard: Image.Image, blur: int, *, inside_only: bool = False) -> Image.Image:
    """The mask with a soft edge `blur` pixels wide. `inside_only`: the soft edge lies
    within the masked area, so nothing outside it changes at all (used when extending)."""
    if blur <= 0:
        return hard.copy()
    soft = np.asarray(hard.filter(ImageFilter.GaussianBlur(blur)))
    if inside_only:
        soft = np.minimum(soft, np.asarray(hard))
    return Image.fromarray(soft.astype(np.uint8), "L")


def fill_masked(image: Image.Image, hard: Image.Image, mode: str, seed: int = 0) -> Image.Image:
    """What the masked area holds before denoising: the original pixels, noise, or blank grey."""
    if mode == "original":
        return image.convert("RGB")
    rgb = np.asarray(image.convert("RGB")).copy()
    where = np.asarray(hard) >= THRESHOLD
    if mode == "noise":
        noise = np.random.default_rng(seed).integers(0, 256, size=rgb.shape, dtype=np.uint8)
        rgb[where] = noise[where]
    elif mode == "blank":
        rgb[where] = 127
    else:
        raise RequestRejected(f"Masked area fill must be one of original, noise or blank, not {mode!r}.")
    return Image.fromarray(rgb, "RGB")


def crop_box(box: tuple[int, int, int, int], padding: int, size: tuple[int, int],
             aspect: float | None = None) -> tuple[int, int, int, int]:
    """The mask's box plus `padding` on every side, grown (never shrunk) towards `aspect`
    (width / height) where the image has room, kept inside the image."""
    width, height = size
    left, top, right, bottom = box[0] - padding, box[1] - padding, box[2] + padding, box[3] + padding
    left, top, right, bottom = max(0, left), max(0, top), min(width, right), min(height, bottom)
    if aspect:
        w, h = right - left, bottom - top
        if w / h < aspect:
            grow = min(width, math.ceil(h * aspect)) - w
            left, right = _grow(left, right, grow, width)
        else:
            grow = min(height, math.ceil(w / aspect)) - h
            top, bottom = _grow(top, bottom, grow, height)
    return left, top, right, bottom


def _grow(lo: int, hi: int, grow: int, limit: int) -> tuple[int, int]:
    lo -= grow // 2
    hi += grow - grow // 2
    if lo < 0:
        hi, lo = hi - lo, 0
    if hi > limit:
        lo, hi = max(0, lo - (hi - limit)), limit
    return lo, hi


def work_size(width: int, height: int, native: tuple[int, int], multiple: int) -> tuple[int, int]:
    """A size of the crop's aspect with about the native area, in multiples of `multiple`."""
    scale = math.sqrt(native[0] * native[1] / (width * height))
    return (max(multiple, round(width * scale / multiple) * multiple),
            max(multiple, round(height * scale / multiple) * multiple))


def paste_back(original: Image.Image, generated: Image.Image, soft: Image.Image,
               box: tuple[int, int, int, int] | None = None) -> Image.Image:
    """`generated` (covering `box`, or the whole image) over `original` through `soft`:
    where `soft` is 0 the original's pixels come back unchanged."""
    out = original.convert("RGB").copy()
    if box is None:
        box = (0, 0, out.width, out.height)
    size = (box[2] - box[0], box[3] - box[1])
    patch = generated.convert("RGB")
    if patch.size != size:
        patch = patch.resize(size, Image.Resampling.LANCZOS)
    out.paste(patch, box[:2], soft.crop(box))
    return out


def outpaint_amounts(sides: tuple[str, ...] | list[str], amount: int, size: tuple[int, int] = (0, 0),
                     aspect: float | None = None, multiple: int = 8) -> dict[str, int]:
    """Pixels to add per side: `amount` on each chosen side, or (with `aspect`) what makes
    the canvas that width/height ratio, split between the chosen sides of the growing axis.
    Amounts are rounded up so the new canvas is a multiple of `multiple`."""
    bad = [s for s in sides if s not in OUTPAINT_SIDES]
    if bad or not sides:
        raise RequestRejected(f"Choose the sides to extend from {', '.join(OUTPAINT_SIDES)}.")
    out = {s: 0 for s in OUTPAINT_SIDES}
    width, height = size
    if aspect is not None:
        if width / height < aspect:
            chosen, extra = [s for s in sides if s in ("left", "right")], math.ceil(height * aspect) - width
        else:
            chosen, extra = [s for s in sides if s in ("top", "bottom")], math.ceil(width / aspect) - height
        if not chosen or extra <= 0:
            raise RequestRejected("The picture already has that shape on the chosen sides; choose other sides or another shape.")
        for i, s in enumerate(chosen):
            out[s] = extra // len(chosen) + (1 if i < extra % len(chosen) else 0)
    else:
        for s in sides:
            out[s] = amount
    for a, b, total in (("left", "right", width), ("top", "bottom", height)):
        short = -(total + out[a] + out[b]) % multiple
        if short:
            out[b if out[b] else a] += short
    return out


def extend_canvas(image: Image.Image, amounts: dict[str, int]) -> tuple[Image.Image, Image.Image]:
    """(canvas, mask): the image on a larger canvas whose new area repeats the nearest edge
    pixels (a start the model continues), and a mask that is 255 exactly on the new area."""
    rgb = np.asarray(image.convert("RGB"))
    pads = ((amounts["top"], amounts["bottom"]), (amounts["left"], amounts["right"]), (0, 0))
    canvas = np.pad(rgb, pads, mode="edge")
    mask = np.full(canvas.shape[:2], 255, np.uint8)
    mask[amounts["top"]:amounts["top"] + rgb.shape[0], amounts["left"]:amounts["left"] + rgb.shape[1]] = 0
    return Image.fromarray(canvas, "RGB"), Image.fromarray(mask, "L")

"""Generated images on disk, each carrying its own generation parameters.

Images live as PNG files under the data directory (never inside the JSON database).
Every file gets two text chunks:

* `parameters` -- the AUTOMATIC1111 layout that other tools (A1111/Forge "PNG Info",
  ComfyUI loaders, civitai, sd-parsers) read, so an image downloaded from the studio
  can be reproduced elsewhere;
* `studio` -- JSON with whatever the studio itself needs (job id, user, style ...).

Files are written atomically (`studio.store.atomic`: temp file, fsync, `os.replace`) so
a crash never leaves a truncated PNG that the gallery would then fail to open.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio.store.atomic import atomic_file

PARAMETERS_KEY = "parameters"
STUDIO_KEY = "studio"
NEGATIVE_PREFIX = "Negative prompt:"

# One `Name: value` pair of the A1111 settings line; a value with a comma, colon or
# newline is JSON-quoted (the same regex A1111 itself parses with).
_PARAM_RE = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')

# A1111 names -> our names, with the type each value is parsed back into.
_KNOWN_FIELDS: dict[str, tuple[str, type]] = {
    "Steps": ("steps", int),
    "Sampler": ("sampler", str),
    "CFG scale": ("guidance", float),
    "Seed": ("seed", int),
    "Model": ("model", str),
}


def _quote(value: Any) -> str:
    text = str(value)
    if any(ch in text for ch in ',:\n"'):
        return json.dumps(text, ensure_ascii=False)
    return text


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def format_parameters(
    prompt: str,
    negative_prompt: str,
    steps: int,
    sampler: str,
    guidance: float,
    seed: int,
    width: int,
    height: int,
    model: str,
    extras: dict[str, str] | None = None,
    hashes: dict[str, str] | None = None,
) -> str:
    """The A1111 `parameters` text: prompt line(s), `Negative prompt: ...` (only when
    there is one), then `Steps: 20, Sampler: Euler a, CFG scale: 7.0, Seed: 123,
    Size: 512x512, Model: sd-turbo`; `extras` are further settings in A1111's words
    (`Lora hashes: "ink: 0123456789ab"`); `hashes` the `Hashes: {"lora:ink": "…"}` JSON
    that Forge and Civitai write and sd-parsers reads."""
    settings = ", ".join(
        [
            f"Steps: {int(steps)}",
            f"Sampler: {_quote(sampler)}",
            f"CFG scale: {float(guidance)}",
            f"Seed: {int(seed)}",
            f"Size: {int(width)}x{int(height)}",
            f"Model: {_quote(model)}",
            *(f"{key}: {_quote(value)}" for key, value in (extras or {}).items()),
            *([f"Hashes: {json.dumps(hashes, ensure_ascii=False)}"] if hashes else []),
        ]
    )
    lines = [prompt]
    if negative_prompt:
        lines.append(f"{NEGATIVE_PREFIX} {negative_prompt}")
    lines.append(settings)
    return "\n".join(lines)


def parse_parameters(text: str) -> dict[str, Any]:
    """Read an A1111 `parameters` text back (ours or another tool's).

    Returns prompt, negative_prompt and -- when present -- steps, sampler, guidance,
    seed, width, height, model; settings we don't know stay as strings in `extra`.
    Like A1111, surrounding whitespace of each prompt line is not preserved.
    """
    lines = text.strip("\n").split("\n")
    settings: list[tuple[str, str]] = []
    if lines and len(_PARAM_RE.findall(lines[-1])) >= 3:
        settings = _PARAM_RE.findall(lines.pop())

    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    for line in lines:
        line = line.strip()
        if not negative_lines and line.startswith(NEGATIVE_PREFIX):
            negative_lines.append(line[len(NEGATIVE_PREFIX):].strip())
        elif negative_lines:
            negative_lines.append(line)
        else:
            prompt_lines.append(line)

    result: dict[str, Any] = {
        "prompt": "\n".join(prompt_lines),
        "negative_prompt": "\n".join(negative_lines),
    }
    extra: dict[str, str] = {}
    for name, raw in settings:
        value = _unquote(raw)
        if name == "Size":
            match = re.fullmatch(r"(\d+)x(\d+)", value)
            if match:
                result["width"], result["height"] = int(match[1]), int(match[2])
                continue
        if name in _KNOWN_FIELDS:
            key, kind = _KNOWN_FIELDS[name]
            try:
                result[key] = kind(value)
                continue
            except ValueError:
                pass
        extra[name] = value
    result["extra"] = extra
    return result


def _check_subdir(subdir: str) -> str:
    if not subdir:
        return ""
    parts = PurePosixPath(subdir.replace("\\", "/")).parts
    if subdir.startswith(("/", "\\")) or any(p in ("..", ".") for p in parts) or ":" in subdir:
        raise ValueError(f"Image folder {subdir!r} must be a plain relative folder name.")
    return "/".join(parts)


class ImageFiles:
    """PNG files under `root`, addressed by paths relative to it (what the database keeps)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def save(self, image: Image.Image, *, parameters: str, studio_meta: dict, subdir: str = "") -> str:
        """Write `image` as a PNG with its metadata; returns the new file's relative path."""
        if not isinstance(image, Image.Image):
            raise ValueError("Only PIL images can be saved.")
        try:
            studio_json = json.dumps(studio_meta, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Image metadata must be plain JSON ({exc}).") from exc
        folder = _check_subdir(subdir)
        rel = f"{folder}/{uuid.uuid4().hex}.png" if folder else f"{uuid.uuid4().hex}.png"
        target = self.path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)

        info = PngInfo()
        info.add_text(PARAMETERS_KEY, parameters)  # iTXt automatically when not Latin-1
        info.add_text(STUDIO_KEY, studio_json)
        if image.mode not in ("RGB", "RGBA", "L", "LA", "P", "I", "I;16", "1"):
            image = image.convert("RGB")

        with atomic_file(target) as tmp:
            image.save(tmp, format="PNG", pnginfo=info)
        return rel

    def path(self, rel: str) -> Path:
        """Absolute path of a stored image; refuses anything that would leave `root`."""
        if not isinstance(rel, str) or not rel.strip():
            raise ValueError("Image path must be a non-empty relative path.")
        pure = PurePosixPath(rel.replace("\\", "/"))
        if pure.is_absolute() or Path(rel).is_absolute() or ".." in pure.parts or ":" in rel:
            raise ValueError(f"Image path {rel!r} must be relative to the image folder.")
        root = self.root.resolve()
        full = (root / pure).resolve()
        if not full.is_relative_to(root) or full == root:
            raise ValueError(f"Image path {rel!r} is outside the image folder.")
        return full

    def open(self, rel: str) -> Image.Image:
        """The image, fully loaded (the file handle is closed before returning)."""
        with Image.open(self.path(rel)) as img:
            img.load()
            return img.copy()

    def read_metadata(self, rel: str) -> dict[str, Any]:
        """`{"parameters": <A1111 text or "">, "studio": <decoded studio JSON or {}>}`."""
        with Image.open(self.path(rel)) as img:
            text = dict(getattr(img, "text", {}) or {})
        raw_studio = text.get(STUDIO_KEY)
        try:
            studio = json.loads(raw_studio) if raw_studio else {}
        except json.JSONDecodeError:
            studio = {}
        return {"parameters": str(text.get(PARAMETERS_KEY, "")), "studio": studio}

    def delete(self, rel: str) -> bool:
        """Remove the file; False when it was already gone."""
        try:
            self.path(rel).unlink()
            return True
        except FileNotFoundError:
            return False

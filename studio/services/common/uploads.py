"""Checking an uploaded image before the studio keeps it.

Uploads come from anyone with the link, so the bytes are judged by what they are, not
what they are called: Pillow's detected format must be PNG, JPEG or WebP. The size in
bytes is checked before reading, the pixel count from the header before decoding (a
tiny file can claim 100000x100000 pixels and decode into gigabytes), and a truncated or
damaged file fails while decoding here rather than later in a pipeline. The caller gets
a fully decoded RGB picture, upright as the camera meant it (EXIF orientation applied),
and re-encodes it as PNG: the uploaded bytes themselves are never stored or served.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from studio.services.generation.requests import InvalidRequest
from studio.services.common.validation import mib

ALLOWED_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP"}
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000


class InvalidUpload(InvalidRequest):
    """The uploaded file was refused; the message says why, for the person who sent it."""


def _read_bytes(data: bytes | bytearray | memoryview | str | Path, max_bytes: int) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    elif isinstance(data, (str, Path)):
        path = Path(data)
        try:
            size = os.stat(path).st_size
            if size > max_bytes:
                raise InvalidUpload(_too_big(size, max_bytes))
            with open(path, "rb") as fh:
                raw = fh.read(max_bytes + 1)
        except IsADirectoryError:
            raise InvalidUpload("That is a folder, not an image file.") from None
        except OSError:
            raise InvalidUpload("The uploaded file could not be read; try uploading it again.") from None
    else:
        raise InvalidUpload("Upload an image file (PNG, JPEG or WebP).")
    if not raw:
        raise InvalidUpload("The file is empty.")
    if len(raw) > max_bytes:
        raise InvalidUpload(_too_big(len(raw), max_bytes))
    return raw


def _too_big(size: int, max_bytes: int) -> str:
    """Both sizes in the unit the limit is set in (MiB), so 22 MB over a 20 MiB limit reads right."""
    return f"The file is {mib_exact(size)}; the limit is {mib(max_bytes)}. Upload a smaller image."


def mib_exact(n_bytes: int) -> str:
    return f"{n_bytes / (1024 * 1024):.1f} MiB"


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB for every mode; transparent parts become white, not black."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda v: v / 256).convert("L")  # 16-bit greys -> 8-bit
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB") if image.mode != "RGB" else image


def validate_upload(
    data: bytes | bytearray | str | Path,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_UPLOAD_PIXELS,
) -> Image.Image:
    """The uploaded image, decoded, upright and RGB; or `InvalidUpload` saying what is wrong.

    `max_pixels` is our limit, checked from the header before decoding. Pillow's own
    process-wide `Image.MAX_IMAGE_PIXELS` guard is left as it is; its warning is
    silenced here (our limit is lower) and its error is reported like ours.
    """
    raw = _read_bytes(data, max_bytes)
    too_many_pixels = InvalidUpload(
        f"The image is too large in pixels; the limit is {max_pixels / 1e6:.0f} megapixels."
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(raw)) as img:
                if img.format not in ALLOWED_FORMATS:
                    raise InvalidUpload(
                        f"{img.format or 'This'} images aren't supported; upload a PNG, JPEG or WebP file."
                    )
                width, height = img.size
                if width < 1 or height < 1:
                    raise InvalidUpload("The image has no pixels.")
                if width * height > max_pixels:
                    raise too_many_pixels
                img.load()
                upright = ImageOps.exif_transpose(img) or img
                result = _to_rgb(upright)
                result.load()
                return result.copy() if result is img else result
        except InvalidUpload:
            raise
        except Image.DecompressionBombError:
            raise too_many_pixels from None
        except UnidentifiedImageError:
            raise InvalidUpload("This file isn't an image we can read; upload a PNG, JPEG or WebP file.") from None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error, MemoryError):
            raise InvalidUpload("The image file is damaged or incomplete; try exporting it again.") from None

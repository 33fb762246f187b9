"""Uploads are judged by their content: real malformed files made here are refused with a
clear message and leave nothing behind; good ones come back upright, RGB and are stored
as PNG."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from studio.services.gen_space.assets import AssetService
from studio.services.gen_space.projects import ProjectService
from studio.services.gen_space.shots import ShotService
from studio.services.common.uploads import InvalidUpload, validate_upload
from studio.store import ImageFiles, MemoryStore, TinyDBStore

RED, BLUE = (220, 20, 20), (20, 20, 220)


def encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


def halves(size=(40, 20)) -> Image.Image:
    img = Image.new("RGB", size, BLUE)
    img.paste(RED, (0, 0, size[0] // 2, size[1]))
    return img


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size in its IHDR and has one tiny (damaged) IDAT chunk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


def close(a, b, tol=40) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b))


# ----- validate_upload -----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_png_jpeg_and_webp_are_accepted_from_bytes_and_paths(tmp_path, fmt):
    data = encode(halves(), fmt, **({"quality": 95} if fmt != "PNG" else {}))
    from_bytes = validate_upload(data)
    path = tmp_path / "whatever.bin"  # the name says nothing; the content decides
    path.write_bytes(data)
    from_path = validate_upload(path)
    for img in (from_bytes, from_path):
        assert img.mode == "RGB" and img.size == (40, 20)
        assert close(img.getpixel((2, 10)), RED) and close(img.getpixel((37, 10)), BLUE)


def test_exif_rotated_jpeg_comes_back_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    img = validate_upload(encode(halves(), "JPEG", quality=95, exif=exif.tobytes()))
    assert img.size == (20, 40)
    assert close(img.getpixel((10, 5)), RED) and close(img.getpixel((10, 35)), BLUE)


def test_transparency_becomes_white_not_black():
    rgba = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    rgba.putpixel((0, 0), (10, 200, 10, 255))
    img = validate_upload(encode(rgba, "PNG"))
    assert img.mode == "RGB" and img.getpixel((5, 5)) == (255, 255, 255) and img.getpixel((0, 0)) == (10, 200, 10)


def test_truncated_png_is_refused():
    data = encode(Image.effect_noise((64, 64), 60).convert("RGB"), "PNG")
    with pytest.raises(InvalidUpload, match="damaged or incomplete"):
        validate_upload(data[: len(data) // 2])


def test_text_file_named_png_is_refused(tmp_path):
    fake = tmp_path / "holiday.png"
    fake.write_text("this is not a picture, just text\n" * 20)
    with pytest.raises(InvalidUpload, match="isn't an image"):
        validate_upload(fake)


def test_gif_is_refused_by_content_even_when_named_png(tmp_path):
    gif = tmp_path / "looks-fine.png"
    gif.write_bytes(encode(halves(), "GIF"))
    with pytest.raises(InvalidUpload, match="GIF images aren't supported"):
        validate_upload(gif)


def test_empty_missing_and_oversized_files_are_refused(tmp_path):
    with pytest.raises(InvalidUpload, match="empty"):
        validate_upload(b"")
    empty = tmp_path / "empty.png"
    empty.touch()
    with pytest.raises(InvalidUpload, match="empty"):
        validate_upload(empty)
    with pytest.raises(InvalidUpload, match="could not be read"):
        validate_upload(tmp_path / "gone.png")
    with pytest.raises(InvalidUpload, match="folder"):
        validate_upload(tmp_path)
    data = encode(halves(), "PNG")
    with pytest.raises(InvalidUpload, match="limit is"):
        validate_upload(data, max_bytes=len(data) - 1)
    big = tmp_path / "big.png"
    big.write_bytes(data)
    with pytest.raises(InvalidUpload, match="limit is"):
        validate_upload(big, max_bytes=len(data) - 1)
    with pytest.raises(InvalidUpload, match="Upload an image"):
        validate_upload(12345)


def test_decompression_bombs_are_refused_from_the_header():
    before = Image.MAX_IMAGE_PIXELS
    # Far past Pillow's own guard: 10 gigapixels claimed by a ~60-byte file.
    with pytest.raises(InvalidUpload, match="too large in pixels"):
        validate_upload(png_header_only(100_000, 100_000))
    # Past our 40 MP limit but under Pillow's: only our header check can catch it. The
    # pixel data is broken, so decoding first would say "damaged" instead.
    with pytest.raises(InvalidUpload, match="too large in pixels"):
        validate_upload(png_header_only(7_000, 7_000))
    # A real, valid 1-bit PNG of 64 MP that compresses to a few kilobytes.
    buf = io.BytesIO()
    Image.new("1", (8_000, 8_000)).save(buf, format="PNG")
    assert len(buf.getvalue()) < 100_000
    with pytest.raises(InvalidUpload, match="too large in pixels"):
        validate_upload(buf.getvalue())
    assert Image.MAX_IMAGE_PIXELS == before  # the process-wide guard is left alone


# ----- AssetService.upload ------------------------------------------------------


@pytest.fixture(params=["memory", "tinydb"])
def library(request, tmp_path):
    store = MemoryStore() if request.param == "memory" else TinyDBStore(tmp_path / "db.json")
    images = ImageFiles(tmp_path / "images")
    projects = ProjectService(store, images)
    return store, images, projects, ShotService(store), AssetService(store, images)


def test_upload_is_stored_as_png_with_its_record(library):
    store, images, projects, shots, assets = library
    project = projects.create("ann", "Film")
    hero = shots.create("ann", project["id"], type="character", name="Hero")
    asset = assets.upload("ann", project["id"], encode(halves(), "JPEG", quality=95), "C:\\photos\\../me.jpg", hero["id"])
    assert asset["kind"] == "upload" and asset["owner"] == "ann"
    assert (asset["project_id"], asset["shot_id"], asset["parent_id"]) == (project["id"], hero["id"], None)
    assert (asset["width"], asset["height"], asset["original_name"]) == (40, 20, "me.jpg")
    with Image.open(images.path(asset["file"])) as stored:
        assert stored.format == "PNG" and stored.size == (40, 20)
    assert images.read_metadata(asset["file"])["studio"]["original_name"] == "me.jpg"
    assert [a["id"] for a in assets.list("ann", kind="upload")] == [asset["id"]]
    rotated = assets.edit_transform("ann", asset["id"], "rotate", degrees=270)
    assert (rotated["width"], rotated["height"]) == (20, 40)


def test_refused_uploads_write_nothing(library, tmp_path):
    store, images, projects, shots, assets = library
    project = projects.create("ann", "Film")
    other = projects.create("ann", "Other")
    elsewhere = shots.create("ann", other["id"], type="prop", name="Lamp")
    bobs = projects.create("bob", "Bob's")
    good = encode(halves(), "PNG")
    cases = [
        (lambda: assets.upload("ann", project["id"], b"not an image", "x.png"), "isn't an image"),
        (lambda: assets.upload("ann", project["id"], b"", "x.png"), "empty"),
        (lambda: assets.upload("ann", bobs["id"], good, "x.png"), "Unknown project"),
        (lambda: assets.upload("ann", project["id"], good, "x.png", elsewhere["id"]), "another project"),
        (lambda: assets.upload("ann", project["id"], good, "x.png", "../../x"), "Unknown shot id"),
    ]
    for call, message in cases:
        with pytest.raises(InvalidUpload if message in ("isn't an image", "empty") else ValueError, match=message):
            call()
    assert store.all("assets") == []
    assert list(images.root.rglob("*.png")) == []

"""Image files on disk: PNGs carry A1111-readable parameters and studio metadata, paths
can't escape the image folder, and a failed write leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from studio.store import ImageFiles, format_parameters, parse_parameters
from studio.store import atomic

A1111_EXAMPLE = (
    "masterpiece, a castle on a hill, (sunset:1.2)\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7.0, Seed: 123, Size: 512x768, Model: sd-turbo"
)


def _picture() -> Image.Image:
    img = Image.new("RGB", (16, 12), (10, 20, 30))
    img.putpixel((3, 4), (250, 0, 0))
    return img


def test_format_parameters_matches_the_a1111_layout():
    text = format_parameters(
        "masterpiece, a castle on a hill, (sunset:1.2)", "blurry, lowres", 20, "Euler a", 7, 123, 512, 768, "sd-turbo"
    )
    assert text == A1111_EXAMPLE


def test_negative_prompt_line_is_omitted_when_empty():
    text = format_parameters("a cat", "", 4, "Euler", 0.0, 7, 64, 64, "demo-faces")
    assert text == "a cat\nSteps: 4, Sampler: Euler, CFG scale: 0.0, Seed: 7, Size: 64x64, Model: demo-faces"
    assert "Negative prompt" not in text


@pytest.mark.parametrize(
    "prompt, negative, model",
    [
        ("a cat, sitting, on a mat", "dogs, birds", "sd-turbo"),
        ("line one, with commas\nline two: with a colon\n\nline four", "neg one\nneg two, more", "my model, v2: final"),
        ("ünïcødé 猫, emoji 🐱", "", "local/folder:model"),
        ("", "only a negative", "x"),
    ],
)
def test_parse_gives_back_what_format_wrote(prompt, negative, model):
    text = format_parameters(prompt, negative, 28, "DPM++ 2M Karras", 5.5, 4_294_967_295, 1024, 576, model)
    assert parse_parameters(text) == {
        "prompt": prompt,
        "negative_prompt": negative,
        "steps": 28,
        "sampler": "DPM++ 2M Karras",
        "guidance": 5.5,
        "seed": 4_294_967_295,
        "width": 1024,
        "height": 576,
        "model": model,
        "extra": {},
    }


def test_parse_reads_other_tools_extra_settings_and_text_without_settings():
    parsed = parse_parameters(A1111_EXAMPLE + ", Model hash: abc123, Clip skip: 2")
    assert parsed["seed"] == 123 and parsed["width"] == 512 and parsed["height"] == 768
    assert parsed["extra"] == {"Model hash": "abc123", "Clip skip": "2"}
    assert parse_parameters("just a prompt, nothing else") == {
        "prompt": "just a prompt, nothing else",
        "negative_prompt": "",
        "extra": {},
    }


def test_saved_png_keeps_pixels_and_both_metadata_chunks(tmp_path):
    files = ImageFiles(tmp_path / "images")
    meta = {"job_id": "j1", "user": "ann", "style": "cinematic", "references": ["a.png"]}
    rel = files.save(_picture(), parameters=A1111_EXAMPLE, studio_meta=meta, subdir="ann/2024")

    assert rel.startswith("ann/2024/") and rel.endswith(".png") and len(Path(rel).stem) == 32
    on_disk = tmp_path / "images" / rel
    assert files.path(rel) == on_disk.resolve() and on_disk.is_file()

    with Image.open(on_disk) as raw:  # what any other tool sees in the file
        assert raw.format == "PNG"
        assert raw.text["parameters"] == A1111_EXAMPLE
    assert files.read_metadata(rel) == {"parameters": A1111_EXAMPLE, "studio": meta}
    loaded = files.open(rel)
    assert loaded.size == (16, 12) and loaded.getpixel((3, 4)) == (250, 0, 0)
    assert [p.name for p in on_disk.parent.iterdir()] == [on_disk.name]  # no temp leftovers


def test_non_latin_parameters_survive(tmp_path):
    files = ImageFiles(tmp_path)
    text = format_parameters("東京の夜景, neon", "", 4, "Euler", 1.0, 1, 64, 64, "m")
    rel = files.save(_picture(), parameters=text, studio_meta={}, subdir="")
    assert files.read_metadata(rel)["parameters"] == text
    assert parse_parameters(files.read_metadata(rel)["parameters"])["prompt"] == "東京の夜景, neon"


def test_each_save_gets_a_new_file_and_delete_removes_it(tmp_path):
    files = ImageFiles(tmp_path)
    first = files.save(_picture(), parameters="p", studio_meta={})
    second = files.save(_picture(), parameters="p", studio_meta={})
    assert first != second
    assert files.delete(first) is True
    assert files.delete(first) is False
    assert not (tmp_path / first).exists() and (tmp_path / second).exists()


@pytest.mark.parametrize("bad", ["../secret.png", "a/../../x.png", "/etc/passwd", "", "C:/x.png", "..", "."])
def test_paths_outside_the_image_folder_are_refused(tmp_path, bad):
    (tmp_path / "secret.png").write_bytes(b"not yours")
    files = ImageFiles(tmp_path / "images")
    with pytest.raises(ValueError):
        files.path(bad)
    with pytest.raises(ValueError):
        files.delete(bad)
    assert (tmp_path / "secret.png").exists()


def test_symlink_escaping_the_folder_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.png").write_bytes(b"x")
    files = ImageFiles(tmp_path / "images")
    os.symlink(outside, tmp_path / "images" / "link")
    with pytest.raises(ValueError, match="outside"):
        files.delete("link/x.png")
    assert (outside / "x.png").exists()


def test_bad_save_input_writes_nothing(tmp_path, monkeypatch):
    files = ImageFiles(tmp_path)
    with pytest.raises(ValueError, match="plain JSON"):
        files.save(_picture(), parameters="p", studio_meta={"x": object()})
    with pytest.raises(ValueError, match="relative folder"):
        files.save(_picture(), parameters="p", studio_meta={}, subdir="../up")

    monkeypatch.setattr(atomic.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        files.save(_picture(), parameters="p", studio_meta={})
    assert list(tmp_path.rglob("*")) == []

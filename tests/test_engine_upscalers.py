"""Enlarging with spandrel on a tiny random-weight ESRGAN saved as a file: exact scale,
tiles that match the untiled output at the seams, peak memory under the stated bound,
bad files named and skipped, the hub entry's download path against an offline replica."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipelines.params import MAX_UPSCALE_PIXELS, RequestRejected
from pipelines.testing.tiny import save_as_hub_cache
from pipelines.testing.tiny_upscaler import build_tiny_esrgan
from pipelines.types import ModelUnavailable
from pipelines.upscalers import HUB_UPSCALERS, LANCZOS, Upscalers, upscale_tiled

pytest.importorskip("spandrel")
ROOT = Path(__file__).resolve().parents[1]
SEAM_TOLERANCE = 1  # max difference (of 255) between tiled and untiled output: float rounding only


def _picture(w: int = 70, h: int = 50) -> Image.Image:
    return Image.fromarray(np.random.default_rng(1).integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("upscalers")
    build_tiny_esrgan(d / "tiny-4x.pth", scale=4)
    build_tiny_esrgan(d / "tiny-2x.safetensors", scale=2)
    (d / "broken.pth").write_bytes(b"not a state dict")
    (d / "notes.txt").write_text("hello")
    return d


@pytest.fixture(scope="module")
def upscalers(folder) -> Upscalers:
    return Upscalers(folder)


def test_files_load_through_spandrel_and_enlarge_by_exactly_their_scale(upscalers):
    assert upscalers.info("tiny-4x").scale == 4 and upscalers.info("tiny-2x").scale == 2
    assert upscalers.upscale(_picture(), "tiny-4x", 4).size == (280, 200)
    assert upscalers.upscale(_picture(), "tiny-2x", 2).size == (140, 100)
    out = upscalers.upscale(_picture(), "tiny-4x", 4)
    assert np.asarray(out).std() > 1, "a picture, not a blank"


def test_other_factors_reach_the_exact_size(upscalers):
    assert upscalers.upscale(_picture(), "tiny-4x", 2).size == (140, 100)  # one pass, then down
    assert upscalers.upscale(_picture(), "tiny-2x", 3).size == (210, 150)  # two passes, then down
    assert upscalers.upscale(_picture(), LANCZOS, 1.5).size == (105, 75)


def test_bad_files_are_named_and_skipped(upscalers):
    assert any(p.startswith("broken.pth") for p in upscalers.problems)
    assert any(p.startswith("notes.txt") for p in upscalers.problems)
    assert "broken" not in upscalers.names() and upscalers.names()[0] == LANCZOS
    with pytest.raises(RequestRejected, match="Unknown upscaler"):
        upscalers.info("broken")


def test_past_the_pixel_cap_is_refused(upscalers):
    side = int(MAX_UPSCALE_PIXELS ** 0.5)
    with pytest.raises(RequestRejected, match="more than"):
        upscalers.upscale(Image.new("RGB", (side // 2 + 8, side // 2)), LANCZOS, 2)
    with pytest.raises(RequestRejected, match="Enlarge by"):
        upscalers.upscale(_picture(), LANCZOS, 9)


def test_tiles_match_the_untiled_output_at_the_seams(upscalers):
    model = upscalers.model("tiny-4x")
    image = _picture(100, 90)
    whole = np.asarray(upscale_tiled(model, image, 4, tile=10**6), dtype=np.int16)
    tiled = np.asarray(upscale_tiled(model, image, 4, tile=32, overlap=16), dtype=np.int16)
    bare = np.asarray(upscale_tiled(model, image, 4, tile=32, overlap=0), dtype=np.int16)
    assert np.abs(tiled - whole).max() <= SEAM_TOLERANCE
    assert np.abs(bare - whole).max() > SEAM_TOLERANCE, "without overlap the seams show: the check can fail"


def _peak(model: Path, tile: int) -> dict:
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]  # keep a caller's own package paths
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "OMP_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-m", "pipelines.testing.upscale_memory", str(model), "--side", "256",
                          "--tile", str(tile)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_tiling_keeps_peak_memory_under_the_bound(tmp_path):
    model = build_tiny_esrgan(tmp_path / "mem-4x.pth", scale=4, num_filters=8)
    tiled, untiled = _peak(model, 64), _peak(model, -1)
    assert tiled["out"] == [1024, 1024]
    assert tiled["peak_growth"] <= tiled["bound"], tiled
    assert tiled["peak_growth"] < untiled["peak_growth"] * 0.6, (tiled, untiled)


def test_hub_entry_downloads_into_the_hf_cache_layout(tmp_path, monkeypatch):
    """The catalog entry resolves through huggingface_hub's cache exactly as after a real
    download (offline replica of ai-forever/Real-ESRGAN with its real file name)."""
    entry = HUB_UPSCALERS[0]
    repo = tmp_path / "repo"
    build_tiny_esrgan(repo / entry.filename, scale=entry.scale)
    cache = tmp_path / "hf-cache"
    empty = Upscalers(None, cache_dir=cache)
    assert not empty.info(entry.name).downloaded
    with pytest.raises(ModelUnavailable, match="offline"):
        empty.upscale(_picture(), entry.name, entry.scale)
    save_as_hub_cache(repo, cache, entry.repo_id, files=[entry.filename])
    ready = Upscalers(None, cache_dir=cache)
    assert ready.info(entry.name).downloaded
    assert ready.upscale(_picture(), entry.name, entry.scale).size == (70 * entry.scale, 50 * entry.scale)

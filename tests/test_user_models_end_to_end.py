"""A user's own models, added the way the README says (a catalog file in the data dir),
as each real source kind: hub cache, local folder, single .safetensors file. They go
through the real loader, manager and generation service, offline."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pipelines.testing.tiny import build_tiny_sd15, build_tiny_sdxl, save_as_hub_cache
from pipelines.testing.tiny_checkpoints import save_as_single_file
from studio.services.generation.requests import StudioRequest
from tests.studio_factory import make_studio

SIZES = {"16:9": {"width": 64, "height": 32}, "1:1": {"width": 64, "height": 64}, "9:16": {"width": 32, "height": 64}}
LONG_PROMPT = ", ".join(["a lighthouse on a cliff"] + [f"detail number {i} in the scene" for i in range(40)])


def entry(model_id, family, source):
    return {"id": model_id, "name": model_id, "description": "tiny test model", "specialties": [], "family": family,
            "source": source, "default_steps": 2, "default_guidance": 5.0, "sizes": SIZES, "credit_cost": 2,
            "speed": "fast", "quality": "draft"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("user-models")
    sd15 = build_tiny_sd15(root / "models" / "sd15")
    sdxl = build_tiny_sdxl(root / "models" / "sdxl")
    save_as_hub_cache(sd15, root / "hf-cache", "studio-tests/tiny-sd15")
    single = save_as_single_file(sdxl, root / "models" / "tiny-sdxl.safetensors")
    data = root / "data"
    data.mkdir()
    (data / "models.json").write_text(json.dumps({"models": [
        entry("hub-sd15", "sd15", {"kind": "hub", "repo_id": "studio-tests/tiny-sd15"}),
        entry("folder-sd15", "sd15", {"kind": "folder", "path": str(sd15)}),
        entry("file-sdxl", "sdxl", {"kind": "single_file", "path": str(single), "config": str(sdxl)}),
    ]}))
    return data, root / "hf-cache"


@pytest.fixture(scope="module")
def studio(data_dir):
    data, cache = data_dir
    return make_studio(data, hf_cache_dir=cache, starting_credits=100)


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("model_id", ["hub-sd15", "folder-sd15", "file-sdxl"])
def test_each_source_kind_generates_and_reproduces(studio, model_id):
    assert studio.is_downloaded(model_id)
    ask = dict(user="ana", model_id=model_id, style_id="auto", aspect="16:9", prompt="a red boat at sea")
    batch = studio.generation.generate(StudioRequest(count=3, seed=10, **ask))
    assert [img.seed for img in batch.images] == [10, 11, 12]
    assert Image.open(batch.images[0].path).size == (64, 32)
    again = studio.generation.generate(StudioRequest(count=3, seed=10, **ask))
    for a, b in zip(batch.images, again.images):
        assert np.array_equal(pixels(a.path), pixels(b.path)), "same request, same seeds: same pixels"
    alone = studio.generation.generate(StudioRequest(count=1, seed=11, **ask))
    assert np.abs(pixels(alone.images[0].path) - pixels(batch.images[1].path)).max() <= 2, \
        "one seed of a batch, run alone, gives that image (CPU batch kernels may differ by 1/255)"


def test_a_prompt_past_77_tokens_changes_the_image(studio):
    tokenizer = studio.engine  # the manager loads the pipeline; measure with its own tokenizer
    with tokenizer.use("folder-sd15") as (pipe, _):
        ids = pipe.tokenizer(LONG_PROMPT).input_ids
        assert len(ids) > 77
        first_77 = pipe.tokenizer.decode(ids[1:76])
    ask = dict(user="ana", model_id="folder-sd15", style_id="auto", aspect="1:1", count=1, seed=3)
    full = studio.generation.generate(StudioRequest(prompt=LONG_PROMPT, **ask))
    cut = studio.generation.generate(StudioRequest(prompt=first_77, **ask))
    assert np.abs(pixels(full.images[0].path) - pixels(cut.images[0].path)).max() > 2


def test_costs_come_from_the_users_catalog(studio):
    assert studio.generation.estimate("file-sdxl", 4) == 8

"""The offline demo model: real faces from the gan-face-generate weights, through the real loader."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from pipelines.catalog import Catalog, ModelEntry
from pipelines.demo_gan import DemoFacePipeline, ensure_demo_folder, gan_weights_path
from pipelines.loaders import is_available_locally, load_pipeline
from pipelines.manager import PipelineManager
from pipelines.types import GenerationRequest
from tests.engine_entries import tiny_entry

SIZES = {"16:9": {"width": 448, "height": 256}, "1:1": {"width": 256, "height": 256}, "9:16": {"width": 256, "height": 448}}


def demo_entry(**source) -> ModelEntry:
    return tiny_entry(
        "demo-faces",
        {"kind": "demo", **source},
        family="demo",
        name="Demo faces",
        description="Offline demo",
        steps=1,
        guidance=0.0,
        sizes=SIZES,
        credit_cost=0,
    )


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def pipe(models_dir) -> DemoFacePipeline:
    return load_pipeline(demo_entry(), device="cpu", dtype=torch.float32, models_dir=models_dir)


def faces(pipe, seeds, width=256, height=256):
    gens = [torch.Generator("cpu").manual_seed(s) for s in seeds]
    return pipe(prompt="ignored", num_images_per_prompt=len(seeds), width=width, height=height, generator=gens).images


def png(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_conversion_writes_a_diffusers_folder_with_the_packaged_weights(models_dir, pipe):
    folder = ensure_demo_folder(models_dir)
    assert folder == models_dir / "demo-faces"
    assert (folder / "model_index.json").is_file()
    saved = load_file(str(next((folder / "gan").glob("*.safetensors"))))
    original = torch.load(gan_weights_path(), map_location="cpu", weights_only=True)["netG_state_dict"]
    assert set(saved) == set(original)
    for key, tensor in original.items():
        assert torch.equal(saved[key], tensor), key
    assert isinstance(pipe, DemoFacePipeline)


def test_conversion_is_idempotent_and_leaves_no_temp_folders(models_dir, pipe):
    folder = ensure_demo_folder(models_dir)
    stamp = (folder / "model_index.json").stat().st_mtime_ns
    assert ensure_demo_folder(models_dir) == folder
    assert (folder / "model_index.json").stat().st_mtime_ns == stamp  # not rebuilt
    assert sorted(p.name for p in models_dir.iterdir()) == ["demo-faces"]


def test_broken_leftover_folder_is_rebuilt(tmp_path):
    broken = tmp_path / "demo-faces"
    broken.mkdir()
    (broken / "model_index.json").write_text("{", encoding="utf-8")  # a crash mid-copy, say
    folder = ensure_demo_folder(tmp_path)
    assert DemoFacePipeline.from_pretrained(folder).gan is not None


def test_images_are_real_pictures_not_flat(pipe):
    for image in faces(pipe, [1, 2, 3]):
        arr = np.asarray(image, dtype=np.float32)
        assert arr.shape == (256, 256, 3)
        assert arr.std() > 20  # a face on a background, not noise-free grey
        assert 30 < arr.mean() < 225


def test_same_seed_same_bytes_and_independent_of_batch(pipe):
    first = faces(pipe, [42])[0]
    again = faces(pipe, [42])[0]
    in_batch = faces(pipe, [7, 42, 9])[1]
    assert png(first) == png(again) == png(in_batch)


def test_different_seeds_give_different_faces(pipe):
    a, b = faces(pipe, [1, 2])
    diff = np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).mean()
    assert diff > 10


@pytest.mark.parametrize("aspect", ["16:9", "1:1", "9:16"])
def test_sizes_are_honoured_and_the_face_is_not_distorted(pipe, aspect):
    size = SIZES[aspect]
    image = faces(pipe, [5], **size)[0]
    assert image.size == (size["width"], size["height"])
    square = np.asarray(faces(pipe, [5])[0])  # 256×256, the short side of every size here
    arr = np.asarray(image)
    top, left = (size["height"] - 256) // 2, (size["width"] - 256) // 2
    assert np.array_equal(arr[top : top + 256, left : left + 256], square)
    if aspect != "1:1":  # the margins are filled with a blurred copy, not black bars
        margin = arr[:, :left] if left else arr[:top]
        assert margin.mean() > 10 and margin.std() > 1


def test_callback_runs_once_and_prompt_is_ignored(pipe):
    calls = []

    def on_step_end(p, step, timestep, kwargs):
        calls.append((step, p.num_timesteps))
        return kwargs

    gen = [torch.Generator("cpu").manual_seed(3)]
    with_prompt = pipe(prompt="a red dragon", generator=gen, callback_on_step_end=on_step_end).images[0]
    gen = [torch.Generator("cpu").manual_seed(3)]
    without = pipe(prompt=None, negative_prompt="ugly", generator=gen, num_inference_steps=30).images[0]
    assert calls == [(0, 1)]
    assert png(with_prompt) == png(without)


def test_bad_arguments_raise_clear_errors(pipe):
    with pytest.raises(ValueError, match="one per image"):
        pipe(num_images_per_prompt=2, generator=[torch.Generator().manual_seed(1)])
    with pytest.raises(ValueError, match="height and width"):
        pipe(height=0, width=256)


def test_demo_through_the_manager(models_dir):
    assert is_available_locally(demo_entry(), None)
    manager = PipelineManager(Catalog(models=[demo_entry()]), device="cpu", models_dir=models_dir)
    request = GenerationRequest(model_id="demo-faces", prompt="ignored", width=448, height=256, num_images=2, seeds=(11, 12))
    result = manager.generate(request)
    assert [im.size for im in result.images] == [(448, 256), (448, 256)]
    assert result.seeds == [11, 12]
    again = manager.generate(GenerationRequest(model_id="demo-faces", prompt="x", width=448, height=256, seeds=(12,)))
    assert png(again.images[0]) == png(result.images[1])
    assert [r["id"] for r in manager.resident()] == ["demo-faces"]

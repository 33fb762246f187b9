"""run_generation on real (tiny, random-weight) diffusers pipelines loaded by the real loader."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.catalog import ModelEntry
from pipelines.generate import run_generation
from pipelines.loaders import load_pipeline
from pipelines.testing.tiny import build_tiny_sd15, build_tiny_sdxl
from pipelines.types import CancelToken, GenerationCancelled, GenerationRequest
from tests.engine_entries import tiny_entry

pytest.importorskip("diffusers")


def _entry(model_id: str, family: str, source: dict, steps: int = 3, guidance: float = 5.0) -> ModelEntry:
    return tiny_entry(
        model_id, source, family=family, description="tiny random test model", steps=steps, guidance=guidance
    )


@pytest.fixture(scope="module")
def sd15(tmp_path_factory):
    folder = build_tiny_sd15(tmp_path_factory.mktemp("models") / "tiny-sd15")
    entry = _entry("tiny-sd15", "sd15", {"kind": "folder", "path": str(folder)})
    return load_pipeline(entry, device="cpu"), entry


@pytest.fixture(scope="module")
def sdxl(tmp_path_factory):
    folder = build_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")
    entry = _entry("tiny-sdxl", "sdxl", {"kind": "folder", "path": str(folder)}, steps=2)
    return load_pipeline(entry, device="cpu"), entry


def _req(entry: ModelEntry, **kw) -> GenerationRequest:
    kw.setdefault("prompt", "a portrait of a cat, oil painting")
    kw.setdefault("width", 64)
    kw.setdefault("height", 64)
    return GenerationRequest(model_id=entry.id, **kw)


def _px(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_four_images_come_back_with_their_seeds_and_catalog_defaults(sd15):
    pipe, entry = sd15
    result = run_generation(pipe, entry, _req(entry, num_images=4))

    assert len(result.images) == 4 and len(result.seeds) == 4
    assert len(set(result.seeds)) == 4, "each image gets its own seed"
    assert all(0 <= s < 2**31 for s in result.seeds)
    assert [im.size for im in result.images] == [(64, 64)] * 4
    # different seeds give visibly different pictures
    assert np.abs(_px(result.images[0]) - _px(result.images[1])).mean() > 5
    assert (result.steps, result.guidance) == (entry.default_steps, entry.default_guidance)
    assert result.sampler == "Euler"  # the A1111 name of EulerDiscreteScheduler, what other tools read
    assert result.model_id == entry.id and (result.width, result.height) == (64, 64)
    assert result.elapsed_s > 0


def test_same_seeds_give_the_same_pixels(sd15):
    pipe, entry = sd15
    first = run_generation(pipe, entry, _req(entry, num_images=2, seeds=(7, 123456)))
    again = run_generation(pipe, entry, _req(entry, num_images=2, seeds=(7, 123456)))
    assert first.seeds == [7, 123456]
    for a, b in zip(first.images, again.images):
        assert np.array_equal(_px(a), _px(b))


def test_reproducing_one_seed_of_a_batch_gives_that_image(sd15):
    """Image i of a batch depends only on seed i. The CPU runs a batch of 4 through other
    matmul kernels than a batch of 1, so pixels may differ by a rounding step, not more."""
    pipe, entry = sd15
    batch = run_generation(pipe, entry, _req(entry, num_images=4))
    for i in (0, 3):
        alone = run_generation(pipe, entry, _req(entry, seeds=(batch.seeds[i],)))
        diff = np.abs(_px(alone.images[0]) - _px(batch.images[i]))
        assert diff.max() <= 2, f"image {i} reproduced with a difference of {diff.max()}/255"
        other = np.abs(_px(alone.images[0]) - _px(batch.images[(i + 1) % 4])).mean()
        assert other > 5


def test_progress_is_reported_for_every_step_then_decode_and_done(sd15):
    pipe, entry = sd15
    events = []
    run_generation(pipe, entry, _req(entry, steps=4), progress=events.append)
    assert [(e.stage, e.current, e.total) for e in events] == [
        ("denoise", 1, 4),
        ("denoise", 2, 4),
        ("denoise", 3, 4),
        ("denoise", 4, 4),
        ("decode", 4, 4),
        ("done", 4, 4),
    ]


def test_cancel_after_the_first_step_stops_the_run(sd15):
    pipe, entry = sd15
    token = CancelToken()
    events = []

    def on_progress(event):
        events.append(event)
        if event.stage == "denoise" and event.current == 1:
            token.cancel()

    with pytest.raises(GenerationCancelled):
        run_generation(pipe, entry, _req(entry, steps=5), progress=on_progress, cancel=token)
    assert [(e.stage, e.current) for e in events] == [("denoise", 1)], "the remaining steps were skipped"

    # the pipeline is usable again right after a cancel
    result = run_generation(pipe, entry, _req(entry, steps=2), cancel=CancelToken())
    assert len(result.images) == 1


def test_a_token_cancelled_before_the_start_runs_nothing(sd15):
    pipe, entry = sd15
    token = CancelToken()
    token.cancel()
    events = []
    with pytest.raises(GenerationCancelled):
        run_generation(pipe, entry, _req(entry), progress=events.append, cancel=token)
    assert events == []


@pytest.mark.parametrize("width,height", [(64, 32), (32, 64), (96, 64)])
def test_requested_size_is_honoured(sd15, width, height):
    pipe, entry = sd15
    result = run_generation(pipe, entry, _req(entry, width=width, height=height, steps=1))
    assert result.images[0].size == (width, height)
    assert (result.width, result.height) == (width, height)


def test_steps_and_guidance_from_the_request_override_the_catalog(sd15):
    pipe, entry = sd15
    events = []
    result = run_generation(pipe, entry, _req(entry, steps=2, guidance=1.0), progress=events.append)
    assert (result.steps, result.guidance) == (2, 1.0)
    assert sum(e.stage == "denoise" for e in events) == 2


def test_the_prompt_changes_the_picture(sd15):
    pipe, entry = sd15
    cat = run_generation(pipe, entry, _req(entry, prompt="a cat", seeds=(5,)))
    ship = run_generation(pipe, entry, _req(entry, prompt="a ship on the ocean at night", seeds=(5,)))
    assert np.abs(_px(cat.images[0]) - _px(ship.images[0])).max() > 0


def test_sdxl_generates_a_batch_with_recorded_seeds(sdxl):
    pipe, entry = sdxl
    result = run_generation(pipe, entry, _req(entry, num_images=2, width=64, height=32, negative_prompt="blurry"))
    assert [im.size for im in result.images] == [(64, 32)] * 2
    again = run_generation(pipe, entry, _req(entry, seeds=(result.seeds[1],), width=64, height=32, negative_prompt="blurry"))
    assert np.abs(_px(again.images[0]) - _px(result.images[1])).max() <= 2


@pytest.mark.parametrize(
    "change,error",
    [
        ({"model_id": "another-model"}, ValueError),
        ({"width": 60}, ValueError),
        ({"height": 0}, ValueError),
        ({"steps": 0}, ValueError),
        ({"guidance": -1.0}, ValueError),
        ({"seeds": (-3,)}, ValueError),
        ({"prompt": "x" * 2001}, ValueError),
        ({"negative_prompt": "x" * 2001}, ValueError),
    ],
)
def test_bad_requests_are_refused_with_a_message_before_anything_runs(sd15, change, error):
    pipe, entry = sd15
    fields = {"model_id": entry.id, "prompt": "a cat", "width": 64, "height": 64, **change}
    events = []
    with pytest.raises(error) as info:
        run_generation(pipe, entry, GenerationRequest(**fields), progress=events.append)
    assert str(info.value)
    assert events == []


def test_references_on_a_model_without_reference_modes_are_refused(sd15):
    from PIL import Image

    pipe, entry = sd15
    ref = Image.new("RGB", (64, 64), "red")
    with pytest.raises(ValueError, match="can't use image-to-image"):
        run_generation(pipe, entry, _req(entry, reference_images=(ref,), reference_mode="img2img"))


def test_demo_faces_ignore_the_prompt_and_keep_their_seeds(tmp_path):
    pytest.importorskip("gan_face_generate")
    entry = _entry("demo-faces", "demo", {"kind": "demo"}, steps=1, guidance=0.0)
    pipe = load_pipeline(entry, device="cpu", models_dir=tmp_path)
    events = []
    batch = run_generation(pipe, entry, _req(entry, num_images=3, width=64, height=64), progress=events.append)
    assert [im.size for im in batch.images] == [(64, 64)] * 3
    assert ("denoise", 1, 1) in [(e.stage, e.current, e.total) for e in events]
    alone = run_generation(pipe, entry, _req(entry, prompt="anything else", seeds=(batch.seeds[2],)))
    assert np.abs(_px(alone.images[0]) - _px(batch.images[2])).max() <= 2

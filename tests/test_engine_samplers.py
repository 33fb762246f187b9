"""The sampler table (pipelines/samplers.py): A1111 names, aliases and schedule suffixes
resolve to what diffusers can run, with a note for what it cannot; the engine swaps the
scheduler of a real tiny SD 1.5 for the call, records what ran, and puts the model's own
scheduler back."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines import samplers
from pipelines.generate import run_generation
from pipelines.loaders import load_pipeline
from pipelines.testing.tiny import build_tiny_sd15
from pipelines.types import CancelToken, GenerationRequest
from tests.engine_entries import tiny_entry


@pytest.mark.parametrize("asked, schedule, ran, sched", [
    ("DPM++ 2M Karras", None, "DPM++ 2M", "karras"),
    ("DPM++ 2M", None, "DPM++ 2M", "karras"),  # A1111's automatic schedule for DPM++ 2M
    ("DPM++ 2M", "uniform", "DPM++ 2M", "uniform"),
    ("k_euler_a", None, "Euler a", "uniform"),
    ("k_dpmpp_2m_ka", None, "DPM++ 2M", "karras"),
    ("euler", "Exponential", "Euler", "exponential"),
    ("DPM++ 3M SDE", None, "DPM++ 3M SDE", "exponential"),
    ("Euler", "sgm_uniform", "Euler", "sgm_uniform"),
    ("UniPC", "karras", "UniPC", "karras"),
    ("PLMS", None, "PLMS", "uniform"),
])
def test_a1111_names_resolve_to_what_runs(asked, schedule, ran, sched):
    choice = samplers.resolve(asked, schedule, "sd15")
    assert (choice.sampler, choice.schedule) == (ran, sched) and choice.notes == ()


@pytest.mark.parametrize("asked, schedule, words", [
    ("Euler a Karras", None, "no Karras schedule"),  # EulerAncestral takes no Karras sigmas
    ("DPM++ 2S a", None, "second-order ancestral"),
    ("Restart", None, "no Restart sampler"),
    ("Warp drive", None, "not an AUTOMATIC1111 sampler"),
    ("Euler", "wobbly", "not an AUTOMATIC1111 schedule"),
    ("Euler", "polyexponential", "no polyexponential"),
])
def test_what_cannot_run_falls_back_with_a_note(asked, schedule, words):
    choice = samplers.resolve(asked, schedule, "sd15")
    assert any(words in n for n in choice.notes), choice


def test_families_take_only_what_their_scheduler_kind_runs():
    assert samplers.resolve("Euler", None, "flux").sampler == "Euler"
    flux = samplers.resolve("DPM++ 2M", None, "flux")
    assert flux.sampler is None and "cannot run here" in flux.notes[0]
    demo = samplers.resolve("Euler a", "karras", "demo")
    assert demo.sampler is None and "no sampler to choose" in demo.notes[0]
    assert samplers.resolve(None, None, "demo") == samplers.SamplerChoice(None, None, ())


@pytest.fixture(scope="module")
def sd15(tmp_path_factory):
    folder = build_tiny_sd15(tmp_path_factory.mktemp("models") / "tiny-sd15")
    entry = tiny_entry("tiny-sd15", {"kind": "folder", "path": str(folder)}, family="sd15",
                       description="tiny", steps=3, guidance=5.0)
    return load_pipeline(entry, device="cpu"), entry


def _run(pipe, entry, **kw):
    return run_generation(pipe, entry, GenerationRequest(model_id=entry.id, prompt="a cat", width=64, height=64,
                                                         seeds=(11,), **kw))


@pytest.mark.parametrize("asked", ["DPM++ 2M Karras", "Euler a", "DPM++ SDE", "DPM++ 2M SDE", "DPM2 a", "Heun",
                                    "LMS", "DDIM", "PLMS", "UniPC", "DPM++ 3M SDE", "LCM"])
def test_each_honoured_sampler_runs_and_is_recorded(sd15, asked):
    pipe, entry = sd15
    own = pipe.scheduler
    choice = samplers.resolve(asked, None, "sd15")
    result = _run(pipe, entry, sampler=choice.sampler, schedule=choice.schedule)
    label = samplers.schedule(choice.schedule).label
    expected = choice.sampler + (f" {label}" if choice.schedule in ("karras", "exponential") else "")
    assert result.sampler == expected and result.images[0].size == (64, 64)
    assert pipe.scheduler is own, "the model's own scheduler is back after the call"


def test_the_sampler_changes_the_picture_and_the_same_one_repeats(sd15):
    pipe, entry = sd15
    px = lambda r: np.asarray(r.images[0], dtype=np.int16)  # noqa: E731
    euler = _run(pipe, entry, sampler="Euler", schedule="uniform")
    karras = _run(pipe, entry, sampler="Euler", schedule="karras")
    again = _run(pipe, entry, sampler="Euler", schedule="karras")
    assert (px(karras) == px(again)).all()
    assert np.abs(px(euler) - px(karras)).max() > 0, "Karras sigmas are really used"


def test_a_cancelled_request_that_keeps_partial_images_returns_them(sd15):
    pipe, entry = sd15
    token = CancelToken()
    seen = []

    def progress(event):
        seen.append(event)
        if event.stage == "denoise" and event.current == 2:
            token.cancel()

    result = run_generation(pipe, entry, GenerationRequest(model_id=entry.id, prompt="a cat", width=64, height=64,
                                                           steps=6, keep_partial=True), progress, token)
    assert len(result.images) == 1 and result.extra["interrupted_at"] == 2

"""FLUX end to end on a tiny random FLUX.1-schnell stand-in, through the real loader and
manager: text-to-image with recorded seeds, T5's long prompts (and the 512-token limit),
image-to-image from a reference, merging, the dtype choice, and what FLUX refuses."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from pipelines.catalog import Catalog
from pipelines.families import traits
from pipelines.manager import PipelineManager
from pipelines.prompt_encoding import PromptTooLong
from pipelines.references import UnsupportedReferences
from pipelines.types import GenerationRequest, RequestRejected
from tests.engine_entries import square_sizes, tiny_entry

# Well past CLIP's 77 tokens; only T5 (which reads 512) sees how it ends.
LONG_PROMPT = "a portrait of a knight in golden armor standing in the rain near an old castle, " * 8


@pytest.fixture(scope="module")
def manager(flux_folder):
    entry = tiny_entry("t-flux", {"kind": "folder", "path": str(flux_folder)}, family="flux", steps=2, guidance=0.0,
                       sizes=square_sizes(32), reference_modes=["img2img"])
    return PipelineManager(Catalog(models=[entry]), device="cpu")


def _req(prompt="a red fox in the snow", seeds=(11,), **kw) -> GenerationRequest:
    kw.setdefault("width", 32)
    kw.setdefault("height", 32)
    return GenerationRequest(model_id="t-flux", prompt=prompt, num_images=len(seeds), seeds=tuple(seeds), **kw)


def _px(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def _diff(a, b) -> float:
    return float(np.abs(_px(a) - _px(b)).max())


def test_flux_loads_as_fluxpipeline_and_makes_four_images_with_their_seeds(manager):
    batch = manager.generate(_req(seeds=(1, 2, 3, 4)))
    with manager.use("t-flux") as (pipe, entry):
        assert type(pipe).__name__ == entry.traits.pipeline == "FluxPipeline"
    assert batch.seeds == [1, 2, 3, 4] and len(batch.images) == 4
    assert all(im.size == (32, 32) for im in batch.images)
    assert batch.sampler == "Euler" and batch.extra["family"] == "flux"
    assert _diff(batch.images[0], batch.images[1]) > 0, "different seeds, different pictures"
    alone = manager.generate(_req(seeds=(3,)))
    assert _diff(alone.images[0], batch.images[2]) <= 2, "image i depends only on seed i"


def test_drawn_seeds_are_recorded_and_reproduce(manager):
    first = manager.generate(GenerationRequest(model_id="t-flux", prompt="a lighthouse", width=32, height=32, num_images=2))
    assert len(first.seeds) == 2
    again = manager.generate(_req("a lighthouse", seeds=(first.seeds[1],)))
    assert _diff(again.images[0], first.images[1]) <= 2


def test_a_long_prompt_past_77_clip_tokens_still_changes_the_picture(manager):
    with manager.use("t-flux") as (pipe, _):
        assert len(pipe.tokenizer(LONG_PROMPT).input_ids) > 77
        assert len(pipe.tokenizer_2(LONG_PROMPT).input_ids) <= 512
    a = manager.generate(_req(LONG_PROMPT + "red dragon", seeds=(5,)))
    b = manager.generate(_req(LONG_PROMPT + "blue ocean", seeds=(5,)))
    a_again = manager.generate(_req(LONG_PROMPT + "red dragon", seeds=(5,)))
    assert _diff(a.images[0], a_again.images[0]) == 0
    assert _diff(a.images[0], b.images[0]) > 0, "the words after CLIP's 77 tokens reached the model (T5)"


def test_a_prompt_beyond_512_t5_tokens_gets_a_clear_message(manager):
    prompt = ("knight castle rain golden armor forest " * 60)[:1990]  # under 2000 characters, over 512 tokens
    with manager.use("t-flux") as (pipe, _):
        assert len(pipe.tokenizer_2(prompt).input_ids) > 512
    with pytest.raises(PromptTooLong, match="at most 512") as caught:
        manager.generate(_req(prompt))
    assert isinstance(caught.value, RequestRejected) and "Shorten it" in str(caught.value)


def test_the_512_token_limit_is_checked_before_the_model_loads(flux_folder):
    """`check` is what the services call before taking credits: it reads only the T5 tokenizer."""
    entry = tiny_entry("t-flux", {"kind": "folder", "path": str(flux_folder)}, family="flux", sizes=square_sizes(32))
    fresh = PipelineManager(Catalog(models=[entry]), device="cpu")
    too_long = ("knight castle rain golden armor forest " * 60)[:1990]
    with pytest.raises(PromptTooLong, match="at most 512"):
        fresh.check(_req(too_long))
    assert fresh.resident() == [], "refused without loading the model"
    assert fresh.check(_req(LONG_PROMPT)) is fresh.entry("t-flux")
    with pytest.raises(RequestRejected, match="multiples of 16"):
        fresh.check(_req(width=24, height=32))


def test_image_to_image_follows_the_reference(manager):
    red, blue = Image.new("RGB", (48, 48), "red"), Image.new("RGB", (48, 48), "blue")
    kw = dict(reference_mode="img2img", strength=0.5, steps=4)
    from_red = manager.generate(_req(reference_images=(red,), **kw))
    from_blue = manager.generate(_req(reference_images=(blue,), **kw))
    plain = manager.generate(_req(steps=4))
    assert from_red.extra["reference_mode"] == "img2img" and from_red.extra["denoise_steps"] == 2
    assert _diff(from_red.images[0], from_blue.images[0]) > 10
    red_px = _px(from_red.images[0])
    assert red_px[..., 0].mean() > red_px[..., 2].mean(), "a red reference leaves a red picture at strength 0.5"
    assert _diff(from_red.images[0], plain.images[0]) > 0
    with manager.use("t-flux") as (pipe, _):
        twin = manager._img2img_for("t-flux", pipe)
        assert type(twin).__name__ == traits("flux").img2img_pipeline
        assert twin.transformer is pipe.transformer, "the img2img twin shares the weights"


def test_flux_refuses_ip_adapter_references_and_odd_sizes(manager, flux_folder):
    ref = Image.new("RGB", (32, 32), "green")
    with pytest.raises(UnsupportedReferences, match="IP-Adapter"):
        manager.generate(_req(reference_images=(ref,), reference_mode="ip_adapter"))
    with pytest.raises(RequestRejected, match="multiples of 16"):
        manager.generate(_req(width=40, height=32))
    with pytest.raises(ValueError, match="cannot use reference mode"):
        tiny_entry("bad-flux", {"kind": "folder", "path": str(flux_folder)}, family="flux", sizes=square_sizes(32),
                   reference_modes=["ip_adapter"], ip_adapter={"path": "/x", "weight_name": "a.safetensors"})


def test_flux_dtype_is_bf16_on_accelerators_and_fp32_on_the_cpu():
    import torch

    from pipelines.devices import choose_dtype

    assert choose_dtype("cuda", "flux") == torch.bfloat16
    assert choose_dtype("cuda:1", "flux") == torch.bfloat16
    assert choose_dtype("mps", "flux") == torch.bfloat16
    assert choose_dtype("cpu", "flux") == torch.float32
    assert choose_dtype("cuda", "sdxl") == torch.float16


def test_concurrent_flux_requests_merge_and_match_solo(flux_folder):
    entry = tiny_entry("t-flux", {"kind": "folder", "path": str(flux_folder)}, family="flux", steps=2, guidance=0.0,
                       sizes=square_sizes(32), reference_modes=["img2img"])
    assert entry.traits.mergeable
    merged = PipelineManager(Catalog(models=[entry]), device="cpu", merge_window_ms=5)
    requests = [_req("a red fox", seeds=(7,)), _req(LONG_PROMPT, seeds=(8, 9))]
    solos = [merged.generate(r) for r in requests]
    merged.merger.calls = 0
    results: list = [None, None]

    def call(i):
        results[i] = merged.generate(requests[i])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
    with merged.use("t-flux"):  # busy: both queue, then run together
        for t in threads:
            t.start()
        import time

        deadline = time.monotonic() + 60
        while merged.merger.pending("t-flux") < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    for t in threads:
        t.join(120)
    assert merged.merger.calls == 1, "both requests ran as one FLUX call"
    for result, solo in zip(results, solos):
        assert result.extra["merged_requests"] == 2 and result.seeds == solo.seeds
        for image, alone in zip(result.images, solo.images):
            assert _diff(image, alone) <= 2

"""Reference images on real (tiny, random-weight) pipelines: IP-Adapter with up to six
references, image-to-image, and the refusals that come before anything runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipelines.catalog import Catalog, ModelEntry
from pipelines.generate import run_generation
from pipelines.loaders import load_pipeline
from pipelines.manager import PipelineManager
from pipelines.references import UnsupportedReferences, image_to_image_pipe, image_to_image_steps
from pipelines.testing.tiny import build_tiny_sd15, build_tiny_sdxl, save_as_hub_cache
from pipelines.testing.tiny_checkpoints import IP_ADAPTER_SUBFOLDER, IP_ADAPTER_WEIGHT_NAME, build_tiny_ip_adapter
from pipelines.types import CancelToken, GenerationCancelled, GenerationRequest, ModelUnavailable
from tests.engine_entries import square_sizes, tiny_entry

pytest.importorskip("diffusers")

SIZES = square_sizes(32)
COLOURS = ("red", "green", "blue", "white", "black", "yellow")
REFS = tuple(Image.new("RGB", (32, 32), c) for c in COLOURS)
OTHER_REFS = tuple(Image.new("RGB", (32, 32), c) for c in ("purple", "orange", "gray", "pink", "brown", "cyan"))
# Well past CLIP's 77 tokens, so only long-prompt encoding lets the ending matter.
LONG_PROMPT = "a portrait of a cat, oil painting, " * 14


def _entry(model_id: str, folder: Path, family: str = "sd15", *, name: str | None = None, steps: int = 2,
           modes=("ip_adapter", "img2img"), ip_adapter: dict | None = None) -> ModelEntry:
    return tiny_entry(
        model_id,
        {"kind": "folder", "path": str(folder)},
        family=family,
        name=name,
        description="tiny random test model",
        steps=steps,
        sizes=SIZES,
        reference_modes=list(modes),
        ip_adapter=ip_adapter,
    )


def _local_adapter(folder: Path) -> dict:
    return {"path": str(folder), "subfolder": IP_ADAPTER_SUBFOLDER, "weight_name": IP_ADAPTER_WEIGHT_NAME,
            "image_encoder_folder": f"{IP_ADAPTER_SUBFOLDER}/image_encoder"}


def _with_state_dict_adapter(pipe, state_dict: dict, adapter_dir: Path):
    from transformers import CLIPVisionModelWithProjection

    encoder = CLIPVisionModelWithProjection.from_pretrained(str(adapter_dir / IP_ADAPTER_SUBFOLDER / "image_encoder"))
    pipe.register_modules(image_encoder=encoder)
    pipe.load_ip_adapter(state_dict, subfolder=None, weight_name=None)
    return pipe


@pytest.fixture(scope="module")
def sd15(tmp_path_factory):
    """(folder, adapter folder, entry, plain pipe, pipe with the adapter loaded from its state dict)."""
    root = tmp_path_factory.mktemp("refs")
    folder = build_tiny_sd15(root / "tiny-sd15")
    state_dict, adapter_dir = build_tiny_ip_adapter(folder, root / "tiny-sd15-ip")
    entry = _entry("tiny-sd15", folder, ip_adapter=_local_adapter(adapter_dir))
    plain = load_pipeline(entry)
    adapted = _with_state_dict_adapter(load_pipeline(entry), state_dict, adapter_dir)
    return folder, adapter_dir, entry, plain, adapted


@pytest.fixture(scope="module")
def baseline(sd15):
    """The plain text-to-image picture of the default request (no adapter anywhere)."""
    _, _, entry, plain, _ = sd15
    return run_generation(plain, entry, _req(entry))


@pytest.fixture(scope="module")
def six(sd15):
    """Six references through the adapter loaded from its state dict."""
    _, _, entry, _, pipe = sd15
    return run_generation(pipe, entry, _req(entry, reference_images=REFS, reference_mode="ip_adapter"))


def _req(entry: ModelEntry, **kw) -> GenerationRequest:
    kw.setdefault("prompt", "a portrait of a cat, oil painting")
    kw.setdefault("width", 32)
    kw.setdefault("height", 32)
    kw.setdefault("seeds", (11,))
    return GenerationRequest(model_id=entry.id, **kw)


def _px(result, i: int = 0) -> np.ndarray:
    return np.asarray(result.images[i].convert("RGB"), dtype=np.int16)


def _diff(a, b) -> int:
    return int(np.abs(_px(a) - _px(b)).max())


# ----------------------------------------------------------------- IP-Adapter


def test_one_to_six_references_all_steer_the_picture_and_repeat_exactly(sd15, baseline, six):
    _, _, entry, _, pipe = sd15
    ip = dict(reference_mode="ip_adapter")
    one = run_generation(pipe, entry, _req(entry, reference_images=REFS[:1], **ip))
    five = run_generation(pipe, entry, _req(entry, reference_images=REFS[:5], **ip))
    other = run_generation(pipe, entry, _req(entry, reference_images=OTHER_REFS, **ip))
    again = run_generation(pipe, entry, _req(entry, reference_images=REFS, **ip))
    faint = run_generation(pipe, entry, _req(entry, reference_images=REFS, ip_adapter_scale=0.05, **ip))

    assert _diff(one, baseline) > 3 and _diff(six, baseline) > 3, "references change the picture"
    assert _diff(six, five) > 2, "the sixth reference guides the picture too"
    assert _diff(six, one) > 3 and _diff(six, other) > 3, "which references matters"
    assert _diff(six, again) == 0, "same references and seed: same picture"
    assert _diff(faint, baseline) < _diff(six, baseline), "the scale sets how strongly references guide"
    assert six.extra == {"family": "sd15", "reference_mode": "ip_adapter", "reference_count": 6, "ip_adapter_scale": 0.6}


def test_a_pipeline_with_an_adapter_draws_the_no_adapter_picture_without_references(sd15, baseline, six):
    _, _, entry, plain, pipe = sd15
    # `six` ran first, so the adapter scale was set; a mode with no images is plain text-to-image
    for kw in ({}, {"reference_mode": "ip_adapter"}):
        assert _diff(run_generation(pipe, entry, _req(entry, **kw)), baseline) <= 1
    img2img = dict(reference_images=REFS[:1], reference_mode="img2img")  # the twin shares the adapter's UNet
    assert _diff(run_generation(pipe, entry, _req(entry, **img2img)), run_generation(plain, entry, _req(entry, **img2img))) <= 1


def test_each_image_of_a_batch_keeps_its_seed_with_references(sd15):
    _, _, entry, _, pipe = sd15
    ip = dict(reference_images=REFS, reference_mode="ip_adapter")
    batch = run_generation(pipe, entry, _req(entry, num_images=2, seeds=(5, 9), **ip))
    alone = run_generation(pipe, entry, _req(entry, seeds=(9,), **ip))
    assert int(np.abs(_px(batch, 1) - _px(alone)).max()) <= 2
    assert int(np.abs(_px(batch, 0) - _px(batch, 1)).max()) > 3


def test_long_prompts_reach_the_model_with_references(sd15):
    _, _, entry, _, pipe = sd15
    for refs in ({"reference_images": REFS, "reference_mode": "ip_adapter"},
                 {"reference_images": REFS[:1], "reference_mode": "img2img", "strength": 0.9}):
        a = run_generation(pipe, entry, _req(entry, steps=1, prompt=LONG_PROMPT + "red dragon", **refs))
        b = run_generation(pipe, entry, _req(entry, steps=1, prompt=LONG_PROMPT + "blue ocean", **refs))
        assert _diff(a, b) > 0, f"words after token 77 change the picture ({refs['reference_mode']})"


def test_manager_fetches_the_catalog_adapter_from_a_folder_once(sd15, six):
    _, _, entry, _, _ = sd15
    manager = PipelineManager(Catalog(models=[entry]), device="cpu")
    ip = dict(reference_images=REFS, reference_mode="ip_adapter")
    events = []
    first = manager.generate(_req(entry, **ip), progress=events.append)
    bytes_with_adapter = manager.resident()[0]["bytes"]
    second = manager.generate(_req(entry, **ip), progress=events.append)

    loads = [e for e in events if e.stage == "load" and "IP-Adapter" in e.message]
    assert len(loads) == 1, "the adapter loads once per resident model"
    assert _diff(first, second) == 0
    assert _diff(first, six) <= 1, "the folder and the state dict hold the same adapter"
    plain_manager = PipelineManager(Catalog(models=[entry]), device="cpu")
    plain_manager.preload(entry.id)
    assert bytes_with_adapter > plain_manager.resident()[0]["bytes"], "the image encoder counts towards the model"


def test_hub_adapter_comes_from_the_cache_and_is_refused_clearly_offline(sd15, six, tmp_path):
    folder, adapter_dir, _, _, _ = sd15
    hub = {"repo_id": "tiny/ip-adapter", "subfolder": IP_ADAPTER_SUBFOLDER, "weight_name": IP_ADAPTER_WEIGHT_NAME,
           "image_encoder_folder": f"{IP_ADAPTER_SUBFOLDER}/image_encoder"}
    entry = _entry("tiny-hub-ip", folder, name="Tiny hub", ip_adapter=hub)
    ip = dict(reference_images=REFS, reference_mode="ip_adapter")
    empty_cache = PipelineManager(Catalog(models=[entry]), device="cpu", cache_dir=tmp_path / "empty")
    with pytest.raises(ModelUnavailable, match="IP-Adapter of Tiny hub.*tiny/ip-adapter.*offline"):
        empty_cache.generate(_req(entry, **ip))
    assert empty_cache.generate(_req(entry)).images, "the model still works without references"

    repo = tmp_path / "repo"
    shutil.copytree(adapter_dir, repo)
    (repo / "config.json").write_text(json.dumps({}), encoding="utf-8")  # save_as_hub_cache wants a root config
    save_as_hub_cache(repo, tmp_path / "cache", "tiny/ip-adapter")
    cached = PipelineManager(Catalog(models=[entry]), device="cpu", cache_dir=tmp_path / "cache")
    assert _diff(cached.generate(_req(entry, **ip)), six) <= 1


def test_a_missing_local_adapter_is_named_in_the_error(sd15, tmp_path):
    folder, _, _, _, _ = sd15
    entry = _entry("tiny-no-ip", folder, name="Tiny", ip_adapter=_local_adapter(tmp_path / "nowhere"))
    manager = PipelineManager(Catalog(models=[entry]), device="cpu")
    with pytest.raises(ModelUnavailable, match="IP-Adapter weights .*nowhere"):
        manager.generate(_req(entry, reference_images=REFS[:1], reference_mode="ip_adapter"))


def test_sdxl_takes_six_references_and_an_init_image(tmp_path):
    """Through the manager, with the adapter from the catalog's folder."""
    folder = build_tiny_sdxl(tmp_path / "tiny-sdxl")
    _, adapter_dir = build_tiny_ip_adapter(folder, tmp_path / "tiny-sdxl-ip")
    entry = _entry("tiny-sdxl", folder, "sdxl", steps=2, ip_adapter=_local_adapter(adapter_dir))
    manager = PipelineManager(Catalog(models=[entry]), device="cpu")
    without = manager.generate(_req(entry))
    six = manager.generate(_req(entry, reference_images=REFS, reference_mode="ip_adapter"))
    five = manager.generate(_req(entry, reference_images=REFS[:5], reference_mode="ip_adapter"))
    init = manager.generate(_req(entry, reference_images=REFS[:1], reference_mode="img2img", strength=0.5))
    assert _diff(six, without) > 3 and _diff(six, five) > 2
    assert _diff(init, without) > 3 and init.extra["denoise_steps"] == 1


# ----------------------------------------------------------------- image-to-image


def test_image_to_image_starts_from_the_reference(sd15, baseline):
    _, _, entry, plain, _ = sd15
    ref = dict(reference_images=(Image.new("RGB", (32, 32), "blue"),), reference_mode="img2img")
    light = run_generation(plain, entry, _req(entry, strength=0.5, **ref))
    heavy = run_generation(plain, entry, _req(entry, strength=1.0, **ref))
    again = run_generation(plain, entry, _req(entry, strength=0.5, **ref))
    other = run_generation(plain, entry, _req(entry, strength=0.5, reference_images=REFS[:1], reference_mode="img2img"))
    assert _diff(light, baseline) > 3, "not the text-to-image picture"
    assert _diff(light, heavy) > 3, "the strength changes the picture"
    assert _diff(light, other) > 3, "the reference changes the picture"
    assert _diff(light, again) == 0, "same seed and strength: same picture"
    assert light.extra == {"family": "sd15", "reference_mode": "img2img", "reference_count": 1,
                           "strength": 0.5, "denoise_steps": 1}
    assert heavy.steps == 2 and heavy.extra["denoise_steps"] == 2


def test_image_to_image_shares_the_weights_and_the_manager_keeps_one_twin(sd15):
    _, _, entry, plain, _ = sd15
    twin = image_to_image_pipe(plain)
    assert twin.unet is plain.unet and twin.vae is plain.vae and twin.text_encoder is plain.text_encoder

    manager = PipelineManager(Catalog(models=[entry]), device="cpu")
    manager.preload(entry.id)
    before = manager.resident()[0]["bytes"]
    ref = dict(reference_images=REFS[:1], reference_mode="img2img")
    first = manager.generate(_req(entry, **ref))
    second = manager.generate(_req(entry, **ref))
    assert manager.resident()[0]["bytes"] == before, "no second copy of the weights"
    assert _diff(first, second) == 0


def test_a_one_step_model_runs_image_to_image_with_the_steps_it_needs(sd15):
    folder, _, _, _, _ = sd15
    turbo = _entry("tiny-turbo", folder, name="SD-Turbo", steps=1, modes=("img2img",))
    manager = PipelineManager(Catalog(models=[turbo]), device="cpu")
    events = []
    result = manager.generate(_req(turbo, reference_images=REFS[:1], reference_mode="img2img", strength=0.5),
                              progress=events.append)
    assert result.steps == 2 and result.extra["denoise_steps"] == 1
    totals = {(e.stage, e.total) for e in events if e.stage in ("denoise", "decode", "done")}
    assert totals == {("denoise", 1), ("decode", 1), ("done", 1)}, "progress counts the steps really run"
    assert image_to_image_steps(1, 0.3) == (4, 1) and image_to_image_steps(10, 0.55) == (10, 5)


def test_the_reference_is_fitted_to_the_requested_size(sd15):
    _, _, entry, plain, _ = sd15
    tall = Image.new("RGB", (40, 120), "green")
    result = run_generation(plain, entry, _req(entry, width=48, height=32, reference_images=(tall,),
                                              reference_mode="img2img", strength=0.5))
    assert result.images[0].size == (48, 32) and (result.width, result.height) == (48, 32)


def test_cancelling_image_to_image_stops_it(sd15):
    _, _, entry, plain, _ = sd15
    token = CancelToken()
    seen = []

    def cancel_on_first_step(event):
        seen.append(event.stage)
        if event.stage == "denoise":
            token.cancel()

    with pytest.raises(GenerationCancelled):
        run_generation(plain, entry, _req(entry, steps=6, reference_images=REFS[:1], reference_mode="img2img",
                                          strength=1.0), progress=cancel_on_first_step, cancel=token)
    assert seen.count("denoise") == 1 and "done" not in seen


# ----------------------------------------------------------------- refusals


def test_seven_references_are_refused(sd15):
    _, _, entry, plain, _ = sd15
    with pytest.raises(ValueError, match="at most 6"):
        run_generation(plain, entry, _req(entry, reference_images=REFS + REFS[:1], reference_mode="ip_adapter"))


def test_unsupported_modes_are_refused_before_anything_loads(sd15, tmp_path):
    folder, _, entry, plain, _ = sd15
    turbo = _entry("sd-turbo", folder, name="SD-Turbo", steps=1, modes=("img2img",))
    manager = PipelineManager(Catalog(models=[turbo]), device="cpu")
    events = []
    with pytest.raises(UnsupportedReferences, match="^SD-Turbo can't use IP-Adapter references; it supports image-to-image$"):
        manager.generate(_req(turbo, reference_images=REFS, reference_mode="ip_adapter"), progress=events.append)
    assert events == [] and manager.resident() == [], "nothing was loaded"

    bare = _entry("bare", folder, name="Bare", modes=())
    with pytest.raises(UnsupportedReferences, match="Bare can't use image-to-image references; it supports no reference"):
        run_generation(plain, bare, _req(bare, reference_images=REFS[:1], reference_mode="img2img"))
    with pytest.raises(UnsupportedReferences, match="say how tiny-sd15 should use"):
        run_generation(plain, entry, _req(entry, reference_images=REFS[:1]))


def test_the_demo_model_refuses_references(tmp_path):
    demo = ModelEntry(id="demo-faces", name="Offline demo", description="GAN", family="demo", source={"kind": "demo"},
                      default_steps=1, default_guidance=0.0, sizes=SIZES, credit_cost=1, speed="fast", quality="draft")
    manager = PipelineManager(Catalog(models=[demo]), device="cpu", models_dir=tmp_path)
    with pytest.raises(UnsupportedReferences, match="Offline demo ignores reference images"):
        manager.generate(_req(demo, reference_images=REFS[:1], reference_mode="img2img"))
    assert manager.resident() == []


@pytest.mark.parametrize(
    "change, message",
    [
        ({"strength": 0.0}, "strength must be"),
        ({"strength": 1.5}, "strength must be"),
        ({"ip_adapter_scale": -0.1}, "IP-Adapter scale"),
        ({"reference_images": ("not an image",), "reference_mode": "img2img"}, "not usable pictures"),
    ],
)
def test_bad_reference_settings_are_refused(sd15, change, message):
    _, _, entry, plain, _ = sd15
    events = []
    with pytest.raises(ValueError, match=message):
        run_generation(plain, entry, _req(entry, **change), progress=events.append)
    assert events == []

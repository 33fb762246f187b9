"""LoRAs and textual-inversion embeddings through the real engine on the tiny models.

The LoRAs are built with peft (pipelines/testing/tiny_lora.py) on the tiny SD 1.5 and
SDXL models and saved in the diffusers and the kohya formats; they are loaded through
diffusers' `load_lora_weights` exactly as users' files are.
"""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest

from pipelines.adapters import AdapterLibrary, HubLora
from pipelines.catalog import Catalog
from pipelines.manager import PipelineManager
from pipelines.params import RequestRejected
from pipelines.testing.tiny import save_as_hub_cache
from pipelines.testing.tiny_lora import build_tiny_embedding, build_tiny_lora
from pipelines.types import GenerationRequest
from tests.engine_entries import tiny_entry

pytest.importorskip("peft")


@pytest.fixture(scope="module")
def adapter_dirs(sd15, sdxl, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    loras, embeddings = root / "loras", root / "embeddings"
    build_tiny_lora(sd15, loras / "ink_style.safetensors", key_format="diffusers", seed=1)
    build_tiny_lora(sd15, loras / "ink_style_kohya.safetensors", key_format="kohya", seed=1)
    build_tiny_lora(sd15, loras / "hero_face.safetensors", key_format="kohya", seed=7)
    build_tiny_lora(sdxl, loras / "xl_style.safetensors", key_format="kohya", seed=2)
    build_tiny_lora(sdxl, loras / "xl_style_diffusers.safetensors", key_format="diffusers", seed=2)
    build_tiny_embedding(sd15, embeddings / "moodytone.safetensors", vectors=2)
    build_tiny_embedding(sdxl, embeddings / "xltone.safetensors")
    (loras / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    (embeddings / "old.pt").write_bytes(b"pickle")
    return root


@pytest.fixture(scope="module")
def library(adapter_dirs):
    return AdapterLibrary(adapter_dirs / "loras", adapter_dirs / "embeddings")


@pytest.fixture(scope="module")
def manager(sd15, sdxl, library):
    entries = [
        tiny_entry("l-sd15", {"kind": "folder", "path": str(sd15)}, family="sd15", steps=2),
        tiny_entry("l-sdxl", {"kind": "folder", "path": str(sdxl)}, family="sdxl", steps=2),
    ]
    return PipelineManager(Catalog(models=entries), device="cpu", adapters=library)


def _px(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def _run(manager, model="l-sd15", loras=(), prompt="a red fox in the snow", seed=5):
    request = GenerationRequest(model_id=model, prompt=prompt, width=64, height=64, seeds=(seed,), loras=tuple(loras))
    return _px(manager.generate(request).images[0])


def _differ(a, b) -> float:
    return float(np.abs(a - b).mean())


def test_families_and_formats_are_read_from_the_keys(library):
    found = {lora.name: (lora.family, lora.key_format) for lora in library.loras()}
    assert found == {
        "ink_style": ("sd15", "diffusers"), "ink_style_kohya": ("sd15", "kohya"), "hero_face": ("sd15", "kohya"),
        "xl_style": ("sdxl", "kohya"), "xl_style_diffusers": ("sdxl", "diffusers"),
    }
    assert {(e.name, e.family, e.vectors) for e in library.embeddings()} == {("moodytone", "sd15", 2),
                                                                             ("xltone", "sdxl", 1)}
    problems = " ".join(library.problems())
    assert "broken.safetensors skipped" in problems and "old.pt skipped" in problems and "pickle" in problems
    fit, hidden = library.fitting("sdxl")
    assert [lora.name for lora in fit] == ["xl_style", "xl_style_diffusers"]
    assert hidden["ink_style"] == "made for SD 1.x models"
    assert library.fitting("demo")[1]["ink_style"] == "the demo model takes no LoRAs"


@pytest.mark.parametrize("model,lora,twin", [("l-sd15", "ink_style", "ink_style_kohya"),
                                             ("l-sdxl", "xl_style_diffusers", "xl_style")])
def test_a_lora_changes_the_image_in_both_formats_and_weight_zero_is_none(manager, model, lora, twin):
    plain = _run(manager, model)
    styled = _run(manager, model, [(lora, 1.0)])
    assert _differ(plain, styled) > 1, "the LoRA changed the picture"
    # the same peft weights saved in the kohya layout give the same picture
    assert np.abs(_run(manager, model, [(twin, 1.0)]) - styled).max() <= 2
    assert np.array_equal(_run(manager, model, [(lora, 0.0)]), plain), "weight 0 is the plain model"
    assert np.array_equal(_run(manager, model), plain), "a job without LoRAs after one with them is plain"
    half = _run(manager, model, [(lora, 0.5)])
    assert 0 < _differ(plain, half) < _differ(plain, styled) + 1


def test_two_loras_compose(manager):
    plain = _run(manager)
    one, other = _run(manager, loras=[("ink_style", 1.0)]), _run(manager, loras=[("hero_face", 1.0)])
    both = _run(manager, loras=[("ink_style", 1.0), ("hero_face", 1.0)])
    assert min(_differ(both, one), _differ(both, other), _differ(both, plain)) > 1
    assert np.abs(both - _run(manager, loras=[("hero_face", 1.0), ("ink_style", 1.0)])).max() <= 2


def test_refusals_before_anything_runs(manager):
    def refused(loras, model="l-sd15") -> str:
        with pytest.raises(RequestRejected) as caught:
            manager.check(GenerationRequest(model_id=model, prompt="x", width=64, height=64, loras=tuple(loras)))
        return str(caught.value)

    assert "made for SDXL models" in refused([("xl_style", 1.0)])
    assert "Did you mean: ink_style" in refused([("ink_stlye", 1.0)])
    assert "from -2 to 2" in refused([("ink_style", 3.0)])
    assert "at most 4" in refused([("ink_style", 1.0)] * 5)
    assert "listed twice" in refused([("ink_style", 1.0), ("ink_style", 0.5)])


def test_embeddings_are_loaded_when_the_prompt_names_them(manager):
    for model, word in (("l-sd15", "moodytone"), ("l-sdxl", "xltone")):
        plain = _run(manager, model, prompt="a red fox in the snow")
        named = _run(manager, model, prompt=f"a red fox in the snow, {word}")
        assert _differ(plain, named) > 0.5, f"{word} changed the prompt's embedding"
        assert np.array_equal(named, _run(manager, model, prompt=f"a red fox in the snow, {word}"))


def test_a_file_added_while_running_shows_after_refresh(library, adapter_dirs, sd15):
    names = {lora.name for lora in library.loras()}
    build_tiny_lora(sd15, adapter_dirs / "loras" / "new_one.safetensors", seed=11)
    assert {lora.name for lora in library.loras()} == names
    library.refresh()
    assert "new_one" in {lora.name for lora in library.loras()}


def test_merged_requests_only_share_a_call_with_the_same_loras(sd15, library):
    entry = tiny_entry("l-merge", {"kind": "folder", "path": str(sd15)}, family="sd15", steps=2)
    manager = PipelineManager(Catalog(models=[entry]), device="cpu", merge_window_ms=5, adapters=library)
    solo = PipelineManager(Catalog(models=[entry]), device="cpu", adapters=library)
    loras = [(), (("ink_style", 1.0),), (("ink_style", 1.0),), (("ink_style", 0.5),)]
    requests = [GenerationRequest(model_id="l-merge", prompt="a cat", width=64, height=64, seeds=(i,), loras=l)
                for i, l in enumerate(loras)]
    results: list = [None] * len(requests)
    with manager.use("l-merge"):  # hold the model so all four queue up
        threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, manager.generate(requests[i])))
                   for i in range(len(requests))]
        for t in threads:
            t.start()
        while manager.merger.pending("l-merge") < len(requests):
            threading.Event().wait(0.01)
    for t in threads:
        t.join(120)
    assert sorted(r.extra["merged_requests"] for r in results) == [1, 1, 2, 2]
    for request, result in zip(requests, results):
        assert np.abs(_px(result.images[0]) - _px(solo.generate(request).images[0])).max() <= 2


def test_a_hub_lora_downloads_on_first_use_from_its_cache_layout(sd15, tmp_path):
    made = build_tiny_lora(sd15, tmp_path / "repo" / "pytorch_lora_weights.safetensors", seed=1)
    cache = tmp_path / "hub"
    save_as_hub_cache(made.parent, cache, "studio-test/ink-lora", files=["pytorch_lora_weights.safetensors"])
    hub = HubLora(name="hub_ink", repo_id="studio-test/ink-lora", filename="pytorch_lora_weights.safetensors",
                  family="sd15")
    library = AdapterLibrary(tmp_path / "none", tmp_path / "none2", hub_loras=[hub], cache_dir=cache)
    assert [(lora.name, lora.source, lora.family) for lora in library.loras()] == [("hub_ink", "hub", "sd15")]
    entry = tiny_entry("l-hub", {"kind": "folder", "path": str(sd15)}, family="sd15", steps=2)
    manager = PipelineManager(Catalog(models=[entry]), device="cpu", adapters=library)
    plain = _run(manager, "l-hub")
    assert _differ(plain, _run(manager, "l-hub", [("hub_ink", 1.0)])) > 1
    missing = AdapterLibrary(tmp_path / "none", tmp_path / "none2", cache_dir=tmp_path / "empty",
                             hub_loras=[HubLora("gone", "studio-test/absent", "x.safetensors", "sd15")])
    from pipelines.types import ModelUnavailable

    with pytest.raises(ModelUnavailable, match="could not download the LoRA gone"):
        missing.resolve("gone")


def test_a_lora_that_reads_fine_but_does_not_fit_is_named_and_the_model_keeps_working(sd15, sdxl, tmp_path):
    folder = tmp_path / "loras"
    lying = build_tiny_lora(sdxl, tmp_path / "x.safetensors", key_format="diffusers", text_encoder=False)
    folder.mkdir()
    shutil.copy(lying, folder / "liar.safetensors")  # SDXL UNet keys, unet-only: read as SD 1.x
    library = AdapterLibrary(folder, tmp_path / "e")
    entry = tiny_entry("l-liar", {"kind": "folder", "path": str(sd15)}, family="sd15", steps=2)
    manager = PipelineManager(Catalog(models=[entry]), device="cpu", adapters=library)
    plain = _run(manager, "l-liar")
    from pipelines.types import ModelUnavailable

    with pytest.raises(ModelUnavailable, match="The LoRA liar does not fit"):
        _run(manager, "l-liar", [("liar", 1.0)])
    assert np.array_equal(_run(manager, "l-liar"), plain)


def test_a_flux_lora_is_read_as_flux_and_changes_the_image(flux_folder, sd15, tmp_path):
    lora = build_tiny_lora(flux_folder, tmp_path / "loras" / "flux_look.safetensors", seed=3)
    library = AdapterLibrary(lora.parent, tmp_path / "embeddings")
    assert [(x.name, x.family) for x in library.loras()] == [("flux_look", "flux")]
    entries = [tiny_entry("l-flux", {"kind": "folder", "path": str(flux_folder)}, family="flux", steps=2, guidance=0.0),
               tiny_entry("l-sd15-2", {"kind": "folder", "path": str(sd15)}, family="sd15", steps=2)]
    manager = PipelineManager(Catalog(models=entries), device="cpu", adapters=library)
    plain = _run(manager, "l-flux")
    assert _differ(plain, _run(manager, "l-flux", [("flux_look", 1.0)])) > 0.05  # attention-only, tiny: small but real
    assert np.array_equal(_run(manager, "l-flux", [("flux_look", 0.0)]), plain)
    with pytest.raises(RequestRejected, match="made for FLUX models"):
        manager.check(GenerationRequest(model_id="l-sd15-2", prompt="x", width=64, height=64,
                                        loras=(("flux_look", 1.0),)))

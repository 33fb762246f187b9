"""Every catalog entry loads and generates from an offline replica of its Hub repository,
exactly as on a machine with internet after the download: the real presets/models.json,
the HF cache layout (blobs, snapshots, refs/main), the real file names, variants and
class names, through huggingface_hub with HF_HUB_OFFLINE=1 (conftest.py sets it).
Also: what a broken or wrong download gets (a message, nothing loaded)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from pipelines.catalog import load_catalog
from pipelines.manager import PipelineManager
from pipelines.testing.hub_replicas import STUB_FILES, build_hub_cache
from pipelines.types import GenerationRequest, ModelUnavailable

CATALOG = load_catalog(Path(__file__).resolve().parents[1] / "presets" / "models.json")
HUB_ENTRIES = [e for e in CATALOG.models if e.source.kind == "hub"]
# scheduler of each real repo, as its A1111 sampler name
SAMPLERS = {"sd-turbo": "Euler", "sdxl-turbo": "Euler a", "sd15": "PLMS", "sdxl-base": "Euler", "flux-schnell": "Euler"}


@pytest.fixture(scope="session")
def hub_cache(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("hf-cache")
    build_hub_cache(CATALOG, cache, tmp_path_factory.getbasetemp() / "hub-replicas")
    return cache


@pytest.fixture(scope="module")
def manager(hub_cache):
    return PipelineManager(CATALOG, device="cpu", cache_dir=hub_cache)


def test_every_hub_entry_of_the_catalog_has_a_replica(hub_cache):
    assert {e.id for e in HUB_ENTRIES} == set(SAMPLERS), "a new hub entry needs a replica and a line here"
    for entry in HUB_ENTRIES:
        repo = hub_cache / ("models--" + entry.source.repo_id.replace("/", "--"))
        commit = (repo / "refs" / "main").read_text()
        snapshot = repo / "snapshots" / commit
        index = json.loads((snapshot / "model_index.json").read_text())
        assert index["_class_name"] == entry.traits.pipeline
        names = {p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file()}
        assert not names & set(STUB_FILES.get(entry.source.repo_id, [])), "only what the downloader selects"
        weights = [n for n in names if n.endswith(".safetensors")]
        if entry.source.variant:
            assert weights and all(".fp16." in n for n in weights), "the fp16 variant, not the fp32 weights"
        assert all((snapshot / n).is_symlink() for n in names), "snapshot files link to blobs, as huggingface_hub lays them"


@pytest.mark.parametrize("model_id", [e.id for e in HUB_ENTRIES])
def test_each_catalog_entry_loads_and_generates_offline(manager, model_id):
    entry = manager.entry(model_id)
    assert manager.is_downloaded(model_id)
    result = manager.generate(GenerationRequest(model_id=model_id, prompt="a lighthouse at dusk", width=64, height=64,
                                                num_images=2, seeds=(1, 2), steps=2))
    with manager.use(model_id) as (pipe, _):
        assert type(pipe).__name__ == entry.traits.pipeline
        assert pipe.dtype.is_floating_point and str(pipe.dtype) == "torch.float32", "fp16 files run in fp32 on the CPU"
        assert getattr(pipe, "safety_checker", None) is None
    assert len(result.images) == 2 and result.seeds == [1, 2] and result.images[0].size == (64, 64)
    assert result.sampler == SAMPLERS[model_id]
    if "img2img" in entry.reference_modes:
        ref = Image.new("RGB", (64, 64), "orange")
        again = manager.generate(GenerationRequest(model_id=model_id, prompt="a lighthouse", width=64, height=64,
                                                   steps=2, reference_images=(ref,), reference_mode="img2img"))
        assert again.extra["reference_mode"] == "img2img"
    manager.unload(model_id)  # keep the session's memory small


@pytest.mark.parametrize("model_id", [e.id for e in HUB_ENTRIES if e.ip_adapter is not None])
def test_ip_adapter_entries_load_their_adapter_and_image_encoder_from_the_cache(manager, model_id):
    refs = tuple(Image.new("RGB", (32, 32), c) for c in ("red", "blue", "green"))
    result = manager.generate(GenerationRequest(model_id=model_id, prompt="a knight", width=64, height=64, steps=2,
                                                reference_images=refs, reference_mode="ip_adapter"))
    assert result.extra["reference_mode"] == "ip_adapter" and result.extra["reference_count"] == 3
    plain = manager.generate(GenerationRequest(model_id=model_id, prompt="a knight", width=64, height=64, steps=2))
    assert len(plain.images) == 1, "a plain job after the adapter still runs"
    manager.unload(model_id)


def test_flux_prompt_limit_and_memory_are_checked_from_the_cache_before_loading(hub_cache):
    from pipelines.placement import ModelTooLarge
    from pipelines.prompt_encoding import PromptTooLong

    manager = PipelineManager(CATALOG, device="cpu", cache_dir=hub_cache, ram_limit_bytes=10_000)
    long = GenerationRequest(model_id="flux-schnell", prompt=("castle rain golden armor " * 80)[:1990], width=64, height=64)
    with pytest.raises(PromptTooLong, match="at most 512"):
        manager.check(long)
    with pytest.raises(ModelTooLarge, match=r"FLUX.1 \[schnell\] needs about"):
        manager.expected_placement("flux-schnell")
    with pytest.raises(ModelTooLarge):
        manager.generate(GenerationRequest(model_id="flux-schnell", prompt="a cat", width=64, height=64))
    assert manager.resident() == []
    roomy = PipelineManager(CATALOG, device="cpu", cache_dir=hub_cache)
    assert roomy.expected_placement("flux-schnell").mode == "cpu"
    assert roomy.expected_placement("demo-faces") is None


def _copy_cache(src: Path, dst: Path, repo_id: str) -> Path:
    name = "models--" + repo_id.replace("/", "--")
    shutil.copytree(src / name, dst / name, symlinks=True)
    return dst / name


def test_a_download_with_a_missing_weights_file_gets_a_message(hub_cache, tmp_path):
    repo = _copy_cache(hub_cache, tmp_path, "stabilityai/sd-turbo")
    snapshot = repo / "snapshots" / (repo / "refs" / "main").read_text()
    (snapshot / "unet" / "diffusion_pytorch_model.fp16.safetensors").unlink()
    manager = PipelineManager(CATALOG, device="cpu", cache_dir=tmp_path)
    assert not manager.is_downloaded("sd-turbo")
    with pytest.raises(ModelUnavailable, match="SD-Turbo.*offline") as caught:
        manager.generate(GenerationRequest(model_id="sd-turbo", prompt="a cat", width=64, height=64))
    assert str(tmp_path) not in str(caught.value), "no server path in the message"
    assert manager.resident() == []


def test_a_repo_of_the_wrong_family_is_refused_before_loading(hub_cache, tmp_path):
    """The catalog says SDXL-Turbo, but the cache holds an SD 2.1-style pipeline under its id."""
    from pipelines.testing.tiny import save_as_hub_cache

    src = hub_cache / "models--stabilityai--sd-turbo"
    snapshot = src / "snapshots" / (src / "refs" / "main").read_text()
    plain = tmp_path / "plain"
    shutil.copytree(snapshot, plain, symlinks=False)
    save_as_hub_cache(plain, tmp_path / "cache", "stabilityai/sdxl-turbo")
    manager = PipelineManager(CATALOG, device="cpu", cache_dir=tmp_path / "cache")
    # Read from the folder's model_index.json before any weight is loaded (pipelines/model_files.py).
    with pytest.raises(ModelUnavailable, match=r"SDXL-Turbo cannot be loaded: its files hold a Stable Diffusion 1\.5 "
                                               r"model or a Stable Diffusion 2\.1 model, but the catalog says it is an SDXL"):
        manager.generate(GenerationRequest(model_id="sdxl-turbo", prompt="a cat", width=64, height=64))
    assert manager.resident() == []

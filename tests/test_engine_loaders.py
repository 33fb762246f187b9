"""Catalog entry → pipeline: local folders, the Hugging Face cache layout, single files, failures."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pipelines.catalog import ModelEntry, Source
from pipelines.hub import byte_progress_class, select_hub_files
from pipelines.loaders import is_available_locally, load_pipeline
from pipelines.families import traits
from pipelines.testing.tiny import save_as_hub_cache
from pipelines.testing.tiny_checkpoints import save_as_single_file
from pipelines.types import ModelUnavailable
from tests.engine_entries import SIZES_64, tiny_entry

REPO_ROOT = Path(__file__).resolve().parents[1]


def entry(family: str = "sd15", model_id: str = "tiny", **source) -> ModelEntry:
    return tiny_entry(model_id, source, family=family, name=f"Tiny {family}")


def test_folder_sd15_loads_without_safety_checker_and_progress_bar(sd15):
    events = []
    pipe = load_pipeline(entry(kind="folder", path=str(sd15)), device="cpu", progress=events.append)
    assert type(pipe).__name__ == "StableDiffusionPipeline"
    assert pipe.safety_checker is None
    assert pipe._progress_bar_config.get("disable") is True
    assert pipe.unet.dtype == torch.float32 and pipe.device.type == "cpu"
    assert [e.stage for e in events] == ["load"]


def test_folder_sdxl_loads_with_requested_dtype(sdxl):
    pipe = load_pipeline(entry("sdxl", kind="folder", path=str(sdxl)), device="cpu", dtype=torch.bfloat16)
    assert type(pipe).__name__ == "StableDiffusionXLPipeline"
    assert pipe.unet.dtype == torch.bfloat16


def test_hub_cache_loads_offline(sd15, tmp_path):
    save_as_hub_cache(sd15, tmp_path / "hf", "tiny/sd15")
    hub = entry(kind="hub", repo_id="tiny/sd15")
    assert is_available_locally(hub, tmp_path / "hf")
    pipe = load_pipeline(hub, device="cpu", cache_dir=tmp_path / "hf")
    assert type(pipe).__name__ == "StableDiffusionPipeline"


def test_hub_cache_with_an_fp16_variant_loads_that_variant(sd15, tmp_path):
    """The real catalog entries name variant "fp16": the loader must pick those files."""
    from diffusers import StableDiffusionPipeline

    variant_dir = tmp_path / "sd15-fp16"
    StableDiffusionPipeline.from_pretrained(str(sd15)).save_pretrained(str(variant_dir), variant="fp16")
    assert (variant_dir / "unet" / "diffusion_pytorch_model.fp16.safetensors").is_file()
    save_as_hub_cache(variant_dir, tmp_path / "hf", "tiny/sd15-fp16")
    hub = entry(kind="hub", repo_id="tiny/sd15-fp16", variant="fp16")
    assert is_available_locally(hub, tmp_path / "hf")
    pipe = load_pipeline(hub, device="cpu", cache_dir=tmp_path / "hf")
    reference = StableDiffusionPipeline.from_pretrained(str(sd15))
    assert torch.equal(pipe.unet.conv_in.weight, reference.unet.conv_in.weight)


def test_hub_cache_missing_weights_is_not_available(sd15, tmp_path):
    snapshot = save_as_hub_cache(sd15, tmp_path / "hf", "tiny/sd15")
    for weights in (snapshot / "unet").glob("*.safetensors"):
        weights.unlink()  # an interrupted download
    hub = entry(kind="hub", repo_id="tiny/sd15")
    assert not is_available_locally(hub, tmp_path / "hf")
    with pytest.raises(ModelUnavailable, match="internet"):
        load_pipeline(hub, device="cpu", cache_dir=tmp_path / "hf")


def test_uncached_hub_model_offline_says_what_to_do(tmp_path):
    hub = entry(kind="hub", repo_id="someone/not-here")
    assert not is_available_locally(hub, tmp_path)
    with pytest.raises(ModelUnavailable) as info:
        load_pipeline(hub, device="cpu", cache_dir=tmp_path)
    message = str(info.value)
    assert "someone/not-here" in message and "Hugging Face Hub" in message and "internet" in message
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_unreachable_hub_fails_fast_with_a_clear_message(tmp_path):
    """Not in offline mode, but the Hub cannot be reached: no long retry loop, a message."""
    script = (
        "from pipelines.catalog import ModelEntry\n"
        "from pipelines.loaders import load_pipeline\n"
        "from pipelines.types import ModelUnavailable\n"
        f"sizes = {SIZES_64!r}\n"
        "e = ModelEntry(id='x', name='X', description='d', family='sd15', source={'kind': 'hub', 'repo_id': 'org/x'},"
        " default_steps=2, default_guidance=5, sizes=sizes, credit_cost=1, speed='fast', quality='draft')\n"
        "try:\n"
        f"    load_pipeline(e, device='cpu', cache_dir={str(tmp_path)!r})\n"
        "except ModelUnavailable as err:\n"
        "    print('UNAVAILABLE', err)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9", "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert "UNAVAILABLE could not download X (org/x) from the Hugging Face Hub" in out.stdout, out.stderr[-2000:]
    assert "no network" in out.stdout


def test_missing_folder_and_non_model_folder(tmp_path):
    with pytest.raises(ModelUnavailable, match=str(tmp_path / "nope")):
        load_pipeline(entry(kind="folder", path=str(tmp_path / "nope")), device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailable, match="no model_index.json"):
        load_pipeline(entry(kind="folder", path=str(tmp_path / "empty")), device="cpu")


def _broken_copy(sd15, tmp_path, name="broken") -> Path:
    return shutil.copytree(sd15, tmp_path / name)


def _cut(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def test_corrupt_weights_become_model_unavailable(sd15, tmp_path):
    broken = _broken_copy(sd15, tmp_path)
    weights = next((broken / "unet").glob("*.safetensors"))
    _cut(weights, 100)
    with pytest.raises(ModelUnavailable, match="cannot be loaded: unet/.* is cut short"):
        load_pipeline(entry(kind="folder", path=str(broken)), device="cpu")


def _header_then_cut(path: Path) -> None:
    """Keep the whole header and a little of the weights: the JSON parses, the bytes are short."""
    raw = path.read_bytes()
    length = int.from_bytes(raw[:8], "little")
    path.write_bytes(raw[: 8 + length + 16])


def _in_the_header(path: Path) -> None:
    """Cut inside the JSON header (what the issue saw: 'Unterminated string …')."""
    raw = path.read_bytes()
    path.write_bytes(raw[: 8 + int.from_bytes(raw[:8], "little") // 2])


def _not_safetensors(path: Path) -> None:
    path.write_bytes(b"PK\x03\x04 a zip (a pickled .bin) renamed to .safetensors " * 50)


def _drop_vae(folder: Path) -> None:
    shutil.rmtree(folder / "vae")


def _vae_without_weights(folder: Path) -> None:
    for weights in (folder / "vae").glob("*.safetensors"):
        weights.unlink()


@pytest.mark.parametrize("damage, words", [
    (lambda f: _header_then_cut(next((f / "unet").glob("*.safetensors"))), "unet/diffusion_pytorch_model.safetensors is cut short"),
    (lambda f: _in_the_header(next((f / "unet").glob("*.safetensors"))), "is cut short"),
    (lambda f: _not_safetensors(next((f / "text_encoder").glob("*.safetensors"))), "is not a safetensors file"),
    (_drop_vae, "its vae component is missing"),
    (_vae_without_weights, "its vae component has no weights file"),
])
def test_every_broken_folder_is_refused_in_words_before_loading(sd15, tmp_path, damage, words):
    """From the headers alone, by the same check the services ask before charging (the
    manager's expected_placement) and the loader asks before diffusers reads anything."""
    from pipelines.manager import PipelineManager
    from pipelines.catalog import Catalog

    broken = _broken_copy(sd15, tmp_path)
    damage(broken)
    model = entry(kind="folder", path=str(broken))
    with pytest.raises(ModelUnavailable, match=f"^Tiny sd15 cannot be loaded: .*{words}") as refused:
        load_pipeline(model, device="cpu")
    assert str(tmp_path) not in str(refused.value) and "line 1 column" not in str(refused.value)
    engine = PipelineManager(Catalog(models=[model]), device="cpu")
    with pytest.raises(ModelUnavailable, match=words):
        engine.expected_placement(model.id)


def test_family_mismatch_is_refused(sd15):
    with pytest.raises(ModelUnavailable, match="hold a Stable Diffusion 1.5 model or a Stable Diffusion 2.1 model, "
                                               "but the catalog says it is an SDXL model"):
        load_pipeline(entry("sdxl", kind="folder", path=str(sd15)), device="cpu")


def test_a_single_file_of_another_family_or_cut_short_is_refused_from_its_header(sdxl, tmp_path):
    path = save_as_single_file(sdxl, tmp_path / "sdxl.safetensors")
    with pytest.raises(ModelUnavailable, match="sdxl.safetensors holds an SDXL model, but the catalog says it is a "
                                               "Stable Diffusion 1.5 model"):
        load_pipeline(entry("sd15", kind="single_file", path=str(path), config=str(sdxl)), device="cpu")
    _header_then_cut(path)
    with pytest.raises(ModelUnavailable, match="sdxl.safetensors is cut short"):
        load_pipeline(entry("sdxl", kind="single_file", path=str(path), config=str(sdxl)), device="cpu")


def test_single_file_offline_without_configs_explains(sd15, tmp_path):
    path = save_as_single_file(sd15, tmp_path / "model.safetensors")
    with pytest.raises(ModelUnavailable, match="configuration files of its base model"):
        load_pipeline(entry(kind="single_file", path=str(path)), device="cpu")


@pytest.mark.skipif("config" not in Source.model_fields, reason="catalog Source has no `config` field yet")
@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_single_file_with_config_folder_loads_offline(family, sd15, sdxl, tmp_path):
    folder = {"sd15": sd15, "sdxl": sdxl}[family]
    path = save_as_single_file(folder, tmp_path / f"{family}.safetensors")
    pipe = load_pipeline(entry(family, kind="single_file", path=str(path), config=str(folder)), device="cpu")
    assert type(pipe).__name__ == traits(family).pipeline


def test_single_file_must_be_safetensors(tmp_path):
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"not a pickle I will open")
    with pytest.raises(ModelUnavailable, match="not a .safetensors"):
        load_pipeline(entry(kind="single_file", path=str(ckpt)), device="cpu")
    with pytest.raises(ModelUnavailable, match="does not exist"):
        load_pipeline(entry(kind="single_file", path=str(tmp_path / "gone.safetensors")), device="cpu")


SD15_REPO_FILES = [
    "README.md", "model_index.json", "v1-5-pruned.safetensors", "v1-5-pruned-emaonly.ckpt",
    "feature_extractor/preprocessor_config.json",
    "safety_checker/config.json", "safety_checker/model.safetensors", "safety_checker/model.fp16.safetensors",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json", "text_encoder/model.safetensors", "text_encoder/model.fp16.safetensors",
    "text_encoder/pytorch_model.bin", "text_encoder/flax_model.msgpack",
    "tokenizer/merges.txt", "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json", "tokenizer/vocab.json",
    "unet/config.json", "unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors",
    "unet/diffusion_pytorch_model.non_ema.safetensors", "unet/diffusion_pytorch_model.bin",
    "vae/config.json", "vae/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.bin",
]
SD15_COMPONENTS = ["feature_extractor", "scheduler", "text_encoder", "tokenizer", "unet", "vae"]


def test_hub_file_selection_takes_one_set_of_weights():
    fp16 = select_hub_files(SD15_REPO_FILES, SD15_COMPONENTS, "fp16")
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in fp16
    assert "text_encoder/model.fp16.safetensors" in fp16
    assert "vae/diffusion_pytorch_model.safetensors" in fp16  # no fp16 file there: the plain one
    weights = [f for f in fp16 if f.endswith((".safetensors", ".bin", ".ckpt", ".msgpack"))]
    assert len(weights) == 3
    assert not any(f.startswith("safety_checker/") or "/" not in f and f != "model_index.json" for f in fp16)
    plain = select_hub_files(SD15_REPO_FILES, SD15_COMPONENTS, None)
    assert "unet/diffusion_pytorch_model.safetensors" in plain
    assert not any(".fp16." in f or ".non_ema." in f or f.endswith(".bin") for f in plain)
    assert {"tokenizer/vocab.json", "tokenizer/merges.txt", "scheduler/scheduler_config.json"} <= set(plain)


def test_download_progress_reports_bytes_of_the_disk_bar_only():
    events = []
    cls = byte_progress_class(events.append, 3000, "Downloading Tiny")
    files = cls(total=2, desc="Fetching 2 files")
    transfer = cls(total=3000, unit="B", unit_scale=True, desc="Downloading bytes")
    written = cls(total=0, unit="B", unit_scale=True, desc="Reconstructing (incomplete total...)")
    files.update(1)
    transfer.update(1000)
    for _ in range(3):
        written.update(1000)
    assert events, "no progress reported"
    assert all(e.stage == "download" and e.total == 3000 for e in events)
    assert events[-1].current == 3000 and events[-1].fraction == 1.0
    assert [e.current for e in events] == sorted(e.current for e in events)

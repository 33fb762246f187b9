"""PipelineManager on the CPU: LRU under a RAM budget, per-model locks, errors, runtime entries."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from pipelines.catalog import Catalog, ModelEntry
from pipelines.manager import PipelineManager, UnknownModel
from pipelines.types import GenerationRequest, ModelUnavailable, OutOfMemory
from tests.engine_entries import SIZES_64, tiny_entry

REPO_ROOT = Path(__file__).resolve().parents[1]


def entry(model_id: str, folder: Path, family: str = "sd15") -> ModelEntry:
    return tiny_entry(model_id, {"kind": "folder", "path": str(folder)}, family=family, name=f"Model {model_id}")


@pytest.fixture(scope="session")
def model_bytes(sd15) -> int:
    manager = PipelineManager(Catalog(models=[entry("a", sd15)]), device="cpu")
    manager.preload("a")
    return manager.resident()[0]["bytes"]


@pytest.fixture
def three(sd15, tmp_path) -> Catalog:
    return Catalog(models=[entry(i, sd15) for i in ("a", "b", "c")] + [entry("gone", tmp_path / "nope")])


def ids(manager: PipelineManager) -> list[str]:
    return [r["id"] for r in manager.resident()]


def test_construction_is_cheap_no_torch_no_probing(sd15):
    script = (
        "import sys\n"
        "from pipelines.catalog import Catalog, ModelEntry\n"
        "from pipelines.manager import PipelineManager\n"
        f"e = ModelEntry(id='a', name='A', description='d', family='sd15', source={{'kind': 'folder', 'path': {str(sd15)!r}}},"
        f" default_steps=2, default_guidance=5, sizes={SIZES_64!r}, credit_cost=1, speed='fast', quality='draft')\n"
        "m = PipelineManager(Catalog(models=[e]), device='auto')\n"
        "print('is_downloaded', m.is_downloaded('a'))\n"
        "print('heavy', sorted({'torch', 'diffusers', 'transformers'} & set(sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert "is_downloaded True" in out.stdout, out.stderr[-2000:]
    assert "heavy []" in out.stdout


def test_model_sizes_are_parameter_bytes(model_bytes, sd15):
    manager = PipelineManager(Catalog(models=[entry("a", sd15)]), device="cpu")
    with manager.use("a") as (pipe, got):
        expected = sum(
            t.numel() * t.element_size()
            for m in (pipe.unet, pipe.vae, pipe.text_encoder)
            for t in (*m.parameters(), *m.buffers())
        )
        assert got.id == "a" and pipe.unet.dtype == torch.float32
    assert model_bytes == expected
    assert manager.resident() == [{"id": "a", "name": "Model a", "tier": "cpu", "bytes": expected, "in_use": False,
                                   "offload": None, "note": ""}]


def test_least_recently_used_is_dropped_over_the_ram_budget(three, model_bytes):
    manager = PipelineManager(three, device="cpu", ram_budget_bytes=int(model_bytes * 2.5))
    manager.preload("a")
    manager.preload("b")
    with manager.use("a") as (pipe_a, _):
        pass
    assert ids(manager) == ["b", "a"]
    manager.preload("c")  # three do not fit: b is the least recently used
    assert ids(manager) == ["a", "c"]
    with manager.use("a") as (again, _):
        assert again is pipe_a  # still resident, not reloaded


def test_budget_smaller_than_one_model_keeps_only_the_current_one(three, model_bytes):
    manager = PipelineManager(three, device="cpu", ram_budget_bytes=model_bytes // 2)
    manager.preload("a")
    manager.preload("b")
    assert ids(manager) == ["b"]


def test_a_busy_model_is_never_evicted(three, model_bytes):
    manager = PipelineManager(three, device="cpu", ram_budget_bytes=int(model_bytes * 1.5))
    with manager.use("a") as (pipe_a, _):
        manager.preload("b")  # over budget, but a is running
        assert set(ids(manager)) == {"a", "b"}
        assert next(r for r in manager.resident() if r["id"] == "a")["in_use"] is True
    manager.preload("c")
    assert ids(manager) == ["c"]


def test_same_model_waits_other_model_does_not(three):
    manager = PipelineManager(three, device="cpu")
    manager.preload("a")
    holding, release = threading.Event(), threading.Event()
    second_entered = threading.Event()
    queued = []

    def first_user():
        with manager.use("a"):
            holding.set()
            release.wait(10)

    def second_user():
        with manager.use("a", progress=queued.append):
            second_entered.set()

    t1 = threading.Thread(target=first_user)
    t1.start()
    assert holding.wait(10)
    t2 = threading.Thread(target=second_user)
    t2.start()
    time.sleep(0.3)
    assert not second_entered.is_set()  # model a is busy
    assert [e.stage for e in queued] == ["queued"]

    started = time.monotonic()
    manager.preload("b")  # loading another model while a runs is not blocked
    with manager.use("b"):
        pass
    assert time.monotonic() - started < 10 and not second_entered.is_set()

    release.set()
    t1.join(10)
    t2.join(10)
    assert second_entered.is_set()


def test_unknown_model_is_a_clear_error(three):
    manager = PipelineManager(three, device="cpu")
    for call in (manager.entry, manager.preload, manager.is_downloaded, manager.unload):
        with pytest.raises(UnknownModel, match="unknown model 'nope'.*known: a, b, c"):
            call("nope")
    with pytest.raises(KeyError):
        manager.entry("nope")
    with pytest.raises(ValueError):
        manager.generate(GenerationRequest(model_id="nope", prompt="x", width=64, height=64))
    assert manager.resident() == []


def test_missing_folder_is_unavailable_and_changes_nothing(three, tmp_path):
    manager = PipelineManager(three, device="cpu")
    manager.preload("a")
    assert not manager.is_downloaded("gone")
    with pytest.raises(ModelUnavailable, match="does not exist"):
        manager.preload("gone")
    assert ids(manager) == ["a"]
    with manager.use("a"):  # the failed model's lock was released, others unaffected
        pass


def test_runtime_entries_and_replacing_unloads(sd15, sdxl, three):
    manager = PipelineManager(three, device="cpu")
    manager.add_entry(entry("mine", sd15))
    with manager.use("mine") as (pipe, _):
        assert type(pipe).__name__ == "StableDiffusionPipeline"
    manager.add_entry(entry("mine", sdxl, family="sdxl"))  # same id, new source
    assert "mine" not in ids(manager)
    with manager.use("mine") as (pipe, got):
        assert type(pipe).__name__ == "StableDiffusionXLPipeline" and got.traits.pipeline == "StableDiffusionXLPipeline"
    with pytest.raises(ValueError):
        manager.add_entry({"id": "Bad Id!", "name": "x"})
    assert "Bad Id!" not in manager.catalog.ids()


def test_unload_frees_and_generate_runs(three):
    manager = PipelineManager(three, device="cpu")
    result = manager.generate(GenerationRequest(model_id="a", prompt="a red cat", width=64, height=64, seeds=(1,)))
    assert result.images[0].size == (64, 64) and result.model_id == "a"
    assert manager.unload("a") is True
    assert manager.unload("a") is False
    assert manager.resident() == []


def test_bad_settings_are_refused():
    catalog = Catalog(models=[])
    for kwargs in ({"device": "tpu"}, {"dtype": "int3"}, {"ram_budget_gb": 0}, {"vram_budget_bytes": -1},
                   {"ram_budget_gb": 1, "ram_budget_bytes": 10}):
        with pytest.raises(ValueError):
            PipelineManager(catalog, **kwargs)


def test_cpu_out_of_memory_in_a_run_becomes_out_of_memory(three):
    manager = PipelineManager(three, device="cpu")
    with pytest.raises(OutOfMemory, match="ran out of memory"):
        with manager.use("a"):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
    with manager.use("a"):  # the lock was released
        pass


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_tier_moves_least_recently_used_to_cpu(three, model_bytes):
    manager = PipelineManager(three, device="cuda", dtype="fp32", vram_budget_bytes=int(model_bytes * 1.5))
    manager.preload("a")
    manager.preload("b")
    tiers = {r["id"]: r["tier"] for r in manager.resident()}
    assert tiers == {"a": "cpu", "b": "gpu"}
    with manager.use("a") as (pipe, _):
        assert pipe.device.type == "cuda"
    assert {r["id"]: r["tier"] for r in manager.resident()} == {"a": "gpu", "b": "cpu"}

"""Models bigger than the GPU or the RAM: the placement is decided before loading, from the
weight files, and tested here on the CPU with tiny budgets. The offload call itself needs an
accelerator (diffusers moves parts to it), so that one test runs only where CUDA exists."""

from __future__ import annotations

import pytest

from pipelines.catalog import Catalog
from pipelines.manager import PipelineManager
from pipelines.placement import Footprint, ModelTooLarge, choose_placement, footprint, pipeline_bytes
from pipelines.types import GenerationRequest, ModelUnavailable
from tests.engine_entries import tiny_entry

GB = 1024**3


def _fp(total_gb: float, largest_gb: float) -> Footprint:
    return Footprint(int(total_gb * GB), int(largest_gb * GB), {})


@pytest.mark.parametrize(
    ("device", "total", "largest", "vram", "mode"),
    [
        ("cpu", 33, 24, 0, "cpu"),  # the CPU never offloads
        ("cuda", 5, 3.4, 16.8, "gpu"),  # SDXL in fp16 on a 24 GB card (70 % budget)
        ("cuda", 33, 24, 16.8, "sequential_offload"),  # FLUX bf16 (T5 9 GB, transformer 24 GB)
        ("cuda", 33, 24, 56, "gpu"),  # FLUX on an 80 GB card
        ("cuda", 33, 24, 28, "model_offload"),  # FLUX on a 40 GB card: the transformer fits alone
        ("cuda:1", 5, 3.4, 4, "model_offload"),
    ],
)
def test_the_placement_policy(device, total, largest, vram, mode):
    placement = choose_placement(device=device, footprint=_fp(total, largest), vram_free=vram * GB,
                                 ram_limit=64 * GB, name="Model")
    assert placement.mode == mode
    assert placement.offloaded == (mode in ("model_offload", "sequential_offload"))
    if placement.offloaded:
        assert "offload" in placement.note and "GiB" in placement.note
    else:
        assert placement.note == ""


def test_weights_larger_than_the_ram_limit_are_refused_with_the_sizes():
    with pytest.raises(ModelTooLarge, match=r"FLUX needs about 33\.0 GiB .* allows 28\.8 GiB") as caught:
        choose_placement(device="cuda", footprint=_fp(33, 24), vram_free=16 * GB, ram_limit=28.8 * GB, name="FLUX")
    assert isinstance(caught.value, ModelUnavailable), "the services already turn this into a message"
    assert "/" not in str(caught.value)


def test_footprint_from_the_file_headers_matches_the_loaded_pipeline(sd15):
    from pipelines.loaders import load_pipeline

    entry = tiny_entry("p", {"kind": "folder", "path": str(sd15)})
    loaded = pipeline_bytes(load_pipeline(entry))
    fp32 = footprint(sd15, variant=None, element_size=4)
    assert abs(fp32.total - loaded) <= 0.01 * loaded, (fp32.total, loaded)
    assert set(fp32.components) == {"unet", "vae", "text_encoder"}
    assert fp32.largest == max(fp32.components.values())
    half = footprint(sd15, variant=None, element_size=2)
    assert abs(half.total * 2 - fp32.total) <= 0.01 * fp32.total, "counted at the run dtype"


def test_the_manager_refuses_a_model_too_big_for_ram_before_loading_it(sd15):
    entry = tiny_entry("big", {"kind": "folder", "path": str(sd15)})
    need = footprint(sd15, variant=None, element_size=4).total
    manager = PipelineManager(Catalog(models=[entry]), device="cpu", ram_limit_bytes=need // 2)
    with pytest.raises(ModelTooLarge, match="needs about"):
        manager.generate(GenerationRequest(model_id="big", prompt="a cat", width=64, height=64))
    assert manager.resident() == [], "nothing was loaded"
    roomy = PipelineManager(Catalog(models=[entry]), device="cpu", ram_limit_bytes=need * 2, vram_budget_bytes=1)
    roomy.preload("big")
    assert roomy.placement("big").mode == "cpu", "a tiny VRAM budget means nothing on the CPU"
    assert roomy.resident()[0]["offload"] is None


@pytest.mark.skipif("not __import__('torch').cuda.is_available()", reason="offload needs a CUDA GPU")
def test_on_a_gpu_a_model_over_the_vram_budget_runs_offloaded(sd15):
    entry = tiny_entry("off", {"kind": "folder", "path": str(sd15)})
    fp = footprint(sd15, variant=None, element_size=2)
    manager = PipelineManager(Catalog(models=[entry]), device="cuda", vram_budget_bytes=fp.total - 1)
    events = []
    result = manager.generate(GenerationRequest(model_id="off", prompt="a cat", width=64, height=64, seeds=(1,)),
                              progress=events.append)
    assert manager.placement("off").mode == "model_offload" and len(result.images) == 1
    assert any("offload" in e.message for e in events), "the progress text says so"
    assert manager.resident()[0]["offload"] == "model_offload"

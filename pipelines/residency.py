"""The two memory tiers under the manager: where a model goes before it loads (placement),
and which idle models leave the accelerator or RAM when room is needed, least recently used first.

Split from manager.py so the manager reads as the policy and its public calls; these
methods run with the manager's tables and locks (`_resident`, `_locks`, `_state`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pipelines.catalog import ModelEntry
from pipelines.placement import Placement

_GB = 1024**3


@dataclass
class _Resident:
    pipe: Any
    entry: ModelEntry
    nbytes: int
    tier: str  # "gpu" (on the accelerator) or "cpu" (in RAM; offloaded models too)
    placement: Placement
    img2img: Any = None  # the image-to-image twin of `pipe`, sharing its modules (built on first use)
    inpaint: Any = None  # the inpainting twin (repaint, extend), from_pipe too


class ResidentTiers:
    """Eviction between the "gpu" and "cpu" tiers; mixed into PipelineManager."""

    _resident: Any
    _locks: Any
    _state: Any
    device: str
    cache_dir: Path | None

    def vram_budget_bytes(self) -> float: ...  # provided by PipelineManager

    def ram_budget_bytes(self) -> float: ...

    def ram_limit_bytes(self) -> float: ...

    def dtype_for(self, entry: ModelEntry) -> Any: ...

    def entry(self, model_id: str) -> ModelEntry: ...

    def placement(self, model_id: str) -> Placement | None: ...

    def _img2img_for(self, model_id: str, pipe: Any) -> Any: ...

    def _twin_for(self, model_id: str, pipe: Any, request: Any) -> Any:
        """Called with the model's lock held: the twin a refine request runs on (inpainting
        with a mask, image-to-image without), built once per resident model with from_pipe."""
        from pipelines.inpaint import refine_twin, twin_kind

        kind = twin_kind(request)
        if kind == "img2img":
            return self._img2img_for(model_id, pipe)
        with self._state:
            res = self._resident.get(model_id)
        if res is None or res.pipe is not pipe:
            return refine_twin(pipe, self.entry(model_id).family, kind)
        if res.inpaint is None:
            res.inpaint = refine_twin(pipe, res.entry.family, kind)
        return res.inpaint

    def expected_placement(self, model_id: str) -> Placement | None:
        """How the model runs if used now (for the model card: "runs with CPU offload here"),
        from its files on disk; None while they are not downloaded. Raises ModelTooLarge."""
        from pipelines.loaders import local_folder
        from pipelines.model_files import check_model_files

        entry = self.entry(model_id)
        placed = self.placement(model_id)
        if placed is not None:
            return placed
        folder = local_folder(entry, self.cache_dir)
        if folder is None and entry.source.kind == "single_file" and Path(entry.source.path).expanduser().is_file():
            folder = Path(entry.source.path).expanduser()
        if folder is None or entry.traits.built_in:
            return None
        check_model_files(entry, folder)  # BrokenModel: cut short, not safetensors, wrong family, missing part
        return self._choose_placement(model_id, entry, folder)[0]

    def _choose_placement(self, model_id: str, entry: ModelEntry, path: Path) -> tuple[Placement, int]:
        """Before loading: (placement, bytes of the largest component). Raises ModelTooLarge."""
        import torch

        from pipelines.placement import choose_placement, footprint

        dtype = self.dtype_for(entry)
        need = footprint(path, variant=entry.source.variant, element_size=torch.finfo(dtype).bits // 8)
        with self._state:  # busy models cannot be moved out to make room
            busy = sum(r.nbytes for mid, r in self._resident.items()
                       if mid != model_id and r.tier == "gpu" and self._locks[mid].locked())
        placement = choose_placement(device=self.device, footprint=need, vram_free=self.vram_budget_bytes() - busy,
                                     ram_limit=self.ram_limit_bytes(), name=entry.name)
        return placement, need.largest

    def _bytes_in(self, tier: str) -> int:
        return sum(r.nbytes for r in self._resident.values() if r.tier == tier)

    def _evict_lru(self, keep: str, tier: str, over_budget: Callable[[], bool], action: Callable[[str, _Resident], None]) -> bool:
        """Apply `action` to other models in `tier`, least recently used first, while
        `over_budget()`. Busy models are skipped, never waited for (no lock-order deadlocks).
        Call with self._state held."""
        acted = False
        for mid, r in list(self._resident.items()):
            if not over_budget():
                break
            if mid == keep or r.tier != tier:
                continue
            lock = self._locks[mid]
            if not lock.acquire(blocking=False):
                continue
            try:
                action(mid, r)
                acted = True
            finally:
                lock.release()
        return acted

    @staticmethod
    def _to_cpu_tier(_mid: str, r: _Resident) -> None:
        r.pipe.to("cpu")
        r.tier = "cpu"

    def _drop(self, mid: str, _r: _Resident) -> None:
        del self._resident[mid]

    def _make_room_on_gpu(self, keep: str, needed: int) -> None:
        budget = self.vram_budget_bytes()
        with self._state:
            moved = self._evict_lru(keep, "gpu", lambda: self._bytes_in("gpu") + needed > budget, self._to_cpu_tier)
        if moved:
            self._release_memory()

    def _enforce_ram_budget(self, keep: str) -> None:
        budget = self.ram_budget_bytes()
        with self._state:
            dropped = self._evict_lru(keep, "cpu", lambda: self._bytes_in("cpu") > budget, self._drop)
        if dropped:
            self._release_memory()

    def _recover_from_oom(self, keep: str) -> None:
        with self._state:
            self._evict_lru(keep, "gpu", lambda: True, self._to_cpu_tier)
        self._enforce_ram_budget(keep)
        self._release_memory()

    def _release_memory(self) -> None:
        from pipelines.devices import release_cached_memory

        release_cached_memory(self.device)


def _budget(name: str, gb: float | None, nbytes: int | None) -> float | None:
    if gb is not None and nbytes is not None:
        raise ValueError(f"give the {name} budget in GB or in bytes, not both")
    value = gb * _GB if gb is not None else nbytes
    if value is None:
        return None
    if not value > 0:
        raise ValueError(f"the {name} budget must be positive, got {gb if gb is not None else nbytes}")
    return float(value)


"""Where a model's weights go: wholly on the accelerator, offloaded to the CPU, or refused.

Why its own module: the choice must be made BEFORE loading (a model too big for RAM is
refused with a message instead of taking the machine down), from the weight files on
disk, and it must be testable on a CPU-only machine with tiny budgets. The manager asks
`choose_placement` and applies the answer; this module never touches a device.

Sizes come from the safetensors headers of the files the loader will read (one set of
weights per component, the catalog's variant when present; no tensor is read), counted
at the dtype the model will run in: an fp16 file loaded in fp32 on the CPU takes twice
its size in memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .hub import pick_weights, pipeline_components
from .model_files import safetensors_header
from .types import ModelUnavailable

_GB = 1024**3
Mode = Literal["cpu", "gpu", "model_offload", "sequential_offload"]
_FLOAT_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1}
_INT_SIZES = {"I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1, "U16": 2, "U32": 4, "U64": 8}


class ModelTooLarge(ModelUnavailable):
    """The model's weights do not fit this machine's memory at all; nothing was loaded."""


@dataclass(frozen=True)
class Footprint:
    """Bytes a model takes in memory at its run dtype: in all, and its largest component
    (what must fit the accelerator at once under model CPU offload)."""

    total: int
    largest: int
    components: dict[str, int]


@dataclass(frozen=True)
class Placement:
    mode: Mode
    note: str = ""  # for the progress text and the model card; empty when nothing unusual

    @property
    def offloaded(self) -> bool:
        return self.mode in ("model_offload", "sequential_offload")


def gb(nbytes: float) -> str:
    """Memory in binary units, said as such (MiB, GiB): the studio states sizes in one unit system."""
    if nbytes < 0.1 * _GB:
        return f"{nbytes / 1024**2:.1f} MiB"
    return f"{nbytes / _GB:.1f} GiB"


def choose_placement(
    *, device: str, footprint: Footprint, vram_free: float, ram_limit: float, name: str = "This model"
) -> Placement:
    """The policy, in order:

    1. weights larger than `ram_limit` → `ModelTooLarge` (they pass through RAM on any
       path, offloaded or not), with the sizes in the message;
    2. on the CPU → "cpu";
    3. the whole model fits the VRAM left for it (`vram_free`: the budget minus what other
       busy models hold) → "gpu";
    4. its largest component fits → "model_offload" (diffusers' `enable_model_cpu_offload`:
       weights stay in RAM, each component visits the GPU while it runs);
    5. otherwise → "sequential_offload" (layer by layer; slow, but it runs).
    """
    if footprint.total > ram_limit:
        raise ModelTooLarge(
            f"{name} needs about {gb(footprint.total)} of memory for its weights, but this machine allows "
            f"{gb(ram_limit)}. Pick a smaller model, or run the studio on a machine with more memory."
        )
    if device == "cpu":
        return Placement("cpu")
    if footprint.total <= vram_free:
        return Placement("gpu")
    if footprint.largest <= vram_free:
        return Placement(
            "model_offload",
            f"{name} ({gb(footprint.total)}) does not fit the GPU's {gb(vram_free)} budget: it runs with CPU "
            "offload (each part visits the GPU in turn; slower, same pictures)",
        )
    return Placement(
        "sequential_offload",
        f"{name} ({gb(footprint.total)}, largest part {gb(footprint.largest)}) does not fit the GPU's "
        f"{gb(vram_free)} budget even part by part: it runs with sequential CPU offload (much slower, same pictures)",
    )


def apply_placement(pipe: Any, placement: Placement, device: str) -> None:
    """Offload hooks for an offloaded placement. On a CPU-only machine placements are never
    offloaded (`choose_placement` returns "cpu" first), so this is never called there:
    diffusers' offload needs an accelerator to move parts to."""
    if placement.mode == "model_offload":
        pipe.enable_model_cpu_offload(device=device)
    elif placement.mode == "sequential_offload":
        pipe.enable_sequential_cpu_offload(device=device)


# ----------------------------------------------------------------- sizes on disk


def footprint(path: Path, *, variant: str | None, element_size: int) -> Footprint:
    """The memory a diffusers folder (or one .safetensors file) takes at `element_size`
    bytes per float (4 fp32, 2 fp16/bf16), from the weight files' headers."""
    path = Path(path)
    if path.is_file():
        size = _file_bytes(path, element_size)
        return Footprint(size, size, {path.name: size})
    components: dict[str, int] = {}
    index = json.loads((path / "model_index.json").read_text(encoding="utf-8"))
    for name in pipeline_components(index):
        folder = path / name
        if not folder.is_dir():
            continue
        names = [p.name for p in folder.iterdir() if p.is_file()]
        size = sum(_file_bytes(folder / n, element_size) for n in pick_weights(names, variant))
        if size:
            components[name] = size
    total = sum(components.values())
    return Footprint(total, max(components.values(), default=0), components)


def _file_bytes(path: Path, element_size: int) -> int:
    if path.suffix != ".safetensors":
        return path.stat().st_size  # a pickle: its size is the best guess without loading it
    header = safetensors_header(path)  # BrokenModel ("cannot be loaded: … is cut short") when damaged
    total = 0
    for key, info in header.items():
        if key == "__metadata__":
            continue
        numel = 1
        for dim in info["shape"]:
            numel *= dim
        dtype = info["dtype"]
        total += numel * (element_size if dtype in _FLOAT_SIZES else _INT_SIZES.get(dtype, 4))
    return total


def pipeline_bytes(pipe: Any) -> int:
    """Parameter and buffer bytes of every torch module in a loaded pipeline (shared tensors once)."""
    import torch

    seen: set[int] = set()
    total = 0
    for component in getattr(pipe, "components", {}).values():
        if not isinstance(component, torch.nn.Module):
            continue
        for tensor in (*component.parameters(), *component.buffers()):
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            total += tensor.numel() * tensor.element_size()
    return total

"""Which device and dtype a model runs on, and how much memory there is to spend.

Kept apart from the manager so the policy is one readable table and so nothing probes
the hardware until a model is actually needed (torch is imported inside the functions).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch

_DTYPE_NAMES = {
    "fp32": "float32",
    "float32": "float32",
    "fp16": "float16",
    "float16": "float16",
    "half": "float16",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
}

# Share of the device memory the manager keeps models in; the rest is left for
# activations (an SDXL batch of four at 1024² needs several GB on top of the weights).
GPU_WEIGHTS_SHARE = 0.7
# Share of the machine's RAM used for the CPU tier (the OS, Gradio and the page cache need the rest).
RAM_SHARE = 0.5
# Share of the RAM a single model's weights may take before it is refused outright.
RAM_LOAD_SHARE = 0.9


class DeviceUnavailable(ValueError):
    """The requested device does not exist on this machine."""


def choose_device(requested: str | None = None) -> str:
    """'auto' (or None) picks cuda, then mps, then cpu; an explicit device is checked, not trusted."""
    import torch

    req = (requested or "auto").strip().lower()
    if req == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if _mps_available():
            return "mps"
        return "cpu"
    if req == "cpu":
        return "cpu"
    if req.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceUnavailable(f"device {requested!r} was asked for, but this machine has no usable CUDA GPU")
        if ":" in req:
            index_text = req.split(":", 1)[1]
            if not index_text.isdigit() or int(index_text) >= torch.cuda.device_count():
                raise DeviceUnavailable(
                    f"device {requested!r} does not exist; this machine has {torch.cuda.device_count()} CUDA GPU(s)"
                )
        return req
    if req == "mps":
        if not _mps_available():
            raise DeviceUnavailable("device 'mps' was asked for, but Apple Metal is not available here")
        return "mps"
    raise DeviceUnavailable(f"unknown device {requested!r}; use auto, cpu, cuda, cuda:N or mps")


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def choose_dtype(device: str, family: str, requested: str | None = None) -> "torch.dtype":
    """The family table's dtype for this device (pipelines/families.py: fp16 on accelerators,
    bf16 for flux, fp32 on the CPU and for the demo GAN); an explicit `requested` dtype wins."""
    import torch

    from pipelines.families import traits

    if requested and requested.strip().lower() != "auto":
        name = _DTYPE_NAMES.get(requested.strip().lower())
        if name is None:
            raise ValueError(f"unknown dtype {requested!r}; use auto, fp32, fp16 or bf16")
        return getattr(torch, name)
    return getattr(torch, traits(family).dtype_name(device))


def device_memory_bytes(device: str) -> int | None:
    """Total memory of an accelerator, or None for the CPU / when it cannot be read."""
    import torch

    if device.startswith("cuda"):
        index = int(device.split(":", 1)[1]) if ":" in device else torch.cuda.current_device()
        return int(torch.cuda.get_device_properties(index).total_memory)
    if device == "mps":
        recommended = getattr(torch.mps, "recommended_max_memory", None)
        return int(recommended()) if recommended else None
    return None


def system_ram_bytes() -> int:
    """Physical RAM of this machine (psutil when present, sysconf otherwise, 16 GB as a last guess)."""
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 16 * 1024**3


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA raises torch.OutOfMemoryError; MPS raises a RuntimeError that says so."""
    import torch

    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def release_cached_memory(device: str) -> None:
    """Give the allocator's cached blocks back so the next attempt (or another process) can use them."""
    import gc

    import torch

    gc.collect()
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif device == "mps" and _mps_available():
        torch.mps.empty_cache()

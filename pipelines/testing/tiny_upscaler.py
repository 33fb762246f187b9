"""A tiny random-weight ESRGAN (spandrel's RRDBNet) saved as a file, for offline tests.

Why: an upscaler file must be proven to load through spandrel's own architecture
detection (the path a real 4x-UltraSharp or Real-ESRGAN file takes), and tiling must be
checked on a network with a real receptive field; no real weights can be downloaded
here. Weights come from a fixed seed, so every build is the same file.
"""

from __future__ import annotations

import os
from pathlib import Path


def build_tiny_esrgan(path: str | os.PathLike, *, scale: int = 4, num_filters: int = 8, num_blocks: int = 1,
                      safetensors: bool = False) -> Path:
    """Save an ESRGAN state dict (old-arch keys, as spandrel and A1111 write them) to `path`."""
    import torch
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(scale * 100 + num_filters)
    net = ESRGAN(num_filters=num_filters, num_blocks=num_blocks, scale=scale)
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if safetensors or path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save(state, str(path))
    return path

"""Peak memory of one enlargement, measured in a fresh process (python -m pipelines.testing.upscale_memory).

Why a child process and /proc: the CPU has no allocator statistics like CUDA's. Linux
keeps a process's resident high-water mark (VmHWM) and lets the process reset it
(writing 5 to /proc/self/clear_refs), so the peak of the enlargement alone is measured,
not the peak some import reached before it.
Prints one JSON line: the growth of the peak resident size during the enlargement,
and the module's stated bound for the same sizes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def _status(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> int:
    """Reset the high-water mark to the current resident size; return that size."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status("VmRSS")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--side", type=int, default=384)
    ap.add_argument("--tile", type=int, default=0, help="0: the default tile; -1: untiled (one tile)")
    args = ap.parse_args(argv)
    import numpy as np
    from PIL import Image

    from pipelines.params import UPSCALE_TILE
    from pipelines.upscalers import load_descriptor, memory_bound, upscale_tiled
    from pathlib import Path

    model = load_descriptor(Path(args.model))
    tile = UPSCALE_TILE if args.tile == 0 else (10**6 if args.tile < 0 else args.tile)
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (args.side, args.side, 3), dtype=np.uint8))
    upscale_tiled(model, image.resize((40, 40)), model.scale, tile=tile)  # warm up the kernels
    before = _reset_peak()
    started = time.perf_counter()
    out = upscale_tiled(model, image, model.scale, tile=tile)
    elapsed = time.perf_counter() - started
    peak = _status("VmHWM") - before
    channels = int(next(p for p in model.model.parameters()).shape[0])
    bound = memory_bound(args.side, args.side, model.scale, channels=channels,
                         tile=min(tile, args.side))
    json.dump({"side": args.side, "out": list(out.size), "tile": min(tile, args.side), "peak_growth": peak,
               "bound": bound, "channels": channels, "elapsed_s": round(elapsed, 2)}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

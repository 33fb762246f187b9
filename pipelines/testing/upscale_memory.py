"""Peak memory of one enlargement, measured in a fresh process (python -m pipelines.testing.upscale_memory).

Why a child process: the CPU has no allocator statistics like CUDA's, and the process's
high-water mark (`ru_maxrss`) only ever rises, so each measurement needs its own process.
Prints one JSON line: the growth of the peak resident size during the enlargement,
and the module's stated bound for the same sizes.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


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
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.perf_counter()
    out = upscale_tiled(model, image, model.scale, tile=tile)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    channels = int(next(p for p in model.model.parameters()).shape[0])
    bound = memory_bound(args.side, args.side, model.scale, channels=channels,
                         tile=min(tile, args.side))
    json.dump({"side": args.side, "out": list(out.size), "tile": min(tile, args.side), "peak_growth": peak,
               "bound": bound, "channels": channels, "elapsed_s": round(elapsed, 2)}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

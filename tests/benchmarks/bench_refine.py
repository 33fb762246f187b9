"""Refine benchmark: what "only the masked area" buys, and an enlargement's peak memory.

Ratios measured within one run (the machines are shared and noisy; workloads alternate so
they share the noise). Everything goes through the real engine (PipelineManager, the
inpainting twin built with from_pipe, masks.py) on a tiny random SD 1.5 model whose
native size is `--native` pixels.

    python -m tests.benchmarks.bench_refine               # ~1-2 min on 2 CPU cores
    python -m tests.benchmarks.bench_refine --memory      # + tiled 4× of a 1024² image (minutes)

1. A small repaint on an image 4× the native side (16× the pixels), "only masked" on,
   vs a native-size generate: the issue's claim is that they cost about the same.
   The same repaint on the whole 4× image is printed for contrast.
2. (--memory) peak resident growth of a tiled 4× enlargement of 1024² (4096² out) with a
   tiny ESRGAN, against upscalers.memory_bound for it, and the bound for a real 64-channel one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def only_masked_ratio(native: int, reps: int, steps: int) -> None:
    import numpy as np
    from PIL import Image

    from pipelines.catalog import Catalog
    from pipelines.manager import PipelineManager
    from pipelines.testing.tiny import build_tiny_sd15
    from pipelines.types import GenerationRequest
    from tests.engine_entries import square_sizes, tiny_entry

    folder = build_tiny_sd15(Path(tempfile.gettempdir()) / "bench-refine" / "sd15")
    entry = tiny_entry("tiny", {"kind": "folder", "path": str(folder)}, sizes=square_sizes(native), steps=steps)
    engine = PipelineManager(Catalog(models=[entry]), device="cpu")
    big = native * 4
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, (big, big, 3), dtype=np.uint8))
    mask = Image.new("L", (big, big), 0)
    c = big // 2
    mask.paste(255, (c - native // 4, c - native // 4, c + native // 4, c + native // 4))  # a small fix

    def generate():
        engine.generate(GenerationRequest(model_id="tiny", prompt="a cat", width=native, height=native, seeds=(1,)))

    def repaint(only: bool):
        engine.generate(GenerationRequest(model_id="tiny", prompt="a cat", width=big, height=big, seeds=(1,),
                                          init_image=picture, mask=mask, denoise=1.0, inpaint_only_masked=only,
                                          inpaint_padding=native // 8))

    for fn in (generate, lambda: repaint(True), lambda: repaint(False)):  # warm up: load, twins, kernels
        fn()
    times = {"native generate": [], "only masked on 4x": [], "whole 4x image": []}
    for _ in range(reps):
        times["native generate"].append(_timed(generate))
        times["only masked on 4x"].append(_timed(lambda: repaint(True)))
        times["whole 4x image"].append(_timed(lambda: repaint(False)))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"1. repaint on a {big}x{big} image (4x the native {native}x{native} side), {steps} steps, median of {reps}")
    for name, value in med.items():
        print(f"   {name:20s} {value * 1000:8.1f} ms   ratio to native generate {value / med['native generate']:.2f}")


def memory(side: int) -> None:
    from pipelines.testing.tiny_upscaler import build_tiny_esrgan
    from pipelines.upscalers import memory_bound

    model = build_tiny_esrgan(Path(tempfile.gettempdir()) / "bench-refine" / "tiny-4x.pth", scale=4, num_filters=8)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "pipelines.testing.upscale_memory", str(model), "--side", str(side)],
                         capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    mib = 1024 ** 2
    print(f"2. tiled 4x enlargement of {side}x{side} -> {got['out'][0]}x{got['out'][1]} (tile {got['tile']}, "
          f"tiny ESRGAN {got['channels']} channels): peak growth {got['peak_growth'] / mib:.0f} MiB, "
          f"bound {got['bound'] / mib:.0f} MiB, {got['elapsed_s']} s")
    print(f"   bound for a 64-channel ESRGAN (RealESRGAN x4) on the same image: "
          f"{memory_bound(side, side, 4, channels=64) / mib:.0f} MiB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", type=int, default=128)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--memory-side", type=int, default=1024)
    args = ap.parse_args(argv)
    only_masked_ratio(args.native, args.reps, args.steps)
    if args.memory:
        memory(args.memory_side)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

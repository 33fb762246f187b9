"""LoRA benchmark: what a LoRA costs a job, as ratios measured within one run.

1. cached LoRA vs plain: the same request on the same resident model, with a LoRA that is
   already loaded (switched on with `set_adapters`) vs without one (`disable_lora`);
   goal ≤ 1.1×. Run in turns (plain, lora, plain, lora …) after a warm-up.
2. first use vs cached: a job whose LoRA is not loaded yet (a fresh file each time, so
   `load_lora_weights` really runs) vs a job with a cached one.

Everything goes through `PipelineManager.generate` with an `AdapterLibrary`, on the tiny
SD 1.5 model (pipelines/testing/tiny.py) and tiny peft LoRAs (UNet + text encoder).

    python -m tests.benchmarks.bench_lora                 # tiny model, CPU
    python -m tests.benchmarks.bench_lora --size 128 --steps 12
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pipelines.adapters import AdapterLibrary  # noqa: E402
from pipelines.catalog import ASPECTS, Catalog, ModelEntry  # noqa: E402
from pipelines.manager import PipelineManager  # noqa: E402
from pipelines.testing.tiny import build_tiny_sd15  # noqa: E402
from pipelines.testing.tiny_lora import build_tiny_lora  # noqa: E402
from pipelines.types import GenerationRequest  # noqa: E402


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (1: steadier timings on a shared machine, where spinning threads stall)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-lora-"))
    model = build_tiny_sd15(work / "sd15")
    loras = work / "loras"
    build_tiny_lora(model, loras / "cached.safetensors", seed=1)
    fresh = [build_tiny_lora(model, loras / f"fresh_{i}.safetensors", seed=100 + i).stem for i in range(args.repeats)]
    library = AdapterLibrary(loras, work / "embeddings")
    sizes = {a: {"width": args.size, "height": args.size} for a in ASPECTS}
    entry = ModelEntry(id="bench-sd15", name="tiny SD 1.5", description="bench", family="sd15",
                       source={"kind": "folder", "path": str(model)}, default_steps=args.steps, default_guidance=5.0,
                       sizes=sizes, credit_cost=1, speed="fast", quality="draft")
    manager = PipelineManager(Catalog(models=[entry]), device="cpu", adapters=library)

    def job(loras=()):
        request = GenerationRequest(model_id=entry.id, prompt="a red fox in the snow, oil painting", width=args.size,
                                    height=args.size, seeds=(7,), loras=tuple(loras))
        return lambda: manager.generate(request)

    plain, cached = job(), job([("cached", 1.0)])
    for warm in (plain, cached, plain, cached):
        warm()
    plain_s, cached_s, first_s = [], [], []
    for i in range(args.repeats):
        plain_s.append(_timed(plain))
        cached_s.append(_timed(cached))
        first_s.append(_timed(job([(fresh[i], 1.0)])))
    p, c, f = (statistics.median(x) for x in (plain_s, cached_s, first_s))
    ratios = [b / a for a, b in zip(plain_s, cached_s)]
    print(f"tiny SD 1.5, {args.size}², {args.steps} steps, CFG on, CPU ({args.threads} thread(s)), "
          f"{args.repeats} repeats (median [min - max])")
    print(f"plain job               {p * 1000:8.1f} ms  [{min(plain_s) * 1000:.1f} - {max(plain_s) * 1000:.1f}]")
    print(f"job with cached LoRA    {c * 1000:8.1f} ms  [{min(cached_s) * 1000:.1f} - {max(cached_s) * 1000:.1f}]")
    print(f"job with first-use LoRA {f * 1000:8.1f} ms  [{min(first_s) * 1000:.1f} - {max(first_s) * 1000:.1f}]")
    print(f"cached LoRA / plain     {statistics.median(ratios):6.2f}x  [{min(ratios):.2f} - {max(ratios):.2f}]  "
          "(goal <= 1.1x)")
    print(f"first use / cached      {f / c:6.2f}x  (the load, {max(f - c, 0) * 1000:.0f} ms, is paid once per model)")
    # On a shared machine the fastest run of each is the least disturbed one
    print(f"fastest runs: cached / plain {min(cached_s) / min(plain_s):.2f}x, "
          f"first use / cached {min(first_s) / min(cached_s):.2f}x")


if __name__ == "__main__":
    main()

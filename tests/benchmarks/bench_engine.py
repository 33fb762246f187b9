"""Engine benchmark: what the engine's choices buy, as ratios measured within one run.

Why ratios: the machines this project is built on are shared and noisy, so an absolute
time from one run says little; two workloads measured alternately in the same run share
the noise and their ratio is stable.  Absolute times only count on a GPU (`--full`).

Everything goes through the real engine: `PipelineManager` (loading, residency, locks,
merging) and `run_generation` (prompt encoding, seeds, step callbacks), with catalog
entries whose source is a local folder, as a user's own model would be.

    python -m tests.benchmarks.bench_engine                   # tiny random models, CPU, ~2 min
    python -m tests.benchmarks.bench_engine --full            # CUDA GPU: the catalog's archs at full size
    python -m tests.benchmarks.bench_engine --full --smoke    # the same sections on tiny stand-ins, CPU

Default (tiny) sections: 1. batching (4 images in one call vs 4 calls), 2. residency
(resident vs unload + load), 3. long prompt (300 vs 70 tokens), engine overhead (vs a
plain diffusers call), 5. merging (4 concurrent requests, merging on vs off).

--full sections (models from bench_models.py: SD-Turbo arch 512² 1 step, SDXL-Turbo arch
512² 4 steps, SDXL base arch 1024² 30 steps CFG, FLUX.1-schnell arch 1024² 4 steps bf16):
A. the studio's request vs plain diffusers on the same resident pipeline, each workload;
B. merging on vs off for four concurrent one-image requests (turbo models and FLUX);
C. regional compilation (`compile_repeated_blocks`) on vs off, with its warm-up time;
D. switching between two resident models vs a cold load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pipelines.catalog import Catalog, ModelEntry  # noqa: E402
from pipelines.manager import PipelineManager  # noqa: E402
from tests.benchmarks.bench_models import Workload, full_models, model_entry, smoke_models  # noqa: E402

# Plain diffusers 0.42.1, torch 2.11, fp16, on one H100 (shared/anchors/anchor-h100.json).
ANCHOR_H100_S = {"sd21-25-cfg": 1.2376, "sdxl-turbo-4": 0.378, "sd-turbo-1": 0.1062, "sd-turbo-1x4": 0.1683}
_WORDS = ("a cheerful young girl with curly brown hair wearing a red dress standing in a sunny garden "
          "near an old stone castle under a golden evening sky with soft warm light").split()


# ----------------------------------------------------------------- timing


class Timer:
    def __init__(self, device: str) -> None:
        self.device = device

    def sync(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()

    def once(self, fn: Callable[[], object]) -> float:
        self.sync()
        started = time.perf_counter()
        fn()
        self.sync()
        return time.perf_counter() - started

    def alternate(self, fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
        """Seconds of each fn per repeat, run in turns (a, b, a, b...) so they share the machine's noise."""
        for _ in range(warmup):
            for fn in fns.values():
                fn()
        samples: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(repeats):
            for key, fn in fns.items():
                samples[key].append(self.once(fn))
        return samples


# ----------------------------------------------------------------- models


def tiny_models(workdir: Path, size: int, steps: int) -> tuple[list[ModelEntry], list[Workload]]:
    from pipelines.testing.tiny import build_tiny_sd15, build_tiny_sdxl

    sd15 = build_tiny_sd15(workdir / "tiny-sd15")
    sdxl = build_tiny_sdxl(workdir / "tiny-sdxl")
    entries = [model_entry("tiny-sd15", "sd15", sd15, steps, 7.5, size),
               model_entry("tiny-sdxl", "sdxl", sdxl, steps, 5.0, size)]
    workloads = [Workload(f"tiny sd15 {size}² {steps} steps CFG", "tiny-sd15", size, steps, 7.5),
                 Workload(f"tiny sdxl {size}² {steps} steps CFG", "tiny-sdxl", size, steps, 5.0)]
    return entries, workloads


# ----------------------------------------------------------------- measurements


def prompt_of_tokens(tokenizer, target: int) -> tuple[str, int]:
    """A plain prompt of about `target` tokens (bos/eos not counted), counted with the model's own tokenizer."""
    words: list[str] = []
    count = 0
    while count < target:
        words.append(_WORDS[len(words) % len(_WORDS)])
        count = len(tokenizer(" ".join(words), truncation=False, verbose=False).input_ids) - 2
    return " ".join(words), count


def bench_batching(m: PipelineManager, t: Timer, w: Workload, repeats: int) -> dict:
    times = t.alternate({
        "1 call x 4 images": lambda: m.generate(w.request(n=4)),
        "4 calls x 1 image": lambda: [m.generate(w.request()) for _ in range(4)],
    }, repeats)
    ratio = _med(times["4 calls x 1 image"]) / _med(times["1 call x 4 images"])
    return {"times": times, "ratios": {"batching throughput (4 one-image calls / one 4-image call)": ratio}}


def bench_residency(m: PipelineManager, t: Timer, w: Workload, repeats: int) -> dict:
    m.generate(w.request())  # warm-up: loaded and run once
    loads, firsts, colds, warms = [], [], [], []
    for _ in range(repeats):
        m.unload(w.model_id)
        load = t.once(lambda: m.preload(w.model_id))
        first = t.once(lambda: m.generate(w.request()))
        loads.append(load)
        firsts.append(first)
        colds.append(load + first)
        warms.append(t.once(lambda: m.generate(w.request())))
    times = {"cold: load": loads, "cold: first generate": firsts, "cold request (load + generate)": colds,
             "warm request (resident)": warms}
    return {"times": times, "ratios": {"cold / warm request": _med(colds) / _med(warms),
                                       "load / warm generate": _med(loads) / _med(warms)}}


def bench_long_prompt(m: PipelineManager, t: Timer, w: Workload, repeats: int) -> dict:
    with m.use(w.model_id) as (pipe, _entry):
        long_prompt, n_long = prompt_of_tokens(pipe.tokenizer, 300)
        short_prompt, n_short = prompt_of_tokens(pipe.tokenizer, 70)
    keys = (f"{n_long}-token prompt", f"{n_short}-token prompt")
    times = t.alternate({keys[0]: lambda: m.generate(w.request(long_prompt)),
                         keys[1]: lambda: m.generate(w.request(short_prompt))}, repeats)
    return {"times": times, "ratios": {"long / short prompt request": _med(times[keys[0]]) / _med(times[keys[1]])}}


def bench_vs_plain(m: PipelineManager, t: Timer, w: Workload, repeats: int, anchor_key: str | None) -> dict:
    """The engine's whole request vs a plain diffusers call on the same resident pipeline."""
    import inspect

    import torch

    prompt = "a cheerful young girl in a garden"
    with m.use(w.model_id) as (pipe, _entry):
        extra = {"max_sequence_length": 512} if "max_sequence_length" in inspect.signature(pipe.__call__).parameters else {}

        def plain():
            return pipe(prompt=prompt, num_inference_steps=w.steps, guidance_scale=w.guidance, height=w.size,
                        width=w.size, generator=torch.Generator("cpu").manual_seed(0), **extra)
    # The manager's lock must be free for m.generate, so plain() reuses the pipe outside `use`
    # (single-threaded here, nothing else touches it).
    times = t.alternate({"engine request": lambda: m.generate(w.request(prompt)), "plain diffusers call": plain}, repeats)
    engine, plain_s = _med(times["engine request"]), _med(times["plain diffusers call"])
    out = {"times": dict(times), "ratios": {"engine / plain diffusers (same run)": engine / plain_s}}
    if anchor_key:
        out["times"]["plain diffusers, H100 anchor (other run)"] = [ANCHOR_H100_S[anchor_key]]
        out["ratios"]["engine / H100 anchor"] = engine / ANCHOR_H100_S[anchor_key]
    return out


_MERGE_PROMPTS = ("a red fox in the snow", "a lighthouse at night", "a bowl of ramen", "a castle on a hill")


def concurrent_requests(m: PipelineManager, w: Workload) -> None:
    """4 users at once, one image each: 4 threads, all started before any is waited for."""
    import threading

    errors: list[BaseException] = []

    def one(prompt: str) -> None:
        try:
            m.generate(w.request(prompt))
        except BaseException as error:  # noqa: BLE001 - re-raised below
            errors.append(error)

    threads = [threading.Thread(target=one, args=(p,)) for p in _MERGE_PROMPTS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def bench_merging(m: PipelineManager, merging: PipelineManager, t: Timer, w: Workload, repeats: int) -> dict:
    """`m` runs every request alone; `merging` (same catalog, merge window on) merges them."""
    merging.preload(w.model_id)
    calls_before = merging.merger.calls
    times = t.alternate({"4 threads x 1 image, merging off": lambda: concurrent_requests(m, w),
                         "4 threads x 1 image, merging on": lambda: concurrent_requests(merging, w)}, repeats)
    calls = (merging.merger.calls - calls_before) / (repeats + 1)
    merging.unload(w.model_id)
    ratio = _med(times["4 threads x 1 image, merging off"]) / _med(times["4 threads x 1 image, merging on"])
    return {"times": times, "ratios": {"merging throughput (off / on)": ratio,
                                       "pipeline calls per 4 requests, merging on": calls}}


def _denoiser(pipe):
    return getattr(pipe, "transformer", None) or pipe.unet


def bench_compile(m: PipelineManager, t: Timer, w: Workload, repeats: int) -> dict:
    """Regional compilation (`compile_repeated_blocks`: only the repeated transformer blocks
    go through torch.compile) on vs off, on the same resident pipeline, in turns; the first
    compiled call's time is the warm-up a user would wait once per process."""
    m.generate(w.request())
    with m.use(w.model_id) as (pipe, _entry):
        blocks = [b for b in _denoiser(pipe).modules() if type(b).__name__ in _denoiser(pipe)._repeated_blocks]
        _denoiser(pipe).compile_repeated_blocks(fullgraph=True)
        compiled = [b._compiled_call_impl for b in blocks]

    def switch(on: bool):
        for block, impl in zip(blocks, compiled):
            block._compiled_call_impl = impl if on else None

    warm_up = t.once(lambda: m.generate(w.request()))
    times = t.alternate({"compiled (regional)": lambda: (switch(True), m.generate(w.request())),
                         "eager": lambda: (switch(False), m.generate(w.request()))}, repeats, warmup=0)
    switch(False)
    m.unload(w.model_id)  # the next user gets a fresh, uncompiled model
    times["first compiled call (warm-up)"] = [warm_up]
    return {"times": times, "ratios": {"eager / compiled": _med(times["eager"]) / _med(times["compiled (regional)"]),
                                       "warm-up / eager request": warm_up / _med(times["eager"])}}


def bench_switching(m: PipelineManager, t: Timer, a: Workload, b: Workload, repeats: int) -> dict:
    """Two models resident, requests alternating between them, vs a cold load of the model asked for."""
    m.preload(a.model_id)
    m.preload(b.model_id)
    switched, colds, loads = [], [], []
    for _ in range(repeats):
        m.generate(a.request())
        switched.append(t.once(lambda: m.generate(b.request())))
        m.unload(b.model_id)
        load = t.once(lambda: m.preload(b.model_id))
        colds.append(load + t.once(lambda: m.generate(b.request())))
        loads.append(load)
    times = {"switched request (both resident)": switched, "cold request (load + generate)": colds, "load alone": loads}
    return {"times": times, "ratios": {"cold / switched request": _med(colds) / _med(switched),
                                       "load / switched request": _med(loads) / _med(switched)}}


def run_full(args, workdir: Path, repeats: int) -> None:
    """Section A-D of the issue's GPU plan; `--smoke` runs them on tiny stand-ins (CPU)."""
    entries, work = smoke_models(workdir) if args.smoke else full_models(workdir)
    manager = PipelineManager(Catalog(models=entries), device=args.device)
    merging = PipelineManager(Catalog(models=entries), device=args.device, merge_window_ms=args.merge_window_ms)
    timer = Timer(manager.device)
    print("# Engine benchmark (--full" + (" --smoke: tiny stand-ins, figures mean nothing)" if args.smoke else ")"))
    for line in environment(manager):
        print(line)
    print(f"repeats: {repeats} after a warm-up; median ms [min - max]; models in {workdir}")
    for key, w in work.items():
        manager.preload(w.model_id)
        anchor = None if args.smoke else {"sd-turbo": "sd-turbo-1", "sdxl-turbo": "sdxl-turbo-4"}.get(key)
        print_section(f"A. studio vs plain diffusers - {w.label}", bench_vs_plain(manager, timer, w, repeats, anchor))
        if key != "sdxl-base":
            print_section(f"B. merging, 4 concurrent one-image requests - {w.label}",
                          bench_merging(manager, merging, timer, w, repeats))
        manager.unload(w.model_id)
    if not args.no_compile:
        for key in ("sdxl-turbo", "flux-schnell"):
            try:
                print_section(f"C. regional compilation - {work[key].label}", bench_compile(manager, timer, work[key], repeats))
            except Exception as error:  # noqa: BLE001 - reported, the rest still runs
                print(f"\n## C. regional compilation - {work[key].label}: failed ({type(error).__name__}: {error})")
                manager.unload(work[key].model_id)
    print_section(f"D. switching - {work['sd-turbo'].label} <-> {work['sdxl-turbo'].label}",
                  bench_switching(manager, timer, work["sd-turbo"], work["sdxl-turbo"], repeats))


# ----------------------------------------------------------------- report


def _med(samples: list[float]) -> float:
    return statistics.median(samples)


def environment(m: PipelineManager) -> list[str]:
    import diffusers
    import torch

    device = m.device
    name = torch.cuda.get_device_name() if device.startswith("cuda") else f"cpu ({os.cpu_count()} logical cores)"
    return [f"device: {device} - {name}", f"torch {torch.__version__}, diffusers {diffusers.__version__}, "
            f"python {sys.version.split()[0]}", f"torch threads: {torch.get_num_threads()}"]


def print_section(title: str, result: dict) -> None:
    print(f"\n## {title}")
    width = max(len(k) for k in [*result["times"], *result["ratios"]])
    for key, samples in result["times"].items():
        spread = f"   [{min(samples) * 1000:.1f} - {max(samples) * 1000:.1f}]" if len(samples) > 1 else ""
        print(f"  {key:<{width}}  {_med(samples) * 1000:10.1f} ms{spread}")
    for key, ratio in result["ratios"].items():
        print(f"  {key:<{width}}  {ratio:10.2f} x")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the catalog's architectures at full size (needs a CUDA GPU)")
    parser.add_argument("--smoke", action="store_true", help="with --full: the same sections on tiny stand-ins (CPU)")
    parser.add_argument("--no-compile", action="store_true", help="with --full: skip the regional compilation section")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per measurement (median is shown)")
    parser.add_argument("--size", type=int, default=64, help="image side for the tiny models (multiple of 8)")
    parser.add_argument("--steps", type=int, default=8, help="denoising steps for the tiny models")
    parser.add_argument("--device", default=None, help="auto (default), cpu or cuda; --full needs cuda")
    parser.add_argument("--merge-window-ms", type=int, default=20, help="merge window of the merging manager")
    parser.add_argument("--workdir", type=Path, default=None, help="where model folders are built (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.size < 8 or args.size % 8 or args.steps < 1 or (args.repeats is not None and args.repeats < 1):
        parser.error("--size must be a positive multiple of 8, --steps and --repeats at least 1")
    if args.smoke and not args.full:
        parser.error("--smoke goes with --full")
    import torch

    if args.full and not args.smoke and not torch.cuda.is_available() and (args.device or "auto") in ("auto", "cuda"):
        parser.error("--full needs a CUDA GPU (full-size models on the CPU take hours); --full --smoke runs on the CPU")
    repeats = args.repeats or (1 if args.smoke else 5)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-engine-"))
    started = time.perf_counter()
    if args.full:
        run_full(args, workdir, repeats)
        print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")
        return 0

    entries, workloads = tiny_models(workdir, args.size, args.steps)
    manager = PipelineManager(Catalog(models=entries), device=args.device)
    merging = PipelineManager(Catalog(models=entries), device=args.device, merge_window_ms=args.merge_window_ms)
    timer = Timer(manager.device)
    print("# Engine benchmark (tiny random models)")
    for line in environment(manager):
        print(line)
    print(f"repeats: {repeats} after a warm-up; median ms [min - max], compared workloads run in turns; models in {workdir}")
    for w in workloads:
        manager.preload(w.model_id)
        print_section(f"1. batching - {w.label}", bench_batching(manager, timer, w, repeats))
        print_section(f"2. residency - {w.label}", bench_residency(manager, timer, w, repeats))
        print_section(f"3. long prompt - {w.label}", bench_long_prompt(manager, timer, w, repeats))
        print_section(f"engine overhead - {w.label}", bench_vs_plain(manager, timer, w, repeats, None))
        print_section(f"5. merging - {w.label}", bench_merging(manager, merging, timer, w, repeats))
        manager.unload(w.model_id)
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

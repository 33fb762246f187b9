"""Engine benchmark: what the engine's choices buy, as ratios measured within one run.

Why ratios: the machines this project is built on are shared and noisy, so an absolute
time from one run says little; two workloads measured alternately in the same run share
the noise and their ratio is stable.  Absolute times only count on a GPU (`--full`).

Everything goes through the real engine: `PipelineManager` (loading, residency, locks)
and `run_generation` (compel prompt encoding, seeds, step callbacks), with catalog
entries whose source is a local folder, as a user's own model would be.

    python -m tests.benchmarks.bench_engine            # tiny random models, CPU, ~2 min
    python -m tests.benchmarks.bench_engine --full     # full-size SD2.1/SDXL archs, CUDA GPU

Measured:
1. batching   - 4 images in one pipeline call (what the engine does) vs 4 one-image calls
2. residency  - a request on a resident model vs unload + load + generate
3. long prompt - a 300-token prompt (compel, 77-token chunks) vs a 70-token prompt
5. merging    - 4 concurrent one-image requests (4 threads, distinct prompts) with request
                merging on (one pipeline call) vs off (four calls, one after another)
4. (--full)   - fp16 SD2.1 arch 512² 25 steps CFG and SDXL-Turbo arch 512² 4 steps
                through the manager vs plain diffusers (same run) and the H100 anchor
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pipelines.catalog import ASPECTS, Catalog, ModelEntry  # noqa: E402
from pipelines.manager import PipelineManager  # noqa: E402
from pipelines.types import GenerationRequest  # noqa: E402

# Plain diffusers 0.42.1, torch 2.11, fp16, on one H100 (shared/anchors/anchor-h100.json).
ANCHOR_H100_S = {"sd21-25-cfg": 1.2376, "sdxl-turbo-4": 0.378, "sd-turbo-1": 0.1062, "sd-turbo-1x4": 0.1683}
_WORDS = ("a cheerful young girl with curly brown hair wearing a red dress standing in a sunny garden "
          "near an old stone castle under a golden evening sky with soft warm light").split()


@dataclass(frozen=True)
class Workload:
    """One model at one setting: the unit every measurement below runs."""

    label: str
    model_id: str
    size: int
    steps: int
    guidance: float

    def request(self, prompt: str = "a cheerful young girl in a garden", n: int = 1) -> GenerationRequest:
        return GenerationRequest(model_id=self.model_id, prompt=prompt, width=self.size, height=self.size,
                                 num_images=n, steps=self.steps, guidance=self.guidance, seeds=tuple(range(n)))


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


def _entry(model_id: str, family: str, folder: Path, steps: int, guidance: float, size: int) -> ModelEntry:
    return ModelEntry(
        id=model_id, name=model_id, description="benchmark model with random weights", family=family,
        source={"kind": "folder", "path": str(folder)}, default_steps=steps, default_guidance=guidance,
        sizes={a: {"width": size, "height": size} for a in ASPECTS}, credit_cost=1, speed="fast", quality="draft",
    )


def tiny_models(workdir: Path, size: int, steps: int) -> tuple[list[ModelEntry], list[Workload]]:
    from pipelines.testing.tiny import build_tiny_sd15, build_tiny_sdxl

    sd15 = build_tiny_sd15(workdir / "tiny-sd15")
    sdxl = build_tiny_sdxl(workdir / "tiny-sdxl")
    entries = [_entry("tiny-sd15", "sd15", sd15, steps, 7.5, size), _entry("tiny-sdxl", "sdxl", sdxl, steps, 5.0, size)]
    workloads = [Workload(f"tiny sd15 {size}² {steps} steps CFG", "tiny-sd15", size, steps, 7.5),
                 Workload(f"tiny sdxl {size}² {steps} steps CFG", "tiny-sdxl", size, steps, 5.0)]
    return entries, workloads


def _full_scheduler():
    from diffusers import EulerAncestralDiscreteScheduler

    # The anchor's scheduler, so the plain-diffusers numbers are comparable.
    return EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                           timestep_spacing="trailing")


def _full_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[128, 256, 512, 512],
                         layers_per_block=2, down_block_types=["DownEncoderBlock2D"] * 4,
                         up_block_types=["UpDecoderBlock2D"] * 4, sample_size=512)


def _build_sd21(tokenizer):
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    unet = UNet2DConditionModel(sample_size=64, in_channels=4, out_channels=4, block_out_channels=[320, 640, 1280, 1280],
                                layers_per_block=2, attention_head_dim=[5, 10, 20, 20], cross_attention_dim=1024,
                                use_linear_projection=True, down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
                                up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3)
    te = CLIPTextModel(CLIPTextConfig(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=23,
                                      hidden_act="gelu", projection_dim=1024, vocab_size=49408, max_position_embeddings=77))
    return StableDiffusionPipeline(unet=unet, vae=_full_vae(), text_encoder=te, tokenizer=tokenizer, scheduler=_full_scheduler(),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def _build_sdxl(tokenizer):
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    unet = UNet2DConditionModel(sample_size=128, in_channels=4, out_channels=4, block_out_channels=[320, 640, 1280],
                                layers_per_block=2, attention_head_dim=[5, 10, 20], transformer_layers_per_block=[1, 2, 10],
                                cross_attention_dim=2048, use_linear_projection=True, addition_embed_type="text_time",
                                addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816,
                                down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                                up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"])
    te1 = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                                       hidden_act="quick_gelu", vocab_size=49408, max_position_embeddings=77))
    te2 = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=1280, intermediate_size=5120, num_attention_heads=20,
                                                     num_hidden_layers=32, hidden_act="gelu", projection_dim=1280,
                                                     vocab_size=49408, max_position_embeddings=77))
    vae = _full_vae()
    vae.register_to_config(sample_size=1024)
    return StableDiffusionXLPipeline(unet=unet, vae=vae, text_encoder=te1, text_encoder_2=te2, tokenizer=tokenizer,
                                     tokenizer_2=tokenizer, scheduler=_full_scheduler())


def full_models(workdir: Path) -> tuple[list[ModelEntry], list[Workload]]:
    """SD2.1- and SDXL-sized pipelines with random weights (timing does not depend on their
    values), built on the GPU (fast init), saved as fp16 safetensors folders, loaded back
    through the engine's loader like any user folder."""
    import torch
    from transformers import CLIPTokenizer

    from pipelines.testing.tiny import build_tiny_sd15

    # The tiny model's trained CLIP BPE tokenizer: its ids are valid for the 49408-token encoders.
    tokenizer = CLIPTokenizer.from_pretrained(str(build_tiny_sd15(workdir / "tiny-sd15") / "tokenizer"))
    folders = {}
    for name, build in (("full-sd21", _build_sd21), ("full-sdxl", _build_sdxl)):
        folder = workdir / name
        if not (folder / "model_index.json").is_file():
            started = time.perf_counter()
            with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
                pipe = build(tokenizer)
            pipe.to(torch.float16).to("cpu").save_pretrained(str(folder), safe_serialization=True)
            del pipe
            print(f"built {name} in {time.perf_counter() - started:.1f} s", flush=True)
        folders[name] = folder
    entries = [_entry("full-sd21", "sd21", folders["full-sd21"], 25, 7.5, 512),
               _entry("full-sdxl", "sdxl", folders["full-sdxl"], 4, 0.0, 512)]
    workloads = [Workload("SD-Turbo arch 512² 1 step", "full-sd21", 512, 1, 0.0),
                 Workload("SDXL-Turbo arch 512² 4 steps", "full-sdxl", 512, 4, 0.0)]
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
    import torch

    prompt = "a cheerful young girl in a garden"
    with m.use(w.model_id) as (pipe, _entry):
        def plain():
            return pipe(prompt=prompt, num_inference_steps=w.steps, guidance_scale=w.guidance, height=w.size,
                        width=w.size, generator=torch.Generator("cpu").manual_seed(0))
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
    parser.add_argument("--full", action="store_true", help="full-size SD2.1/SDXL architectures, fp16 (needs a CUDA GPU)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per measurement (median is shown)")
    parser.add_argument("--size", type=int, default=64, help="image side for the tiny models (multiple of 8)")
    parser.add_argument("--steps", type=int, default=8, help="denoising steps for the tiny models")
    parser.add_argument("--device", default=None, help="auto (default), cpu or cuda; --full needs cuda")
    parser.add_argument("--merge-window-ms", type=int, default=20, help="merge window of the merging manager (section 5)")
    parser.add_argument("--workdir", type=Path, default=None, help="where model folders are built (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.size < 8 or args.size % 8 or args.steps < 1 or (args.repeats is not None and args.repeats < 1):
        parser.error("--size must be a positive multiple of 8, --steps and --repeats at least 1")
    import torch

    if args.full and not torch.cuda.is_available() and (args.device or "auto") in ("auto", "cuda"):
        parser.error("--full needs a CUDA GPU (full-size models on the CPU take hours)")
    repeats = args.repeats or 5
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-engine-"))

    started = time.perf_counter()
    entries, workloads = full_models(workdir) if args.full else tiny_models(workdir, args.size, args.steps)
    manager = PipelineManager(Catalog(models=entries), device=args.device)
    merging = PipelineManager(Catalog(models=entries), device=args.device, merge_window_ms=args.merge_window_ms)
    timer = Timer(manager.device)
    print("# Engine benchmark" + (" (--full)" if args.full else " (tiny random models)"))
    for line in environment(manager):
        print(line)
    print(f"repeats: {repeats} after a warm-up; median ms [min - max], compared workloads run in turns; models in {workdir}")

    for w in workloads:
        manager.preload(w.model_id)
        print_section(f"1. batching - {w.label}", bench_batching(manager, timer, w, repeats))
        print_section(f"2. residency - {w.label}", bench_residency(manager, timer, w, repeats))
        print_section(f"3. long prompt - {w.label}", bench_long_prompt(manager, timer, w, repeats))
        if not args.full:
            print_section(f"engine overhead - {w.label}", bench_vs_plain(manager, timer, w, repeats, None))
        print_section(f"5. merging - {w.label}", bench_merging(manager, merging, timer, w, repeats))
        manager.unload(w.model_id)  # one big model at a time on the GPU
    if args.full:
        for w, key in ((Workload("SD2.1 arch 512² 25 steps CFG 7.5", "full-sd21", 512, 25, 7.5), "sd21-25-cfg"),
                       (Workload("SDXL-Turbo arch 512² 4 steps", "full-sdxl", 512, 4, 0.0), "sdxl-turbo-4")):
            manager.preload(w.model_id)
            print_section(f"4. vs plain diffusers - {w.label}", bench_vs_plain(manager, timer, w, repeats, key))
            manager.unload(w.model_id)
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""One request in, one result out: a single pipeline call for all images of a request.

Why one call: the UNet runs all images as one batch (the GPU is used fully, one progress
bar), while each image still has its own `torch.Generator`, so image i depends only on
seed i.  "Reproduce this seed" is then the same request with `seeds=(seed_i,)` and one
image.  Generators live on the CPU: diffusers draws the starting noise there and moves
it to the device, so a seed gives the same picture on any GPU, on the CPU and under CPU
offload (the price, copying one small noise tensor per image, is negligible).

Progress and cancel go through diffusers' `callback_on_step_end`: each finished step
reports `Progress("denoise", i+1, total)`; the last one also reports `"decode"` because
the VAE runs next.  Cancelling sets `pipe._interrupt`, diffusers' documented way to stop
the loop; the call returns early and `GenerationCancelled` is raised instead of a result.

Reference images (see `references.py`): "ip_adapter" runs the same pipeline with image
embeddings of up to six references; "img2img" runs its image-to-image twin from the first
reference, and the progress totals count the steps diffusers really runs (int(steps *
strength)).  Once a pipeline carries an IP-Adapter every call passes image embeddings,
with the adapter scale at 0 when the request has no IP-Adapter references.

The caller (PipelineManager) holds the model's lock; this module keeps no state.
"""

from __future__ import annotations

import inspect
import secrets
import time
from pathlib import Path
from typing import Any

from .catalog import ModelEntry
from .prompt_encoding import encode_prompts
from .samplers import use_sampler
from .references import (
    check_references,
    ensure_ip_adapter,
    fit_reference,
    image_to_image_pipe,
    image_to_image_steps,
    ip_adapter_kwargs,
    reference_mode,
)
from .params import BadParameter, limit
from .types import (
    CancelToken,
    GenerationCancelled,
    GenerationRequest,
    GenerationResult,
    Progress,
    ProgressFn,
    RequestRejected,
    report,
)



def draw_seeds(n: int) -> list[int]:
    """Fresh seeds below 2**31, so they survive any tool that parses them as int32."""
    return [secrets.randbelow(2**31) for _ in range(n)]


def run_generation(
    pipe: Any,
    entry: ModelEntry,
    request: GenerationRequest,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    *,
    img2img_pipe: Any = None,
    cache_dir: Path | None = None,
) -> GenerationResult:
    """Run `request` on the loaded `pipe` for catalog `entry` and return its images.

    `img2img_pipe`: the image-to-image twin of `pipe` (the manager keeps one per resident
    model); built on the spot when an img2img request comes without it. For a request with
    an `init_image` it is the refine twin (inpainting with a mask, image-to-image without).  `cache_dir`: where
    a hub IP-Adapter is looked for / downloaded when `pipe` has none loaded yet.

    Raises ValueError (bad request or references this model cannot use, nothing run),
    ModelUnavailable (the IP-Adapter cannot be fetched or loaded), GenerationCancelled
    (the cancel token was set before or during the run).
    """
    validate_request(entry, request)
    mode = reference_mode(request)
    steps = request.steps if request.steps is not None else entry.default_steps
    guidance = request.guidance if request.guidance is not None else entry.default_guidance
    seeds = list(request.seeds) if request.seeds is not None else draw_seeds(request.num_images)
    call_steps, denoise_steps = image_to_image_steps(steps, request.strength) if mode == "img2img" else (steps, steps)
    if cancel is not None and cancel.cancelled:
        raise GenerationCancelled("cancelled before the model ran")
    if request.init_image is not None:  # repaint / extend / hires pass: pipelines/inpaint.py
        from .inpaint import refine_twin, run_refine, twin_kind

        twin = img2img_pipe if img2img_pipe is not None else refine_twin(pipe, entry.family, twin_kind(request))
        return run_refine(pipe, entry, request, twin=twin, seeds=seeds, steps=steps, guidance=guidance,
                          build=build_call, callback_for=lambda n: _step_callback(n, progress, cancel),
                          progress=progress, cancel=cancel)
    if mode == "ip_adapter":
        ensure_ip_adapter(pipe, entry, cache_dir=cache_dir, progress=progress)

    started = time.perf_counter()
    ip_refs = request.reference_images if mode == "ip_adapter" else ()
    reached = {"step": 0}
    kwargs = build_call(
        pipe,
        entry,
        conditioning=encode_prompts(pipe, entry.family, request.prompt, request.negative_prompt, request.num_images),
        seeds=seeds,
        width=request.width,
        height=request.height,
        steps=call_steps,
        guidance=guidance,
        callback=_step_callback(denoise_steps, progress, cancel, reached),
        ip_refs=ip_refs,
        ip_scale=request.ip_adapter_scale,
    )
    runner = pipe
    if mode == "img2img":
        runner = img2img_pipe if img2img_pipe is not None else image_to_image_pipe(pipe, entry.family)
        kwargs.update(image=fit_reference(request.reference_images[0], request.width, request.height), strength=request.strength)
        accepted = inspect.signature(runner.__call__).parameters
        for size in ("height", "width"):  # SD/SDXL img2img take the size from the image
            if size not in accepted:
                kwargs.pop(size)

    # The asked sampler runs on whichever pipeline makes the call, and is recorded from
    # the scheduler object inside the swap: the PNG says what actually ran.
    with use_sampler(runner, entry.family, request.sampler, request.schedule):
        output = runner(**kwargs)
        ran_sampler = sampler_name(runner, entry.family)
    interrupted = cancel is not None and cancel.cancelled
    if interrupted and not (request.keep_partial and reached["step"] > 0):
        raise GenerationCancelled("generation cancelled")
    images = list(output.images)
    report(progress, Progress(stage="done", current=denoise_steps, total=denoise_steps))
    extra: dict[str, Any] = {"family": entry.family}
    if interrupted:  # kept as far as it got, as A1111 returns an interrupted job
        extra["interrupted_at"] = reached["step"]
    if mode == "ip_adapter":
        extra.update(reference_mode=mode, reference_count=len(ip_refs), ip_adapter_scale=request.ip_adapter_scale)
    elif mode == "img2img":  # only the first reference is used
        extra.update(reference_mode=mode, reference_count=1, strength=request.strength, denoise_steps=denoise_steps)
    return GenerationResult(
        images=images,
        seeds=seeds,
        model_id=entry.id,
        width=request.width,
        height=request.height,
        steps=call_steps,
        guidance=float(guidance),
        sampler=ran_sampler,
        elapsed_s=time.perf_counter() - started,
        extra=extra,
    )


def build_call(
    pipe: Any,
    entry: ModelEntry,
    *,
    conditioning: dict[str, Any],
    seeds: list[int],
    width: int,
    height: int,
    steps: int,
    guidance: float,
    callback: Any,
    ip_refs: tuple = (),
    ip_scale: float = 0.0,
) -> dict[str, Any]:
    """The keyword arguments of ONE pipeline call, for a solo request and for a merged
    batch alike (`conditioning` then holds every request's rows, `seeds` every image's).

    Why one place: a merged call that built its own arguments once left out the
    IP-Adapter's image embeddings, so after one IP-Adapter job every plain merged job on
    that model failed inside the UNet. Everything a call needs (size, one CPU generator
    per image, steps and guidance where the family takes them, the adapter's embeddings
    once an adapter is loaded) is added here.
    """
    import torch

    kwargs = dict(conditioning)
    kwargs.update(
        height=height,
        width=width,
        generator=[torch.Generator("cpu").manual_seed(s) for s in seeds],
        callback_on_step_end=callback,
        output_type="pil",
    )
    if entry.traits.takes_steps:
        kwargs.update(num_inference_steps=steps, guidance_scale=guidance)
    kwargs.update(ip_adapter_kwargs(pipe, tuple(ip_refs), ip_scale, len(seeds), guidance))
    return kwargs


def sampler_name(pipe: Any, family: str) -> str:
    """The A1111 sampler name of the pipeline's scheduler (`Euler`, `Euler a`, `DPM++ 2M` ...),
    from the family table, so other tools reading the PNG's `parameters` recognise it."""
    from .families import a1111_sampler

    return a1111_sampler(family, getattr(pipe, "scheduler", None))


def validate_request(entry: ModelEntry, request: GenerationRequest) -> None:
    """Raise ValueError (a message for the user) when `request` cannot run on `entry`.
    Cheap: no torch, no model; the manager calls it before loading anything."""
    if request.model_id != entry.id:
        raise ValueError(f"the request is for model {request.model_id!r} but {entry.id!r} is loaded")
    limit("count", request.num_images)
    limit("width", request.width, entry.family)
    limit("height", request.height, entry.family)
    step = entry.traits.size_multiple
    if request.width % step or request.height % step:
        raise RequestRejected(
            f"{entry.name} needs width and height in multiples of {step}, got {request.width}×{request.height}"
        )
    if request.steps is not None:
        limit("steps", request.steps, entry.family)
    if request.guidance is not None:
        limit("guidance", request.guidance, entry.family)
    for seed in request.seeds or ():
        if limit("seed", seed) == -1:
            raise BadParameter("Seeds sent to the engine must be drawn already; -1 (random) is the studio's to resolve.")
    check_references(entry, request)
    from .inpaint import check_refine

    check_refine(entry, request)


def _step_callback(steps: int, progress: ProgressFn | None, cancel: CancelToken | None, reached: dict | None = None):
    def on_step_end(pipe: Any, step: int, timestep: Any, callback_kwargs: dict) -> dict:
        if reached is not None and not getattr(pipe, "_interrupt", False):
            reached["step"] = step + 1
        # Some schedulers run more model passes than steps (Heun: two per step); diffusers
        # exposes the real count as `num_timesteps` once the loop has started.
        total = int(getattr(pipe, "num_timesteps", None) or steps)
        report(progress, Progress(stage="denoise", current=step + 1, total=total))
        if cancel is not None and cancel.cancelled:
            pipe._interrupt = True  # diffusers skips the remaining steps
        elif step + 1 >= total:
            report(progress, Progress(stage="decode", current=total, total=total))
        return callback_kwargs

    return on_step_end


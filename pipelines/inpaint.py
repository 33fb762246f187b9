"""Repainting part of an image (inpainting), extending it (outpainting runs through the
same call), and the image-to-image pass of a hires fix, on the model already resident.

Why a module of its own: it is the one place that turns a picture + mask into one
pipeline call and back into a picture of the ORIGINAL's size:

- the twin pipeline (the family table's `inpaint_pipeline`, or its img2img one when
  there is no mask) is built with `from_pipe`, sharing every module with the resident
  text-to-image pipeline: no second copy of the weights;
- the mask is prepared in pipelines/masks.py (resized with a note, inverted, feathered;
  an empty one refused), the masked area filled as asked (original, noise, blank);
- "only the masked area" crops the mask's box plus padding, runs at the model's native
  size whatever the picture's size (so a small fix on a large image costs a native-size
  image), and pastes the result back through the feathered mask;
- the result is ALWAYS composited over the original through the feathered mask, so
  pixels outside it are the original's, byte for byte (no VAE round trip on them).
"""

from __future__ import annotations

import time
from typing import Any

from PIL import Image

from .catalog import ModelEntry
from .families import traits
from .masks import crop_box, fill_masked, paste_back, prepare_mask, work_size
from .params import INPAINT_FILLS, PARAMS, RequestRejected
from .references import image_to_image_pipe, image_to_image_steps
from .types import CancelToken, GenerationCancelled, GenerationRequest, GenerationResult, Progress, ProgressFn, report


class CannotRepaint(RequestRejected):
    """The model's family has no inpainting pipeline (the demo GAN); the message says what to do."""


def inpaint_pipe(pipe: Any, family: str) -> Any:
    """The inpainting twin of a resident text-to-image pipeline, sharing all its modules."""
    import diffusers

    name = traits(family).inpaint_pipeline
    if name is None:
        raise CannotRepaint("This model can't repaint or extend pictures; choose another model.")
    twin = getattr(diffusers, name).from_pipe(pipe)
    if hasattr(twin, "set_progress_bar_config"):
        twin.set_progress_bar_config(disable=True)
    return twin


def twin_kind(request: GenerationRequest) -> str:
    return "inpaint" if request.mask is not None else "img2img"


def check_refine(entry: ModelEntry, request: GenerationRequest) -> None:
    """Refusals that need no model run: a mask without an image, a model that can't
    repaint, values outside their rows, an empty mask. Nothing is charged before this."""
    if request.init_image is None:
        if request.mask is not None:
            raise RequestRejected("A mask needs the picture it belongs to.")
        return
    if not isinstance(request.init_image, Image.Image) or min(request.init_image.size) < 8:
        raise RequestRejected("The picture to refine is not a usable image (at least 8×8 pixels).")
    if request.mask is not None and entry.traits.inpaint_pipeline is None:
        raise CannotRepaint(f"{entry.name} can't repaint or extend pictures; choose another model.")
    if request.mask is None and entry.traits.img2img_pipeline is None:
        raise CannotRepaint(f"{entry.name} can't redraw an existing picture; choose another model.")
    for name in ("denoise", "mask_blur", "inpaint_padding"):
        PARAMS[name].check(getattr(request, name))
    if request.inpainting_fill not in INPAINT_FILLS:
        raise RequestRejected(f"Masked area fill must be one of {', '.join(INPAINT_FILLS)}.")
    if request.mask is not None:
        prepare_mask(request.mask, request.init_image.size, blur=0, invert=request.mask_invert)


def _round(size: tuple[int, int], multiple: int) -> tuple[int, int]:
    return tuple(max(multiple, round(v / multiple) * multiple) for v in size)  # type: ignore[return-value]


def native_size(entry: ModelEntry) -> tuple[int, int]:
    """The model's own square size (its 1:1 catalog size): what "only masked" works at."""
    size = entry.sizes.get("1:1") or next(iter(entry.sizes.values()))
    return size.width, size.height


def run_refine(pipe: Any, entry: ModelEntry, request: GenerationRequest, *, twin: Any, seeds: list[int],
               steps: int, guidance: float, build: Any, callback_for: Any,
               progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> GenerationResult:
    """One repaint (or, without a mask, one image-to-image pass) of `request.init_image`.

    `build` is generate.build_call and `callback_for(denoise_steps)` its step callback, so
    prompts, generators, IP-Adapter embeddings and progress behave as for generation."""
    from .prompt_encoding import encode_prompts

    original = request.init_image.convert("RGB")
    multiple = entry.traits.size_multiple
    extra: dict[str, Any] = {"family": entry.family, "denoise": request.denoise}
    box = None
    mask = None
    if request.mask is not None:
        mask = prepare_mask(request.mask, original.size, blur=request.mask_blur, invert=request.mask_invert,
                            feather_inside_only=request.feather_inside_only)
        start = fill_masked(original, mask.hard, request.inpainting_fill, seed=seeds[0])
        hard = mask.hard
        if request.inpaint_only_masked:
            box = crop_box(mask.box, request.inpaint_padding, original.size)
            start, hard = start.crop(box), hard.crop(box)
            size = work_size(box[2] - box[0], box[3] - box[1], native_size(entry), multiple)
        else:
            size = _round(original.size, multiple)
        extra.update(refine="repaint", inpainting_fill=request.inpainting_fill, mask_blur=request.mask_blur,
                     mask_invert=request.mask_invert, only_masked=request.inpaint_only_masked, crop_box=box)
        if mask.note:
            extra["notes"] = [mask.note]
    else:
        start, size, hard = original, _round(original.size, multiple), None
        extra.update(refine="img2img")
    call_steps, denoise_steps = image_to_image_steps(steps, request.denoise)
    kwargs = build(pipe, entry, conditioning=encode_prompts(pipe, entry.family, request.prompt,
                                                            request.negative_prompt, request.num_images),
                   seeds=seeds, width=size[0], height=size[1], steps=call_steps, guidance=guidance,
                   callback=callback_for(denoise_steps))
    kwargs.update(image=start.resize(size, Image.Resampling.LANCZOS), strength=request.denoise)
    if hard is not None:
        kwargs["mask_image"] = hard.resize(size, Image.Resampling.NEAREST)
    if cancel is not None and cancel.cancelled:
        raise GenerationCancelled("cancelled before the model ran")
    started = time.perf_counter()
    output = twin(**kwargs)
    if cancel is not None and cancel.cancelled:
        raise GenerationCancelled("generation cancelled")
    images = []
    for made in output.images:
        if mask is None:
            images.append(made.convert("RGB").resize(original.size, Image.Resampling.LANCZOS))
        else:
            images.append(paste_back(original, made, mask.soft, box))
    report(progress, Progress(stage="done", current=denoise_steps, total=denoise_steps))
    extra.update(work_size=list(size), denoise_steps=denoise_steps)
    from .families import a1111_sampler

    return GenerationResult(images=images, seeds=seeds, model_id=entry.id, width=original.width,
                            height=original.height, steps=call_steps, guidance=float(guidance),
                            sampler=a1111_sampler(entry.family, getattr(twin, "scheduler", None)),
                            elapsed_s=time.perf_counter() - started, extra=extra)


def refine_twin(pipe: Any, family: str, kind: str) -> Any:
    """The twin a refine request runs on: inpainting with a mask, image-to-image without."""
    return inpaint_pipe(pipe, family) if kind == "inpaint" else image_to_image_pipe(pipe, family)

"""The engine run of one paid job: all its images in one pipeline call, or one call per image.

Why one call per image at all: a batched call makes every image at the same moment, so a
Cancel part-way keeps nothing. The UI asks `image_by_image` (StudioRequest): each image is
its own call, a Cancel stops the running one at its next step and skips the rest, and the
images already made are kept (the service refunds the others). The REST dialects keep one
batched call, which is faster on a GPU. Image i gets seed i either way, so the pictures
are the same as one batched call's.
"""

from __future__ import annotations

from dataclasses import replace

from pipelines.generate import draw_seeds
from pipelines.types import CancelToken, GenerationCancelled, GenerationRequest, GenerationResult, Progress, ProgressFn


def run_images(engine, request: GenerationRequest, *, one_by_one: bool, progress: ProgressFn | None,
               cancel: CancelToken | None) -> GenerationResult:
    """The job's images; one by one, it ends early at a Cancel with the images already made
    (none made: GenerationCancelled, as for a single call)."""
    count = request.num_images
    if not one_by_one or count == 1:
        return engine.generate(request, progress=progress, cancel=cancel)
    seeds = list(request.seeds) if request.seeds is not None else draw_seeds(count)
    parts: list[GenerationResult] = []
    for index, seed in enumerate(seeds):
        if cancel is not None and cancel.cancelled and parts:
            break
        try:
            parts.append(engine.generate(replace(request, num_images=1, seeds=(seed,)), cancel=cancel,
                                         progress=_image_progress(progress, index, count)))
        except GenerationCancelled:
            if not parts:
                raise
            break
    return replace(parts[0], images=[im for p in parts for im in p.images], seeds=[s for p in parts for s in p.seeds],
                   elapsed_s=sum(p.elapsed_s for p in parts))


def _image_progress(progress: ProgressFn | None, index: int, count: int) -> ProgressFn | None:
    """Image `index` of `count`'s steps as steps of the whole job, so one bar fills once
    (only the last image's end reports "decode")."""
    if progress is None:
        return None

    def report(p: Progress) -> None:
        if p.stage == "denoise" and p.total:
            progress(replace(p, current=index * p.total + p.current, total=count * p.total))
        elif p.stage in ("decode", "done") and index < count - 1:
            return
        else:
            progress(p)

    return report

"""The engine's contract: a request dataclass in, a result dataclass out.

Kept free of torch/diffusers imports so `studio` can build requests without paying
for the heavy imports until a model is actually used.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Literal

from PIL import Image

from .params import MAX_IMAGES, MAX_PROMPT_CHARS, MAX_REFERENCES, MAX_SEED, PARAMS, RequestRejected  # noqa: F401

InpaintFill = Literal["original", "noise", "blank"]  # params.INPAINT_FILLS

Stage = Literal["queued", "download", "load", "denoise", "decode", "done"]


@dataclass(frozen=True)
class Progress:
    """One progress report. `current`/`total` are steps for denoise, bytes for download."""

    stage: Stage
    current: int = 0
    total: int = 0
    message: str = ""

    @property
    def fraction(self) -> float | None:
        return (self.current / self.total) if self.total else None


ProgressFn = Callable[[Progress], None]


def report(progress: ProgressFn | None, event: Progress) -> None:
    """Send a progress event to a caller that may not have asked for any."""
    if progress is not None:
        progress(event)


class GenerationCancelled(Exception):
    """Raised out of a pipeline call when the caller's cancel event was set."""


class UnknownModel(KeyError, ValueError):
    """No catalog entry with that id (a KeyError for lookups, a ValueError for bad input)."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else "unknown model"


class ModelUnavailable(Exception):
    """The model could not be downloaded or loaded; the message is for the user."""


class OutOfMemory(Exception):
    """The device ran out of memory; caches were released, the user may retry smaller."""


@dataclass(frozen=True)
class GenerationRequest:
    model_id: str
    prompt: str
    width: int
    height: int
    negative_prompt: str = ""
    num_images: int = 1
    steps: int | None = None  # None: the catalog default
    guidance: float | None = None  # None: the catalog default
    seeds: tuple[int, ...] | None = None  # one per image; None: drawn and recorded
    reference_images: tuple[Image.Image, ...] = ()
    reference_mode: Literal["ip_adapter", "img2img"] | None = None
    ip_adapter_scale: float = PARAMS["ip_adapter_scale"].default
    strength: float = PARAMS["strength"].default  # img2img: how far from the first reference
    owner: str | None = None  # the requesting account: the fair dispatcher takes users in turn
    # A1111 sampler name and schedule id from pipelines.samplers (None: the model's own
    # scheduler); the REST dialect resolves them, the engine swaps the scheduler per call.
    sampler: str | None = None
    schedule: str | None = None
    # On cancel, return the images as far as they were denoised (A1111's interrupt and
    # skip) instead of raising GenerationCancelled; `extra["interrupted_at"]` says where.
    keep_partial: bool = False
    # (LoRA name, weight) per LoRA, at most MAX_LORAS; names from the AdapterLibrary
    loras: tuple[tuple[str, float], ...] = ()
    # Refining an image of one's own (pipelines/inpaint.py): `init_image` alone is an
    # image-to-image pass at `denoise` (hires fix); with `mask` (white: repaint) it is a repaint.
    # The result has init_image's size; pixels outside the (feathered) mask are init_image's.
    init_image: Image.Image | None = None
    mask: Image.Image | None = None
    denoise: float = PARAMS["denoise"].default
    mask_blur: int = PARAMS["mask_blur"].default
    mask_invert: bool = False  # repaint what is NOT painted (A1111 inpainting_mask_invert)
    inpainting_fill: InpaintFill = "original"
    inpaint_only_masked: bool = False  # crop to the mask's box + padding, run at native size, paste back
    inpaint_padding: int = PARAMS["inpaint_padding"].default
    feather_inside_only: bool = False  # outpainting: the feather stays in the new area, the original is kept exactly

    def __post_init__(self) -> None:
        # Only the request's own shape; value ranges are the table's, checked by the engine's guard.
        if self.seeds is not None and len(self.seeds) != self.num_images:
            raise ValueError("seeds must have one entry per image")


@dataclass
class GenerationResult:
    images: list[Image.Image]
    seeds: list[int]
    model_id: str
    width: int
    height: int
    steps: int
    guidance: float
    sampler: str  # scheduler class name, recorded in the PNG parameters
    elapsed_s: float
    extra: dict = field(default_factory=dict)


@dataclass
class CancelToken:
    """A cancel flag shared between the UI thread and the pipeline callback."""

    event: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.event.set()

    @property
    def cancelled(self) -> bool:
        return self.event.is_set()

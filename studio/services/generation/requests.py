"""What a user asks for, checked before anything costs credits or touches the disk.

The UI and the API both build a `StudioRequest` from whatever arrived (loose JSON);
the `check_*` helpers apply the rules of `studio.services.validation` to its fields,
so a bad field becomes one `InvalidRequest` whose message is shown as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from typing import Any

from pipelines.catalog import ASPECTS, Catalog, ModelEntry
from pipelines.params import PARAMS
from pipelines.upscalers import LANCZOS
from pipelines.types import MAX_IMAGES, MAX_PROMPT_CHARS, MAX_SEED
from studio.services.common import validation as v
from studio.services.common.validation import InvalidRequest

__all__ = ["InvalidRequest", "StudioRequest", "check_aspect", "check_count", "check_model", "check_negative",
           "check_enhance", "check_prompt", "check_user", "normalise_seed"]

MAX_NEGATIVE_CHARS = 1000


@dataclass(frozen=True)
class StudioRequest:
    user: str
    model_id: str
    style_id: str
    aspect: str
    count: int
    prompt: str
    enhance: bool = False
    negative_prompt: str = ""
    seed: int | None = None  # None: a fresh random seed per image
    # Gen Space fills these; Image Studio leaves them empty.
    project_id: str | None = None
    shot_id: str | None = None
    reference_ids: tuple[str, ...] = field(default_factory=tuple)
    # Refining an image (studio/services/generation/refine.py). `operation` "" is plain
    # generation; "repaint", "extend", "enlarge" work on `source_id` (an asset of `user`) or
    # `init_image` (a PIL image an API client sent); "hires" generates, enlarges, redraws.
    operation: str = ""
    source_id: str | None = None
    init_image: Any = None  # PIL.Image.Image
    mask: Any = None  # PIL.Image.Image: white (or opaque) = repaint
    denoise: float = PARAMS["denoise"].default
    mask_blur: int = PARAMS["mask_blur"].default
    mask_invert: bool = False
    inpainting_fill: str = "original"  # pipelines.params.INPAINT_FILLS
    inpaint_only_masked: bool = False
    inpaint_padding: int = PARAMS["inpaint_padding"].default
    extend_sides: tuple[str, ...] = ()  # pipelines.params.OUTPAINT_SIDES
    extend_pixels: int = PARAMS["outpaint_pixels"].default
    upscaler: str = LANCZOS
    upscale_factor: float = PARAMS["upscale_factor"].default
    hires_denoise: float = PARAMS["hires_denoise"].default


def check_user(user: object) -> str:
    """The account name every record is filed under; must be non-empty text."""
    if not isinstance(user, str) or v.is_blank(user):
        raise InvalidRequest("Sign in first: no user name was given.")
    return user


def normalise_seed(seed: object) -> int | None:
    """None and -1 mean "random"; anything else must be a whole number 0..2^32-1."""
    if seed is None:
        return None
    if not isinstance(seed, bool) and isinstance(seed, (int, float)) and seed == -1:
        return None
    try:
        return v.whole_number(seed, "Seed", minimum=0, maximum=MAX_SEED)
    except InvalidRequest:
        raise InvalidRequest(f"Seed must be a whole number from 0 to {MAX_SEED}, or -1 for random.") from None


def check_prompt(prompt: object) -> str:
    return v.required_text(prompt, "The prompt", max_chars=MAX_PROMPT_CHARS, empty="Write a prompt first: it is empty.")


def check_count(count: object) -> int:
    return v.whole_number(count, "Number of images", minimum=1, maximum=MAX_IMAGES)


def check_model(catalog: Catalog, model_id: object) -> ModelEntry:
    if not isinstance(model_id, str) or model_id not in catalog.ids():
        raise InvalidRequest(f"Unknown model. Choose one of: {', '.join(catalog.ids())}.")
    return catalog.get(model_id)


def check_aspect(aspect: object) -> str:
    return v.choice(aspect, ASPECTS, "aspect ratio")


def check_negative(negative: object) -> str:
    return v.optional_text(negative, "The negative prompt", max_chars=MAX_NEGATIVE_CHARS)


def check_enhance(value: object) -> bool:
    return v.flag(value, "Enhance prompt")

"""What a user asks for, checked before anything costs credits or touches the disk.

The UI and the API both build a `StudioRequest` from whatever arrived (loose JSON);
the `check_*` helpers apply the rules of `studio.services.validation` to its fields,
so a bad field becomes one `InvalidRequest` whose message is shown as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

from pipelines.catalog import ASPECTS, Catalog, ModelEntry
from pipelines.params import MAX_NEGATIVE_CHARS, MAX_PROMPT_CHARS, PARAMS
from pipelines.upscalers import LANCZOS
from studio.services.common import validation as v
from studio.services.common.validation import InvalidRequest

__all__ = ["InvalidRequest", "NO_REFERENCES", "References", "ShotTarget", "StudioRequest", "check_aspect",
           "check_count", "check_model", "check_negative", "check_enhance", "check_prompt", "check_user",
           "normalise_seed"]

@dataclass(frozen=True)
class References:
    """The pictures that guide a job: Gen Space's library images or a REST dialect's init image.

    `asset_ids` are what the person picked (checked for ownership by the service that
    owns the library); `images` are the opened pictures the engine gets, filled in by
    that service (or decoded by a dialect) before the job is prepared."""

    asset_ids: tuple[str, ...] = ()
    images: tuple[Image.Image, ...] = ()
    mode: str | None = None  # "ip_adapter" | "img2img"; None: no references reach the engine
    ip_adapter_scale: Any = PARAMS["ip_adapter_scale"].default
    strength: Any = PARAMS["strength"].default
    ignored: int = 0  # picked references this model cannot use (recorded on the images)


NO_REFERENCES = References()


@dataclass(frozen=True)
class ShotTarget:
    """The Gen Space shot a job's images join (its history, its project)."""

    project_id: str
    shot_id: str
    shot_type: str


@dataclass(frozen=True)
class StudioRequest:
    """The one typed request from the click (or REST call) to the engine.

    Fields arrive as the caller sent them (loose JSON from an API is passed through) and
    are checked once, by `GenerationService.prepare`, before anything costs credits."""

    user: str
    model_id: Any
    prompt: Any
    count: Any = 1
    style_id: Any = "auto"
    aspect: Any = "1:1"
    enhance: Any = False
    enhancer: Any = None  # which prompt enhancer (studio/services/prompts/enhancers.py); None: the default
    negative_prompt: Any = ""
    seed: Any = None  # None or -1: a fresh random seed per image
    steps: Any = None  # None: the catalog default
    guidance: Any = None  # None: the catalog default
    references: References = NO_REFERENCES
    loras: Any = ()  # (name, weight) pairs from the picker; `<lora:…>` prompt tags join them in prepare
    shot: ShotTarget | None = None  # Gen Space: the shot the images are for
    parent_id: str | None = None  # an edit: the image this one is made from
    origin: str | None = None  # a REST dialect ("a1111", "openai") records where a job came from
    end_user: str | None = None  # the dialect client's own user label (OpenAI's `user`), recorded as is
    # The REST dialects fill these; the UI leaves them unset (its aspect gives the size).
    width: int | None = None  # with height: this exact size (checked against the width/height rows)
    height: int | None = None
    sampler: str | None = None  # A1111 sampler / schedule, already resolved by pipelines.samplers
    schedule: str | None = None
    keep_partial: bool = False  # an interrupted job keeps (and pays for) what it had denoised
    # One pipeline call per image (the UI's choice): a Cancel then keeps, and bills, the images
    # already made and refunds the rest. False (the REST dialects): one batched call, fastest on a GPU.
    image_by_image: bool = False
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
    """None and -1 mean "random"; anything else must be a whole number in the seed row's range."""
    if seed is None:
        return None
    value = v.parameter("seed", seed)
    return None if value == -1 else value


def check_prompt(prompt: object) -> str:
    return v.required_text(prompt, "The prompt", max_chars=MAX_PROMPT_CHARS, empty="Write a prompt first: it is empty.")


def check_count(count: object) -> int:
    return v.parameter("count", count)


def check_model(catalog: Catalog, model_id: object) -> ModelEntry:
    if not isinstance(model_id, str) or model_id not in catalog.ids():
        raise InvalidRequest(f"Unknown model. Choose one of: {', '.join(catalog.ids())}.")
    return catalog.get(model_id)


def check_size(entry: ModelEntry, width: object, height: object) -> tuple[int, int]:
    """An exact width × height for `entry`: each inside its parameter row's limits for the
    family and a multiple of the family's size multiple."""
    from pipelines.params import PARAMS, BadParameter

    sides = []
    for name, value in (("width", width), ("height", height)):
        try:
            side = PARAMS[name].check(value, entry.family)
        except BadParameter as exc:
            raise InvalidRequest(f"{exc} ({entry.name})") from None
        step = entry.traits.size_multiple
        if side % step:
            raise InvalidRequest(f"{PARAMS[name].label} must be a multiple of {step} for {entry.name}; {side} is not.")
        sides.append(side)
    return sides[0], sides[1]


def check_sampler(sampler: object, schedule: object) -> None:
    """A sampler and schedule named as in pipelines.samplers (the dialect resolved them)."""
    from pipelines import samplers

    for value, lookup, what, listing in ((sampler, samplers.sampler, "sampler", "/sdapi/v1/samplers"),
                                         (schedule, samplers.schedule, "schedule", "/sdapi/v1/schedulers")):
        if value is None:
            continue
        try:
            lookup(value) if isinstance(value, str) else lookup("")
        except KeyError:
            raise InvalidRequest(f"Unknown {what} {value!r}; use a name from {listing}.") from None


def check_aspect(aspect: object) -> str:
    return v.choice(aspect, ASPECTS, "aspect ratio")


def check_negative(negative: object) -> str:
    return v.optional_text(negative, "The negative prompt", max_chars=MAX_NEGATIVE_CHARS)


def check_enhance(value: object) -> bool:
    return v.flag(value, "Enhance prompt")

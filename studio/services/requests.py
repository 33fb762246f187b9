"""What a user asks for, checked before anything costs credits or touches the disk.

The UI and the API both build a `StudioRequest`; `validate_request` turns every bad
field into one `InvalidRequest` whose message is shown as-is to the person.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.catalog import ASPECTS, Catalog, ModelEntry
from pipelines.types import MAX_IMAGES, MAX_PROMPT_CHARS, MAX_SEED

MAX_NEGATIVE_CHARS = 1000


class InvalidRequest(ValueError):
    """Bad input: the message is for the user; nothing was charged or written."""


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


def _as_int(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise InvalidRequest(f"{what} must be a whole number")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidRequest(f"{what} must be a whole number")
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise InvalidRequest(f"{what} must be a whole number")


def normalise_seed(seed: object) -> int | None:
    """Empty, None and -1 mean "random"; anything else must be 0..2^32-1."""
    if seed is None or seed == "" or seed == -1 or seed == "-1":
        return None
    value = _as_int(seed, "Seed")
    if value == -1:
        return None
    if not 0 <= value <= MAX_SEED:
        raise InvalidRequest(f"Seed must be between 0 and {MAX_SEED}, or -1 for random")
    return value


def check_prompt(prompt: object) -> str:
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequest("Write a prompt first: it is empty.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequest(
            f"The prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}. Shorten it by {len(prompt) - MAX_PROMPT_CHARS}."
        )
    return prompt.strip()


def check_count(count: object) -> int:
    value = _as_int(count, "Number of images")
    if not 1 <= value <= MAX_IMAGES:
        raise InvalidRequest(f"Number of images must be 1 to {MAX_IMAGES}, got {value}.")
    return value


def check_model(catalog: Catalog, model_id: object) -> ModelEntry:
    try:
        return catalog.get(str(model_id))
    except KeyError:
        raise InvalidRequest(f"Unknown model {model_id!r}. Choose one of: {', '.join(catalog.ids())}.") from None


def check_aspect(aspect: object) -> str:
    if aspect not in ASPECTS:
        raise InvalidRequest(f"Unknown aspect ratio {aspect!r}. Choose one of: {', '.join(ASPECTS)}.")
    return str(aspect)


def check_negative(negative: object) -> str:
    if negative is None:
        return ""
    if not isinstance(negative, str):
        raise InvalidRequest("The negative prompt must be text.")
    if len(negative) > MAX_NEGATIVE_CHARS:
        raise InvalidRequest(f"The negative prompt is {len(negative)} characters; the limit is {MAX_NEGATIVE_CHARS}.")
    return negative.strip()

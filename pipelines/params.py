"""The one table of generation parameters: name, label, default, range, step, and the
per-family limits where a family differs.

Why a table: a parameter's range used to live in four places that disagreed (the
reference strength was 0.1–1 in the page, 0.05–1 in the service, 0.01–1 in the engine
and defaulted to 0.75 in the A1111 dialect), so the page refused what the API took.
Now every layer reads its row here:

- the UI builds its sliders from `Param.minimum/maximum/step/default/label`;
- the service validation calls `Param.check`, which is also what the engine's own guards
  call, so a bad value gets the same sentence from the page, the Gradio API and both
  REST dialects;
- the REST dialects take their defaults from `Param.default` (a dialect whose protocol
  documents another default says so in `Param.dialect_defaults`, in this row).

Adding a capability's parameter is adding a row. Pure data and arithmetic: no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["PARAMS", "BadParameter", "Param", "RequestRejected", "param", "limit"]


class RequestRejected(ValueError):
    """The request cannot run on this model as asked (prompt too long for its encoder,
    references it cannot use, a value out of range ...); nothing ran, the message says
    what to change. Defined here, beneath `types`, because the table's checks raise it."""


class BadParameter(RequestRejected):
    """A parameter value outside its row's range or of the wrong kind; the message says
    which values are accepted, in the words every layer shows."""


def _num(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class Param:
    name: str  # the engine's / service's field name
    label: str  # what a person reads (slider label, start of every refusal)
    default: float | int | None  # None: the model's own default (catalog steps and guidance)
    minimum: float | int
    maximum: float | int
    step: float | int
    integer: bool = False
    info: str = ""  # one line of help under the slider
    # family name -> (minimum, maximum) where the family takes less than the row's range
    family_limits: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    # where a REST dialect's documented default (A1111 denoising_strength is 0.75) or a tab's
    # (Gen Space offers 2 images to pick from) differs from the row's: "a1111"/"gen_space" -> default
    dialect_defaults: Mapping[str, float | int] = field(default_factory=dict)
    # values outside [minimum, maximum] that still mean something (seed -1: random)
    special: Mapping[float | int, str] = field(default_factory=dict)

    def bounds(self, family: str | None = None) -> tuple[float | int, float | int]:
        """(minimum, maximum) for a model of `family` (the row's own range without one)."""
        return self.family_limits.get(family, (self.minimum, self.maximum)) if family else (self.minimum, self.maximum)

    def default_for(self, dialect: str | None = None) -> float | int | None:
        if dialect is not None and dialect in self.dialect_defaults:
            return self.dialect_defaults[dialect]
        return self.default

    def choices(self) -> list[int]:
        """Every value of a small whole-number row (the image-count picker)."""
        return list(range(int(self.minimum), int(self.maximum) + 1, int(self.step)))

    def span(self, family: str | None = None) -> str:
        lo, hi = self.bounds(family)
        kind = "a whole number" if self.integer else "a number"
        text = f"{kind} from {_num(lo)} to {_num(hi)}"
        for value, meaning in self.special.items():
            text += f", or {_num(value)} for {meaning}"
        return text

    def check(self, value: object, family: str | None = None):
        """The value as int/float when it is inside the range, else BadParameter.

        Whole-number rows take JSON numbers with no fraction (2 and 2.0; not 1.5, "2" or
        True): text is refused everywhere so an API client learns the rule at once."""
        lo, hi = self.bounds(family)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BadParameter(f"{self.label} must be {self.span(family)}.")
        if self.integer:
            if isinstance(value, float) and not value.is_integer():
                raise BadParameter(f"{self.label} must be {self.span(family)}.")
            value = int(value)
        else:
            value = float(value)
        if value in self.special:
            return value
        if not lo <= value <= hi:
            raise BadParameter(f"{self.label} must be {self.span(family)}; {_num(value)} is out of range.")
        return value


# Limits that are counts or lengths rather than slider values; one place for them too.
MAX_PROMPT_CHARS = 2000
MAX_NEGATIVE_CHARS = 1000
MAX_IMAGES = 4
MAX_REFERENCES = 6
MAX_LORAS = 4
MAX_SEED = 2**32 - 1  # torch takes 64-bit seeds; A1111-style tools write 32-bit ones
MAX_SIDE = 4096  # width/height ceiling for any family (pixels), see the size rows
MAX_UPSCALE_PIXELS = 4096 * 4096  # an enlargement's output may not exceed this many pixels
# Repaint: what the masked area holds before denoising (A1111's inpainting_fill 1, 2, 3).
INPAINT_FILLS = ("original", "noise", "blank")
OUTPAINT_SIDES = ("left", "right", "top", "bottom")
# Upscaler tiles: input pixels per tile side and the overlap cut away at each seam. A tile's
# working set is what bounds the memory of an enlargement (see pipelines/upscalers.py).
UPSCALE_TILE = 192
UPSCALE_TILE_OVERLAP = 16

_ROWS = (
    Param("count", "Number of images", 1, 1, MAX_IMAGES, 1, integer=True, dialect_defaults={"gen_space": 2}),
    Param("n_iter", "Batches", 1, 1, 8, 1, integer=True,
          info="Batches run one after another, each priced before it starts."),
    Param("seed", "Seed", -1, 0, MAX_SEED, 1, integer=True, special={-1: "random"},
          info="The same seed, prompt and settings give the same picture."),
    Param("steps", "Steps", None, 1, 150, 1, integer=True,
          info="Denoising steps; the model's own default when left alone."),
    Param("guidance", "Guidance (CFG scale)", None, 0, 30, 0.5,
          info="How closely the picture follows the prompt; the model's own default when left alone."),
    # Sizes in pixels; the family's size multiple (families.py) applies on top.
    Param("width", "Width", 512, 8, MAX_SIDE, 8, integer=True),
    Param("height", "Height", 512, 8, MAX_SIDE, 8, integer=True),
    # Image-to-image from a Gen Space reference. The engine's floor is 0.01: below it
    # diffusers would need more steps than its scheduler has (see references.image_to_image_steps).
    Param("strength", "Image-to-image strength", 0.6, 0.01, 1, 0.01, dialect_defaults={"a1111": 0.75},
          info="How far the picture may move from the starting image: near 0 keeps it, 1 ignores it."),
    Param("ip_adapter_scale", "Reference strength (IP-Adapter scale)", 0.6, 0, 1, 0.05,
          info="How strongly the reference images steer the picture."),
    # Repaint / image-to-image / hires fix from an image of your own (A1111's denoising_strength).
    Param("denoise", "Denoise strength", 0.75, 0.01, 1, 0.01,
          info="How much of the picture is redrawn: 0 keeps it, 1 redraws it completely."),
    Param("mask_blur", "Mask blur", 4, 0, 64, 1, integer=True,
          info="Feathers the mask's edge (pixels) so the repaint blends in."),
    Param("inpaint_padding", "Padding around the mask", 32, 0, 256, 4, integer=True,
          info="Only the masked area: how much context around the mask is repainted with it (pixels)."),
    Param("outpaint_pixels", "Extend by", 128, 8, 1024, 8, integer=True,
          info="How many pixels to add on each chosen side."),
    Param("upscale_factor", "Enlarge by", 2, 1, 4, 0.5, dialect_defaults={"a1111": 2},
          info="Output size as a multiple of the input."),
    # Hires fix (A1111 enable_hr): the denoise of its image-to-image pass; A1111 documents 0.7 there.
    Param("hires_denoise", "Hires fix denoise", 0.5, 0.01, 1, 0.01, dialect_defaults={"a1111": 0.7},
          info="How much the enlarged picture is redrawn in the second pass."),
    Param("lora_weight", "LoRA weight", 1, -2, 2, 0.05,
          info="0 turns the LoRA off; negative weights push away from it."),
    # A language-model prompt enhancer's catalog entry (pipelines/prompt_expansion.py).
    Param("enhancer_tokens", "Words the enhancer may add (tokens)", 40, 8, 200, 1, integer=True,
          info="How much a language-model enhancer writes after the prompt."),
)

PARAMS: dict[str, Param] = {p.name: p for p in _ROWS}


def param(name: str) -> Param:
    return PARAMS[name]


def limit(name: str, value: object, family: str | None = None):
    """Shorthand for `PARAMS[name].check(value, family)`."""
    return PARAMS[name].check(value, family)

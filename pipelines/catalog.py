"""The model catalog schema: presets/models.json is data, and a typo in it must stop
start-up with a message that names the file and the key, not fail at the first click.

Lives in `pipelines` (not `studio`) because the loader and the manager read catalog
entries; `studio` only adds presentation on top.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipelines.families import FamilyTraits, traits
from pipelines.params import PARAMS


def _known_family(name: str) -> str:
    traits(name)  # UnknownFamily (a ValueError) lists the known ones
    return name


Family = Annotated[str, AfterValidator(_known_family)]
AspectId = Literal["16:9", "1:1", "9:16"]
ASPECTS: tuple[str, ...] = ("16:9", "1:1", "9:16")
ReferenceMode = Literal["ip_adapter", "img2img"]
MODEL_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _row(name: str):
    """A catalog number checked by its row of the parameter table (pipelines/params.py)."""
    return AfterValidator(lambda value: PARAMS[name].check(value))


class Size(_Strict):
    width: Annotated[int, _row("width")]
    height: Annotated[int, _row("height")]


class Source(_Strict):
    """Where the weights come from.

    hub: a Hugging Face repo id, downloaded into the HF cache on first use.
    folder: a local diffusers folder (model_index.json inside).
    single_file: a local .safetensors checkpoint (A1111/Civitai style).
    demo: the offline face GAN converted from the gan-face-generate package.
    """

    kind: Literal["hub", "folder", "single_file", "demo"]
    repo_id: str | None = None
    revision: str | None = None
    variant: str | None = None
    path: str | None = None
    # single_file only: a local diffusers folder or hub repo id with the component
    # configs, so a lone .safetensors checkpoint loads without fetching them.
    config: str | None = None

    @model_validator(mode="after")
    def _needs_location(self) -> "Source":
        if self.kind == "hub" and not self.repo_id:
            raise ValueError("a hub source needs repo_id")
        if self.kind in ("folder", "single_file") and not self.path:
            raise ValueError(f"a {self.kind} source needs path")
        return self


class IPAdapterSource(_Strict):
    """The IP-Adapter weights that come with a catalog entry (downloaded like the model)."""

    repo_id: str | None = None
    path: str | None = None
    subfolder: str | None = None
    weight_name: str
    image_encoder_folder: str | None = "models/image_encoder"


class ModelEntry(_Strict):
    id: str = Field(pattern=MODEL_ID_PATTERN)
    name: str = Field(min_length=1, max_length=80)
    description: str = Field(min_length=1, max_length=500)
    specialties: list[str] = Field(default_factory=list)
    family: Family
    source: Source
    default_steps: Annotated[int, _row("steps")]
    default_guidance: Annotated[float, _row("guidance")]
    sizes: dict[AspectId, Size]
    credit_cost: int = Field(ge=0, le=1000, description="credits per image")
    speed: Literal["fast", "medium", "slow"]
    quality: Literal["draft", "good", "best"]
    reference_modes: list[ReferenceMode] = Field(default_factory=list)
    ip_adapter: IPAdapterSource | None = None
    license: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "ModelEntry":
        missing = [a for a in ASPECTS if a not in self.sizes]
        if missing:
            raise ValueError(f"sizes is missing aspect ratio(s) {missing}")
        if "ip_adapter" in self.reference_modes and self.ip_adapter is None:
            raise ValueError("reference_modes lists ip_adapter but no ip_adapter source is given")
        fam = self.traits
        unsupported = [m for m in self.reference_modes if not fam.supports(m)]
        if unsupported:
            can = ", ".join(fam.reference_modes) or "no reference images"
            raise ValueError(f"family {self.family!r} cannot use reference mode(s) {unsupported} (it supports {can})")
        step = fam.size_multiple
        odd = [a for a, s in self.sizes.items() if s.width % step or s.height % step]
        if odd:
            raise ValueError(f"sizes {odd}: family {self.family!r} needs width and height in multiples of {step}")
        return self

    @property
    def traits(self) -> FamilyTraits:
        """This entry's row of the family table (pipelines/families.py)."""
        return traits(self.family)

    @property
    def ignores_prompt(self) -> bool:
        return self.traits.ignores_prompt


class EnhancerEntry(_Strict):
    """A small causal language model that writes the rest of a prompt (MagicPrompt-style
    GPT-2), downloaded and cached like an image model (pipelines/prompt_expansion.py)."""

    id: str = Field(pattern=MODEL_ID_PATTERN)
    name: str = Field(min_length=1, max_length=80)
    description: str = Field(min_length=1, max_length=500)
    source: Source
    max_new_tokens: Annotated[int, _row("enhancer_tokens")] = PARAMS["enhancer_tokens"].default
    license: str | None = None

    @model_validator(mode="after")
    def _loadable(self) -> "EnhancerEntry":
        if self.source.kind not in ("hub", "folder"):
            raise ValueError("a prompt enhancer comes from the hub or a local folder")
        return self


class CatalogError(ValueError):
    """A preset file that cannot be used; the message names the file and the key."""


class Catalog(_Strict):
    models: list[ModelEntry]
    default_model: str | None = None
    prompt_enhancers: list[EnhancerEntry] = Field(default_factory=list)
    default_enhancer: str | None = None  # None: the built-in offline enhancer

    @model_validator(mode="after")
    def _unique(self) -> "Catalog":
        seen: set[str] = set()
        for m in self.models:
            if m.id in seen:
                raise ValueError(f"duplicate model id {m.id!r}")
            seen.add(m.id)
        if self.default_model is not None and self.default_model not in seen:
            raise ValueError(f"default_model {self.default_model!r} is not in models")
        enhancers = [e.id for e in self.prompt_enhancers]
        if len(set(enhancers)) != len(enhancers):
            raise ValueError("duplicate prompt enhancer id")
        if self.default_enhancer is not None and self.default_enhancer not in enhancers:
            raise ValueError(f"default_enhancer {self.default_enhancer!r} is not in prompt_enhancers")
        return self

    def get(self, model_id: str) -> ModelEntry:
        for m in self.models:
            if m.id == model_id:
                return m
        raise KeyError(model_id)

    def ids(self) -> list[str]:
        return [m.id for m in self.models]

    def with_models(self, extra: list[ModelEntry]) -> "Catalog":
        """A catalog with user-added entries appended (later ids replace earlier ones)."""
        by_id = {m.id: m for m in self.models}
        for m in extra:
            by_id[m.id] = m
        return self.model_copy(update={"models": list(by_id.values())})

    def with_enhancers(self, extra: list[EnhancerEntry], default: str | None = None) -> "Catalog":
        """A catalog with user-added prompt enhancers (later ids replace earlier ones) and,
        when given, their default."""
        by_id = {e.id: e for e in self.prompt_enhancers}
        for e in extra:
            by_id[e.id] = e
        return Catalog(models=self.models, default_model=self.default_model, prompt_enhancers=list(by_id.values()),
                       default_enhancer=default if default is not None else self.default_enhancer)

    def enhancer(self, enhancer_id: str) -> EnhancerEntry:
        for e in self.prompt_enhancers:
            if e.id == enhancer_id:
                return e
        raise KeyError(enhancer_id)


def format_validation_error(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid preset data"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {key}: {e['msg']}")
    return "\n".join(lines)


def read_json(path: Path) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise CatalogError(f"{path}: file not found") from e
    except json.JSONDecodeError as e:
        raise CatalogError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from e


def load_catalog(path: str | Path) -> Catalog:
    path = Path(path)
    data = read_json(path)
    try:
        return Catalog.model_validate(data)
    except ValidationError as e:
        raise CatalogError(format_validation_error(path, e)) from e

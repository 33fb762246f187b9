"""Style presets: presets/styles.json turns a plain prompt into a styled one.

Styles are data so they can be tuned without touching code; like the model catalog
they are validated at start-up, so a typo stops the app with a message naming the
file and the key instead of surfacing as a broken prompt at the first click.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipelines.catalog import CatalogError, format_validation_error, read_json

PROMPT_SLOT = "{prompt}"
PRESETS_DIR = Path(__file__).resolve().parents[3] / "presets"
DEFAULT_STYLES_PATH = PRESETS_DIR / "styles.json"
PREVIEWS_DIRNAME = "previews"
STYLE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"

# The aspect ratios are fixed by the catalog (pipelines.catalog.ASPECTS); these are
# the labels people see next to them.
ASPECT_LABELS: dict[str, str] = {
    "16:9": "16:9 Landscape",
    "1:1": "1:1 Square",
    "9:16": "9:16 Portrait",
}


class Style(BaseModel):
    """One style: a prompt template with exactly one {prompt} slot and a negative prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=STYLE_ID_PATTERN)
    name: str = Field(min_length=1, max_length=40)
    description: str = Field(min_length=1, max_length=200)
    template: str = Field(min_length=1, max_length=1000)
    negative_prompt: str = Field(default="", max_length=1000)
    preview: str = Field(min_length=1, max_length=100)

    @field_validator("description")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if "\n" in v:
            raise ValueError("description must be a single line")
        return v

    @field_validator("template")
    @classmethod
    def _one_slot(cls, v: str) -> str:
        count = v.count(PROMPT_SLOT)
        if count != 1:
            raise ValueError(f"template must contain {PROMPT_SLOT} exactly once (found {count})")
        return v

    @field_validator("preview")
    @classmethod
    def _plain_file_name(cls, v: str) -> str:
        if "/" in v or "\\" in v or v.startswith("."):
            raise ValueError("preview must be a plain file name inside presets/previews")
        return v

    def preview_path(self, presets_dir: str | Path = PRESETS_DIR) -> Path:
        return Path(presets_dir) / PREVIEWS_DIRNAME / self.preview


class _StyleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    styles: list[Style] = Field(min_length=1)


def load_styles(path: str | Path = DEFAULT_STYLES_PATH) -> list[Style]:
    """Read and check a styles file; any problem raises CatalogError naming file and key.

    Preview images are looked up next to the file (`<dir>/previews/<preview>`), so a
    copied presets folder stays self-contained.
    """
    path = Path(path)
    data = read_json(path)
    try:
        styles = _StyleFile.model_validate(data).styles
    except ValidationError as e:
        raise CatalogError(format_validation_error(path, e)) from e
    seen: set[str] = set()
    for i, style in enumerate(styles):
        if style.id in seen:
            raise CatalogError(f"{path}: invalid preset data\n  styles.{i}.id: duplicate style id {style.id!r}")
        seen.add(style.id)
        preview = style.preview_path(path.parent)
        if not preview.is_file():
            raise CatalogError(
                f"{path}: invalid preset data\n  styles.{i}.preview: preview image not found at {preview}"
            )
    return styles


def find_style(styles: list[Style], style_id: str) -> Style:
    for style in styles:
        if style.id == style_id:
            return style
    known = ", ".join(s.id for s in styles)
    raise ValueError(f"Unknown style {style_id!r}; choose one of: {known}")


def _comma_pieces(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def merge_negatives(*negatives: str) -> str:
    """Comma-join negative prompts, dropping empty pieces and case-insensitive repeats."""
    seen: set[str] = set()
    out: list[str] = []
    for negative in negatives:
        for piece in _comma_pieces(negative):
            key = piece.lower()
            if key not in seen:
                seen.add(key)
                out.append(piece)
    return ", ".join(out)


def apply_style(style: Style, prompt: str, negative_prompt: str = "") -> tuple[str, str]:
    """Return (styled prompt, combined negative prompt).

    The slot is filled with str.replace, never str.format: prompts may contain braces.
    The result may be longer than the 2000-character prompt limit; that limit is for
    what the user types, and the engine encodes long prompts in chunks.
    With a blank prompt the style's own words are returned (the demo model ignores
    the prompt anyway, and "render of , studio lighting" would help nobody).
    """
    prompt = prompt.strip()
    negative = merge_negatives(style.negative_prompt, negative_prompt)
    if prompt:
        return style.template.replace(PROMPT_SLOT, prompt), negative
    pieces = _comma_pieces(style.template.replace(PROMPT_SLOT, ""))
    pieces = [re.sub(r"\s+(of|with)$", "", p) for p in pieces]
    return ", ".join(p for p in pieces if p), negative

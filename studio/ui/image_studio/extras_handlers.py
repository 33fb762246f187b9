"""What Image Studio's prompt library and model comparison do, as plain functions of the
studio, the user and typed inputs; extras.py's callbacks only translate widgets and results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studio.services.generation.requests import StudioRequest
from studio.services.studio import Studio
from studio.ui.image_studio.handlers import StudioSettings
from studio.ui.shared.events import need
from studio.ui.shared.inputs import PaidButton, PanelInputs, widget_field

NO_SAVED_PROMPT = "Choose a saved prompt first."
NO_PROMPT_TO_DELETE = "Choose a saved prompt to delete."
COMPARE_ACTION = "Compare"


# ----- the prompt library ------------------------------------------------------------------
@dataclass(frozen=True)
class SavedPrompts:
    """The saved-prompts picker (choices and the chosen one) and the note beside it."""

    choices: list
    value: str | None
    note: str = ""


def prompt_choices(studio: Studio, user: str) -> list[tuple[str, str]]:
    return [(f"{p['name']} — {p['prompt'][:48]}", p["id"]) for p in studio.prompts.list(user)]


def save_prompt(studio: Studio, user: str, name: Any, settings: StudioSettings) -> SavedPrompts:
    """Save the panel's prompt and settings (not the seed) under a name."""
    studio.generation.check_settings(settings.model_id, settings.style_id, settings.aspect)
    doc = studio.prompts.save(user, name=name, prompt=settings.prompt, negative_prompt=settings.negative_prompt,
                              model_id=settings.model_id, style_id=settings.style_id, aspect=settings.aspect,
                              count=settings.count, enhance=settings.enhance)
    return SavedPrompts(prompt_choices(studio, user), doc["id"], f"Saved “{doc['name']}”.")


def use_prompt(studio: Studio, user: str, prompt_id: Any) -> StudioSettings:
    """A saved prompt's settings for the panel; model_id None: that model is gone, keep the
    current one (seed None: the panel's seed is not part of a saved prompt)."""
    doc = studio.prompts.get(user, prompt_id) if prompt_id else None
    doc = need(doc, NO_SAVED_PROMPT)
    model_id = doc["model_id"] if doc["model_id"] in studio.catalog.ids() else None
    return StudioSettings(model_id, doc.get("style_id") or "auto", doc["aspect"], doc["count"], doc["prompt"],
                          doc["enhance"], doc["negative_prompt"], None)


def delete_prompt(studio: Studio, user: str, prompt_id: Any) -> SavedPrompts:
    if not prompt_id or not studio.prompts.delete(user, prompt_id):
        need(None, NO_PROMPT_TO_DELETE)
    return SavedPrompts(prompt_choices(studio, user), None, "Deleted.")


# ----- comparing models ----------------------------------------------------------------------
@dataclass(frozen=True)
class CompareSettings(PanelInputs):
    """The comparison's inputs, in widget order (`inputs(compare=…, panel=…)`): the models
    to compare and the panel's settings they share."""

    model_ids: Any = widget_field("compare.models")
    style_id: Any = widget_field("panel.style")
    aspect: Any = widget_field("panel.aspect")
    count: Any = widget_field("panel.count")
    prompt: Any = widget_field("panel.prompt")
    enhance: Any = widget_field("panel.enhance")
    negative_prompt: Any = widget_field("panel.negative")
    seed: Any = widget_field("panel.seed")

    def request(self, user: str) -> StudioRequest:
        return StudioRequest(user=user, model_id="", style_id=self.style_id, aspect=self.aspect, count=self.count,
                             prompt=self.prompt, enhance=self.enhance, negative_prompt=self.negative_prompt,
                             seed=self.seed)


@dataclass(frozen=True)
class Compared:
    shown: list  # (path, "model · seed") gallery items
    balance: int
    note: str


def compare_cost(studio: Studio, user: str, settings: CompareSettings) -> PaidButton:
    """The comparison's total price, or why it can't run (the service's preflight)."""
    ids = list(settings.model_ids or [])
    preflight = studio.generation.preflight_compare(settings.request(user), ids)
    total = f"Total: **{preflight.cost} credits** for {len(ids)} models × {settings.count} image(s)."
    return PaidButton.from_preflight(preflight, COMPARE_ACTION, note_when_ok=total)


def compare(studio: Studio, user: str, settings: CompareSettings, *, progress=None, cancel=None) -> Compared:
    """One job per model (each charged as its own); what failed was refunded and is named."""
    done = studio.generation.compare(settings.request(user), settings.model_ids, progress=progress, cancel=cancel)
    shown = [(img.path, f"{img.details['model_name']} · seed {img.seed}") for r in done for img in r.images]
    note = f"Made {len(shown)} image(s) with {len(done)} model(s) for {sum(r.cost for r in done)} credits."
    if done.failures:
        note += " Not made (refunded): " + done.message
    return Compared(shown, studio.credits.balance(user), note)

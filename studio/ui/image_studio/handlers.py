"""What the Image Studio panel does, as plain functions of the studio, the user and its settings.

`StudioSettings` is the panel's one list of generation inputs, in widget order; the
callbacks in tab.py only turn widgets into it and the typed results back into widgets,
so unit tests call these directly (tests/test_ui_image_studio_handlers.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from studio.services.common.validation import InvalidRequest
from studio.services.generation.requests import StudioRequest
from studio.services.generation.stopping import JobStopped, Stopped, outcome_message
from studio.services.studio import Studio
from studio.ui.shared import formatting as fmt
from studio.ui.shared.downloads import named_copy, studio_download_name
from studio.ui.shared.inputs import PaidButton, PanelInputs, widget_field



@dataclass(frozen=True)
class StudioSettings(PanelInputs):
    """The panel's generation settings, in the order of its widgets (`inputs(panel=…)`)."""

    model_id: Any = widget_field("panel.model")
    style_id: Any = widget_field("panel.style")
    aspect: Any = widget_field("panel.aspect")
    count: Any = widget_field("panel.count")
    prompt: Any = widget_field("panel.prompt")
    enhance: Any = widget_field("panel.enhance")
    negative_prompt: Any = widget_field("panel.negative")
    seed: Any = widget_field("panel.seed")
    loras: Any = widget_field("loras.value", default=())  # the LoRA picker's (name, weight) pairs
    enhancer: Any = widget_field("panel.enhancer", default=None)  # None: the studio's default enhancer

    def request(self, user: str) -> StudioRequest:
        return StudioRequest(user=user, model_id=self.model_id, style_id=self.style_id, aspect=self.aspect,
                             count=self.count, prompt=self.prompt, enhance=self.enhance, enhancer=self.enhancer,
                             negative_prompt=self.negative_prompt, seed=self.seed, loras=self.loras or (),
                             image_by_image=True)  # a Cancel keeps the images already made


@dataclass(frozen=True)
class RequestState:
    """The prompt's character count and Generate's price and state."""

    counter: str
    button: PaidButton


@dataclass(frozen=True)
class Picked:
    """A result's details and a download copy named for people (None: nothing picked)."""

    details: str
    download: str | None


@dataclass(frozen=True)
class Generated:
    """A finished job as the panel shows it."""

    shown: list  # (path, caption) gallery items
    job: dict  # the job summary (the hidden JSON output)
    balance: int
    items: list  # each image's details with its path, for picking
    picked: Picked  # the first image, picked
    prompt: str  # what was sent (the enhanced prompt when enhancing)
    enhancer: str = ""  # which enhancer wrote it ("" when not enhanced)
    stopped: Stopped | None = None  # a Cancel ended it part-way
    note: str = ""  # the line under Cancel: what a cancel did ("" clears the last one)


@dataclass(frozen=True)
class EnhancedView:
    """The enhanced-prompt box: shown while Enhance is on, labelled with the enhancer that ran."""

    visible: bool
    value: str = ""
    label: str = ""


def download_for(studio: Studio, user: str, item: dict) -> str:
    return named_copy(studio.exports_dir, user, Path(item["path"]).stem, item["path"], studio_download_name(item))


def request_state(studio: Studio, user: str, settings: StudioSettings) -> RequestState:
    """The counter and Generate's price and state (the service's preflight, asked on every change)."""
    # The page's own widgets: an unticked box may arrive as None, an emptied textbox as None.
    typed = replace(settings, enhance=bool(settings.enhance), negative_prompt=settings.negative_prompt or "")
    preflight = studio.generation.preflight(typed.request(user))
    return RequestState(fmt.prompt_counter(settings.prompt), PaidButton.from_preflight(preflight))


def generate(studio: Studio, user: str, settings: StudioSettings, *, progress=None, cancel=None) -> Generated:
    """Run the job (charged first, refunded on failure by the service). A Cancel keeps the
    images already made (shown) and says how many and what came back."""
    try:
        result = studio.generation.generate(settings.request(user), progress=progress, cancel=cancel)
    except JobStopped as exc:  # nothing made, all refunded: an empty result that says so
        return Generated([], {}, studio.credits.balance(user), [], Picked(fmt.details_markdown(None), None),
                         str(settings.prompt or ""), stopped=exc.stopped, note=exc.stopped.message)
    job = {
        "job_id": result.job_id, "cost": result.cost, "balance": result.balance, "prompt": result.prompt,
        "elapsed_s": round(result.elapsed_s, 3), "images": [img.details for img in result.images],
    }
    items = [img.details | {"path": img.path} for img in result.images]
    shown = [(img.path, fmt.image_caption(img.details)) for img in result.images]
    first = Picked(fmt.details_markdown(result.images[0].details), download_for(studio, user, items[0]))
    note = outcome_message(result.stopped, cancel is not None and cancel.cancelled)
    return Generated(shown, job, result.balance, items, first, result.prompt, result.images[0].details.get("enhancer", ""),
                     result.stopped, note)


def preview_enhanced(studio: Studio, on: Any, text: Any, style_id: Any, enhancer: Any = None,
                     progress=None) -> EnhancedView:
    """What Enhance will send, by which enhancer; an empty or too long prompt shows nothing
    here (the reason line beside Generate already says why)."""
    if not on:
        return EnhancedView(False)
    try:
        done = studio.generation.enhance(text, style_id, enhancer, progress)
    except InvalidRequest:
        return EnhancedView(True)
    return EnhancedView(True, done.prompt, fmt.enhanced_label(done.label))


def select_result(studio: Studio, user: str, items: list | None, index: int | None) -> Picked:
    if not items or index is None or index >= len(items):
        return Picked(fmt.details_markdown(None), None)
    item = items[index]
    return Picked(fmt.details_markdown(item), download_for(studio, user, item))


def describe_model(studio: Studio, model_id: str) -> str:
    return fmt.model_card(studio.catalog.get(model_id), studio.is_downloaded(model_id))


def describe_style(studio: Studio, style_id: str) -> str:
    return studio.generation.style(style_id).description

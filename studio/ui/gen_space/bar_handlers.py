"""What the generation bar does, as plain functions of the studio, the user and its settings.

`ShotSettings` is the bar's one list of inputs (model, count, prompt … reference
strength), in widget order. The handlers take it typed and return typed results; the
Gradio callbacks in settings.py only turn widgets into these and results into widgets,
so every rule here runs the same in a unit test as behind a click.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studio.services.gen_space.shot_generation import reference_mode
from studio.services.generation.requests import References, StudioRequest
from studio.services.generation.stopping import JobStopped, outcome_message
from studio.services.studio import Studio
from studio.ui.gen_space import view
from studio.ui.gen_space.navigator_handlers import NO_SHOT
from studio.ui.gen_space.queries import SpaceQueries
from studio.ui.shared import formatting as fmt
from studio.ui.shared.events import need
from studio.ui.shared.inputs import JobDone, PaidButton, PanelInputs, widget_field

NO_BATCH_SHOTS = "Choose the shots to generate for first."
BATCH_ACTION = "Generate for chosen shots"
CHOOSE_BATCH = "Choose shots to see the cost."
NO_REFERENCE_PICKED = "Click a reference image first, then remove it."


@dataclass(frozen=True)
class ShotSettings(PanelInputs):
    """The generation bar's settings, in the order of its widgets (`inputs(settings=…)`)."""

    model_id: Any = widget_field("settings.model")
    count: Any = widget_field("settings.count")
    prompt: Any = widget_field("settings.prompt")
    enhance: Any = widget_field("settings.enhance")
    style_id: Any = widget_field("settings.style")
    aspect: Any = widget_field("settings.aspect")
    seed: Any = widget_field("settings.seed")
    reference_ids: Any = widget_field("settings.ref_ids")
    ip_adapter_scale: Any = widget_field("settings.scale")
    strength: Any = widget_field("settings.strength")
    loras: Any = widget_field("settings.loras.value", default=())  # the LoRA picker's (name, weight) pairs

    def request(self, user: str) -> StudioRequest:
        """The typed request the Gen Space service prices and runs."""
        refs = References(asset_ids=tuple(self.reference_ids or ()), ip_adapter_scale=self.ip_adapter_scale,
                          strength=self.strength)
        return StudioRequest(user=user, model_id=self.model_id, count=self.count, prompt=self.prompt,
                             style_id=self.style_id, aspect=self.aspect, enhance=bool(self.enhance), seed=self.seed,
                             references=refs, loras=self.loras or (),
                             image_by_image=True)  # a Cancel keeps the images already made


@dataclass(frozen=True)
class ShotCost:
    """Generate's price and state for the selected shot, and the prompt's character count."""

    button: PaidButton
    counter: str


@dataclass(frozen=True)
class ReferenceStrip:
    """The project's reference images as the bar shows them (thumbnails and their ids)."""

    paths: list
    ids: list
    selected: int | None = None


def shot_cost(studio: Studio, user: str, shot_id: str | None, settings: ShotSettings) -> ShotCost:
    """What Generate costs for this shot and whether it can run (the service's preflight)."""
    button = PaidButton.from_preflight(studio.gen_space.preflight_for_shot(shot_id, settings.request(user)))
    if not shot_id:
        button = button.blocked(NO_SHOT)
    return ShotCost(button, fmt.prompt_counter(settings.prompt))


def batch_cost(studio: Studio, user: str, shot_ids: list | None, settings: ShotSettings) -> PaidButton:
    """The consistency flow's price for the chosen shots."""
    if not shot_ids:
        return PaidButton(BATCH_ACTION, False, CHOOSE_BATCH)
    preflight = studio.gen_space.preflight_batch(list(shot_ids), settings.request(user))
    return PaidButton.from_preflight(preflight, BATCH_ACTION,
                                     note_when_ok=f"{len(shot_ids)} shot(s) × {settings.count} image(s).")


def generate_for_shot(studio: Studio, user: str, shot_id: str | None, settings: ShotSettings, *,
                      progress=None, cancel=None) -> JobDone:
    """Generate for the selected shot: the images join its results, the price is charged."""
    shot_id = need(shot_id, NO_SHOT)
    try:
        result = studio.gen_space.generate_for_shot(shot_id, settings.request(user), progress=progress, cancel=cancel)
    except JobStopped as exc:  # nothing made, all refunded
        return JobDone(exc.stopped.message, studio.credits.balance(user), stopped=exc.stopped)
    shot = studio.shots.get(user, shot_id)
    status = f"{len(result.images)} image(s) for **{shot['name']}** · {result.cost} credits"
    if settings.reference_ids and reference_mode(studio.catalog.get(settings.model_id)) is None:
        status += " · this model ignored the reference images"
    # After a Cancel the line says what it did (the same line the Cancel button answers with).
    status = outcome_message(result.stopped, _cancelled(cancel)) or status
    return JobDone(status, result.balance, stopped=result.stopped)


def generate_batch(studio: Studio, user: str, shot_ids: list | None, settings: ShotSettings, *,
                   progress=None, cancel=None) -> JobDone:
    """The same settings for several shots, each described by its own description."""
    shot_ids = need(shot_ids, NO_BATCH_SHOTS)
    try:
        results = studio.gen_space.generate_batch(list(shot_ids), settings.request(user), progress=progress,
                                                  cancel=cancel, prompt_from_shot=True)
    except JobStopped as exc:  # stopped before any shot made an image
        return JobDone(exc.stopped.message, studio.credits.balance(user), stopped=exc.stopped)
    done = ", ".join(f"{studio.shots.get(user, sid)['name']}: {len(r.images)}" for sid, r in results)
    status = f"Done · {done} image(s) · {sum(r.cost for _, r in results)} credits"
    status = outcome_message(results.stopped, _cancelled(cancel)) or status
    warning = results.message if results.failures else None  # what was made stays; the rest was refunded
    return JobDone(status, studio.credits.balance(user), warning, stopped=results.stopped)


def _cancelled(cancel) -> bool:
    return cancel is not None and cancel.cancelled


def remove_reference(studio: Studio, user: str, project_id: str | None, reference_ids: list | None,
                     index: int | None) -> ReferenceStrip:
    """Take the clicked reference off the project's list."""
    q = SpaceQueries(studio)
    pid = q.project(user, project_id)
    if index is None or index >= len(reference_ids or []):
        need(None, NO_REFERENCE_PICKED)
    studio.assets.remove_reference(user, pid, reference_ids[index])
    return ReferenceStrip(*q.references(user, pid))


def clear_references(studio: Studio, user: str, project_id: str | None) -> ReferenceStrip:
    q = SpaceQueries(studio)
    pid = q.project(user, project_id)
    studio.assets.clear_references(user, pid)
    return ReferenceStrip(*q.references(user, pid))


def batch_choices(studio: Studio, user: str, project_id: str | None, selected: list | None) -> tuple[list, list]:
    """The project's shots as batch choices, and which of the chosen ones still exist."""
    shots = studio.shots.list(user, SpaceQueries(studio).project(user, project_id))
    keep = [x["id"] for x in shots if x["id"] in (selected or [])]
    return [(f"{x['name']} · {view.TYPE_LABEL[x['type']]}", x["id"]) for x in shots], keep


def shots_of_type(studio: Studio, user: str, project_id: str | None, shot_type: str | None) -> list[str]:
    if not shot_type:
        return []
    return [x["id"] for x in studio.shots.list(user, SpaceQueries(studio).project(user, project_id), shot_type)]

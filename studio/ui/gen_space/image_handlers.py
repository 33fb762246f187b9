"""What the middle area does: the results and library lists, and the picked image's actions.

Plain functions of the studio, the user and typed inputs, returning typed results; the
callbacks in panels.py only translate widgets to these and back, so unit tests call
them directly (tests/test_ui_gen_space_handlers.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studio.services.gen_space import deletions
from studio.services.generation.service import user_subdir
from studio.services.studio import Studio
from studio.ui.gen_space import view
from studio.ui.gen_space.bar_handlers import ReferenceStrip
from studio.ui.gen_space.queries import LIBRARY_LIST, LIBRARY_PAGE, RESULTS_LIST, SpaceQueries
from studio.ui.shared import paged
from studio.ui.shared.events import need
from studio.ui.shared.inputs import JobDone, PaidButton, PanelInputs, widget_field
from studio.ui.shared.paged import Loaded

NO_IMAGE = "Click an image in the results or the asset library first."
NO_TARGET_SHOT = "Select the shot to apply the image to."
EDIT_ACTION = "Edit by prompt"
RESULTS_PAGE = LIBRARY_PAGE  # a shot's results shown before "Load more"


@dataclass(frozen=True)
class PickedImage:
    """The image picked in either gallery: its id, file, details and a download copy."""

    asset_id: str | None
    path: str | None
    details: str
    download: str | None  # a copy named for people; None hides the button


NOTHING_PICKED = PickedImage(None, None, view.asset_details_markdown(None), None)


@dataclass(frozen=True)
class EditSettings(PanelInputs):
    """Edit by prompt's inputs, in widget order (`inputs(panel=…, nav=…, settings=…)`)."""

    asset_id: Any = widget_field("panel.selected")
    shot_id: Any = widget_field("nav.shot_id")
    model_id: Any = widget_field("settings.model")
    prompt: Any = widget_field("panel.edit_prompt")
    strength: Any = widget_field("panel.edit_strength")


@dataclass(frozen=True)
class Edited:
    picked: PickedImage
    done: JobDone


@dataclass(frozen=True)
class ShotCards:
    """The navigator after a shot changed: its cards, their ids and the shot's header."""

    cards: list
    ids: list
    header: str


@dataclass(frozen=True)
class Galleries:
    """The shot's results and the library as loaded so far, and the shot's header."""

    results: Loaded
    library: Loaded
    header: str


# ----- the two lists --------------------------------------------------------------------
def _results(studio: Studio, user: str, shot_id: str | None):
    q = SpaceQueries(studio)
    return lambda limit, cursor: q.results_page(user, shot_id, limit, cursor)


def _library(studio: Studio, user: str, project_id: str, shot_id: str | None, how: str):
    q = SpaceQueries(studio)
    return lambda limit, cursor: q.library_page(user, project_id, shot_id, how, limit, cursor)


def galleries(studio: Studio, user: str, project_id: str | None, shot_id: str | None, how: str,
              results_shown: Loaded | None = None, library_shown: Loaded | None = None) -> Galleries:
    """Both lists from the newest; the same list keeps as many entries as it showed (a
    refresh after a job or a delete), another shot or filter starts at one page."""
    q = SpaceQueries(studio)
    pid = q.project(user, project_id)
    results = paged.load_first(_results(studio, user, shot_id), q.gallery_items, ("results", shot_id),
                               RESULTS_PAGE, results_shown, RESULTS_LIST)
    library = paged.load_first(_library(studio, user, pid, shot_id, how), q.gallery_items,
                               ("library", pid, shot_id if how == "shot" else None, how), LIBRARY_PAGE,
                               library_shown, LIBRARY_LIST)
    shot = studio.shots.get(user, shot_id) if shot_id else None
    return Galleries(results, library, view.shot_header(shot))


def more_results(studio: Studio, user: str, shot_id: str | None, shown: Loaded) -> Loaded:
    """The shot's results shown so far and the page after them (the store's cursor)."""
    return paged.load_more(_results(studio, user, shot_id), SpaceQueries(studio).gallery_items, shown, RESULTS_PAGE)


def more_library(studio: Studio, user: str, project_id: str | None, shot_id: str | None, how: str,
                 shown: Loaded) -> Loaded:
    q = SpaceQueries(studio)
    fetch = _library(studio, user, q.project(user, project_id), shot_id, how)
    return paged.load_more(fetch, q.gallery_items, shown, LIBRARY_PAGE)


# ----- the picked image --------------------------------------------------------------------
def picked(studio: Studio, user: str, asset_id: str) -> PickedImage:
    details, markdown, copy = SpaceQueries(studio).picked(user, asset_id)
    return PickedImage(details["id"], details["path"], markdown, copy)


def pick(studio: Studio, user: str, ids: list | tuple, index: int | None) -> PickedImage:
    """The image at `index` of a gallery showing `ids`."""
    if index is None or index >= len(ids):
        return NOTHING_PICKED
    return picked(studio, user, ids[index])


def use_as_reference(studio: Studio, user: str, project_id: str | None, asset_id: str | None) -> ReferenceStrip:
    q = SpaceQueries(studio)
    pid = q.project(user, project_id)
    studio.assets.add_reference(user, pid, need(asset_id, NO_IMAGE))
    return ReferenceStrip(*q.references(user, pid))


def apply_to_shot(studio: Studio, user: str, project_id: str | None, shot_id: str | None, asset_id: str | None,
                  shot_filter: str | None) -> ShotCards:
    """Make the picked image the shot's applied image (its card and the storyboard show it)."""
    q = SpaceQueries(studio)
    pid = q.project(user, project_id)
    need(asset_id, NO_IMAGE)
    shot = studio.shots.apply_asset(user, need(shot_id, NO_TARGET_SHOT), asset_id)
    cards, ids = q.navigator(user, pid, shot_filter)
    return ShotCards(cards, ids, view.shot_header(shot))


def image_deletion(studio: Studio, user: str, asset_id: str | None):
    """What deleting the picked image takes with it (asked before the person confirms)."""
    return deletions.image_deletion(studio.store, user, need(asset_id, NO_IMAGE))


def delete_picked(studio: Studio, user: str, asset_id: str | None, confirmed: bool) -> PickedImage:
    """Delete the picked image (only once confirmed); nothing is picked after."""
    studio.assets.delete(user, need(asset_id, NO_IMAGE), confirm=bool(confirmed))
    return NOTHING_PICKED


def transform(studio: Studio, user: str, asset_id: str | None, op: str, **params) -> PickedImage:
    """Rotate, flip or crop: a new image, which becomes the picked one."""
    new = studio.assets.edit_transform(user, need(asset_id, NO_IMAGE), op, **params)
    return picked(studio, user, new["id"])


def edit_cost(studio: Studio, user: str, edit: EditSettings) -> PaidButton:
    """Edit by prompt's price and whether it can run (the service's preflight)."""
    preflight = studio.gen_space.preflight_edit(user, edit.asset_id, prompt=edit.prompt, model_id=edit.model_id,
                                                strength=edit.strength, shot_id=edit.shot_id)
    button = PaidButton.from_preflight(preflight, EDIT_ACTION)
    return button if edit.asset_id else button.blocked(NO_IMAGE)


def edit_by_prompt(studio: Studio, user: str, edit: EditSettings, *, progress=None, cancel=None) -> Edited:
    """A new image from the picked one by prompt (image-to-image); it becomes the picked one."""
    asset_id = need(edit.asset_id, NO_IMAGE)
    result = studio.gen_space.edit_with_prompt(user, asset_id, prompt=edit.prompt, model_id=edit.model_id,
                                               strength=edit.strength, shot_id=edit.shot_id, progress=progress,
                                               cancel=cancel)
    status = f"Edited · {result.cost} credits"
    return Edited(picked(studio, user, result.images[0].asset_id), JobDone(status, result.balance))


# ----- uploads, the storyboard, and the lists a delete changes ---------------------------------
NO_UPLOAD = "Choose an image file to upload."


@dataclass(frozen=True)
class Exported:
    """The storyboard's ZIP and contact sheet, and the storyboard as shown after it."""

    zip_path: str
    sheet_path: str
    board: list


def upload(studio: Studio, user: str, project_id: str | None, path: str | None) -> dict:
    """Add an image file (a path the upload landed at) to the open project's library."""
    path = need(path, NO_UPLOAD)
    pid = SpaceQueries(studio).project(user, project_id)
    return dict(studio.assets.upload(user, pid, path, original_name=path.rsplit("/", 1)[-1]))


def storyboard(studio: Studio, user: str, project_id: str | None) -> list:
    """The shots in order with their applied images, as gallery items."""
    pid = SpaceQueries(studio).project(user, project_id)
    return view.storyboard_items(studio, user, studio.shots.list(user, pid))


NOTHING_TO_EXPORT = ("No shot has an image yet, so the export would be empty grey tiles. Pick an image and "
                     "click Apply to shot first.")


def export_storyboard(studio: Studio, user: str, project_id: str | None) -> Exported:
    """The ZIP and contact sheet; refused (a toast) while no shot has an applied image."""
    pid = SpaceQueries(studio).project(user, project_id)
    shots = studio.shots.list(user, pid)
    if shots and not any(s.get("applied_asset_id") for s in shots):
        need(None, NOTHING_TO_EXPORT)
    zip_path, sheet = studio.storyboard.export_storyboard(user, pid, out_dir=studio.exports_dir / user_subdir(user))
    return Exported(str(zip_path), str(sheet), storyboard(studio, user, pid))


def after_delete(studio: Studio, user: str, project_id: str | None,
                 shot_filter: str | None) -> tuple[ShotCards, ReferenceStrip]:
    """The shot cards (an applied image may be gone) and the references (it may have been one)."""
    q = SpaceQueries(studio)
    pid = q.project(user, project_id)
    cards, ids = q.navigator(user, pid, shot_filter)
    return ShotCards(cards, ids, ""), ReferenceStrip(*q.references(user, pid))

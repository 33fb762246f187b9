"""What the project bar and the shot navigator do, as plain functions of the studio and the user.

The two shot forms declare their inputs once (`NewShot`, `ShotEdit`, fields in widget
order); the callbacks in shots.py only translate widgets to these and results back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studio.services.gen_space import deletions
from studio.services.studio import Studio
from studio.ui.gen_space import view
from studio.ui.gen_space.queries import SpaceQueries
from studio.ui.shared.events import need
from studio.ui.shared.inputs import PanelInputs, widget_field

NO_SHOT = "Select a shot in the navigator first (or add one with New shot)."
GONE_SHOT = "That shot is no longer in the list."


@dataclass(frozen=True)
class NewShot(PanelInputs):
    """The "New shot" form, in widget order (`inputs(bar=…, nav=…)`)."""

    project_id: Any = widget_field("bar.project")
    type: Any = widget_field("nav.new_type")
    name: Any = widget_field("nav.new_name")
    description: Any = widget_field("nav.new_desc")
    shot_filter: Any = widget_field("nav.filter")


@dataclass(frozen=True)
class ShotEdit(PanelInputs):
    """The "Edit the selected shot" form, in widget order (`inputs(nav=…)`)."""

    shot_id: Any = widget_field("nav.shot_id")
    type: Any = widget_field("nav.edit_type")
    name: Any = widget_field("nav.edit_name")
    description: Any = widget_field("nav.edit_desc")
    shot_filter: Any = widget_field("nav.filter")


@dataclass(frozen=True)
class Cards:
    """The navigator's shot cards and their ids, in order."""

    cards: list
    ids: list


@dataclass(frozen=True)
class Opened:
    """The navigator after the open shot changed: the cards, the shot (None: none open) and
    its header."""

    cards: Cards
    shot: dict | None
    header: str


@dataclass(frozen=True)
class Projects:
    """The project picker's choices and the project to open."""

    choices: list
    value: str


def _cards(studio: Studio, user: str, project_id: str, shot_filter: str | None) -> Cards:
    return Cards(*SpaceQueries(studio).navigator(user, project_id, shot_filter))


def open_project(studio: Studio, user: str, project_id: str | None, shot_filter: str | None) -> Opened:
    pid = SpaceQueries(studio).project(user, project_id)
    return Opened(_cards(studio, user, pid, shot_filter), None, view.shot_header(None))


def _projects(studio: Studio, user: str, value: str) -> Projects:
    return Projects(SpaceQueries(studio).project_choices(user), value)


def create_project(studio: Studio, user: str, name: Any) -> Projects:
    return _projects(studio, user, studio.projects.create(user, name)["id"])


def rename_project(studio: Studio, user: str, project_id: str | None, name: Any) -> Projects:
    doc = studio.projects.rename(user, SpaceQueries(studio).project(user, project_id), name)
    return _projects(studio, user, doc["id"])


def delete_project(studio: Studio, user: str, project_id: str | None, confirmed: Any) -> Projects:
    """Delete the open project (only with the box ticked); the default one opens."""
    studio.projects.delete(user, SpaceQueries(studio).project(user, project_id), confirm=bool(confirmed))
    return _projects(studio, user, studio.projects.ensure_default(user)["id"])


def project_deletion(studio: Studio, user: str, project_id: str | None):
    """What deleting the open project takes with it (asked before the person confirms)."""
    return deletions.project_deletion(studio.store, user, SpaceQueries(studio).project(user, project_id))


def shot_deletion(studio: Studio, user: str, shot_id: str | None):
    return deletions.shot_deletion(studio.store, user, need(shot_id, NO_SHOT))


def select_shot(studio: Studio, user: str, ids: list | None, index: int | None) -> dict:
    """The shot whose card was clicked."""
    if index is None or index >= len(ids or []):
        need(None, GONE_SHOT)
    return studio.shots.get(user, ids[index])


def create_shot(studio: Studio, user: str, new: NewShot) -> Opened:
    """Add a shot to the open project; it becomes the open shot."""
    pid = SpaceQueries(studio).project(user, new.project_id)
    shot = studio.shots.create(user, pid, type=new.type, name=new.name, description=new.description or "")
    return Opened(_cards(studio, user, pid, new.shot_filter), shot, view.shot_header(shot))


def update_shot(studio: Studio, user: str, edit: ShotEdit) -> Opened:
    shot = studio.shots.update(user, need(edit.shot_id, NO_SHOT), name=edit.name, description=edit.description,
                               type=edit.type)
    return Opened(_cards(studio, user, shot["project_id"], edit.shot_filter), shot, view.shot_header(shot))


def move_shot(studio: Studio, user: str, project_id: str | None, shot_id: str | None, direction: str,
              shot_filter: str | None) -> Cards:
    studio.shots.move(user, need(shot_id, NO_SHOT), direction)
    return _cards(studio, user, SpaceQueries(studio).project(user, project_id), shot_filter)


def delete_shot(studio: Studio, user: str, project_id: str | None, shot_id: str | None,
                shot_filter: str | None) -> Opened:
    studio.shots.delete(user, need(shot_id, NO_SHOT))
    return open_project(studio, user, project_id, shot_filter)


def filter_shots(studio: Studio, user: str, project_id: str | None, shot_filter: str | None) -> Cards:
    return _cards(studio, user, SpaceQueries(studio).project(user, project_id), shot_filter)


@dataclass(frozen=True)
class Space:
    """Gen Space as it opens: the projects (the remembered one open when it is still
    there, else the default), its shot cards and its references (thumbnails and ids)."""

    projects: Projects
    cards: Cards
    reference_paths: list
    reference_ids: list


def open_space(studio: Studio, user: str, remembered: str | None) -> Space:
    q = SpaceQueries(studio)
    choices = q.project_choices(user)
    known = {pid for _, pid in choices}
    pid = remembered if remembered in known else q.project(user, None)
    if pid not in known:  # the default project was just made
        choices = q.project_choices(user)
    return Space(Projects(choices, pid), _cards(studio, user, pid, "all"), *q.references(user, pid))

"""What a delete takes with it, in one sentence, asked before the person confirms.

A confirmation that only says "Are you sure?" is clicked through; one that says what else
goes (a project's shots and images, the shot an image was applied to) lets the person stop
in time. Read from the store, so the sentence matches what the delete will do; the deletes
themselves stay in their services (shots.py, projects.py, assets.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.services.common.ids import ASSETS, PROJECTS, REFERENCE_LISTS, SHOTS, check_user, owned
from studio.store.base import Store


@dataclass(frozen=True)
class Deletion:
    """The question asked before, and the sentence shown after, one delete."""

    question: str
    done: str


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one}" if n == 1 else f"{n} {many or one + 's'}"


def _names(shots: list) -> str:
    return ", ".join(f"“{s['name']}”" for s in shots)


def shot_deletion(store: Store, user: str, shot_id: str) -> Deletion:
    """A shot goes alone: its images stay in the project's library, no longer tied to it."""
    check_user(user)
    with store.transaction() as tx:
        shot = owned(tx, SHOTS, shot_id, user, "shot")
        images = tx.find(ASSETS, owner=user, shot_id=shot_id)
    applied = " and its storyboard frame" if shot.get("applied_asset_id") else ""
    stay = "stays" if len(images) == 1 else "stay"
    kept = (f" Its {_count(len(images), 'image')} {stay} in the project's asset library, no longer tied to a shot."
            if images else "")
    return Deletion(f"Delete the shot “{shot['name']}”{applied}?{kept}",
                    f"Deleted the shot “{shot['name']}”{applied}.{kept.replace(f' {stay} ', ' stayed ')}")


def project_deletion(store: Store, user: str, project_id: str) -> Deletion:
    """A project takes its shots, images (files too) and reference list."""
    check_user(user)
    with store.transaction() as tx:
        project = owned(tx, PROJECTS, project_id, user, "project")
        shots = tx.find(SHOTS, owner=user, project_id=project_id)
        images = tx.find(ASSETS, owner=user, project_id=project_id)
    what = f"“{project['name']}” with its {_count(len(shots), 'shot')} and {_count(len(images), 'image')}"
    return Deletion(f"Delete the project {what}? They are removed for good.", f"Deleted the project {what}.")


def image_deletion(store: Store, user: str, asset_id: str) -> Deletion:
    """An image is removed for good; the shots it was applied to lose their picture, and it
    leaves the references."""
    check_user(user)
    with store.transaction() as tx:
        owned(tx, ASSETS, asset_id, user, "image")
        applied = tx.find(SHOTS, owner=user, applied_asset_id=asset_id)
        referenced = tx.find_containing(REFERENCE_LISTS, "asset_ids", asset_id, owner=user)
    also = []
    if applied:
        also.append(f"{'shot' if len(applied) == 1 else 'shots'} {_names(applied)} "
                    f"{'loses its' if len(applied) == 1 else 'lose their'} applied image")
    if referenced:
        also.append("it leaves the references")
    tail = f" Also: {'; '.join(also)}." if also else ""
    return Deletion("Delete this image for good?" + tail, "Deleted the image." + tail.replace("loses", "lost")
                    .replace("lose ", "lost ").replace("leaves", "left"))

"""Shot elements of a Gen Space project: the characters, scenes and props of a story.

A shot keeps its place in the storyboard (`order`), the starting prompt
(`description`), the image the user applied to it (`applied_asset_id`) and the images
generated for it (`history`, newest last). Every operation checks that the shot (and
the project, and any asset) belongs to the caller and validates everything before it
writes, inside one store transaction: a refused call changes nothing.

Deleting a shot keeps its images in the asset library (they may be references or
applied elsewhere); their `shot_id` is cleared so no record points at a shot that is
gone.
"""

from __future__ import annotations

from typing import Any, Iterable

from pipelines.params import MAX_PROMPT_CHARS
from studio.services.common import validation as v
from studio.services.common.ids import ASSETS, PROJECTS, SHOTS, check_id, check_user, now, owned
from studio.services.generation.requests import InvalidRequest
from studio.store.base import Doc, Store
from studio.store.records import insert_record, update_record

SHOT_TYPES = ("character", "scene", "prop")
MAX_SHOT_NAME = 80
MAX_DESCRIPTION = MAX_PROMPT_CHARS  # the description is the shot's starting prompt


def check_shot_type(value: Any) -> str:
    if not isinstance(value, str) or value not in SHOT_TYPES:
        raise InvalidRequest(f"Shot type must be one of {', '.join(SHOT_TYPES)}.")
    return value


def check_shot_name(value: Any) -> str:
    if value is not None and not isinstance(value, str):
        raise InvalidRequest("The shot name must be text.")
    return v.required_text(value, "The shot name", max_chars=MAX_SHOT_NAME, empty="Give the shot a name.")


def check_description(value: Any) -> str:
    return v.optional_text(value, "The shot description", max_chars=MAX_DESCRIPTION)


def ordered(shots: Iterable[Doc]) -> list[Doc]:
    """Shots in storyboard order (ties, which only old data could have, by creation)."""
    return sorted(shots, key=lambda s: (s.get("order", 0), s.get("created", "")))


class ShotService:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ----- reading ---------------------------------------------------------------
    def get(self, user: str, shot_id: str) -> Doc:
        return owned(self.store, SHOTS, shot_id, user, "shot")

    def list(self, user: str, project_id: str, type_filter: str | None = None) -> list[Doc]:
        """The project's shots in order; `type_filter` keeps only characters, scenes or props."""
        if type_filter is not None:
            check_shot_type(type_filter)
        with self.store.transaction() as tx:
            owned(tx, PROJECTS, project_id, user, "project")
            shots = tx.find(SHOTS, owner=user, project_id=project_id)
        if type_filter is not None:
            shots = [s for s in shots if s["type"] == type_filter]
        return ordered(shots)

    # ----- changing --------------------------------------------------------------
    def create(self, user: str, project_id: str, *, type: str, name: str, description: str = "") -> Doc:
        """A new shot at the end of the project's storyboard."""
        doc = {
            "owner": check_user(user),
            "type": check_shot_type(type),
            "name": check_shot_name(name),
            "description": check_description(description),
            "applied_asset_id": None,
            "history": [],
        }
        with self.store.transaction() as tx:
            owned(tx, PROJECTS, project_id, user, "project")
            siblings = tx.find(SHOTS, owner=user, project_id=project_id)
            stamp = now()
            return insert_record(tx, SHOTS, {
                    **doc,
                    "project_id": project_id,
                    "order": max((s.get("order", 0) for s in siblings), default=-1) + 1,
                    "created": stamp,
                    "updated": stamp,
                },
            )

    def update(
        self,
        user: str,
        shot_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        type: str | None = None,
    ) -> Doc:
        """Change any of name, description and type; fields left as None stay as they are."""
        fields: Doc = {}
        if name is not None:
            fields["name"] = check_shot_name(name)
        if description is not None:
            fields["description"] = check_description(description)
        if type is not None:
            fields["type"] = check_shot_type(type)
        with self.store.transaction() as tx:
            owned(tx, SHOTS, shot_id, user, "shot")
            if not fields:
                return tx.get(SHOTS, shot_id)
            return update_record(tx, SHOTS, shot_id, {**fields, "updated": now()})

    def reorder(self, user: str, project_id: str, ordered_ids: list[str]) -> list[Doc]:
        """Put the project's shots in the given order; it must name each shot exactly once."""
        if not isinstance(ordered_ids, (list, tuple)):
            raise InvalidRequest("The new order must be a list of shot ids.")
        ids = [check_id(i, "shot") for i in ordered_ids]
        with self.store.transaction() as tx:
            owned(tx, PROJECTS, project_id, user, "project")
            current = {s["id"] for s in tx.find(SHOTS, owner=user, project_id=project_id)}
            if len(ids) != len(set(ids)) or set(ids) != current:
                raise InvalidRequest("The new order must list each shot of the project exactly once.")
            return self._renumber(tx, ids)

    def move(self, user: str, shot_id: str, direction: str) -> list[Doc]:
        """Move a shot one place "up" (earlier) or "down" (later); at either end nothing moves."""
        if direction not in ("up", "down"):
            raise InvalidRequest("Move a shot up or down.")
        with self.store.transaction() as tx:
            shot = owned(tx, SHOTS, shot_id, user, "shot")
            ids = [s["id"] for s in ordered(tx.find(SHOTS, owner=user, project_id=shot["project_id"]))]
            i = ids.index(shot_id)
            j = i - 1 if direction == "up" else i + 1
            if 0 <= j < len(ids):
                ids[i], ids[j] = ids[j], ids[i]
            return self._renumber(tx, ids)

    def delete(self, user: str, shot_id: str) -> None:
        """Remove the shot; its images stay in the project's library, detached from it."""
        with self.store.transaction() as tx:
            owned(tx, SHOTS, shot_id, user, "shot")
            for asset in tx.find(ASSETS, owner=user, shot_id=shot_id):
                update_record(tx, ASSETS, asset["id"], {"shot_id": None})
            tx.delete(SHOTS, shot_id)

    def apply_asset(self, user: str, shot_id: str, asset_id: str) -> Doc:
        """Make `asset_id` the shot's image (what the storyboard shows)."""
        with self.store.transaction() as tx:
            owned(tx, SHOTS, shot_id, user, "shot")
            owned(tx, ASSETS, asset_id, user, "image")
            return update_record(tx, SHOTS, shot_id, {"applied_asset_id": asset_id, "updated": now()})

    def clear_applied(self, user: str, shot_id: str) -> Doc:
        with self.store.transaction() as tx:
            owned(tx, SHOTS, shot_id, user, "shot")
            return update_record(tx, SHOTS, shot_id, {"applied_asset_id": None, "updated": now()})

    def add_to_history(self, user: str, shot_id: str, asset_ids: list[str]) -> Doc:
        """Record images generated for the shot, newest last (re-adding moves one to the end)."""
        if isinstance(asset_ids, str) or not isinstance(asset_ids, (list, tuple)):
            raise InvalidRequest("Give a list of image ids.")
        with self.store.transaction() as tx:
            shot = owned(tx, SHOTS, shot_id, user, "shot")
            for asset_id in asset_ids:
                owned(tx, ASSETS, asset_id, user, "image")
            new = list(dict.fromkeys(asset_ids))
            history = [a for a in shot.get("history", []) if a not in new] + new
            return update_record(tx, SHOTS, shot_id, {"history": history, "updated": now()})

    @staticmethod
    def _renumber(tx: Store, ids: list[str]) -> list[Doc]:
        return [update_record(tx, SHOTS, shot_id, {"order": index}) for index, shot_id in enumerate(ids)]

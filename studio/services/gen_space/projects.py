"""Gen Space projects: each user's named collections of shots and images.

A person always has somewhere to work: `ensure_default` makes "My first project" the
first time they open Gen Space. Names are unique per user, ignoring case, so the
project picker never shows two entries that look the same.

Deleting a project is final and needs `confirm=True`. It removes, in one transaction,
the project, its shots, its reference list and every image record of the project;
those images' pointers elsewhere (a shot of another project that applied one of them,
another project's reference list) are cleared as for a single image delete; then the
image files are removed from disk (when the service was given the `ImageFiles`; a file
that can't be removed is only logged, the records are already gone).
"""

from __future__ import annotations

from typing import Any

from studio.services.gen_space.assets import forget_assets, remove_files
from studio.services.common import validation as v
from studio.services.common.ids import ASSETS, PROJECTS, REFERENCE_LISTS, SHOTS, check_user, now, owned
from studio.services.generation.requests import InvalidRequest
from studio.store.base import Doc, Store
from studio.store.images import ImageFiles
from studio.store.records import insert_record, update_record

DEFAULT_PROJECT_NAME = "My first project"
MAX_PROJECT_NAME = 80


def check_project_name(value: Any) -> str:
    if value is not None and not isinstance(value, str):
        raise InvalidRequest("The project name must be text.")
    return v.required_text(value, "The project name", max_chars=MAX_PROJECT_NAME, empty="Give the project a name.")


class ProjectService:
    def __init__(self, store: Store, images: ImageFiles | None = None) -> None:
        self.store = store
        self.images = images  # needed for delete() to remove the project's image files

    def list(self, user: str) -> list[Doc]:
        """The user's projects, oldest first."""
        check_user(user)
        return sorted(self.store.find(PROJECTS, owner=user), key=lambda p: p["created"])

    def get(self, user: str, project_id: str) -> Doc:
        return owned(self.store, PROJECTS, project_id, user, "project")

    def create(self, user: str, name: str) -> Doc:
        name = check_project_name(name)
        check_user(user)
        with self.store.transaction() as tx:
            self._check_unique(tx, user, name)
            stamp = now()
            return insert_record(tx, PROJECTS, {"owner": user, "name": name, "created": stamp, "updated": stamp})

    def rename(self, user: str, project_id: str, name: str) -> Doc:
        name = check_project_name(name)
        with self.store.transaction() as tx:
            owned(tx, PROJECTS, project_id, user, "project")
            self._check_unique(tx, user, name, ignore_id=project_id)
            return update_record(tx, PROJECTS, project_id, {"name": name, "updated": now()})

    def ensure_default(self, user: str) -> Doc:
        """The user's first project; "My first project" is created if they have none."""
        check_user(user)
        with self.store.transaction() as tx:
            existing = sorted(tx.find(PROJECTS, owner=user), key=lambda p: p["created"])
            if existing:
                return existing[0]
            stamp = now()
            return insert_record(tx, PROJECTS, {"owner": user, "name": DEFAULT_PROJECT_NAME, "created": stamp, "updated": stamp})

    def delete(self, user: str, project_id: str, confirm: bool = False) -> None:
        """Remove the project with its shots, reference list and images (files too)."""
        if confirm is not True:  # exactly true: "false" or 1 from an API client is not a confirmation
            raise InvalidRequest("Deleting a project removes its shots and images for good; confirm to delete it.")
        with self.store.transaction() as tx:
            owned(tx, PROJECTS, project_id, user, "project")
            assets = tx.find(ASSETS, owner=user, project_id=project_id)
            for asset in assets:
                tx.delete(ASSETS, asset["id"])
            for shot in tx.find(SHOTS, owner=user, project_id=project_id):
                tx.delete(SHOTS, shot["id"])
            for ref_list in tx.find(REFERENCE_LISTS, owner=user, project_id=project_id):
                tx.delete(REFERENCE_LISTS, ref_list["id"])
            forget_assets(tx, user, {a["id"] for a in assets})
            tx.delete(PROJECTS, project_id)
        remove_files(self.images, assets)

    @staticmethod
    def _check_unique(tx: Store, user: str, name: str, ignore_id: str | None = None) -> None:
        for project in tx.find(PROJECTS, owner=user):
            if project["id"] != ignore_id and project["name"].casefold() == name.casefold():
                raise InvalidRequest(f"You already have a project named {project['name']}; pick another name.")

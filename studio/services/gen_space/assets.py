"""The asset library: every image a user has in Gen Space, and the references in use.

Generated images (written by `GenerationService` into the `assets` table), uploads and
edits share one table, so the library is one list. Each record names its `owner`, its
`project_id`, the `shot_id` it was made for (or None) and its PNG `file` under
`ImageFiles`.

Deleting an image removes its file and record *and every pointer to it*: a shot that
had it applied goes back to no image, shot histories and reference lists drop it,
edits made from it lose their `parent_id`, generated images that used it as a
reference drop it from `reference_ids`. Nothing is left pointing at nothing.
"""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from pipelines.params import MAX_REFERENCES
from studio.services.generation.service import user_subdir
from studio.services.common.ids import ASSETS, PROJECTS, REFERENCE_LISTS, SHOTS, check_id, check_user, now, owned
from studio.services.common.paging import DEFAULT_LIMIT, Page, page_of
from studio.services.generation.requests import InvalidRequest
from studio.services.gen_space.shots import check_shot_type
from studio.services.common.uploads import validate_upload
from studio.store.base import Doc, Store
from studio.store.images import ImageFiles
from studio.store.records import insert_record, update_record

log = logging.getLogger(__name__)

ASSET_KINDS = ("generated", "upload", "edit")
EDIT_OPS = ("rotate", "flip", "crop")
MAX_ORIGINAL_NAME = 255
# Generation settings an edit inherits from its source, so its details and the
# storyboard still say how the picture was first made.
_INHERITED = (
    "prompt", "styled_prompt", "negative_prompt", "seed", "model_id", "model_name",
    "style_id", "style_name", "aspect", "steps", "guidance", "sampler", "reference_ids",
)
_EDIT_NOTE = re.compile(r", Edits: [^,\n]*$")


def forget_assets(tx: Store, user: str, asset_ids: set[str]) -> None:
    """Drop every pointer the user's records hold to `asset_ids` (call inside a transaction).

    Each lookup goes through the store's indexes (by applied image, by list member, by
    parent), so deleting one image costs the same in a library of any size."""
    if not asset_ids:
        return
    shots: dict[str, Doc] = {}
    ref_lists: dict[str, Doc] = {}
    assets: dict[str, Doc] = {}
    for asset_id in asset_ids:
        for shot in tx.find(SHOTS, owner=user, applied_asset_id=asset_id) + tx.find_containing(
            SHOTS, "history", asset_id, owner=user
        ):
            shots[shot["id"]] = shot
        for ref_list in tx.find_containing(REFERENCE_LISTS, "asset_ids", asset_id, owner=user):
            ref_lists[ref_list["id"]] = ref_list
        for asset in tx.find(ASSETS, owner=user, parent_id=asset_id) + tx.find_containing(
            ASSETS, "reference_ids", asset_id, owner=user
        ):
            if asset["id"] not in asset_ids:
                assets[asset["id"]] = asset
    for shot in shots.values():
        fields: Doc = {}
        if shot.get("applied_asset_id") in asset_ids:
            fields["applied_asset_id"] = None
        history = shot.get("history", [])
        if any(a in asset_ids for a in history):
            fields["history"] = [a for a in history if a not in asset_ids]
        if fields:
            update_record(tx, SHOTS, shot["id"], fields)
    for ref_list in ref_lists.values():
        update_record(tx, REFERENCE_LISTS, ref_list["id"], {"asset_ids": [a for a in ref_list["asset_ids"] if a not in asset_ids]})
    for asset in assets.values():
        fields = {}
        if asset.get("parent_id") in asset_ids:
            fields["parent_id"] = None
        refs = asset.get("reference_ids") or []
        if any(a in asset_ids for a in refs):
            fields["reference_ids"] = [a for a in refs if a not in asset_ids]
        if fields:
            update_record(tx, ASSETS, asset["id"], fields)


def remove_files(images: ImageFiles | None, records: list[Doc]) -> None:
    """Best effort after the records are gone: a file that can't be removed is only logged."""
    if images is None:
        return
    for record in records:
        try:
            images.delete(record["file"])
        except (OSError, ValueError, KeyError):
            log.exception("could not remove the file of image %s", record.get("id"))


def _clean_original_name(value: Any) -> str:
    name = Path(str(value or "").replace("\\", "/")).name if value else ""
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:MAX_ORIGINAL_NAME] or "upload"


class AssetService:
    def __init__(self, store: Store, images: ImageFiles) -> None:
        self.store = store
        self.images = images

    # ----- reading ---------------------------------------------------------------
    def get(self, user: str, asset_id: str) -> Doc:
        return owned(self.store, ASSETS, asset_id, user, "image")

    def get_many(self, user: str, asset_ids: list[str]) -> dict[str, Doc]:
        """The user's assets among `asset_ids`, by id, read in one go (one pass over the
        store instead of one per id); ids that are gone or not theirs are left out."""
        wanted = [a for a in asset_ids if a]
        with self.store.transaction() as tx:
            found = {a: tx.get(ASSETS, a) for a in dict.fromkeys(wanted)}
        return {a: doc for a, doc in found.items() if doc is not None and doc.get("owner") == user}

    def list(
        self,
        user: str,
        *,
        project_id: str | None = None,
        shot_id: str | None = None,
        shot_type: str | None = None,
        kind: str | None = None,
    ) -> list[Doc]:
        """The user's images, newest first, narrowed by project, shot, shot type and kind."""
        with self.store.transaction() as tx:
            equals, where = self._narrowing(tx, user, project_id, shot_id, shot_type, kind)
            assets = tx.find(ASSETS, **equals)
        return list(reversed([a for a in assets if where is None or where(a)]))

    def page(
        self,
        user: str,
        *,
        project_id: str | None = None,
        shot_id: str | None = None,
        shot_type: str | None = None,
        kind: str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page:
        """One page of the user's images, newest first, narrowed as in `list`; pass the
        page's `next_cursor` back to get the next one."""
        with self.store.transaction() as tx:
            equals, where = self._narrowing(tx, user, project_id, shot_id, shot_type, kind)
            return page_of(tx, ASSETS, "assets", limit=limit, cursor=cursor, where=where, equals=equals)

    @staticmethod
    def _narrowing(tx: Store, user: str, project_id, shot_id, shot_type, kind):
        """The store query for `list` and `page`: equal fields (indexed) and, for a shot
        type, a test on the asset's shot (ids checked to be the user's first)."""
        check_user(user)
        if kind is not None and kind not in ASSET_KINDS:
            raise InvalidRequest(f"Image kind must be one of {', '.join(ASSET_KINDS)}.")
        if shot_type is not None:
            check_shot_type(shot_type)
        equals: Doc = {"owner": user}
        if project_id is not None:
            equals["project_id"] = owned(tx, PROJECTS, project_id, user, "project")["id"]
        if shot_id is not None:
            equals["shot_id"] = owned(tx, SHOTS, shot_id, user, "shot")["id"]
        if kind is not None:
            equals["kind"] = kind
        if shot_type is None:
            return equals, None
        shot_equals = {"owner": user, "type": shot_type}
        if project_id is not None:
            shot_equals["project_id"] = project_id
        typed = {s["id"] for s in tx.find(SHOTS, **shot_equals)}
        return equals, (lambda asset: asset.get("shot_id") in typed)

    def history_page(self, user: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> Page:
        """The user's Image Studio generations (generated images outside any project), newest first."""
        check_user(user)
        return page_of(
            self.store, ASSETS, "history", limit=limit, cursor=cursor,
            equals={"owner": user, "kind": "generated", "project_id": None},
        )

    def details(self, user: str, asset_id: str) -> Doc:
        """Every recorded field, plus the absolute `path` and the PNG's A1111 `parameters`."""
        asset = self.get(user, asset_id)
        path = self.images.path(asset["file"])
        parameters = ""
        if path.is_file():
            try:
                parameters = self.images.read_metadata(asset["file"])["parameters"]
            except OSError:
                log.warning("could not read the metadata of %s", path)
        return {**asset, "path": str(path), "file_exists": path.is_file(), "parameters": parameters}

    def open_image(self, user: str, asset_id: str) -> Image.Image:
        """The image itself, fully loaded (for img2img, references, previews)."""
        asset = self.get(user, asset_id)
        try:
            return self.images.open(asset["file"])
        except FileNotFoundError:
            raise InvalidRequest("This image's file is missing from the data folder.") from None

    # ----- deleting --------------------------------------------------------------
    def delete(self, user: str, asset_id: str, confirm: bool = False) -> None:
        """Remove the image everywhere: file, record, and every reference to it."""
        if confirm is not True:
            raise InvalidRequest("Deleting an image can't be undone; confirm to delete it.")
        with self.store.transaction() as tx:
            asset = owned(tx, ASSETS, asset_id, user, "image")
            tx.delete(ASSETS, asset_id)
            forget_assets(tx, user, {asset_id})
        remove_files(self.images, [asset])

    # ----- reference lists (per user and project) -------------------------------
    def references(self, user: str, project_id: str) -> list[str]:
        with self.store.transaction() as tx:
            owned(tx, PROJECTS, project_id, user, "project")
            ref_list = self._reference_list(tx, user, project_id)
            return list(ref_list["asset_ids"]) if ref_list else []

    def add_reference(self, user: str, project_id: str, asset_id: str) -> list[str]:
        """Use an image as a reference for the project's next generations (at most 6)."""
        with self.store.transaction() as tx:
            owned(tx, PROJECTS, project_id, user, "project")
            owned(tx, ASSETS, asset_id, user, "image")
            ref_list = self._reference_list(tx, user, project_id)
            ids = list(ref_list["asset_ids"]) if ref_list else []
            if asset_id in ids:
                return ids
            if len(ids) >= MAX_REFERENCES:
                raise InvalidRequest(f"You can use up to {MAX_REFERENCES} reference images; remove one first.")
            return self._write_references(tx, user, project_id, ref_list, ids + [asset_id])

    def remove_reference(self, user: str, project_id: str, asset_id: str) -> list[str]:
        check_id(asset_id, "image")
        with self.store.transaction() as tx:
            owned(tx, PROJECTS, project_id, user, "project")
            ref_list = self._reference_list(tx, user, project_id)
            ids = list(ref_list["asset_ids"]) if ref_list else []
            if asset_id not in ids:
                return ids
            return self._write_references(tx, user, project_id, ref_list, [a for a in ids if a != asset_id])

    def clear_references(self, user: str, project_id: str) -> list[str]:
        with self.store.transaction() as tx:
            owned(tx, PROJECTS, project_id, user, "project")
            ref_list = self._reference_list(tx, user, project_id)
            return self._write_references(tx, user, project_id, ref_list, []) if ref_list else []

    @staticmethod
    def _reference_list(tx: Store, user: str, project_id: str) -> Doc | None:
        found = tx.find(REFERENCE_LISTS, owner=user, project_id=project_id)
        return found[0] if found else None

    @staticmethod
    def _write_references(tx: Store, user: str, project_id: str, ref_list: Doc | None, ids: list[str]) -> list[str]:
        if ref_list is None:
            insert_record(tx, REFERENCE_LISTS, {"owner": user, "project_id": project_id, "asset_ids": ids})
        else:
            update_record(tx, REFERENCE_LISTS, ref_list["id"], {"asset_ids": ids})
        return ids

    # ----- new images: uploads and edits -----------------------------------------
    def upload(
        self, user: str, project_id: str, data: bytes | str | Path, original_name: str, shot_id: str | None = None
    ) -> Doc:
        """Check an uploaded file, re-encode it as PNG and add it to the project's library."""
        self._check_place(user, project_id, shot_id)
        image = validate_upload(data)
        record = {
            "owner": user,
            "kind": "upload",
            "project_id": project_id,
            "shot_id": shot_id,
            "parent_id": None,
            "original_name": _clean_original_name(original_name),
            "prompt": "",
            "width": image.width,
            "height": image.height,
            "created": now(),
        }
        return self._save_new(user, image, record, parameters="")

    def edit_transform(self, user: str, asset_id: str, op: str, **params: Any) -> Doc:
        """A new image made from `asset_id` by a simple transform; the source stays as it is.

        * ``rotate``: ``degrees`` 90, 180 or 270, clockwise;
        * ``flip``: ``direction`` "horizontal" (mirror left-right) or "vertical";
        * ``crop``: ``left, top, right, bottom`` as fractions 0-1 of the width/height.
        """
        source = self.get(user, asset_id)
        transform, note = _plan_edit(op, params)
        image = self.open_image(user, asset_id)
        result = transform(image)
        parent_parameters = self.images.read_metadata(source["file"])["parameters"]
        edits = list(source.get("edits") or []) + [note]
        record = {
            **{k: source[k] for k in _INHERITED if k in source},
            "owner": user,
            "kind": "edit",
            "project_id": source.get("project_id"),
            "shot_id": source.get("shot_id"),
            "parent_id": source["id"],
            "edit": {"op": op, **params},
            "edits": edits,
            "width": result.width,
            "height": result.height,
            "cost": 0,
            "created": now(),
        }
        return self._save_new(user, result, record, parameters=_with_edit_note(parent_parameters, edits))

    def _check_place(self, user: str, project_id: str, shot_id: str | None) -> None:
        with self.store.transaction() as tx:
            owned(tx, PROJECTS, project_id, user, "project")
            if shot_id is not None:
                shot = owned(tx, SHOTS, shot_id, user, "shot")
                if shot["project_id"] != project_id:
                    raise InvalidRequest("That shot belongs to another project.")

    def _save_new(self, user: str, image: Image.Image, record: Doc, *, parameters: str) -> Doc:
        """Write the PNG, then the record; if the record can't be written, the file goes too."""
        asset_id = uuid.uuid4().hex
        meta = {**record, "asset_id": asset_id}
        rel = self.images.save(image, parameters=parameters, studio_meta=meta, subdir=user_subdir(user))
        try:
            return insert_record(self.store, ASSETS, {**record, "id": asset_id, "file": rel})
        except BaseException:
            self.images.delete(rel)
            raise


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequest(f"Crop {what} must be a number from 0 to 1.")
    return float(value)


def _plan_edit(op: Any, params: dict[str, Any]):
    """Validate an edit before anything is read or written: (transform, note for PNG info)."""
    if op == "rotate":
        if set(params) != {"degrees"} or params["degrees"] not in (90, 180, 270) or isinstance(params["degrees"], bool):
            raise InvalidRequest("Rotate by 90, 180 or 270 degrees.")
        degrees = int(params["degrees"])
        method = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}[degrees]
        return (lambda img: img.transpose(method)), f"rotate {degrees} clockwise"
    if op == "flip":
        if set(params) != {"direction"} or params["direction"] not in ("horizontal", "vertical"):
            raise InvalidRequest("Flip horizontal or vertical.")
        direction = params["direction"]
        return (ImageOps.mirror if direction == "horizontal" else ImageOps.flip), f"flip {direction}"
    if op == "crop":
        names = ("left", "top", "right", "bottom")
        if set(params) != set(names):
            raise InvalidRequest("Crop needs left, top, right and bottom, each a fraction from 0 to 1.")
        left, top, right, bottom = (_number(params[n], n) for n in names)
        if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
            raise InvalidRequest("The crop box must lie inside the image, with left < right and top < bottom.")

        def crop(img: Image.Image) -> Image.Image:
            box = (round(left * img.width), round(top * img.height), round(right * img.width), round(bottom * img.height))
            if box[2] <= box[0] or box[3] <= box[1]:
                raise InvalidRequest("The crop box is smaller than one pixel; make it bigger.")
            return img.crop(box)

        return crop, f"crop {left:g} {top:g} {right:g} {bottom:g}"
    raise InvalidRequest(f"Unknown edit; choose one of {', '.join(EDIT_OPS)}.")


def _with_edit_note(parameters: str, edits: list[str]) -> str:
    """The source's A1111 text with `Edits: ...` on its settings line (or as its own line)."""
    note = "Edits: " + "; ".join(edits)
    text = parameters.rstrip("\n")
    if not text:
        return note
    lines = text.split("\n")
    last = _EDIT_NOTE.sub("", lines[-1])
    if last.startswith("Edits: "):
        lines[-1] = note
    elif "Steps: " in last and "Seed: " in last:
        lines[-1] = f"{last}, {note}"
    else:
        lines.append(note)
    return "\n".join(lines)

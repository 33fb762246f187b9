"""Exporting a project's storyboard: the shots in order with the images applied to them.

Two files, for two uses:

* a ZIP to hand to an editor or keep: `NN-<shot-name>.png` per shot that has an image
  -- a byte-identical copy of the stored PNG, so its A1111 `parameters` still say how
  it was made -- and `manifest.json` listing every shot in order (shots without an
  image too, with `"image": null`);
* a contact sheet PNG: a grid of thumbnails with each shot's name and type under it,
  a grey placeholder where a shot has no image yet -- the storyboard at a glance.

Both are written under a temp name in `out_dir` and moved into place with `os.replace`
(`studio.store.atomic`), so a half-written export is never offered for download.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import secrets
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageDraw, ImageFont, ImageOps

from studio.services.common.ids import ASSETS, PROJECTS, SHOTS, now, owned
from studio.services.generation.requests import InvalidRequest
from studio.services.gen_space.shots import ordered
from studio.store.atomic import atomic_file
from studio.store.base import Doc, Store
from studio.store.images import ImageFiles

SHEET_COLUMNS = 4
THUMB = 256  # thumbnail box, pixels
LABEL_HEIGHT = 44
PAD = 12
BACKGROUND = (245, 245, 245)
PLACEHOLDER = (210, 210, 210)
TEXT = (30, 30, 30)
MUTED = (110, 110, 110)
MANIFEST_FIELDS = ("prompt", "seed", "model_id", "style_id")


def slugify(text: str, fallback: str = "shot", max_len: int = 40) -> str:
    """A file-name-safe ASCII version of a name ("Hero's Home!" -> "hero-s-home")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:max_len].strip("-")
    return slug or fallback


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError, ImportError):  # Pillow built without FreeType
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """`text`, shortened with an ellipsis until it fits in `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


class StoryboardService:
    def __init__(self, store: Store, images: ImageFiles) -> None:
        self.store = store
        self.images = images

    def export_storyboard(self, user: str, project_id: str, *, out_dir: Path | str) -> tuple[Path, Path]:
        """Write the project's storyboard ZIP and contact sheet into `out_dir`; return both paths."""
        with self.store.transaction() as tx:
            project = owned(tx, PROJECTS, project_id, user, "project")
            shots = ordered(tx.find(SHOTS, owner=user, project_id=project_id))
            applied = {
                s["id"]: tx.get(ASSETS, s["applied_asset_id"]) for s in shots if s.get("applied_asset_id")
            }
        if not shots:
            raise InvalidRequest("Add shots first: this project has no shots to export.")

        width = max(2, len(str(len(shots))))
        entries: list[tuple[Doc, Doc | None, Path | None, str | None]] = []
        for number, shot in enumerate(shots, start=1):
            asset = applied.get(shot["id"])
            path = None
            if asset is not None and asset.get("owner") == user:
                candidate = self.images.path(asset["file"])
                path = candidate if candidate.is_file() else None
            name = f"{number:0{width}d}-{slugify(shot['name'], shot['type'])}.png" if path else None
            entries.append((shot, asset if path else None, path, name))

        # A fresh random folder per export: its name is the secret that keeps the URL unguessable;
        # the files inside keep readable names for the download.
        out = Path(out_dir) / secrets.token_urlsafe(16)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"{slugify(project['name'], 'project')}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
        manifest = self._manifest(project, entries)
        zip_path, sheet_path = out / f"{stem}-storyboard.zip", out / f"{stem}-contact-sheet.png"
        with atomic_file(zip_path) as tmp:
            self._write_zip(tmp, entries, manifest)
        with atomic_file(sheet_path) as tmp:
            self._contact_sheet(project, entries).save(tmp, format="PNG")
        return zip_path, sheet_path

    @staticmethod
    def _manifest(project: Doc, entries: list[tuple[Doc, Doc | None, Path | None, str | None]]) -> Doc:
        shots = []
        for number, (shot, asset, _, name) in enumerate(entries, start=1):
            shots.append(
                {
                    "number": number,
                    "id": shot["id"],
                    "order": shot["order"],
                    "type": shot["type"],
                    "name": shot["name"],
                    "description": shot.get("description", ""),
                    "applied_asset_id": asset["id"] if asset else None,
                    "image": name,
                    **{field: (asset.get(field) if asset else None) for field in MANIFEST_FIELDS},
                    "created": shot.get("created"),
                    "image_created": asset.get("created") if asset else None,
                }
            )
        return {"project": {"id": project["id"], "name": project["name"]}, "exported": now(), "shots": shots}

    @staticmethod
    def _write_zip(tmp: BinaryIO, entries, manifest: Doc) -> None:
        with zipfile.ZipFile(tmp, "w") as archive:
            for _, _, path, name in entries:
                if path is not None:
                    archive.write(path, name, compress_type=zipfile.ZIP_STORED)  # PNGs are compressed already
            archive.writestr(
                "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2), compress_type=zipfile.ZIP_DEFLATED
            )

    @staticmethod
    def _contact_sheet(project: Doc, entries) -> Image.Image:
        columns = min(SHEET_COLUMNS, len(entries))
        rows = math.ceil(len(entries) / columns)
        cell_w, cell_h = THUMB, THUMB + LABEL_HEIGHT
        sheet = Image.new("RGB", (PAD + columns * (cell_w + PAD), PAD + rows * (cell_h + PAD)), BACKGROUND)
        draw = ImageDraw.Draw(sheet)
        name_font, type_font = _font(15), _font(12)
        for index, (shot, _, path, _) in enumerate(entries):
            x = PAD + (index % columns) * (cell_w + PAD)
            y = PAD + (index // columns) * (cell_h + PAD)
            if path is not None:
                with Image.open(path) as img:
                    thumb = ImageOps.contain(img.convert("RGB"), (THUMB, THUMB))
                sheet.paste(thumb, (x + (THUMB - thumb.width) // 2, y + (THUMB - thumb.height) // 2))
            else:
                draw.rectangle((x, y, x + THUMB - 1, y + THUMB - 1), fill=PLACEHOLDER)
                draw.text((x + THUMB / 2, y + THUMB / 2), "No image yet", fill=MUTED, font=name_font, anchor="mm")
            draw.text((x, y + THUMB + 4), _fit(draw, shot["name"], name_font, THUMB), fill=TEXT, font=name_font)
            draw.text((x, y + THUMB + 24), f"#{index + 1}  {shot['type']}", fill=MUTED, font=type_font)
        return sheet

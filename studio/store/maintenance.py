"""Backup and check: the two things a person running the studio does to its data folder.

`backup` copies the snapshot and the journal together while holding the store's lock (a
consistent moment: the copy opens as exactly the committed state, even while the app runs
and writes), then copies the image files, which are written once and never changed, so
they need no lock. `check` opens the database as the app would (a damaged file is
reported, not repaired), validates every record against its model in
`studio.store.records`, re-adds every ledger, and looks for files that are missing and
records that point at records that are gone.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from studio.store import DB_FILENAME, open_store
from studio.store.records import ASSETS, LEDGER, MODELS, PROJECTS, REFERENCE_LISTS, SHOTS

IMAGES_DIRNAME = "images"


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def backup(data_dir: Path, dest: Path) -> Report:
    """A consistent copy of the database and the image files in `dest` (a new or empty folder)."""
    data_dir, dest = Path(data_dir), Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise ValueError(f"The backup folder {dest} is not empty; choose a new folder.")
    if dest.resolve() == data_dir.resolve() or data_dir.resolve() in dest.resolve().parents:
        raise ValueError("Put the backup outside the data folder.")
    report = Report()
    store = open_store(data_dir)
    dest.mkdir(parents=True, exist_ok=True)
    with store.transaction():  # holds the lock: no commit lands between the two copies
        shutil.copyfile(store.path, dest / store.path.name)
        shutil.copyfile(store.journal_path, dest / store.journal_path.name)
        files = {doc["file"] for doc in store.all(ASSETS) if isinstance(doc.get("file"), str)}
    store.close()
    source = data_dir / IMAGES_DIRNAME
    copied = missing = 0
    for rel in sorted(files):
        src = source / rel
        target = dest / IMAGES_DIRNAME / rel
        if not src.is_file():
            missing += 1  # deleted since the copy (or missing already: `check` tells)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        copied += 1
    report.notes.append(f"Copied the database ({len(files)} image records) and {copied} image files to {dest}.")
    if missing:
        report.notes.append(f"{missing} image files were not there to copy; run `check` on the backup for details.")
    return report


def check(data_dir: Path) -> Report:
    """Everything wrong with the database in `data_dir` and the files it points at."""
    data_dir = Path(data_dir)
    report = Report()
    store = open_store(data_dir)
    tables = {name: store.all(name) for name in store.tables()}
    store.close()
    ids = {name: {doc["id"] for doc in docs} for name, docs in tables.items()}

    for name, model in MODELS.items():
        for doc in tables.get(name, []):
            try:
                model.model_validate(doc)
            except ValidationError as exc:
                fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                report.problems.append(f"{name} record {doc['id']}: {fields}")

    by_owner: dict[str, list[dict]] = defaultdict(list)
    for entry in tables.get(LEDGER, []):
        by_owner[str(entry.get("owner"))].append(entry)
    for owner, entries in by_owner.items():
        total = sum(e.get("delta", 0) for e in entries if isinstance(e.get("delta"), int))
        if entries[-1].get("balance_after") != total:
            report.problems.append(
                f"credit ledger of {owner!r}: the entries add up to {total} but the balance shown is "
                f"{entries[-1].get('balance_after')}"
            )

    images = data_dir / IMAGES_DIRNAME
    referenced = set()
    for asset in tables.get(ASSETS, []):
        rel = asset.get("file")
        if isinstance(rel, str):
            referenced.add(rel)
            if not (images / rel).is_file():
                report.problems.append(f"image {asset['id']}: its file {IMAGES_DIRNAME}/{rel} is missing")
        if asset.get("project_id") and asset["project_id"] not in ids.get(PROJECTS, set()):
            report.problems.append(f"image {asset['id']}: its project {asset['project_id']} is gone")
    for shot in tables.get(SHOTS, []):
        pointers = [shot.get("applied_asset_id"), *(shot.get("history") or [])]
        for asset_id in filter(None, pointers):
            if asset_id not in ids.get(ASSETS, set()):
                report.problems.append(f"shot {shot['id']}: it points at image {asset_id}, which is gone")
    for ref_list in tables.get(REFERENCE_LISTS, []):
        for asset_id in ref_list.get("asset_ids") or []:
            if asset_id not in ids.get(ASSETS, set()):
                report.problems.append(f"reference list {ref_list['id']}: image {asset_id} is gone")

    if images.is_dir():
        stray = [p for p in images.rglob("*.png") if p.relative_to(images).as_posix() not in referenced]
        if stray:
            report.notes.append(f"{len(stray)} image files are not in the database (safe to delete).")
    counts = ", ".join(f"{len(docs)} {name}" for name, docs in sorted(tables.items()))
    report.notes.append(f"Checked {data_dir / DB_FILENAME}: {counts or 'empty'}.")
    return report

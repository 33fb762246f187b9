"""The snapshot file, `studio.json`: plain TinyDB JSON, read on open and replaced whole by
compaction only (through `atomic_file`: the old or the new file, never a mix)."""

from __future__ import annotations

import os
from pathlib import Path

from studio.store.indexes import POS, Table
from studio.store.journal import StoreFileCorrupt, dumps, loads
from studio.store.migrate import META_TABLE


def read(path: Path) -> dict | None:
    """The snapshot's tables, or None when there is none yet; raises StoreFileCorrupt."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    if not text.strip():
        return None
    try:
        data = loads(text)
    except ValueError as exc:
        raise StoreFileCorrupt(
            f"The database file {path} is not valid JSON ({exc}); it was left as it is. "
            "Restore it from a backup, or move it away to start with an empty database."
        ) from None
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        raise StoreFileCorrupt(f"The database file {path} is not a TinyDB database; restore it from a backup.")
    return data


def encode(meta: dict, tables: dict[str, Table]) -> bytes:
    """Every table's documents in position order, each with its `_pos`, plus the meta table."""
    data: dict[str, dict] = {META_TABLE: {"meta": meta}}
    for name, rows in tables.items():
        data[name] = {doc_id: {**rows.docs[doc_id], POS: pos}
                      for pos, doc_id in ((p, rows.id_at[p]) for p in rows.order)}
    return dumps(data)


def identity(path: Path) -> tuple | None:
    """What changes when the snapshot is replaced (inode, size, mtime)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def remove_stale_temp_files(folder: Path, prefix: str) -> None:
    """Temp files of a compaction whose process was killed. Call only holding the lock."""
    for stale in folder.glob(prefix + "*"):
        try:
            stale.unlink()
        except OSError:
            pass

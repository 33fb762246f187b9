"""Storage: the `Store` interface, its TinyDB implementation, the in-memory twin, image files.

`open_store(data_dir)` is what the app uses: one JSON database per data directory.
"""

from __future__ import annotations

from pathlib import Path

from studio.store.base import Doc, NotFound, Store
from studio.store.images import ImageFiles, format_parameters, parse_parameters
from studio.store.memory import MemoryStore
from studio.store.tinydb_store import StoreFileCorrupt, StoreWriteFailed, TinyDBStore

DB_FILENAME = "studio.json"

__all__ = [
    "Doc",
    "ImageFiles",
    "MemoryStore",
    "NotFound",
    "Store",
    "StoreFileCorrupt",
    "StoreWriteFailed",
    "TinyDBStore",
    "format_parameters",
    "open_store",
    "parse_parameters",
]


def open_store(data_dir: Path | str) -> TinyDBStore:
    """The studio's database at `<data_dir>/studio.json` + `studio.journal` (the folder is
    created if missing; a database of the old one-file format is migrated)."""
    return TinyDBStore(Path(data_dir) / DB_FILENAME)

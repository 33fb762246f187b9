"""`TinyDBStore`: the studio's documents in one TinyDB JSON file, safe to share.

TinyDB keeps no lock and rewrites its whole file on every change, so on its own two
processes (or two threads) lose each other's writes and a crash mid-write leaves half a
file. Here:

* the file is only ever replaced whole (`AtomicJSONStorage` through `studio.store.atomic`:
  temp file in the same folder, flush, fsync, `os.replace`, fsync the folder) -- readers
  see the old or the new file, never a mix;
* every operation is a transaction holding a thread lock and a cross-process
  `filelock.FileLock` (`<db>.lock`), reads the file fresh inside the lock, applies its
  changes to an in-memory copy and writes once at the end -- or not at all if it fails;
* transactions are reentrant on the owning thread: while one is open, every call on
  this store (through the yielded store or not) joins it; a nested `transaction()` is a
  savepoint whose failure undoes only its own changes.

Documents are stored under their string `id` as TinyDB's document id (a `Table`
subclass with `document_id_class = str`), so `get`/`update`/`delete` are dict lookups.
"""

from __future__ import annotations

import copy
import json
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock
from tinydb import TinyDB
from tinydb.storages import MemoryStorage, Storage
from tinydb.table import Document, Table

from studio.store.atomic import TEMP_PREFIX, atomic_file
from studio.store.base import Doc, NotFound
from studio.store.memory import check_id, check_table, matches, page_scan, prepare_fields, prepare_new


class StoreFileCorrupt(ValueError):
    """The database file exists but is not valid JSON; we refuse to overwrite it."""


class AtomicJSONStorage(Storage):
    """TinyDB storage that replaces the JSON file atomically and durably on each write."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise StoreFileCorrupt(
                f"The database file {self.path} is not valid JSON ({exc}); "
                "restore it from a backup or move it away to start fresh."
            ) from exc

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        payload = json.dumps(data, ensure_ascii=False, allow_nan=False).encode("utf-8")
        with atomic_file(self.path, prefix=TEMP_PREFIX + self.path.name + ".", suffix="") as tmp:
            tmp.write(payload)

    def remove_stale_temp_files(self) -> None:
        """Temp files left by a process killed mid-write. Call only while holding the lock."""
        for stale in self.path.parent.glob(TEMP_PREFIX + self.path.name + ".*"):
            try:
                stale.unlink()
            except OSError:
                pass


class _StringIdTable(Table):
    document_id_class = str


class _StagingDB(TinyDB):
    """A TinyDB over an in-memory copy of the file's data, alive for one transaction."""

    table_class = _StringIdTable

    def __init__(self, data: dict[str, dict[str, Any]]) -> None:
        super().__init__(storage=MemoryStorage)
        self.storage.write(data)

    def rows(self, name: str) -> Table:
        # No query cache: savepoint rollbacks swap the data underneath the table.
        return self.table(name, cache_size=0)


class TinyDBStore:
    """The `Store` on disk. Safe across threads and processes sharing the same file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._storage = AtomicJSONStorage(self.path)
        self._file_lock = FileLock(str(self.path) + ".lock", poll_interval=0.005)
        self._thread_lock = threading.RLock()
        self._db: _StagingDB | None = None  # set while the owning thread is in a transaction
        self._dirty = False
        self._cleaned = False

    # -- transactions --------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator["TinyDBStore"]:
        with self._thread_lock, self._file_lock:
            if self._db is not None:
                yield from self._savepoint(self._db)
                return
            if not self._cleaned:
                self._storage.remove_stale_temp_files()
                self._cleaned = True
            self._db = _StagingDB(self._storage.read() or {})
            self._dirty = False
            try:
                yield self
                if self._dirty:
                    self._storage.write(self._db.storage.read())
            finally:
                self._db = None
                self._dirty = False

    def _savepoint(self, db: _StagingDB) -> Iterator["TinyDBStore"]:
        snapshot = copy.deepcopy(db.storage.read())
        dirty_before = self._dirty
        try:
            yield self
        except BaseException:
            db.storage.write(snapshot)
            self._dirty = dirty_before
            raise

    @contextmanager
    def _operation(self) -> Iterator[None]:
        """One store call. Inside the owning thread's open transaction it simply joins it:
        a single call checks its input before changing anything, so it needs no savepoint
        (a savepoint deep-copies the whole database). Otherwise it is its own transaction."""
        with self._thread_lock:
            if self._db is not None:
                yield
                return
            with self.transaction():
                yield

    def _rows(self, table: str) -> Table:
        assert self._db is not None, "only called inside a transaction"
        return self._db.rows(check_table(table))

    # -- Store operations ----------------------------------------------------------

    def insert(self, table: str, doc: Doc) -> Doc:
        stored = prepare_new(doc)
        with self._operation():
            rows = self._rows(table)
            if rows.contains(doc_id=stored["id"]):
                raise ValueError(f"A document with id {stored['id']!r} already exists in {table!r}.")
            rows.insert(Document(stored, doc_id=stored["id"]))
            self._dirty = True
        return copy.deepcopy(stored)

    def get(self, table: str, doc_id: str) -> Doc | None:
        check_id(doc_id)
        with self._operation():
            doc = self._rows(table).get(doc_id=doc_id)
            return copy.deepcopy(dict(doc)) if doc is not None else None

    def update(self, table: str, doc_id: str, fields: Doc) -> Doc:
        changes = prepare_fields(check_id(doc_id), fields)
        with self._operation():
            rows = self._rows(table)
            if not rows.update(changes, doc_ids=[doc_id]):
                raise NotFound(f"No document {doc_id!r} in {table!r}.")
            self._dirty = True
            return copy.deepcopy(dict(rows.get(doc_id=doc_id)))

    def delete(self, table: str, doc_id: str) -> bool:
        check_id(doc_id)
        with self._operation():
            removed = bool(self._rows(table).remove(doc_ids=[doc_id]))
            self._dirty = self._dirty or removed
            return removed

    def find(self, table: str, **equals: Any) -> list[Doc]:
        with self._operation():
            return [copy.deepcopy(dict(doc)) for doc in self._rows(table).all() if matches(doc, equals)]

    def all(self, table: str) -> list[Doc]:
        return self.find(table)

    def page(self, table: str, *, limit: int, before: int | None = None, where=None, **equals: Any):
        # Provisional: positions are places in the file's order, which a delete shifts;
        # the journal store that replaces this class numbers documents for good.
        with self._operation():
            docs = [dict(doc) for doc in self._rows(table).all()]
        return page_scan(reversed(list(enumerate(docs, 1))), limit, before, where, equals)

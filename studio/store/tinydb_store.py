"""`TinyDBStore`: TinyDB's documents and file format, without TinyDB's write pattern.

TinyDB re-reads and rewrites its whole file on every change, so every click cost grew with
the library (a one-image generate took 10 s at 50,000 images). Here the data lives in
two files next to each other:

* `studio.json`, the snapshot: plain TinyDB JSON (`{table: {id: document}}`, string ids),
  still readable by `TinyDB(path)`; each document carries its insertion position `_pos`,
  and the `_store` table names the database and the snapshot generation;
* `studio.journal`, every transaction committed since: one checksummed line each,
  appended and fsynced before the call returns (see `studio.store.journal`).

Each process holds all documents in memory with indexes (`studio.store.indexes`). Every
operation takes the thread lock and the cross-process `filelock`, and first reads what
other processes appended (the journal's size; its identity, which compaction changes)
-- never the whole file again. A transaction changes the documents in memory, keeps an
undo log (so an exception, a nested savepoint's failure or a failed disk write puts
everything back), and at the end appends one journal line. When the journal outgrows the
snapshot, it is folded into a fresh snapshot under the lock: snapshot `gen + 1` is
replaced atomically first, then the journal, so a crash between the two leaves a journal
the snapshot already holds, which the next open recognises and replaces.
"""

from __future__ import annotations

import copy
import errno
import gc
import logging
import os
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from filelock import FileLock

from studio.store import journal, snapshot
from studio.store.atomic import TEMP_PREFIX, atomic_file, fsync_dir
from studio.store.base import Doc, NotFound
from studio.store.indexes import POS, Table
from studio.store.journal import StoreFileCorrupt, dumps, loads
from studio.store.memory import check_id, check_table, page_scan, prepare_fields, prepare_new
from studio.store.migrate import META_TABLE, migrate_documents

log = logging.getLogger(__name__)
FORMAT = 2
MIN_COMPACT_BYTES = 4 << 20

__all__ = ["StoreFileCorrupt", "StoreWriteFailed", "TinyDBStore"]


class StoreWriteFailed(ValueError):
    """A commit could not be made durable (full disk, read-only folder); nothing was saved.
    A ValueError so the UI shows its message like any other refused request."""


def _copy(doc: Doc) -> Doc:
    try:
        return loads(dumps(doc))
    except (TypeError, ValueError):
        return copy.deepcopy(doc)


class TinyDBStore:
    """The `Store` on disk. Safe across threads and processes sharing the same files."""

    def __init__(self, path: Path | str, *, compact_at: int = MIN_COMPACT_BYTES, compact_ratio: float = 1.0) -> None:
        """Compaction runs once the journal is larger than both `compact_at` bytes and
        `compact_ratio` times the snapshot (so its cost stays proportional to the writes)."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.journal_path = self.path.with_suffix(".journal")
        self.compact_at = compact_at
        self.compact_ratio = compact_ratio
        self._file_lock = FileLock(str(self.path) + ".lock", poll_interval=0.002)
        self._lock = threading.RLock()
        self._tables: dict[str, Table] = {}
        self._db_id: str | None = None
        self._gen = 0
        self._next_pos = 1
        self._fd: int | None = None  # the journal we replayed; holding it keeps its inode unique
        self._offset = 0
        self._snapshot_size = 0
        self._snapshot_id: tuple | None = None  # (inode, size, mtime) of the snapshot we read or wrote
        self._undo: list[tuple[str, str, Doc | None, int | None]] | None = None
        with self._lock, self._file_lock:
            self._sync()  # open now: a damaged file is reported at start-up, not mid-request

    # -- transactions --------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator["TinyDBStore"]:
        with self._lock:
            if self._undo is not None:  # nested: a savepoint
                mark = len(self._undo)
                try:
                    yield self
                except BaseException:
                    self._roll_back(mark)
                    raise
                return
            with self._file_lock:
                self._sync()
                self._undo = []
                committed = False
                try:
                    yield self
                    if self._undo:
                        self._commit()
                        committed = True
                except BaseException:
                    self._roll_back(0)
                    raise
                finally:
                    self._undo = None
                if committed and self._offset > max(self._snapshot_size * self.compact_ratio, self.compact_at):
                    try:
                        self.compact()
                    except OSError as exc:  # the commit is safe in the journal; retry next time
                        log.warning("could not compact %s: %s", self.path, exc)

    @contextmanager
    def _operation(self) -> Iterator[None]:
        """One store call: joins the owning thread's open transaction, else is its own."""
        with self._lock:
            if self._undo is not None:
                yield
                return
            with self.transaction():
                yield

    def _roll_back(self, mark: int) -> None:
        assert self._undo is not None
        while len(self._undo) > mark:
            table, doc_id, old, pos = self._undo.pop()
            rows = self._tables[table]
            rows.remove(doc_id)
            if old is not None:
                rows.put(old, pos)

    def _commit(self) -> None:
        assert self._undo is not None and self._fd is not None
        first_old: dict[tuple[str, str], Doc | None] = {}
        for table, doc_id, old, _ in self._undo:
            first_old.setdefault((table, doc_id), old)
        ops = []
        for (table, doc_id), old in first_old.items():
            rows = self._tables[table]
            doc = rows.docs.get(doc_id)
            if doc is not None:
                ops.append(["put", table, {**doc, POS: rows.pos_of[doc_id]}])
            elif old is not None:
                ops.append(["del", table, doc_id])
        if not ops:
            return
        line = journal.encode({"ops": ops, "next": self._next_pos})
        try:
            self._append(line)
        except OSError as exc:
            try:
                os.ftruncate(self._fd, self._offset)  # never leave half a record behind
            except OSError:
                pass  # a torn tail is cut off by the next open or sync
            what = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
            log.error("could not append to %s: %s", self.journal_path, exc)
            # People see this message in the app, so it names the file, not the server's path.
            raise StoreWriteFailed(
                f"Could not save to {self.journal_path.name} in the data folder: {what}. Nothing was saved; "
                "free some disk space (or make the data folder writable) and try again."
            ) from exc
        self._offset += len(line)

    def _append(self, line: bytes) -> None:
        view = memoryview(line)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    # -- keeping up with the files ---------------------------------------------------

    def _sync(self) -> None:
        """Bring memory up to date with the files. Called holding both locks. If the files
        can't be read, the journal is let go, so every later call reads them again and
        refuses the same way instead of serving half-replayed data."""
        try:
            self._catch_up()
        except BaseException:
            self._close()
            raise

    def _catch_up(self) -> None:
        try:
            on_disk = os.stat(self.journal_path)
        except FileNotFoundError:
            on_disk = None
        if (self._fd is None or on_disk is None or on_disk.st_ino != os.fstat(self._fd).st_ino
                or snapshot.identity(self.path) != self._snapshot_id):
            self._load()
            # The documents live as long as the process: without this, every full collection
            # of the cyclic GC walks all of them (0.75 s at 100,000 images), stalling every thread.
            gc.freeze()
        elif on_disk.st_size > self._offset:
            self._replay_from(self._offset)
        elif on_disk.st_size < self._offset:
            self._load()  # someone cut the journal (restored from a backup?): start over

    def _replay_from(self, start: int) -> None:
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        data = os.pread(self._fd, size - start, start)
        scan = journal.scan(self.journal_path, data, start)
        records = scan.records
        if start == 0:
            if not records:
                raise StoreFileCorrupt(f"{self.journal_path} has no header. Move it away to open the database.")
            state = journal.check_header(self.journal_path, records[0], self._db_id, self._gen)
            if state == "stale":
                self._new_journal()
                return
            records = records[1:]
        for record in records:
            self._apply(record)
        self._offset = scan.end
        if scan.torn:
            log.warning("%s: cut off a record left incomplete by a process that was killed", self.journal_path)
            os.ftruncate(self._fd, scan.end)
            os.fsync(self._fd)

    def _apply(self, record: Any) -> None:
        try:
            self._next_pos = max(self._next_pos, journal.apply(self._tables, record))
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreFileCorrupt(
                f"The database journal {self.journal_path} holds a record this version can't read ({exc!r}). "
                "Nothing was changed; restore the data folder from a backup."
            ) from None

    def _load(self) -> None:
        """Read the snapshot and replay its journal; create or migrate the database if needed."""
        snapshot.remove_stale_temp_files(self.path.parent, self._temp_prefix)
        self._close()
        data = snapshot.read(self.path)
        meta = (data.get(META_TABLE) or {}).get("meta") if data is not None else None
        if meta is None:
            self._create(data)
            return
        self._db_id, self._gen, self._next_pos = meta["db"], int(meta["gen"]), int(meta["next"])
        self._tables = {}
        for name, docs in data.items():
            if name == META_TABLE:
                continue
            self._tables[name] = Table()
            try:
                self._tables[name].load(self._positioned(docs))
            except (KeyError, TypeError, ValueError) as exc:
                raise StoreFileCorrupt(
                    f"The database file {self.path} has a damaged table {name!r} ({exc}); restore it from a backup."
                ) from None
        self._snapshot_size = self.path.stat().st_size
        self._snapshot_id = snapshot.identity(self.path)
        if not self.journal_path.exists():
            self._new_journal()
            return
        self._fd = os.open(self.journal_path, os.O_RDWR | os.O_APPEND)
        self._offset = 0
        self._replay_from(0)

    def _positioned(self, docs: dict) -> Iterator[tuple[Doc, int]]:
        for doc in docs.values():
            pos = doc.pop(POS, None)
            if not isinstance(pos, int) or isinstance(pos, bool):  # a record added by hand
                pos, self._next_pos = self._next_pos, self._next_pos + 1
            yield doc, pos

    def _create(self, old: dict | None) -> None:
        """A new database, or one in the old one-file format: migrate, keeping a backup."""
        if self.journal_path.exists():  # a journal without its snapshot: never guess, never drop it
            raise StoreFileCorrupt(
                f"The journal {self.journal_path} has no database snapshot of its own next to it "
                f"({self.path.name} is missing or from an older version). Restore {self.path.name} from the "
                f"backup it came with, or move {self.journal_path.name} away to start from {self.path.name} as it is."
            )
        if old:
            backup = self.path.with_name(self.path.stem + ".before-journal" + self.path.suffix)
            backup.write_bytes(self.path.read_bytes())
            fsync_dir(self.path.parent)
            log.warning("migrating %s to the journal format; the old file is kept as %s", self.path, backup)
        self._tables, self._next_pos = migrate_documents(old or {})
        self._db_id, self._gen = uuid.uuid4().hex, -1
        self.compact()

    # -- compaction -------------------------------------------------------------------

    def compact(self) -> None:
        """Fold the journal into a fresh snapshot (generation + 1), then start a new journal."""
        with self._lock, self._file_lock:
            if self._undo is not None:
                raise RuntimeError("compact() can't run inside a transaction")
            if self._fd is not None:
                self._sync()
            gen = self._gen + 1
            meta = {"db": self._db_id, "gen": gen, "next": self._next_pos, "format": FORMAT}
            payload = snapshot.encode(meta, self._tables)
            with atomic_file(self.path, prefix=self._temp_prefix, suffix="") as tmp:
                tmp.write(payload)
            self._gen, self._snapshot_size = gen, len(payload)
            self._snapshot_id = snapshot.identity(self.path)
            self._new_journal()

    def _new_journal(self) -> None:
        line = journal.encode(journal.header(self._db_id, self._gen))
        with atomic_file(self.journal_path, prefix=self._temp_prefix, suffix="") as tmp:
            tmp.write(line)
        self._close()
        self._fd = os.open(self.journal_path, os.O_RDWR | os.O_APPEND)
        self._offset = len(line)

    @property
    def _temp_prefix(self) -> str:
        return TEMP_PREFIX + self.path.stem + "."

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        with self._lock:
            self._close()

    # -- Store operations ----------------------------------------------------------

    def _rows(self, table: str) -> Table:
        return self._tables.setdefault(check_table(table), Table())

    def insert(self, table: str, doc: Doc) -> Doc:
        stored = prepare_new(doc)
        with self._operation():
            rows = self._rows(table)
            if stored["id"] in rows.docs:
                raise ValueError(f"A document with id {stored['id']!r} already exists in {table!r}.")
            pos, self._next_pos = self._next_pos, self._next_pos + 1
            rows.put(stored, pos)
            self._undo.append((table, stored["id"], None, None))
            return _copy(stored)

    def get(self, table: str, doc_id: str) -> Doc | None:
        check_id(doc_id)
        with self._operation():
            doc = self._rows(table).docs.get(doc_id)
            return _copy(doc) if doc is not None else None

    def update(self, table: str, doc_id: str, fields: Doc) -> Doc:
        changes = prepare_fields(check_id(doc_id), fields)
        with self._operation():
            rows = self._rows(table)
            old = rows.docs.get(doc_id)
            if old is None:
                raise NotFound(f"No document {doc_id!r} in {table!r}.")
            pos = rows.pos_of[doc_id]
            rows.put({**old, **changes}, pos)
            self._undo.append((table, doc_id, old, pos))
            return _copy(rows.docs[doc_id])

    def delete(self, table: str, doc_id: str) -> bool:
        check_id(doc_id)
        with self._operation():
            rows = self._rows(table)
            pos = rows.pos_of.get(doc_id)
            old = rows.remove(doc_id)
            if old is None:
                return False
            self._undo.append((table, doc_id, old, pos))
            return True

    def find(self, table: str, **equals: Any) -> list[Doc]:
        with self._operation():
            return [_copy(doc) for doc in self._rows(table).scan(equals)]

    def find_containing(self, table: str, field: str, item: Any, **equals: Any) -> list[Doc]:
        with self._operation():
            return [_copy(doc) for doc in self._rows(table).scan(equals, (field, item))]

    def all(self, table: str) -> list[Doc]:
        return self.find(table)

    def tables(self) -> list[str]:
        """The names of the tables that hold documents."""
        with self._operation():
            return [name for name, rows in self._tables.items() if len(rows)]

    def count(self, table: str, **equals: Any) -> int:
        with self._operation():
            return sum(1 for _ in self._rows(table).scan(equals))

    def page(self, table: str, *, limit: int, before: int | None = None,
             where: Callable[[Doc], bool] | None = None, **equals: Any) -> tuple[list[Doc], int | None]:
        with self._operation():
            newest = self._rows(table).newest_first(equals, before, where)
            docs, next_pos = page_scan(newest, limit, None, None, {})
            return docs, next_pos

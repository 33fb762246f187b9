"""`MemoryStore`: the in-memory twin of `TinyDBStore`.

Tests and throwaway sessions use it; it must behave exactly like the disk store, so
the document rules (JSON-only values, string ids, copies in and out) live here as
small functions that `TinyDBStore` reuses -- one definition, no drift.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from studio.store.base import Doc, NotFound


def json_copy(doc: Doc) -> Doc:
    """A deep copy through JSON: what the disk store would hand back after a round trip.

    Doing the same in memory means a tuple comes back as a list, and a value that can't
    be saved on disk (a datetime, an object) fails here too instead of only in production.
    """
    try:
        return json.loads(json.dumps(doc, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Document can't be stored: values must be plain JSON ({exc}).") from exc


def check_table(table: str) -> str:
    if not isinstance(table, str) or not table.strip():
        raise ValueError("Table name must be a non-empty string.")
    if table.startswith("_store"):
        raise ValueError(f"Table name {table!r} is reserved for the store's own bookkeeping.")
    return table


def check_id(doc_id: Any) -> str:
    if not isinstance(doc_id, str) or not doc_id:
        raise ValueError(f"Document id must be a non-empty string, got {doc_id!r}.")
    return doc_id


def prepare_new(doc: Doc) -> Doc:
    """Validated JSON copy of a document about to be inserted, with its `id` set."""
    if not isinstance(doc, dict):
        raise ValueError("A document must be a dict.")
    stored = json_copy(doc)
    stored["id"] = check_id(stored.get("id") or uuid.uuid4().hex)
    return stored


def prepare_fields(doc_id: str, fields: Doc) -> Doc:
    """Validated JSON copy of fields to merge; the `id` itself can't be changed."""
    if not isinstance(fields, dict):
        raise ValueError("Fields to update must be a dict.")
    if "id" in fields and fields["id"] != doc_id:
        raise ValueError("A document's id can't be changed.")
    return json_copy(fields)


def matches(doc: Doc, equals: dict[str, Any]) -> bool:
    return all(doc.get(key) == value for key, value in equals.items())


def contains(doc: Doc, field: str, item: Any) -> bool:
    items = doc.get(field)
    return isinstance(items, list) and item in items


def page_scan(
    newest_first: Iterable[tuple[int, Doc]],
    limit: int,
    before: int | None,
    where: Callable[[Doc], bool] | None,
    equals: dict[str, Any],
) -> tuple[list[Doc], int | None]:
    """The `Store.page` rule over (position, doc) pairs, newest first; docs are copied."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"A page limit must be a whole number of at least 1, got {limit!r}.")
    found: list[tuple[int, Doc]] = []
    for position, doc in newest_first:
        if before is not None and position >= before:
            continue
        if matches(doc, equals) and (where is None or where(doc)):
            found.append((position, doc))
            if len(found) > limit:
                break
    more = len(found) > limit
    found = found[:limit]
    return [copy.deepcopy(doc) for _, doc in found], (found[-1][0] if more else None)


class MemoryStore:
    """Tables of documents in dicts (insertion-ordered), guarded by one reentrant lock.

    A transaction holds the lock for its whole body (so other threads wait, as other
    processes wait for the disk store's file lock) and restores a snapshot on error.
    Nested transactions are savepoints: an inner failure undoes only the inner part.
    """

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, Doc]] = {}
        self._positions: dict[str, dict[str, int]] = {}  # insertion order, for paging
        self._next_position = 1
        self._lock = threading.RLock()

    def insert(self, table: str, doc: Doc) -> Doc:
        stored = prepare_new(doc)
        with self._lock:
            rows = self._tables.setdefault(check_table(table), {})
            if stored["id"] in rows:
                raise ValueError(f"A document with id {stored['id']!r} already exists in {table!r}.")
            rows[stored["id"]] = stored
            self._positions.setdefault(table, {})[stored["id"]] = self._next_position
            self._next_position += 1
            return copy.deepcopy(stored)

    def get(self, table: str, doc_id: str) -> Doc | None:
        with self._lock:
            doc = self._tables.get(check_table(table), {}).get(check_id(doc_id))
            return copy.deepcopy(doc) if doc is not None else None

    def update(self, table: str, doc_id: str, fields: Doc) -> Doc:
        changes = prepare_fields(check_id(doc_id), fields)
        with self._lock:
            doc = self._tables.get(check_table(table), {}).get(doc_id)
            if doc is None:
                raise NotFound(f"No document {doc_id!r} in {table!r}.")
            doc.update(changes)
            return copy.deepcopy(doc)

    def delete(self, table: str, doc_id: str) -> bool:
        with self._lock:
            rows = self._tables.get(check_table(table), {})
            self._positions.get(table, {}).pop(check_id(doc_id), None)
            return rows.pop(doc_id, None) is not None

    def find(self, table: str, **equals: Any) -> list[Doc]:
        with self._lock:
            rows = self._tables.get(check_table(table), {}).values()
            return [copy.deepcopy(doc) for doc in rows if matches(doc, equals)]

    def find_containing(self, table: str, field: str, item: Any, **equals: Any) -> list[Doc]:
        with self._lock:
            rows = self._tables.get(check_table(table), {}).values()
            return [copy.deepcopy(doc) for doc in rows if matches(doc, equals) and contains(doc, field, item)]

    def all(self, table: str) -> list[Doc]:
        return self.find(table)

    def page(self, table: str, *, limit: int, before: int | None = None,
             where: Callable[[Doc], bool] | None = None, **equals: Any) -> tuple[list[Doc], int | None]:
        with self._lock:
            rows = self._tables.get(check_table(table), {})
            positions = self._positions.get(table, {})
            newest_first = ((positions[doc_id], rows[doc_id]) for doc_id in reversed(rows))
            return page_scan(newest_first, limit, before, where, equals)

    @contextmanager
    def transaction(self) -> Iterator["MemoryStore"]:
        with self._lock:
            snapshot = copy.deepcopy((self._tables, self._positions, self._next_position))
            try:
                yield self
            except BaseException:
                self._tables, self._positions, self._next_position = snapshot
                raise

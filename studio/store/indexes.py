"""The documents a process holds in memory, with the indexes every request looks up by.

Every request filters by owner and often by project, shot, job or kind; scanning the whole
table for that makes each click cost grow with the library. So each table keeps, per
indexed field, a map from value to the sorted insertion positions of the documents holding
it; `find` and `page` walk the smallest matching bucket instead of the table. Positions
(`_pos`, stored with each document on disk) are handed out once and never reused, which
is what lets a paging cursor survive inserts, deletes and compaction.
"""

from __future__ import annotations

import bisect
import json
from typing import Any, Callable, Iterable, Iterator

from studio.store.base import Doc

INDEXED = ("owner", "user", "project_id", "shot_id", "job_id", "kind", "status", "parent_id", "applied_asset_id")
# List fields indexed by element: "which records point at this image?" when one is deleted.
MEMBERS = ("reference_ids", "history", "asset_ids")
POS = "_pos"


_ATOMIC = (str, int, float, bool)


def index_key(value: Any) -> Any:
    """A hashable stand-in for a JSON value; equal values (as `==` sees them) share one."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return ("json", json.dumps(value, sort_keys=True))


class Table:
    """One table: documents by id, their positions, and the field indexes."""

    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}
        self.pos_of: dict[str, int] = {}
        self.id_at: dict[int, str] = {}
        self.order: list[int] = []  # every position, ascending
        self.index: dict[str, dict[Any, list[int]]] = {f: {} for f in INDEXED}
        self.members: dict[str, dict[Any, list[int]]] = {f: {} for f in MEMBERS}

    def __len__(self) -> int:
        return len(self.docs)

    # -- changes (the caller has validated and copied the document) ------------------

    def load(self, items: Iterable[tuple[Doc, int]]) -> None:
        """Fill an empty table from a snapshot: `put` for many documents at once, with the
        per-call work taken out of the loop (opening 100,000 images is this loop)."""
        if self.docs:
            raise ValueError("load() fills an empty table")
        docs, pos_of, id_at, order = self.docs, self.pos_of, self.id_at, self.order
        fields = [(field, self.index[field]) for field in INDEXED]
        members = list(self.members.items())
        last, ascending = 0, True
        for doc, pos in items:
            doc_id = doc["id"]
            if doc_id in docs or pos in id_at:
                raise ValueError(f"document {doc_id!r} or position {pos} appears twice")
            docs[doc_id], pos_of[doc_id], id_at[pos] = doc, pos, doc_id
            order.append(pos)
            ascending = ascending and pos > last
            last = pos
            for field, buckets in fields:
                value = doc.get(field)
                key = value if value is None or type(value) in _ATOMIC else index_key(value)
                bucket = buckets.get(key)
                if bucket is None:
                    buckets[key] = [pos]
                else:
                    bucket.append(pos)
            for field, buckets in members:
                if field in doc:
                    for key in _member_keys(doc.get(field)):
                        buckets.setdefault(key, []).append(pos)
        if not ascending:  # a hand-edited snapshot: still correct, only slower
            order.sort()
            for _, buckets in fields + members:
                for bucket in buckets.values():
                    bucket.sort()

    def put(self, doc: Doc, pos: int) -> Doc | None:
        """Insert or replace `doc` at `pos`; returns the document it replaced."""
        doc_id = doc["id"]
        old = self.docs.get(doc_id)
        if old is not None:
            if self.pos_of[doc_id] != pos:
                raise ValueError(f"document {doc_id!r} can't move from position {self.pos_of[doc_id]} to {pos}")
            for field in INDEXED:
                before, after = index_key(old.get(field)), index_key(doc.get(field))
                if before != after:
                    self._unindex(field, before, pos)
                    self._index(field, after, pos)
            for field, buckets in self.members.items():
                before_keys, after_keys = _member_keys(old.get(field)), _member_keys(doc.get(field))
                for key in before_keys - after_keys:
                    _unbucket(buckets, key, pos)
                for key in after_keys - before_keys:
                    _insort(buckets.setdefault(key, []), pos)
        else:
            self.pos_of[doc_id] = pos
            self.id_at[pos] = doc_id
            _insort(self.order, pos)
            for field in INDEXED:
                self._index(field, index_key(doc.get(field)), pos)
            for field, buckets in self.members.items():
                for key in _member_keys(doc.get(field)):
                    _insort(buckets.setdefault(key, []), pos)
        self.docs[doc_id] = doc
        return old

    def remove(self, doc_id: str) -> Doc | None:
        doc = self.docs.pop(doc_id, None)
        if doc is None:
            return None
        pos = self.pos_of.pop(doc_id)
        del self.id_at[pos]
        _discard(self.order, pos)
        for field in INDEXED:
            self._unindex(field, index_key(doc.get(field)), pos)
        for field, buckets in self.members.items():
            for key in _member_keys(doc.get(field)):
                _unbucket(buckets, key, pos)
        return doc

    def _index(self, field: str, key: Any, pos: int) -> None:
        _insort(self.index[field].setdefault(key, []), pos)

    def _unindex(self, field: str, key: Any, pos: int) -> None:
        _unbucket(self.index[field], key, pos)

    # -- reading (documents are returned as they are held: the caller copies) ---------

    def candidates(self, equals: dict[str, Any], contains: tuple[str, Any] | None = None) -> list[int]:
        """The sorted positions worth checking: the smallest index bucket among the fields
        asked for, or every position when no indexed field is asked for."""
        best = self.order
        if contains is not None and contains[0] in self.members:
            best = self.members[contains[0]].get(index_key(contains[1]), [])
        for field, value in equals.items():
            if field in self.index:
                bucket = self.index[field].get(index_key(value), [])
                if len(bucket) < len(best):
                    best = bucket
        return best

    def scan(self, equals: dict[str, Any], contains: tuple[str, Any] | None = None) -> Iterator[Doc]:
        for pos in list(self.candidates(equals, contains)):
            doc = self.docs[self.id_at[pos]]
            if _matches(doc, equals) and (contains is None or _contains(doc, *contains)):
                yield doc

    def newest_first(
        self, equals: dict[str, Any], before: int | None, where: Callable[[Doc], bool] | None
    ) -> Iterable[tuple[int, Doc]]:
        positions = self.candidates(equals)
        end = len(positions) if before is None else bisect.bisect_left(positions, before)
        for i in range(end - 1, -1, -1):
            pos = positions[i]
            doc = self.docs[self.id_at[pos]]
            if _matches(doc, equals) and (where is None or where(doc)):
                yield pos, doc


def _member_keys(items: Any) -> set:
    return {index_key(v) for v in items} if isinstance(items, list) else set()


def _contains(doc: Doc, field: str, item: Any) -> bool:
    items = doc.get(field)
    return isinstance(items, list) and item in items


def _unbucket(buckets: dict[Any, list[int]], key: Any, pos: int) -> None:
    bucket = buckets.get(key)
    if bucket is not None:
        _discard(bucket, pos)
        if not bucket:
            del buckets[key]


def _matches(doc: Doc, equals: dict[str, Any]) -> bool:
    return all(doc.get(key) == value for key, value in equals.items())


def _insort(positions: list[int], pos: int) -> None:
    if not positions or positions[-1] < pos:
        positions.append(pos)  # the common case: a new document is the newest
    else:
        bisect.insort(positions, pos)


def _discard(positions: list[int], pos: int) -> None:
    i = bisect.bisect_left(positions, pos)
    if i < len(positions) and positions[i] == pos:
        del positions[i]

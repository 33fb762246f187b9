"""The storage interface every service talks to.

Small on purpose: tables of JSON documents keyed by a string `id`, plus a
transaction that makes a read-check-write sequence atomic (the credits ledger needs
"check balance, then debit" to be one step, also across processes).
Implementations: `TinyDBStore` (on disk) and `MemoryStore` (the twin for tests).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Callable, Protocol, runtime_checkable

Doc = dict[str, Any]


class NotFound(KeyError):
    """No document with that id in that table."""


@runtime_checkable
class Store(Protocol):
    def insert(self, table: str, doc: Doc) -> Doc:
        """Store a copy of doc; assigns `id` (uuid4 hex) when missing. Returns the stored doc."""

    def get(self, table: str, doc_id: str) -> Doc | None: ...

    def update(self, table: str, doc_id: str, fields: Doc) -> Doc:
        """Merge fields into the document; raises NotFound."""

    def delete(self, table: str, doc_id: str) -> bool: ...

    def find(self, table: str, **equals: Any) -> list[Doc]:
        """Documents whose fields equal all given values, in insertion order (a missing
        field counts as None, as JSON readers treat an absent key and null alike)."""

    def find_containing(self, table: str, field: str, item: Any, **equals: Any) -> list[Doc]:
        """Documents whose list `field` holds `item` (and whose fields equal `equals`), in
        insertion order: "what points at this image?" without reading every record."""

    def all(self, table: str) -> list[Doc]: ...

    def page(
        self,
        table: str,
        *,
        limit: int,
        before: int | None = None,
        where: Callable[[Doc], bool] | None = None,
        **equals: Any,
    ) -> tuple[list[Doc], int | None]:
        """Up to `limit` matching documents, newest first, from those inserted before
        position `before` (None: from the newest). Returns them and the position to pass
        as `before` for the next page, or None when there are no more. Positions are the
        insertion order, so documents inserted meanwhile never shift a later page."""

    def transaction(self) -> AbstractContextManager["Store"]:
        """Everything done through the yielded store is applied at once, or not at all
        (an exception inside rolls back). Serialised against other transactions and
        writes, also from other processes for the on-disk store."""

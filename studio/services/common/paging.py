"""Lists that page: what a click loads is one page, never the whole library.

A cursor is a position in the store's insertion order (the store's `page` numbers every
document when it is inserted), not an offset: images arriving while someone scrolls land
before the first page and never shift later pages, so paging shows no duplicate and skips
nothing. Cursors are opaque strings to callers (the UI, API clients); only this module
reads them, and a cursor that was edited or comes from another list is refused with a
message instead of silently starting over.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Callable

from studio.services.generation.requests import InvalidRequest
from studio.store.base import Doc, Store

DEFAULT_LIMIT = 24
LEDGER_LIMIT = 50
MAX_LIMIT = 200
_PREFIX = "p1."


@dataclass(frozen=True)
class Page:
    """One page of a list, newest first; `next_cursor` fetches the page after it."""

    items: list
    next_cursor: str | None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None

    def to_api(self, view: Callable[[Any], Any] | None = None) -> dict:
        """The JSON shape every API list endpoint returns."""
        items = [view(i) for i in self.items] if view else list(self.items)
        return {"items": items, "next_cursor": self.next_cursor, "has_more": self.has_more}


def check_limit(limit: Any, default: int = DEFAULT_LIMIT) -> int:
    if limit is None or limit == "":
        return default
    if isinstance(limit, float) and limit.is_integer():
        limit = int(limit)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"A page holds 1 to {MAX_LIMIT} items; got {limit!r}.")
    return limit


def encode_cursor(kind: str, position: int) -> str:
    raw = f"{kind}:{position}".encode()
    return _PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: Any, kind: str) -> int | None:
    """The store position a cursor stands for; None (the first page) for no cursor."""
    if cursor is None or cursor == "":
        return None
    bad = InvalidRequest("That page cursor is not valid for this list; load the list again from the start.")
    if not isinstance(cursor, str) or not cursor.startswith(_PREFIX) or len(cursor) > 100:
        raise bad
    body = cursor[len(_PREFIX):]
    try:
        text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    name, _, number = text.partition(":")
    if name != kind or not number.isdigit():
        raise bad
    return int(number)


def page_of(
    store: Store,
    table: str,
    list_name: str,
    *,
    limit: Any,
    cursor: Any,
    equals: dict[str, Any],
    default_limit: int = DEFAULT_LIMIT,
    where: Callable[[Doc], bool] | None = None,
) -> Page:
    """A newest-first page of `table`'s documents matching `equals` (and `where`);
    `list_name` ties cursors to their list."""
    size = check_limit(limit, default_limit)
    before = decode_cursor(cursor, list_name)
    docs, next_position = store.page(table, limit=size, before=before, where=where, **equals)
    return Page(items=docs, next_cursor=None if next_position is None else encode_cursor(list_name, next_position))

"""Lists that reach the end: a page, then "Load more" follows the store's cursor.

Growing the page size instead (24, 48, … up to the store's 200 per page) left everyone
with more than 200 images unable to reach the older ones. Here "Load more" asks for the
page after the last one shown, however far down that is, and a refresh (after a job, a
delete, an edit) reads again from the newest down to the oldest entry that was shown:
what the person loaded stays loaded, and new entries appear on top.

`fetch(limit, cursor)` is any service's paged list (it returns a `Page`); `view(records)`
turns records into what the widget shows (items, and ids when the list is clickable).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from studio.services.common.paging import MAX_LIMIT, Page, decode_cursor

Fetch = Callable[[int, "str | None"], Page]
View = Callable[[list], "tuple[list, list]"]


@dataclass(frozen=True)
class Loaded:
    """What a paged list shows so far. `key` names the list (project, shot, filter):
    a refresh of another list starts again at one page."""

    key: tuple = ()
    items: tuple = ()
    ids: tuple = ()
    cursor: str | None = None

    @property
    def has_more(self) -> bool:
        return self.cursor is not None


NOTHING = Loaded()


def load_first(fetch: Fetch, view: View, key: tuple, page_size: int, shown: Loaded | None = None,
               list_name: str = "") -> Loaded:
    """The newest entries: one page; or, when `shown` is the same list, everything down to
    the oldest entry it showed (`list_name` is the list's cursor name, see paging.py), so
    new entries land on top and nothing the person loaded goes away."""
    same = shown is not None and shown.key == key and bool(shown.items)
    stop = decode_cursor(shown.cursor, list_name) if same and shown.cursor else None
    items: list = []
    ids: list = []
    cursor: str | None = None
    while True:
        wanted = max(page_size, len(shown.items) - len(items)) if same else page_size
        page = fetch(min(MAX_LIMIT, wanted), cursor)
        new_items, new_ids = view(page.items)
        items += new_items
        ids += new_ids
        cursor = page.next_cursor
        if cursor is None or not same:  # the end of the list; or a list shown afresh: one page
            break
        if stop is not None and decode_cursor(cursor, list_name) <= stop:  # down to the oldest shown
            break
        # the same list, loaded to its end before: read on to the end
    return Loaded(key, tuple(items), tuple(ids), cursor)


def load_more(fetch: Fetch, view: View, shown: Loaded, page_size: int) -> Loaded:
    """`shown` and the page after it."""
    if shown.cursor is None:
        return shown
    page = fetch(page_size, shown.cursor)
    new_items, new_ids = view(page.items)
    return Loaded(shown.key, shown.items + tuple(new_items), shown.ids + tuple(new_ids), page.next_cursor)

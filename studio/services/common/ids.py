"""Ids and ownership: the one gate every Gen Space lookup goes through.

Ids come back from the browser and the API, so they are untrusted text. Every id the
store makes is a uuid4 hex string; anything else (path characters, `..`, empty, huge,
not a string) is refused here with the same "Unknown ..." message a missing record
gets, before the database or the disk is touched. Records of another user are also
"Unknown": a user can't even learn that someone else's id exists.

The table names shared by the Gen Space services are re-exported here (they are defined
with the record models in `studio.store.records`), so `shots`, `assets` and `projects`
can read each other's tables without importing each other.
"""

from __future__ import annotations

import re
from typing import Any

from studio.services.generation.requests import InvalidRequest, check_user
from studio.store.base import Doc, Store
from studio.store.records import ASSETS, PROJECTS, REFERENCE_LISTS, SHOTS, utc_now
__all__ = ["ASSETS", "PROJECTS", "REFERENCE_LISTS", "SHOTS", "check_id", "check_user", "now", "owned"]

_UUID_HEX = re.compile(r"[0-9a-f]{32}")


def check_id(value: Any, what: str) -> str:
    """`value` if it looks like an id the store made; else InvalidRequest("Unknown {what} id")."""
    if not isinstance(value, str) or not _UUID_HEX.fullmatch(value):
        raise InvalidRequest(f"Unknown {what} id")
    return value


def owned(store: Store, table: str, doc_id: Any, user: Any, what: str) -> Doc:
    """The record `doc_id` of `table` if it exists and belongs to `user`.

    Missing, deleted and someone else's records all give the same message.
    """
    check_user(user)
    doc = store.get(table, check_id(doc_id, what))
    if doc is None or doc.get("owner") != user:
        raise InvalidRequest(f"Unknown {what}: it may have been deleted.")
    return doc


now = utc_now  # the one timestamp helper, under the name the Gen Space services use

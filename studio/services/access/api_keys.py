"""API keys: what a program shows instead of a password to the REST dialects.

A key is a random 256-bit token shown once when it is made; the store keeps only its
sha256. A fast hash is enough here (unlike passwords) because the token has full
entropy: there is nothing to guess from a leaked digest. Lookup is by digest, so
checking a key costs one indexed find, never a scan that compares secrets.
Revoking keeps the record (name, when) so the owner's list still explains it, and a
revoked key is refused exactly like a key that never existed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from studio.services.common.ids import check_id, check_user, now
from studio.services.generation.requests import InvalidRequest
from studio.services.common.validation import required_text
from studio.store.base import Doc, Store
from studio.store.records import insert_record, update_record

from studio.store.records import API_KEYS  # the table name lives with its model
KEY_PREFIX = "sk-studio-"
MAX_NAME_CHARS = 60
MAX_KEYS_PER_USER = 20


@dataclass(frozen=True)
class NewKey:
    """The one moment the secret exists outside the caller's hands."""

    id: str
    name: str
    secret: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _public(doc: Doc) -> dict:
    return {
        "id": doc["id"],
        "name": doc["name"],
        "hint": doc["hint"],
        "created": doc["created"],
        "revoked": doc.get("revoked"),
    }


class ApiKeyService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, user: str, name: object) -> NewKey:
        check_user(user)
        if not isinstance(name, str):
            name = None  # a number or a list is no name either; same sentence as an empty one
        name = required_text(name, "The key name", max_chars=MAX_NAME_CHARS,
                             empty="Give the key a name, so you can tell it apart later (e.g. 'laptop script').")
        if len(self.list(user, include_revoked=False)) >= MAX_KEYS_PER_USER:
            raise InvalidRequest(f"You already have {MAX_KEYS_PER_USER} active keys; revoke one first.")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        doc = insert_record(self.store, API_KEYS, {
                "owner": user,
                "name": name,
                "digest": _digest(secret),
                "hint": secret[: len(KEY_PREFIX) + 4] + "…" + secret[-4:],
                "created": now(),
                "revoked": None,
            },
        )
        return NewKey(id=doc["id"], name=name, secret=secret)

    def list(self, user: str, *, include_revoked: bool = True) -> list[dict]:
        """The user's keys, newest first; never the secret or its digest."""
        check_user(user)
        docs = [d for d in self.store.find(API_KEYS, owner=user) if include_revoked or not d.get("revoked")]
        return [_public(d) for d in reversed(docs)]

    def revoke(self, user: str, key_id: object) -> dict:
        check_user(user)
        doc = self.store.get(API_KEYS, check_id(key_id, "API key"))
        if doc is None or doc.get("owner") != user:
            raise InvalidRequest("Unknown API key: it may have been deleted.")
        if not doc.get("revoked"):
            doc = update_record(self.store, API_KEYS, doc["id"], {"revoked": now()})
        return _public(doc)

    def user_for(self, secret: object) -> str | None:
        """The owner of an active key, or None for anything else (revoked, unknown, malformed)."""
        if not isinstance(secret, str) or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            return None
        for doc in self.store.find(API_KEYS, digest=_digest(secret)):
            if not doc.get("revoked"):
                return doc["owner"]
        return None

"""A per-user library of saved prompts with the settings they were made with.

Saving a prompt keeps everything needed to get back to the same Image Studio state:
the text, the negative prompt, model, style, aspect ratio, image count and whether the
prompt enhancer was on. Validation happens before anything is written, so a bad save
leaves the library unchanged and the message tells the user what to fix.
"""

from __future__ import annotations

import re
from typing import Any

from pipelines.params import MAX_PROMPT_CHARS
from studio.services.common import validation as v
from studio.services.common.paging import DEFAULT_LIMIT, Page, page_of
from studio.services.generation.requests import check_negative, check_prompt, check_user
from studio.store.base import Doc, Store
from studio.store.records import SAVED_PROMPTS, utc_now
from studio.store.records import insert_record

PROMPTS_TABLE = SAVED_PROMPTS
_ID = re.compile(r"[0-9a-f]{32}")
MAX_NAME_CHARS = 80


def _text(value: Any, what: str, *, required: bool, max_chars: int = MAX_PROMPT_CHARS) -> str:
    if required:
        return v.required_text(value, what, max_chars=max_chars)
    return v.optional_text(value, what, max_chars=max_chars)


class PromptLibrary:
    """Save, list, get and delete a user's prompts. Users only ever see their own."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(
        self,
        user: str,
        *,
        name: str,
        prompt: str,
        negative_prompt: str = "",
        model_id: str,
        style_id: str | None = None,
        aspect: str,
        count: int = 1,
        enhance: bool = False,
    ) -> Doc:
        """Store a new saved prompt and return it (with its `id` and `created` time)."""
        check_user(user)
        name = _text(name, "The name", required=True, max_chars=MAX_NAME_CHARS)
        doc = {
            "owner": user,
            "name": name,
            "prompt": check_prompt(prompt),  # the same rules as generating with it
            "negative_prompt": check_negative(negative_prompt),
            "model_id": _text(model_id, "The model", required=True, max_chars=200),
            "style_id": _text(style_id, "The style", required=False, max_chars=200) or None,
            "aspect": _text(aspect, "The aspect ratio", required=True, max_chars=20),
            "count": self._count(count),
            "enhance": self._flag(enhance),
            "created": utc_now(),
        }
        with self.store.transaction() as tx:
            for existing in tx.find(PROMPTS_TABLE, owner=user):
                if existing["name"].casefold() == name.casefold():
                    raise v.InvalidRequest(f"You already have a saved prompt named {existing['name']}; pick another name.")
            return insert_record(tx, PROMPTS_TABLE, doc)

    def list(self, user: str) -> list[Doc]:
        """The user's saved prompts, newest first."""
        return list(reversed(self.store.find(PROMPTS_TABLE, owner=user)))

    def page(self, user: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> Page:
        """One page of the user's saved prompts, newest first."""
        _text(user, "User", required=True)
        return page_of(self.store, PROMPTS_TABLE, "prompts", limit=limit, cursor=cursor, equals={"owner": user})

    def get(self, user: str, prompt_id: str) -> Doc | None:
        """The saved prompt, or None if it doesn't exist, belongs to someone else, or the id is not one."""
        if not isinstance(prompt_id, str) or not _ID.fullmatch(prompt_id):
            return None
        doc = self.store.get(PROMPTS_TABLE, prompt_id)
        return doc if doc is not None and doc.get("owner") == user else None

    def delete(self, user: str, prompt_id: str) -> bool:
        """Remove one of the user's saved prompts; False if it isn't theirs or is gone."""
        with self.store.transaction() as tx:
            if self.get(user, prompt_id) is None:
                return False
            return tx.delete(PROMPTS_TABLE, prompt_id)

    @staticmethod
    def _count(count: Any) -> int:
        return v.parameter("count", count)

    @staticmethod
    def _flag(value: Any) -> bool:
        return v.flag(value, "Enhance prompt")

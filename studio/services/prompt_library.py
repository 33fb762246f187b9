"""A per-user library of saved prompts with the settings they were made with.

Saving a prompt keeps everything needed to get back to the same Image Studio state:
the text, the negative prompt, model, style, aspect ratio, image count and whether the
prompt enhancer was on. Validation happens before anything is written, so a bad save
leaves the library unchanged and the message tells the user what to fix.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pipelines.types import MAX_IMAGES, MAX_PROMPT_CHARS
from studio.services.paging import DEFAULT_LIMIT, Page, page_of
from studio.store.base import Doc, Store

PROMPTS_TABLE = "saved_prompts"
MAX_NAME_CHARS = 80


def _text(value: Any, what: str, *, required: bool, max_chars: int | None = None) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text.")
    if required and not value.strip():
        raise ValueError(f"{what} can't be empty.")
    if max_chars is not None and len(value) > max_chars:
        raise ValueError(f"{what} is {len(value)} characters long; the limit is {max_chars}.")
    return value


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
        _text(user, "User", required=True)
        name = _text(name, "Name", required=True).strip()
        if len(name) > MAX_NAME_CHARS:
            raise ValueError(f"Name is {len(name)} characters long; the limit is {MAX_NAME_CHARS}.")
        doc = {
            "user": user,
            "name": name,
            "prompt": _text(prompt, "Prompt", required=True, max_chars=MAX_PROMPT_CHARS),
            "negative_prompt": _text(negative_prompt, "Negative prompt", required=False, max_chars=MAX_PROMPT_CHARS),
            "model_id": _text(model_id, "Model", required=True),
            "style_id": _text(style_id, "Style", required=False) or None,
            "aspect": _text(aspect, "Aspect ratio", required=True),
            "count": self._count(count),
            "enhance": self._flag(enhance),
            "created": datetime.now(timezone.utc).isoformat(),
        }
        with self.store.transaction() as tx:
            for existing in tx.find(PROMPTS_TABLE, user=user):
                if existing["name"].casefold() == name.casefold():
                    raise ValueError(f"You already have a saved prompt named {name!r}; pick another name.")
            return tx.insert(PROMPTS_TABLE, doc)

    def list(self, user: str) -> list[Doc]:
        """The user's saved prompts, newest first."""
        return list(reversed(self.store.find(PROMPTS_TABLE, user=user)))

    def page(self, user: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> Page:
        """One page of the user's saved prompts, newest first."""
        _text(user, "User", required=True)
        return page_of(self.store, PROMPTS_TABLE, "prompts", limit=limit, cursor=cursor, equals={"user": user})

    def get(self, user: str, prompt_id: str) -> Doc | None:
        """The saved prompt, or None if it doesn't exist or belongs to someone else."""
        doc = self.store.get(PROMPTS_TABLE, prompt_id)
        return doc if doc is not None and doc.get("user") == user else None

    def delete(self, user: str, prompt_id: str) -> bool:
        """Remove one of the user's saved prompts; False if it isn't theirs or is gone."""
        with self.store.transaction() as tx:
            if self.get(user, prompt_id) is None:
                return False
            return tx.delete(PROMPTS_TABLE, prompt_id)

    @staticmethod
    def _count(count: Any) -> int:
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_IMAGES:
            raise ValueError(f"Image count must be a whole number from 1 to {MAX_IMAGES}, got {count!r}.")
        return count

    @staticmethod
    def _flag(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"Enhance must be true or false, got {value!r}.")
        return value

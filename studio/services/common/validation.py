"""Every rule for values that arrive from outside (browser, API client, saved data).

One module so that /generate, /generate_for_shot, compare, the prompt library, shots
and projects refuse the same bad value with the same sentence. The rules are strict
on purpose, because a loose rule is what charged people for `12345` stored as a
prompt or a seed of 1.5 silently becoming 2:

* text must be a `str` (no numbers, lists or dicts turned into their repr);
* text that is empty once whitespace AND invisible characters (zero-width spaces,
  joiners, format characters, fillers) are removed counts as empty;
* text that could not be written to disk as UTF-8 (a lone surrogate such as
  "\\ud800", which JSON allows) is refused up front, before anything is charged;
* whole numbers are JSON numbers with no fractional part. Text such as "2" is refused
  everywhere: one rule for every endpoint, and an API client learns it at once;
* limits are said in the unit they are counted in ("20 MiB", "2000 characters").

Every refusal is an `InvalidRequest` whose message is shown to the person as is: no
quotes around it, no exception names, no server paths.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any, Iterable

__all__ = [
    "InvalidRequest",
    "choice",
    "flag",
    "id_list",
    "is_blank",
    "mib",
    "number",
    "optional_parameter",
    "parameter",
    "optional_text",
    "plain_message",
    "required_text",
    "shown",
    "whole_number",
]


class InvalidRequest(ValueError):
    """Bad input: the message is for the user; nothing was charged or written."""


# Characters that draw nothing but are not whitespace to str.strip(): categories Cf
# (zero-width space/joiners, BOM, word joiner, bidi marks), Cc (controls), Mn/Me only
# when nothing visible carries them, plus the "filler" letters that render blank.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me"}
_BLANK_LETTERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800", "\u180e"}


def is_blank(text: str) -> bool:
    """True when `text` shows nothing: only whitespace and invisible characters."""
    return all(c in _BLANK_LETTERS or unicodedata.category(c) in _INVISIBLE_CATEGORIES for c in text)


def shown(value: Any, limit: int = 40) -> str:
    """A value quoted back to the person inside a sentence, short and printable."""
    text = value if isinstance(value, str) else str(value)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mib(n_bytes: int) -> str:
    """A byte limit as people read it on their file manager: "20 MiB"."""
    value = n_bytes / (1024 * 1024)
    return f"{value:.0f} MiB" if value.is_integer() else f"{value:.1f} MiB"


def _storable(value: str, what: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(
            f"{what} contains a character that can't be saved (a broken emoji or symbol); retype that part."
        ) from None


def optional_text(value: Any, what: str, *, max_chars: int) -> str:
    """Text that may be left empty (None counts as empty); returned stripped."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f"{what} must be text.")
    _storable(value, what)
    if len(value) > max_chars:
        raise InvalidRequest(
            f"{what} is {len(value)} characters; the limit is {max_chars}. Shorten it by {len(value) - max_chars}."
        )
    return "" if is_blank(value) else value.strip()


def required_text(value: Any, what: str, *, max_chars: int, empty: str | None = None) -> str:
    """Text that must show something; `empty` is the message for a blank value."""
    text = optional_text(value, what, max_chars=max_chars)
    if not text:
        raise InvalidRequest(empty or f"{what} is empty; write something first.")
    return text


def whole_number(value: Any, what: str, *, minimum: int, maximum: int) -> int:
    """A JSON number with no fraction (2 and 2.0 pass; 1.5, "2", True do not), within range."""
    span = f"from {minimum} to {maximum}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequest(f"{what} must be a whole number {span}.")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise InvalidRequest(f"{what} must be a whole number {span}.")
        value = int(value)
    if not minimum <= value <= maximum:
        raise InvalidRequest(f"{what} must be a whole number {span}; {shown(value)} is out of range.")
    return value


def number(value: Any, what: str, *, minimum: float, maximum: float) -> float:
    """Any finite JSON number within [minimum, maximum]."""
    span = f"from {minimum:g} to {maximum:g}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidRequest(f"{what} must be a number {span}.")
    if not minimum <= value <= maximum:
        raise InvalidRequest(f"{what} must be a number {span}; {shown(value)} is out of range.")
    return float(value)


def flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(f"{what} must be true or false.")
    return value


def choice(value: Any, options: Iterable[str], what: str) -> str:
    """One of `options`; the message lists them (a wrong type gets the same message)."""
    options = list(options)
    if not isinstance(value, str) or value not in options:
        raise InvalidRequest(f"Unknown {what}. Choose one of: {', '.join(options)}.")
    return value


def id_list(value: Any, what: str, *, max_items: int) -> tuple[str, ...]:
    """A list of ids (None or an empty list: none). Each id is checked by its owner later."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise InvalidRequest(f"Give the {what} as a list of ids.")
    if len(value) > max_items:
        raise InvalidRequest(f"You can use up to {max_items} {what}; remove {len(value) - max_items} first.")
    for item in value:
        if not isinstance(item, str):
            raise InvalidRequest(f"Unknown {what[:-1] if what.endswith('s') else what} id.")
    return tuple(value)


_PATH = re.compile(r"(?:\s(?:from|at|in|under|to))?\s?['\"]?(?:[A-Za-z]:)?(?:[\\/][^\s:'\",;)\]]+){2,}['\"]?")
_CLASS_REPR = re.compile(r"<class '(?:[\w.]*\.)?(\w+)'>")
_EXCEPTION_PREFIX = re.compile(r"^(?:[\w.]*\.)?[A-Z]\w*(?:Error|Exception|Unavailable|Memory):\s*")


def plain_message(text: str, limit: int = 240) -> str:
    """A message from below (the engine, a library) made fit to show a person: no server
    paths, no class reprs or exception-name prefixes, one short paragraph."""
    text = _EXCEPTION_PREFIX.sub("", str(text).strip())
    text = _PATH.sub(" (on the server)", text)
    text = _CLASS_REPR.sub(r"\1", text)
    text = " ".join(text.split())
    if len(text) > limit:
        text = _shorten(text, limit)
    return text[:1].upper() + text[1:]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _shorten(text: str, limit: int) -> str:
    """Fit `text` in `limit` characters without cutting a sentence off mid-way: the longest
    sentence (a library's long reason, usually) is shortened inside, ending "…", so the
    advice sentences around it stay whole; failing that, whole sentences from the start."""
    sentences = _SENTENCE_END.split(text)
    longest = max(range(len(sentences)), key=lambda i: len(sentences[i]))
    room = limit - (len(text) - len(sentences[longest]))
    if room >= 40:
        cut = sentences[longest][: room - 2].rsplit(" ", 1)[0].rstrip(",;:")
        sentences[longest] = cut + "…"
        return " ".join(sentences)
    kept = []
    for sentence in sentences:
        if len(" ".join(kept + [sentence])) > limit:
            break
        kept.append(sentence)
    return " ".join(kept) if kept else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def parameter(name: str, value: Any, family: str | None = None):
    """A generation parameter checked against its row in the one table
    (`pipelines.params`): the same sentence the engine's own guard would give."""
    from pipelines.params import PARAMS, BadParameter

    try:
        return PARAMS[name].check(value, family)
    except BadParameter as exc:
        raise InvalidRequest(str(exc)) from None


def optional_parameter(name: str, value: Any, family: str | None = None):
    """Like `parameter`, with None meaning "the default" (kept as None)."""
    return None if value is None else parameter(name, value, family)

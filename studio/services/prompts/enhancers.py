"""Which prompt enhancer runs, and what a language model may add to a person's prompt.

Two kinds: the built-in offline enhancer (enhancer.py: per-style vocabularies, always
there) and the catalog's language models (`prompt_enhancers` in presets/models.json, run by
pipelines/prompt_expansion.py). A request may name one; otherwise the catalog's
`default_enhancer` runs, and without one the built-in.

A language model writes what prompts like this one usually say, which is often a second
place, another time of day or somebody's lighting. So its continuation is cut into
phrases and each is kept only when it passes the same reading of the prompt the built-in
enhancer obeys (`prompt_facts`): nothing that contradicts the prompt's place, time of day,
lighting or subject, no second setting, no words the prompt already has. If the model
cannot be used (offline and not downloaded yet, damaged files), the built-in enhancer runs
instead and the result says why, so Enhance never fails a generation.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from pipelines.catalog import Catalog, EnhancerEntry
from pipelines.params import MAX_PROMPT_CHARS
from pipelines.prompt_expansion import PromptExpander
from pipelines.types import ModelUnavailable, ProgressFn
from studio.services.common.validation import InvalidRequest
from studio.services.prompts.enhancer import content_words, enhance_prompt
from studio.services.prompts.prompt_facts import contradicts, names_place, read_facts

log = logging.getLogger(__name__)

BUILT_IN = "built-in"
BUILT_IN_NAME = "Built-in offline enhancer"
MAX_ADDED_PHRASES = 6
REMEMBERED = 256  # enhanced prompts kept (a fallback is not kept: the model may work next time)
_PHRASE = re.compile(r"^[A-Za-z][A-Za-z0-9 '&.-]{1,58}[A-Za-z0-9]$")  # words, not markup, urls or token debris


@dataclass(frozen=True)
class Enhanced:
    prompt: str
    enhancer_id: str
    enhancer_name: str
    note: str = ""  # why another enhancer than the one asked for ran; empty when it did

    @property
    def label(self) -> str:
        """What the page says ran (beside the enhanced prompt)."""
        return f"{self.enhancer_name} — {self.note}" if self.note else self.enhancer_name


def keep_phrases(prompt: str, continuation: str, limit: int = MAX_ADDED_PHRASES) -> list[str]:
    """The phrases of a model's continuation that may follow `prompt`, in its order."""
    said = read_facts(prompt)
    words = content_words(prompt)
    kept: list[str] = []
    for raw in re.split(r"[,;\n()|]+", continuation):
        phrase = " ".join(raw.split()).strip(" .-")
        if len(kept) >= limit or not _PHRASE.match(phrase or ""):
            continue
        facts = read_facts(phrase)
        new_words = content_words(phrase) - words
        if not new_words or contradicts(said, facts) or (said.place and names_place(phrase)):
            continue
        kept.append(phrase)
        words |= content_words(phrase)
        said = read_facts(", ".join([prompt, *kept]))
    return kept


class PromptEnhancers:
    """The built-in enhancer and the catalog's language models, each loaded on first use."""

    def __init__(self, catalog: Catalog, *, cache_dir: Path | None = None) -> None:
        self.default_id = catalog.default_enhancer or BUILT_IN
        self._entries: dict[str, EnhancerEntry] = {e.id: e for e in catalog.prompt_enhancers}
        self._expanders: dict[str, PromptExpander] = {
            e.id: PromptExpander(e, cache_dir=cache_dir) for e in catalog.prompt_enhancers}
        self._lock = threading.Lock()
        self._recent: OrderedDict[tuple[str, str, str], Enhanced] = OrderedDict()

    def choices(self) -> list[tuple[str, str]]:
        """(label, id) for a picker: the built-in first, then the catalog's models."""
        return [(BUILT_IN_NAME, BUILT_IN)] + [(e.name, e.id) for e in self._entries.values()]

    def name(self, enhancer_id: str | None) -> str:
        chosen = self.check(enhancer_id)
        return BUILT_IN_NAME if chosen == BUILT_IN else self._entries[chosen].name

    def check(self, enhancer_id: object) -> str:
        """The enhancer id to use (the default when none is named); an unknown one is refused."""
        if enhancer_id in (None, ""):
            return self.default_id
        if enhancer_id == BUILT_IN or enhancer_id in self._entries:
            return str(enhancer_id)
        known = ", ".join([BUILT_IN, *self._entries])
        raise InvalidRequest(f"There is no prompt enhancer {str(enhancer_id)[:60]!r}; choose one of: {known}.")

    def enhance(self, prompt: str, style_id: str, enhancer_id: str | None = None,
                progress: ProgressFn | None = None) -> Enhanced:
        """The enhanced prompt. Remembered (the last `REMEMBERED` prompts): the page's preview,
        the API's check and the job itself ask for the same text, and a model answers the
        same every time, so it runs once."""
        key = (prompt, style_id, self.check(enhancer_id))
        with self._lock:
            done = self._recent.get(key)
        if done is None:
            done = self._enhance(*key, progress)
            if done.note:
                return done  # a stand-in: the model may be downloadable next time
            with self._lock:
                self._recent[key] = done
                while len(self._recent) > REMEMBERED:
                    self._recent.popitem(last=False)
        return done

    def _enhance(self, prompt: str, style_id: str, chosen: str, progress: ProgressFn | None) -> Enhanced:
        if chosen == BUILT_IN:
            return Enhanced(enhance_prompt(prompt, style_id), BUILT_IN, BUILT_IN_NAME)
        entry = self._entries[chosen]
        try:
            continuation = self._expanders[chosen].continue_prompt(prompt, progress)
        except ModelUnavailable as exc:
            log.warning("prompt enhancer %s unavailable: %s", chosen, exc)
            note = f"{entry.name} could not run ({_first_sentence(str(exc))}), so the built-in enhancer was used"
            return Enhanced(enhance_prompt(prompt, style_id), BUILT_IN, BUILT_IN_NAME, note)
        added = keep_phrases(prompt, continuation)
        text = prompt
        for phrase in added:
            if len(text) + 2 + len(phrase) > MAX_PROMPT_CHARS:
                break
            text = f"{text}, {phrase}"
        return Enhanced(text, chosen, entry.name)


def _first_sentence(message: str) -> str:
    """A reason short enough for a label, cut at a sentence or clause end, never mid-word."""
    for stop in (". ", "; "):
        if stop in message:
            message = message.split(stop, 1)[0]
    return message.rstrip(".")

"""What the generation services hand back: prepared jobs, saved images, results, outcomes.

Kept apart from the service so the job lifecycle in `generation.py` reads on its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from pipelines.catalog import ModelEntry
from studio.services.generation.requests import StudioRequest
from studio.services.generation.stopping import Stopped
from studio.services.prompts.styles import Style


class GenerationFailed(RuntimeError):
    """The job started but did not finish; its credits were given back (the message says so)."""


def credits_returned(cost: int) -> str:
    return "Your 1 credit was returned." if cost == 1 else f"Your {cost} credits were returned."


@dataclass(frozen=True)
class PreparedJob:
    """A request that passed every check: what will run and what it costs."""

    request: StudioRequest
    entry: ModelEntry
    style: Style
    prompt: str  # after enhancement: what the user sees and what gets recorded
    styled_prompt: str  # after the style template: what the model gets
    negative_prompt: str
    width: int
    height: int
    count: int
    seed: int | None
    cost: int
    enhancer: str = ""  # the name of the enhancer that ran ("" when not enhanced), with why when it stood in


@dataclass
class SavedImage:
    asset_id: str
    path: str  # absolute file path
    seed: int
    details: dict


@dataclass
class StudioResult:
    job_id: str
    images: list[SavedImage]
    prompt: str
    cost: int
    balance: int
    elapsed_s: float
    model_id: str
    extra: dict = field(default_factory=dict)
    stopped: Stopped | None = None  # a Cancel ended it part-way: what was made and refunded


def user_subdir(user: str) -> str:
    """A folder name per user that is safe whatever characters the account name has."""
    slug = "".join(c for c in user.lower() if c.isascii() and c.isalnum())[:24] or "user"
    return f"{slug}-{hashlib.sha256(user.encode()).hexdigest()[:8]}"


@dataclass
class Outcome:
    """What a multi-job action (a comparison, a batch) made and paid for, and what it could not.

    Iterating it gives the finished results, so a caller that only shows images needs
    nothing else; `failures` holds (model or shot name, message) for a job that stopped
    (its own credits were returned; the others' images are kept and shown)."""

    results: list
    failures: list[tuple[str, str]] = field(default_factory=list)
    stopped: Stopped | None = None  # a Cancel ended it: what was made and refunded, in all

    def __iter__(self):
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index):
        return self.results[index]

    @property
    def message(self) -> str | None:
        return " ".join(f"{name}: {why}" for name, why in self.failures) or None

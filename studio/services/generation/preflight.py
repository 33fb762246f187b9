"""The one answer to "what will this cost, and can it run?", asked before every paid job.

The UI asks it on every change (to show the price and enable or disable Generate) and
the services ask it again inside `generate()` right before charging, so the rules for
prompts, counts, models, references and credits live once: in the services' checks,
which this module only turns into a `Preflight` value instead of an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from studio.services.billing.ledger import InsufficientCredits
from studio.services.common.validation import InvalidRequest

__all__ = ["ModelCannotRun", "Preflight", "run_preflight", "unavailable_reason"]


class ModelCannotRun(InvalidRequest):
    """Refused before any charge because of the model, not the input: its files are missing,
    damaged or of another family, or it can't fit this machine. REST answers 503 for it."""


@dataclass(frozen=True)
class Preflight:
    """cost: the credits the job would take (0 when the request is too broken to price);
    balance: what the caller has now; reason: why it can't run, in words, or None."""

    cost: int
    balance: int
    reason: str | None = None
    short_of_credits: bool = False  # the reason is the price, not the input
    more: str = ""  # when short of credits: how to get more

    @property
    def ok(self) -> bool:
        return self.reason is None

    def raise_if_blocked(self) -> None:
        """The same refusal as an exception, for the code path that is about to charge."""
        if self.short_of_credits:
            raise InsufficientCredits(self.cost, self.balance, self.more)
        if self.reason is not None:
            raise InvalidRequest(self.reason)


class SpendingCheck:
    """What the preflight asks the credits about one user: called with a cost, why a spending
    limit refuses it (or None); `how_to_get_more()` for the sentence when the balance is short."""

    def __init__(self, credits, user: object, check_user=lambda user: user) -> None:
        # the user is checked when asked, as the balance is: a blank one is the balance's refusal
        self.credits, self.user, self.check_user = credits, user, check_user

    def __call__(self, cost: int) -> str | None:
        return self.credits.limit_reason(self.check_user(self.user), cost)

    def how_to_get_more(self) -> str:
        return self.credits.how_to_get_more(self.check_user(self.user))


def run_preflight(check: Callable[[], int], balance: Callable[[], int], cost_hint: Callable[[], int],
                  limit: Callable[[int], str | None] | None = None) -> Preflight:
    """`check()` validates and returns the cost, or raises InvalidRequest; then the price
    is compared with the balance, and `limit(cost)` (an account's daily spending limit) may
    refuse it too. `cost_hint()` prices a request whose input is bad (0 if that can't be
    known), so the UI can still show a number next to the reason."""
    try:
        have = balance()
    except InvalidRequest as exc:
        return Preflight(cost=0, balance=0, reason=str(exc))
    try:
        cost = check()
    except InvalidRequest as exc:
        try:
            hint = cost_hint()
        except InvalidRequest:
            hint = 0
        return Preflight(cost=hint, balance=have, reason=str(exc))
    if cost > have:
        more = limit.how_to_get_more() if isinstance(limit, SpendingCheck) else ""
        return Preflight(cost=cost, balance=have, reason=str(InsufficientCredits(cost, have, more)),
                         short_of_credits=True, more=more)
    refused = limit(cost) if limit is not None and cost > 0 else None
    if refused:
        return Preflight(cost=cost, balance=have, reason=refused)
    return Preflight(cost=cost, balance=have)


def unavailable_reason(engine, entry) -> str | None:
    """Why `entry` cannot run here, or None when it is on disk or can be downloaded.

    Uses the engine's own check (`is_downloaded`, which never touches the network). A
    hub model that is not cached can still run if downloads are possible; it can't when
    the Hugging Face hub is in offline mode. A local folder or file that is missing
    can't be fetched from anywhere."""
    try:
        if engine.is_downloaded(entry.id):
            return None
    except Exception:  # an engine that can't tell: let the job try (it refunds on failure)
        return None
    if entry.source.kind == "hub":
        from huggingface_hub import constants

        if constants.is_offline_mode():
            return f"{entry.name} is not downloaded and this studio is offline; choose a model that is on this machine."
        return None
    return f"{entry.name}'s files are missing on the server; choose another model or ask the administrator."

"""Credits: an append-only ledger per user; the balance is the sum of its entries.

There is deliberately no stored balance field that could drift from the history: every
grant, charge and refund is one ledger document, and `balance()` adds them up. Each
entry also records `balance_after` so the UI can show a statement without re-adding.

`charge` checks and debits inside ONE store transaction, so two generations started at
once (two tabs, two processes) can never both spend the last credits. Each job can be
charged once and refunded once, so retries and double clicks don't double-count.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from studio.services.paging import LEDGER_LIMIT, Page, page_of
from studio.store.base import Doc, Store

LEDGER_TABLE = "credit_ledger"
EntryKind = Literal["grant", "charge", "refund"]


class InsufficientCredits(ValueError):
    """The user can't afford this; the message says how much it costs and what they have."""

    def __init__(self, cost: int, balance: int) -> None:
        self.cost = cost
        self.balance = balance
        super().__init__(f"This costs {_credits(cost)}; you have {balance}.")


def _credits(n: int) -> str:
    return f"{n} credit" if n == 1 else f"{n} credits"


def _check_count(value: Any, what: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be a whole number of at least {minimum}, got {value!r}.")
    return value


def _check_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty text.")
    return value


class CreditsService:
    """Per-user credit balances backed by a ledger table in the store."""

    def __init__(self, store: Store, starting_balance: int) -> None:
        self.store = store
        self.starting_balance = _check_count(starting_balance, "Starting balance")

    # -- reading -------------------------------------------------------------------

    def balance(self, user: str) -> int:
        with self.store.transaction() as tx:
            return sum(entry["delta"] for entry in self._entries(tx, user))

    def ledger(self, user: str) -> list[Doc]:
        """The user's entries, newest first."""
        with self.store.transaction() as tx:
            return list(reversed(self._entries(tx, user)))

    def ledger_page(self, user: str, *, limit: int = LEDGER_LIMIT, cursor: str | None = None) -> Page:
        """One page of the user's entries, newest first (the billing view loads more on demand)."""
        _check_text(user, "User")
        with self.store.transaction() as tx:
            self._entries(tx, user)  # a first visit still shows the starting grant
            return page_of(tx, LEDGER_TABLE, "ledger", limit=limit, cursor=cursor,
                           default_limit=LEDGER_LIMIT, equals={"user": user})

    @staticmethod
    def estimate(cost_per_image: int, count: int) -> int:
        """What generating `count` images costs, shown before the user clicks Generate."""
        return _check_count(cost_per_image, "Cost per image") * _check_count(count, "Image count", minimum=1)

    # -- writing -------------------------------------------------------------------

    def charge(self, user: str, amount: int, *, reason: str, job_id: str) -> Doc:
        """Debit `amount` for `job_id`, or raise `InsufficientCredits` and write nothing."""
        _check_count(amount, "Charge amount")
        _check_text(job_id, "Job id")
        with self.store.transaction() as tx:
            entries = self._entries(tx, user)
            if tx.find(LEDGER_TABLE, kind="charge", job_id=job_id):
                raise ValueError(f"Job {job_id!r} has already been charged.")
            balance = sum(entry["delta"] for entry in entries)
            if amount > balance:
                raise InsufficientCredits(amount, balance)
            return self._append(tx, user, -amount, "charge", reason, job_id, balance - amount)

    def refund(self, job_id: str, *, reason: str) -> Doc | None:
        """Give back exactly what `job_id` was charged, once; None if there is nothing to refund."""
        _check_text(job_id, "Job id")
        with self.store.transaction() as tx:
            charges = tx.find(LEDGER_TABLE, kind="charge", job_id=job_id)
            if not charges or tx.find(LEDGER_TABLE, kind="refund", job_id=job_id):
                return None
            charge = charges[0]
            user = charge["user"]
            balance = sum(entry["delta"] for entry in self._entries(tx, user))
            return self._append(tx, user, -charge["delta"], "refund", reason, job_id, balance - charge["delta"])

    # -- internals -----------------------------------------------------------------

    def _entries(self, tx: Store, user: str) -> list[Doc]:
        """The user's entries oldest first; the first access writes the starting grant."""
        _check_text(user, "User")
        entries = tx.find(LEDGER_TABLE, user=user)
        if not entries:
            grant = self._append(
                tx, user, self.starting_balance, "grant", "Starting balance", None, self.starting_balance
            )
            entries = [grant]
        return entries

    @staticmethod
    def _append(
        tx: Store, user: str, delta: int, kind: EntryKind, reason: str, job_id: str | None, balance_after: int
    ) -> Doc:
        return tx.insert(
            LEDGER_TABLE,
            {
                "user": user,
                "delta": delta,
                "kind": kind,
                "reason": str(reason),
                "job_id": job_id,
                "created": datetime.now(timezone.utc).isoformat(),
                "balance_after": balance_after,
            },
        )

"""Credits: an append-only ledger per user; the ledger is the truth about balances.

Every grant, charge and refund is one ledger entry, and each entry records
`balance_after`, the running sum of the owner's deltas up to and including it. Entries
are only ever written inside a store transaction that first reads the newest one, so the
newest entry's `balance_after` *is* the sum of the ledger -- and reading the balance (on
every prompt keystroke, for the cost check) is one indexed lookup, not a sum over the
user's whole history. `python -m studio.store check` re-adds every ledger and reports
any owner whose sum and newest `balance_after` disagree.

`charge` checks and debits inside ONE store transaction, so two generations started at
once (two tabs, two processes) can never both spend the last credits. Each job can be
charged once and refunded once, so retries and double clicks don't double-count.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable, Literal

from studio.services.common.paging import LEDGER_LIMIT, Page, page_of
from studio.services.common.validation import InvalidRequest
from studio.store.base import Doc, Store
from studio.store.records import LEDGER, LedgerEntry, utc_now
from studio.store.records import insert_record, update_record

LEDGER_TABLE = LEDGER
EntryKind = Literal["grant", "take", "charge", "refund"]  # "take": an administrator's debit


class InsufficientCredits(ValueError):
    """The user can't afford this; the message says how much it costs and what they have."""

    def __init__(self, cost: int, balance: int, more: str = "") -> None:
        self.cost = cost
        self.balance = balance
        # `more`: how this person gets more credits (CreditsService.how_to_get_more), so the
        # refusal is a way forward rather than a dead end.
        super().__init__(f"This costs {_credits(cost)}; you have {balance}." + (f" {more}" if more else ""))


def _credits(n: int) -> str:
    return f"{n} credit" if n == 1 else f"{n} credits"


def _check_count(value: Any, what: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidRequest(f"{what} must be a whole number of at least {minimum}, got {value!r}.")
    return value


def _check_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{what} must be a non-empty text.")
    return value


class CreditsService:
    """Per-user credit balances backed by a ledger table in the store."""

    def __init__(self, store: Store, starting_balance: int) -> None:
        self.store = store
        self.starting_balance = _check_count(starting_balance, "Starting balance")
        # Set by the admin service: called inside charge()'s transaction, raises to refuse
        # (a daily spending limit). Lives there so every charge, UI or API, passes it.
        self.charge_check: Callable[[Store, str, int], None] | None = None
        # Set by the admin service too: the same limit as a sentence, for the preflight.
        self.spend_limit: Callable[[str, int], str | None] | None = None
        # Set by the admin service as well: the sentence telling a user how to get more credits.
        self.more_credits: Callable[[str], str] | None = None

    # -- reading -------------------------------------------------------------------

    def balance(self, user: str) -> int:
        with self.store.transaction() as tx:
            return self._newest(tx, user)["balance_after"]

    def ledger(self, user: str) -> list[Doc]:
        """All the user's entries, newest first (`ledger_page` is what screens use)."""
        with self.store.transaction() as tx:
            self._newest(tx, user)
            return list(reversed(tx.find(LEDGER_TABLE, owner=user)))

    def ledger_page(self, user: str, *, limit: int = LEDGER_LIMIT, cursor: str | None = None) -> Page:
        """One page of the user's entries, newest first (the billing view loads more on demand)."""
        with self.store.transaction() as tx:
            self._newest(tx, user)  # a first visit still shows the starting grant
            return page_of(tx, LEDGER_TABLE, "ledger", limit=limit, cursor=cursor,
                           default_limit=LEDGER_LIMIT, equals={"owner": user})

    def spent_since(self, tx: Store, user: str, since: datetime) -> int:
        """Credits charged (less what was refunded) in entries made at or after `since`.

        Reads back from the newest entry only as far as `since` (entries are appended in
        time order), so a daily-limit check inside every charge costs what today's entries
        cost, not the user's whole history."""
        spent, before = 0, None
        while True:
            entries, before = tx.page(LEDGER_TABLE, limit=LEDGER_LIMIT, before=before, owner=user)
            for entry in entries:
                if datetime.fromisoformat(entry["created"]) < since:
                    return spent
                if entry["kind"] in ("charge", "refund"):
                    spent -= entry["delta"]
            if before is None:
                return spent

    def how_to_get_more(self, user: str) -> str:
        """How `user` gets more credits (who grants them), or "" when nobody said."""
        return self.more_credits(user) if self.more_credits is not None else ""

    def short_of_credits(self, user: str, cost: int, balance: int) -> InsufficientCredits:
        """The refusal for a price above the balance, with the way to get more."""
        return InsufficientCredits(cost, balance, self.how_to_get_more(user))

    def limit_reason(self, user: str, cost: int) -> str | None:
        """Why spending `cost` now would be refused by a spending limit, or None."""
        return self.spend_limit(user, cost) if self.spend_limit is not None else None

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
            balance = self._newest(tx, user)["balance_after"]
            if tx.find(LEDGER_TABLE, job_id=job_id, kind="charge"):
                raise ValueError(f"Job {job_id!r} has already been charged.")
            if amount > balance:
                raise self.short_of_credits(user, amount, balance)
            if self.charge_check is not None:
                self.charge_check(tx, user, amount)
            return self._append(tx, user, -amount, "charge", reason, job_id, balance - amount)

    def adjust(self, user: str, delta: int, *, reason: str, admin: str) -> Doc:
        """An administrator's grant (delta > 0) or take (delta < 0), naming the admin in the entry.
        A take can't make the balance negative."""
        if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
            raise InvalidRequest("The amount must be a whole number of credits other than 0.")
        _check_text(reason, "The reason")
        _check_text(admin, "The administrator")
        with self.store.transaction() as tx:
            balance = self._newest(tx, user)["balance_after"]
            if balance + delta < 0:
                raise InvalidRequest(f"{user} has {_credits(balance)}; you can take at most {balance}.")
            kind: EntryKind = "grant" if delta > 0 else "take"
            entry = self._append(tx, user, delta, kind, reason, None, balance + delta)
            return update_record(tx, LEDGER_TABLE, entry["id"], {"admin": admin})

    def users(self) -> list[str]:
        """Everyone with a ledger, in order of first use."""
        with self.store.transaction() as tx:
            return list(dict.fromkeys(entry.get("owner", entry.get("user")) for entry in tx.all(LEDGER_TABLE)))

    def refund(self, job_id: str, *, reason: str, amount: int | None = None) -> Doc | None:
        """Give back what `job_id` was charged (or `amount` of it: the images a stopped job did
        not make), once; None if there is nothing to refund."""
        _check_text(job_id, "Job id")
        with self.store.transaction() as tx:
            entries = tx.find(LEDGER_TABLE, job_id=job_id)
            charges = [e for e in entries if e["kind"] == "charge"]
            if not charges or any(e["kind"] == "refund" for e in entries):
                return None
            charge = charges[0]
            back = -charge["delta"] if amount is None else _check_count(amount, "Refund amount")
            if back > -charge["delta"]:
                raise ValueError(f"Job {job_id!r} was charged {-charge['delta']}; cannot refund {back}.")
            user = charge["owner"]
            balance = self._newest(tx, user)["balance_after"]
            return self._append(tx, user, back, "refund", reason, job_id, balance + back)

    # -- internals -----------------------------------------------------------------

    def _entries(self, tx: Store, user: str) -> list[Doc]:
        """All the user's entries, oldest first, for whole-history views (never per request:
        the balance is `_newest`'s `balance_after`)."""
        self._newest(tx, user)
        return tx.find(LEDGER_TABLE, owner=user)

    def _newest(self, tx: Store, user: str) -> Doc:
        """The user's newest entry (its `balance_after` is the balance); the first access
        writes the starting grant."""
        _check_text(user, "User")
        newest, _ = tx.page(LEDGER_TABLE, limit=1, owner=user)
        if newest:
            return newest[0]
        return self._append(tx, user, self.starting_balance, "grant", "Starting balance", None, self.starting_balance)

    @staticmethod
    def _append(
        tx: Store, user: str, delta: int, kind: EntryKind, reason: str, job_id: str | None, balance_after: int
    ) -> Doc:
        entry = LedgerEntry(
            id=uuid.uuid4().hex,
            owner=user,
            delta=delta,
            kind=kind,
            reason=str(reason),
            job_id=job_id,
            created=utc_now(),
            balance_after=balance_after,
        )
        return insert_record(tx, LEDGER_TABLE, entry.doc())

"""Administrators: see every account's credits, grant or take with a reason, cap daily spending.

Who is an administrator is configuration (`--admins a,b`), not data: nobody can make
themselves one through the app. Every grant or take is a ledger entry naming the
administrator and the reason, so the balance still equals the ledger's sum and the
history says who gave what. The same `grant` runs from the command line
(`python -m studio.credits grant ...`) through the store's cross-process transaction,
so it is safe while the app runs.

A daily limit caps what an account may spend per UTC day (charges less refunds). It is
checked inside the charge's own transaction (`CreditsService.charge_check`), so two
jobs started at once can't both slip under it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Iterable

from studio.services.billing.ledger import LEDGER_TABLE, CreditsService, InsufficientCredits
from studio.services.common.paging import Page, check_limit, decode_cursor, encode_cursor
from studio.services.generation.requests import InvalidRequest
from studio.store.base import Store
from studio.store.records import insert_record
from studio.store.records import CREDIT_LIMITS

LIMITS_TABLE = CREDIT_LIMITS
RECENT = 5  # recent spending entries shown per account
OVERVIEW_PAGE = 50  # accounts per page of the overview
MAX_GRANT = 1_000_000


class NotAdmin(InvalidRequest):
    def __init__(self) -> None:
        super().__init__("Only administrators can do this. Ask an administrator of the studio.")


class DailyLimitReached(InsufficientCredits):
    """Refused before any charge: the account's daily spending limit would be exceeded."""

    def __init__(self, cost: int, spent: int, limit: int) -> None:
        ValueError.__init__(
            self,
            f"This costs {cost} credit{'s' if cost != 1 else ''}, but your daily limit is {limit} and you have "
            f"spent {spent} today. The limit resets at midnight UTC; nothing was charged.",
        )
        self.cost, self.balance, self.spent, self.limit = cost, limit - spent, spent, limit


def _whole(value, what: str, *, minimum: int | None = None, maximum: int = MAX_GRANT) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{what} must be a whole number.")
    if minimum is not None and value < minimum:
        raise InvalidRequest(f"{what} must be at least {minimum}.")
    if abs(value) > maximum:
        raise InvalidRequest(f"{what} must be at most {maximum}.")
    return value


def _text(value, what: str, limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"Give {what}.")
    value = value.strip()
    if len(value) > limit:
        raise InvalidRequest(f"{what[0].upper() + what[1:]} must be at most {limit} characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(f"{what[0].upper() + what[1:]} contains characters that can't be stored.") from None
    return value


class AdminService:
    def __init__(self, store: Store, credits: CreditsService, *, admins: Iterable[str] = (),
                 default_daily_limit: int | None = None, known_users: Callable[[], Iterable[str]] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.store = store
        self.credits = credits
        self.admins = frozenset(admins)
        self.default_daily_limit = default_daily_limit
        self.known_users = known_users
        self.clock = clock
        credits.charge_check = self._check_charge
        credits.spend_limit = self.limit_reason
        credits.more_credits = self.how_to_get_more

    # -- who -----------------------------------------------------------------------

    def is_admin(self, user: str | None) -> bool:
        return user in self.admins

    def make_local_admin(self, user: str) -> None:
        """A studio without accounts on its owner's machine: its one user runs it, so they are
        its administrator (they can grant themselves credits from the page, as from the CLI)."""
        self.admins = self.admins | {user}

    def how_to_get_more(self, user: str) -> str:
        """Who gives `user` more credits, as the sentence that ends an out-of-credits refusal."""
        cli = f"`python -m studio.cli.credits grant {user} 50 --reason 'top-up'`"
        if self.is_admin(user):
            return f"Add credits with Grant in the Admin tab, or run {cli} on the server."
        if self.admins:
            return f"Ask an administrator of the studio ({', '.join(sorted(self.admins))}) for more credits."
        return f"Ask the person who runs the studio for more credits (they can run {cli})."

    def require_admin(self, user: str | None) -> str:
        if not self.is_admin(user):
            raise NotAdmin()
        return user  # type: ignore[return-value]

    def _check_account(self, user) -> str:
        user = _text(user, "the account name")
        if self.known_users is not None:
            known = set(self.known_users())
            if user not in known and user not in self.credits.users():
                raise InvalidRequest(f"There is no account named {user!r}.")
        return user

    # -- reading -------------------------------------------------------------------

    def overview(self, admin: str, *, limit=None, cursor=None) -> Page:
        """One page of accounts, by name: balance, today's spending, daily limit, recent spending.

        Costs what the page's rows cost, never every account's whole ledger: the names come
        from the accounts file and the starting grants (one per account that used the studio),
        the balance is each account's newest entry, today's spending reads back only to
        midnight, and the recent spending is the newest page of the ledger."""
        self.require_admin(admin)
        size = check_limit(limit, OVERVIEW_PAGE)
        start = decode_cursor(cursor, "accounts") or 0
        names = self.account_names()
        rows = [self._row(user) for user in names[start:start + size]]
        more = start + size < len(names)
        return Page(items=rows, next_cursor=encode_cursor("accounts", start + size) if more else None)

    def account_names(self) -> list[str]:
        """Every account, sorted: those in the accounts file and those with a ledger."""
        with self.store.transaction() as tx:
            names = {e["owner"] for e in tx.find(LEDGER_TABLE, kind="grant") if not e.get("admin")}
        if self.known_users is not None:
            names |= set(self.known_users())
        return sorted(names)

    def _row(self, user: str) -> dict:
        newest = self.credits.ledger_page(user, limit=RECENT + 1).items  # the starting grant is not spending
        with self.store.transaction() as tx:
            spent = self.credits.spent_since(tx, user, self._midnight())
        return {
            "user": user,
            "balance": newest[0]["balance_after"],
            "spent_today": spent,
            "daily_limit": self.daily_limit(user),
            "recent": [{k: e.get(k) for k in ("created", "kind", "delta", "reason", "admin")}
                       for e in newest if e["kind"] != "grant" or e.get("admin")][:RECENT],
        }

    def daily_limit(self, user: str) -> int | None:
        with self.store.transaction() as tx:
            found = tx.find(LIMITS_TABLE, owner=user)
        return found[-1]["daily_limit"] if found else self.default_daily_limit

    def remaining_today(self, user: str) -> int | None:
        """Credits `user` may still spend today under their daily limit; None when unlimited (for preflight)."""
        with self.store.transaction() as tx:
            found = tx.find(LIMITS_TABLE, owner=user)
            limit = found[-1]["daily_limit"] if found else self.default_daily_limit
            if limit is None:
                return None
            return max(0, limit - self.credits.spent_since(tx, user, self._midnight()))

    def limit_reason(self, user: str, cost: int) -> str | None:
        """Why a job costing `cost` would be refused by the daily limit, or None (the preflight's answer)."""
        remaining = self.remaining_today(user)
        if remaining is None or cost <= remaining:
            return None
        limit = self.daily_limit(user)
        return str(DailyLimitReached(cost, limit - remaining, limit))

    # -- writing -------------------------------------------------------------------

    def grant(self, admin: str, user, amount, reason) -> dict:
        """Give (amount > 0) or take (amount < 0) credits; the ledger entry names `admin` and `reason`."""
        self.require_admin(admin)
        return self.grant_as(admin, user, amount, reason)

    def grant_as(self, admin: str, user, amount, reason) -> dict:
        """`grant` without the admin check: for the command line, where the operator is trusted."""
        user = self._check_account(user)
        amount = _whole(amount, "The amount")
        if amount == 0:
            raise InvalidRequest("The amount must not be 0: a positive number grants, a negative one takes.")
        reason = _text(reason, "a reason")
        try:
            return self.credits.adjust(user, amount, reason=reason, admin=admin)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None

    def set_daily_limit(self, admin: str, user, limit) -> int | None:
        """Cap `user`'s spending per UTC day; None (or empty) goes back to the studio's default."""
        self.require_admin(admin)
        user = self._check_account(user)
        if limit in (None, ""):
            value = None
        else:
            value = _whole(limit, "The daily limit", minimum=0)
        with self.store.transaction() as tx:
            for doc in tx.find(LIMITS_TABLE, owner=user):
                tx.delete(LIMITS_TABLE, doc["id"])
            if value is not None:
                insert_record(tx, LIMITS_TABLE, {"owner": user, "daily_limit": value, "set_by": admin,
                                         "created": self.clock().isoformat()})
        return self.daily_limit(user)

    # -- the charge hook -------------------------------------------------------------

    def _midnight(self) -> datetime:
        now = self.clock().astimezone(timezone.utc)
        return now.replace(hour=0, minute=0, second=0, microsecond=0)

    def _check_charge(self, tx: Store, user: str, amount: int) -> None:
        found = tx.find(LIMITS_TABLE, owner=user)
        limit = found[-1]["daily_limit"] if found else self.default_daily_limit
        if limit is None:
            return
        spent = self.credits.spent_since(tx, user, self._midnight())
        if spent + amount > limit:
            raise DailyLimitReached(amount, spent, limit)

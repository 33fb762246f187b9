"""The Gradio sign-in: the accounts' password check behind the login limiter.

Gradio calls `auth(user, password)` from its `/login` route and awaits it when it is a
coroutine, so the limiter's delay is an `await` that holds only this attempt, never the
server. The password hash is checked in a worker thread for the same reason (argon2 is
deliberately slow). The client address comes from the guard middleware.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from studio.accounts import Accounts, LoginLimiter
from studio.web.files import client_address

log = logging.getLogger("studio.login")


def make_auth(accounts: Accounts, limiter: LoginLimiter, *,
              sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Callable[[str, str], Awaitable[bool]]:
    async def auth(user: str, password: str) -> bool:
        address = client_address.get()
        # Counted as it starts: attempts in flight hold their place in the schedule, so a
        # burst queues one behind another, and one whose turn is too far off is refused.
        turn = limiter.reserve(user, address, may_wait=limiter.max_delay)
        if turn.refused:
            log.warning("Refused a sign-in for %r from %s unchecked (its turn is %.1fs away)", user, address, turn.wait)
            raise throttled(turn.wait)
        if turn.wait > 0:
            await sleep(turn.wait)
        ok = await asyncio.to_thread(accounts.verify, user, password)
        if ok:
            limiter.succeeded(user, address)
        else:
            limiter.checked_wrong(user, address)
            log.warning("Failed sign-in for %r from %s (next attempt waits %.1fs)", user, address,
                        limiter.retry_after(user, address))
        return ok

    return auth


def throttled(wait: float) -> Exception:
    """429 with the wait, in words and as Retry-After; gradio's /login route lets it through."""
    from fastapi import HTTPException

    from studio.accounts import SignInThrottled

    refusal = SignInThrottled(wait)
    return HTTPException(status_code=429, detail=str(refusal), headers={"Retry-After": str(max(1, round(wait)))})


class Sessions:
    """Gradio's sign-in tokens kept in step with the accounts: a session ends at its next
    request once its account is removed or its password changed (so `passwd` also logs out
    whoever had the old one). Each token remembers a fingerprint of the password hash it
    signed in with; gradio's own token table is what is cleared, so gradio answers 401."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self._signed_in_with: dict[str, str] = {}

    def signed_in(self, app, token: str) -> None:
        user = app.tokens.get(token)
        if user is not None:
            self._signed_in_with[token] = self.accounts.fingerprint(user) or ""

    def user(self, app, token: str) -> str | None:
        user = app.tokens.get(token)
        if user is None:
            return None
        now = self.accounts.fingerprint(user)
        was = self._signed_in_with.setdefault(token, now or "")
        if now is None or now != was:
            log.warning("Ending a session of %r: the account was removed or its password changed", user)
            app.tokens.pop(token, None)
            self._signed_in_with.pop(token, None)
            return None
        return user

"""Slowing down password guessing: per account and per address, attempts cost time.

The first few failures are free (people mistype). After that each further attempt for
the same account, or from the same address, waits `base * 2**(n - free)` seconds, up to
`max_delay`. Both keys count, so spreading guesses over many accounts from one address,
or over many addresses against one account, is slowed all the same. Failures are
forgotten `window` seconds after the last one, and a successful sign-in clears its
account's count (not its address's: one right password doesn't excuse a spray).

An attempt is counted when it STARTS (`reserve`), not when its password check ends:
each key keeps the time the latest attempt is checked at, and the next attempt may be
checked only `delay(count)` after it (after its check ended, if it was wrong). Thirty attempts sent at once therefore queue one
behind the other exactly as thirty sent one by one would (0, 0, 0, 0.5, 1, 2 … s apart),
instead of all reading "no failures yet" while the first checks are still running. A
caller that may wait (the sign-in page) sleeps until its turn when that is at most
`max_delay` away and is refused beyond; a caller that must not hold a thread (REST) is
refused whenever it would have to wait. A refused attempt is not checked and not counted.
A success takes its own attempt back from the address's count.

The schedule is a number computed from an injectable clock, so tests check the policy
without sleeping; the login wrapper awaits it without blocking the server.
"""

from __future__ import annotations

import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable

# The client address of the request being served (set by the web layer's middleware for every
# HTTP request, the sign-in page's and the REST APIs' alike), so both doors count per address.
client_address: ContextVar[str | None] = ContextVar("client_address", default=None)


@dataclass
class _Record:
    failures: int  # attempts counted (started and not taken back by a success)
    last: float  # when the latest counted attempt is (or was) checked


@dataclass(frozen=True)
class Turn:
    """The answer to "may this attempt be checked?": `wait` seconds from now (0: at once),
    or `refused` (not counted; try again in `wait` seconds)."""

    wait: float
    refused: bool = False


class LoginLimiter:
    def __init__(self, *, free: int = 3, base: float = 0.5, max_delay: float = 10.0, window: float = 900.0,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.free, self.base, self.max_delay, self.window = free, base, max_delay, window
        self.clock = clock
        self.max_keys = max_keys
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(user: str, address: str | None) -> list[str]:
        keys = [f"user:{user}"]
        if address:
            keys.append(f"addr:{address}")
        return keys

    def step(self, failures: int) -> float:
        """The documented gap between an attempt and the one after it, once `failures` are counted."""
        if failures < self.free:
            return 0.0
        return min(self.max_delay, self.base * 2 ** (failures - self.free))

    def allowed_checks(self, seconds: float) -> int:
        """At most how many attempts the schedule lets be checked within `seconds` of the first
        one (all of them at once, or one by one as fast as possible): the documented bound."""
        checked, elapsed = 1, 0.0
        while True:
            gap = self.step(checked)
            if elapsed + gap > seconds:
                return checked
            elapsed += gap
            checked += 1

    def delay(self, user: str, address: str | None) -> float:
        """The gap the schedule puts before the next attempt for this account from this address."""
        now = self.clock()
        with self._lock:
            worst = max((r.failures for k in self.keys(user, address)
                         if (r := self._records.get(k)) is not None and now - r.last <= self.window), default=0)
        return self.step(worst)

    def retry_after(self, user: str, address: str | None) -> float:
        """Seconds until an attempt may be checked without waiting (0: now)."""
        with self._lock:
            return self._wait(self.keys(user, address), self.clock())

    def reserve(self, user: str, address: str | None, *, may_wait: float = 0.0) -> Turn:
        """Count an attempt as it starts and say when it may be checked.

        `may_wait`: the longest this caller is willing to wait for its turn (0 for REST).
        Within it the attempt is counted and its check time taken, so the next attempt is
        scheduled after it; beyond it the attempt is refused and not counted."""
        keys = self.keys(user, address)
        now = self.clock()
        with self._lock:
            wait = self._wait(keys, now)
            if wait > may_wait:
                return Turn(wait, refused=True)
            if len(self._records) >= self.max_keys:
                self._forget_old(now)
            at = now + wait
            for key in keys:
                record = self._records.get(key)
                if record is None or now - record.last > self.window:
                    record = self._records[key] = _Record(0, at)
                record.failures += 1
                record.last = at
            return Turn(wait)

    def checked_wrong(self, user: str, address: str | None) -> None:
        """A reserved attempt's password was wrong: the next gap counts from now, the end of
        its check (argon2 takes a while), when that is later than its reserved start."""
        now = self.clock()
        with self._lock:
            for key in self.keys(user, address):
                record = self._records.get(key)
                if record is not None:
                    record.last = max(record.last, now)

    def failed(self, user: str, address: str | None) -> None:
        """Count a failure that was not reserved (an attempt `reserve` already counted needs nothing)."""
        now = self.clock()
        with self._lock:
            if len(self._records) >= self.max_keys:
                self._forget_old(now)
            for key in self.keys(user, address):
                record = self._records.get(key)
                if record is None or now - record.last > self.window:
                    record = self._records[key] = _Record(0, now)
                record.failures += 1
                record.last = max(record.last, now)

    def succeeded(self, user: str, address: str | None = None) -> None:
        """The right password: the account starts afresh; the address gets back the attempt
        `reserve` counted for this sign-in (its other failures stay)."""
        with self._lock:
            self._records.pop(f"user:{user}", None)
            if address:
                record = self._records.get(f"addr:{address}")
                if record is not None and record.failures > 0:
                    record.failures -= 1

    def _wait(self, keys: list[str], now: float) -> float:
        wait = 0.0
        for key in keys:
            record = self._records.get(key)
            if record is None or now - record.last > self.window:
                continue
            wait = max(wait, record.last + self.step(record.failures) - now)
        return max(0.0, wait)

    def _forget_old(self, now: float) -> None:
        stale = [k for k, r in self._records.items() if now - r.last > self.window]
        for key in stale or list(self._records)[: len(self._records) // 2]:
            del self._records[key]

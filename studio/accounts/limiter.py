"""Slowing down password guessing: per account and per address, failures cost time.

The first few failures are free (people mistype). After that each further attempt for
the same account, or from the same address, waits `base * 2**(n - free)` seconds, up to
`max_delay`. Both keys count, so spreading guesses over many accounts from one address,
or over many addresses against one account, is slowed all the same. Failures are
forgotten `window` seconds after the last one, and a successful sign-in clears its
account's count (not its address's: one right password doesn't excuse a spray).

The delay is a number computed from an injectable clock, so tests check the policy
without sleeping; the login wrapper awaits it without blocking the server.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class _Record:
    failures: int
    last: float


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

    def delay(self, user: str, address: str | None) -> float:
        """Seconds the next attempt for this account from this address must wait before it is checked."""
        now = self.clock()
        with self._lock:
            worst = 0
            for key in self.keys(user, address):
                record = self._records.get(key)
                if record is not None and now - record.last <= self.window:
                    worst = max(worst, record.failures)
        if worst < self.free:
            return 0.0
        return min(self.max_delay, self.base * 2 ** (worst - self.free))

    def retry_after(self, user: str, address: str | None) -> float:
        """Seconds until an attempt may be checked without waiting: the delay counted from
        the last failure. For callers that refuse (answer 429) instead of sleeping, so a
        guesser can't lock the account out: once the delay has passed, one try is checked."""
        wait = self.delay(user, address)
        if wait <= 0:
            return 0.0
        with self._lock:
            last = max((r.last for k in self.keys(user, address) if (r := self._records.get(k)) is not None),
                       default=None)
        return 0.0 if last is None else max(0.0, wait - (self.clock() - last))

    def failed(self, user: str, address: str | None) -> None:
        now = self.clock()
        with self._lock:
            if len(self._records) >= self.max_keys:
                self._forget_old(now)
            for key in self.keys(user, address):
                record = self._records.get(key)
                if record is None or now - record.last > self.window:
                    record = self._records[key] = _Record(0, now)
                record.failures += 1
                record.last = now

    def succeeded(self, user: str) -> None:
        with self._lock:
            self._records.pop(f"user:{user}", None)

    def _forget_old(self, now: float) -> None:
        stale = [k for k, r in self._records.items() if now - r.last > self.window]
        for key in stale or list(self._records)[: len(self._records) // 2]:
            del self._records[key]

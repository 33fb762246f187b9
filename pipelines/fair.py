"""FairDispatcher: the engine interface with a per-user fair queue in front of `generate`.

Why a wrapper around the engine and not a queue in the UI: jobs arrive from the page, the
Gradio API and both REST dialects, and all of them end in `engine.generate`. Ordering them
here, with the requesting account on the request (`GenerationRequest.owner`), gives one
order for every door, for the local engine and the Ray cluster alike, without the services
knowing it exists.

Order: at most `slots` jobs run in the engine at once (the local GPU: 1; a cluster: one per
replica). When a slot frees, it goes to the waiting user who was served least recently
(a user who has not been served yet comes first), and within a user's own jobs to the
oldest. So users take turns, job by job: a user with one job behind another user's 40 waits
for at most one running job to finish. `per_user` (None: no limit) caps how many slots one
user holds at once even when others are idle, so one account cannot fill a whole cluster.
A job cancelled while it waits leaves the queue without reaching the engine.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass, field

from pipelines.types import CancelToken, GenerationCancelled, GenerationRequest, GenerationResult, Progress, ProgressFn, report


@dataclass
class _Ticket:
    user: str
    number: int
    granted: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class FairDispatcher:
    """Same calls as the engine it wraps; only `generate` waits its turn (see the module docstring)."""

    def __init__(self, engine, *, slots: int = 1, per_user: int | None = None) -> None:
        if slots < 1 or (per_user is not None and per_user < 1):
            raise ValueError("slots and the per-user limit must be at least 1")
        self.engine = engine
        self.slots = slots
        self.per_user = per_user
        self._cond = threading.Condition()
        self._waiting: dict[str, deque[_Ticket]] = {}
        self._running: dict[str, int] = {}
        self._served_at: dict[str, int] = {}
        self._numbers = itertools.count()
        self._clock = itertools.count(1)
        self.started: list[tuple[str, int]] = []  # (user, ticket number) in the order jobs entered the engine

    # ----- the rest of the engine interface, unchanged --------------------------------------
    @property
    def catalog(self):
        return self.engine.catalog

    def check(self, request: GenerationRequest):
        return self.engine.check(request)

    def is_downloaded(self, model_id: str) -> bool:
        return self.engine.is_downloaded(model_id)

    def expected_placement(self, model_id: str):
        return self.engine.expected_placement(model_id)

    def preload(self, model_id: str, progress: ProgressFn | None = None) -> None:
        self.engine.preload(model_id, progress)

    def resident(self) -> list[dict]:
        return self.engine.resident()

    def __getattr__(self, name: str):  # entry, placement, unload… of the wrapped engine
        if name == "engine":
            raise AttributeError(name)
        return getattr(self.engine, name)

    # ----- the queue ------------------------------------------------------------------------
    def waiting(self) -> dict[str, int]:
        with self._cond:
            return {u: len(q) for u, q in self._waiting.items() if q}

    def running(self) -> dict[str, int]:
        with self._cond:
            return {u: n for u, n in self._running.items() if n}

    def generate(self, request: GenerationRequest, progress: ProgressFn | None = None,
                 cancel: CancelToken | None = None) -> GenerationResult:
        ticket = self._enter(request.owner or "")
        try:
            self._wait_turn(ticket, progress, cancel)
            return self.engine.generate(request, progress=progress, cancel=cancel)
        finally:
            self._leave(ticket)

    def _enter(self, user: str) -> _Ticket:
        with self._cond:
            ticket = _Ticket(user, next(self._numbers))
            self._waiting.setdefault(user, deque()).append(ticket)
            self._grant()
            return ticket

    def _wait_turn(self, ticket: _Ticket, progress: ProgressFn | None, cancel: CancelToken | None) -> None:
        said = None
        while True:
            with self._cond:
                if ticket.granted:
                    return
                if cancel is not None and cancel.cancelled:
                    raise GenerationCancelled("cancelled while waiting for its turn")
                ahead = self._ahead_of(ticket)
            if ahead != said:  # reported outside the lock: a slow listener never holds up the queue
                said = ahead
                report(progress, Progress("queued", message=f"Waiting for a free GPU: {ahead} job{'s' * (ahead != 1)} first"))
            with self._cond:
                if not ticket.granted:
                    self._cond.wait(0.5)  # woken on every grant; the timeout only notices a cancel

    def _leave(self, ticket: _Ticket) -> None:
        with self._cond:
            if ticket.granted:
                self._running[ticket.user] -= 1
            else:
                queue = self._waiting.get(ticket.user)
                if queue is not None and ticket in queue:
                    queue.remove(ticket)
            self._grant()
            self._cond.notify_all()

    def _grant(self) -> None:
        """Called with the lock held: hand free slots out, users in turn (least recently served first)."""
        while sum(self._running.values()) < self.slots:
            eligible = [u for u, q in self._waiting.items()
                        if q and (self.per_user is None or self._running.get(u, 0) < self.per_user)]
            if not eligible:
                return
            user = min(eligible, key=lambda u: (self._served_at.get(u, 0), self._waiting[u][0].number))
            ticket = self._waiting[user].popleft()
            ticket.granted = True
            self._running[user] = self._running.get(user, 0) + 1
            self._served_at[user] = next(self._clock)
            self.started.append((user, ticket.number))
            del self.started[:-1000]
            self._cond.notify_all()

    def _ahead_of(self, ticket: _Ticket) -> int:
        """Jobs that start before this one if nothing else arrives: running ones plus, per
        other user, as many of their waiting jobs as this one's turns to come."""
        mine = list(self._waiting.get(ticket.user, ())).index(ticket) + 1
        others = sum(min(len(q), mine) for u, q in self._waiting.items() if u != ticket.user)
        return sum(self._running.values()) + others + mine - 1

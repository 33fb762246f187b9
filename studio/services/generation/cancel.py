"""Running jobs by caller key, so a Cancel click reaches the job it belongs to, and hears
back what the cancel did.

Keyed by the Gradio session (browser tab or API client), never a module global:
the registry is created by the composition root and shared by the tabs. A key may have
more than one job (Image Studio and Gen Space in one tab); Cancel stops all of them.

Why `stop` waits: the page used to answer a Cancel at once with a promise ("Cancelling…
credits will be refunded.") that nothing ever replaced. Now the job, when it ends,
records the line that says what really happened (`finish`, worded by
`stopping.Stopped`), and `stop` waits a little for it, so the Cancel's own answer is the
outcome; only a job still inside a long step answers `STOPPING`, and its own result
replaces that when it arrives.

A job still waiting in the UI's queue (behind another tab's job) has no token yet: the UI
counts such jobs and passes the count to `stop`; that many of the key's next jobs to start
get a token that is already cancelled, so they stop before anything is charged
(`NOT_STARTED`). `starts` read before the queue was looked at tells which of those have
started since (they are among the running jobs `stop` cancels), so no later job is hit.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from pipelines.types import CancelToken
from studio.services.generation.stopping import ALREADY_FINISHED, NOT_STARTED, STOPPING

STOP_WAIT_S = 15.0  # how long a Cancel waits for the job's outcome before answering STOPPING


@dataclass(eq=False)
class _Running:
    token: CancelToken
    ended: threading.Event = field(default_factory=threading.Event)
    outcome: str = ""


class CancelRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, list[_Running]] = {}
        self._stop_next: dict[str, int] = {}  # queued jobs per key to stop as they start
        self._starts: dict[str, int] = {}  # jobs started per key, ever (see `stop`)

    @contextmanager
    def running(self, key: str) -> Iterator[CancelToken]:
        job = _Running(CancelToken())
        with self._lock:
            self._jobs.setdefault(key, []).append(job)
            self._starts[key] = self._starts.get(key, 0) + 1
            if self._stop_next.get(key):
                self._stop_next[key] -= 1
                job.token.cancel()
        try:
            yield job.token
        finally:
            with self._lock:
                jobs = self._jobs.get(key, [])
                if job in jobs:
                    jobs.remove(job)
                if not jobs:
                    self._jobs.pop(key, None)
            job.ended.set()

    def finish(self, token: CancelToken, outcome: str) -> None:
        """Record the line that says how the job with `token` ended (read by a waiting `stop`)."""
        with self._lock:
            for jobs in self._jobs.values():
                for job in jobs:
                    if job.token is token:
                        job.outcome = outcome

    def starts(self, key: str) -> int:
        """How many jobs this key has started so far (read before looking at a queue)."""
        with self._lock:
            return self._starts.get(key, 0)

    def cancel(self, key: str) -> bool:
        """True when a job was running for this key and has been told to stop."""
        with self._lock:
            jobs = list(self._jobs.get(key, []))
        for job in jobs:
            job.token.cancel()
        return bool(jobs)

    def stop(self, key: str, wait_s: float = STOP_WAIT_S, *, queued: int = 0, starts_seen: int = 0) -> str:
        """Cancel this key's jobs and wait (up to `wait_s`) for them to end: the line a Cancel
        button answers with (their outcome lines; STOPPING if one is still in its step;
        NOT_STARTED for `queued` jobs that had not started; ALREADY_FINISHED when nothing was
        running). `starts_seen`: `starts(key)` read before the queue was counted."""
        with self._lock:
            jobs = list(self._jobs.get(key, []))
            if queued:
                begun = self._starts.get(key, 0) - starts_seen
                self._stop_next[key] = max(0, queued - begun)
            queued = self._stop_next.get(key, 0)
        if not jobs:
            return NOT_STARTED if queued else ALREADY_FINISHED
        deadline = time.monotonic() + wait_s
        for job in jobs:
            job.token.cancel()
        for job in jobs:
            if not job.ended.wait(max(0.0, deadline - time.monotonic())):
                return STOPPING
        lines = [j.outcome for j in jobs if j.outcome] + ([NOT_STARTED] if queued else [])
        return " ".join(dict.fromkeys(lines))

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
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from pipelines.types import CancelToken
from studio.services.generation.stopping import ALREADY_FINISHED, STOPPING

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

    @contextmanager
    def running(self, key: str) -> Iterator[CancelToken]:
        job = _Running(CancelToken())
        with self._lock:
            self._jobs.setdefault(key, []).append(job)
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

    def cancel(self, key: str) -> bool:
        """True when a job was running for this key and has been told to stop."""
        with self._lock:
            jobs = list(self._jobs.get(key, []))
        for job in jobs:
            job.token.cancel()
        return bool(jobs)

    def stop(self, key: str, wait_s: float = STOP_WAIT_S) -> str:
        """Cancel this key's jobs and wait (up to `wait_s`) for them to end: the line a Cancel
        button answers with (their outcome lines; STOPPING if one is still in its step;
        ALREADY_FINISHED when nothing was running)."""
        with self._lock:
            jobs = list(self._jobs.get(key, []))
        if not jobs:
            return ALREADY_FINISHED
        deadline = time.monotonic() + wait_s
        for job in jobs:
            job.token.cancel()
        for job in jobs:
            if not job.ended.wait(max(0.0, deadline - time.monotonic())):
                return STOPPING
        return " ".join(dict.fromkeys(j.outcome for j in jobs if j.outcome))

"""Job records: who asked, what it cost, and which running process owns the job.

A job is `running` from the moment its credits are taken until it is `done`,
`failed` or `cancelled`. A process can die in between (kill -9, power cut), so each
record names its runner: host, pid, the pid's start time and a per-process boot id.
Start-up recovery (`studio.services.recovery`) reaps only jobs whose runner is gone;
a second live app on the same data directory keeps its jobs. The pid's start time
guards against a recycled pid; the boot id tells two studios in one process apart
from a restarted one.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from pathlib import Path

from studio.store.records import JOBS

__all__ = ["JOBS", "runner_alive", "this_runner"]
RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) from Linux /proc; None elsewhere or if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ")".
    fields = stat.rsplit(")", 1)[-1].split()
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _start_ticks(pid: int) -> str | None:
    stat = _proc_stat(pid)
    return stat[1] if stat else None


@functools.cache
def this_runner() -> dict:
    """The identity this process writes into the jobs it runs (computed once per process)."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "started": _start_ticks(pid), "boot": uuid.uuid4().hex}


def runner_alive(runner: object) -> bool:
    """Whether the process that wrote `runner` may still be running its jobs.

    Unknown (no runner recorded, another host) counts as alive only for another host:
    we can't see its processes. A record without a runner was written by a version that
    ran jobs in the only process there was; it is reaped."""
    if not isinstance(runner, dict):
        return False
    me = this_runner()
    if runner.get("host") != me["host"]:
        return True
    if runner.get("boot") == me["boot"]:
        return True
    pid = runner.get("pid")
    if not isinstance(pid, int) or pid == me["pid"]:
        return False  # our pid, another boot: an earlier process that had our pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc here: the pid exists, trust it
    state, started = stat
    return state not in ("Z", "X") and runner.get("started") in (None, started)

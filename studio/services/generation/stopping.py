"""What a Cancel did, in numbers, and the one sentence that says it.

Why one place: the page used to promise "Cancelling… credits will be refunded." before
anything had happened, and left it there whether or not the job stopped, whether or
not a refund was written. Every stopped job (Image Studio's batch, Gen Space's shot and
consistency flow, the refine panel, the REST endpoints) now hands back a `Stopped`
built from what the job really delivered and the refund row the ledger really holds,
and `Stopped.message` is the only wording of it. A cancel that reached a job that had
already delivered everything gets `ALREADY_FINISHED` and promises nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.types import GenerationCancelled

ALREADY_FINISHED = "Already finished: nothing to cancel."
# A job still waiting for the GPU (queued behind another) when Cancel came: it will not run.
NOT_STARTED = "Stopped before it started: nothing was charged."
# Shown only while the cancel waits for the job to reach its next step; the job's own
# result replaces it (it never promises a refund).
STOPPING = "Stopping at the next step…"


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


@dataclass(frozen=True)
class Stopped:
    """A job (or a multi-shot flow) that a Cancel stopped before it delivered everything.

    `made` of `asked` images were delivered (kept, shown, paid for); `returned` credits
    came back in refund rows of the ledger. For the consistency flow `shots` is how many
    shots were asked, `shots_run` how many delivered images and `not_started` how many
    never started (never charged, so they return nothing: they cost nothing). A job
    cancelled before it started (`started` False) was never charged."""

    made: int
    asked: int
    returned: int
    shots: int | None = None
    shots_run: int = 0
    not_started: int = 0
    started: bool = True  # False: cancelled while it waited for the GPU, before any charge

    @property
    def message(self) -> str:
        if not self.started:
            return NOT_STARTED
        credits = f"{_n(self.returned, 'credit')} returned"
        if self.shots is None:
            return f"Stopped: {self.made} of {_n(self.asked, 'image')} made, {credits}."
        text = f"Stopped after {self.shots_run} of {_n(self.shots, 'shot')}: {_n(self.made, 'image')} made, {credits}"
        if self.not_started:
            text += f"; {_n(self.not_started, 'shot')} not started (nothing charged for {'it' if self.not_started == 1 else 'them'})"
        return text + "."


class JobStopped(GenerationCancelled):
    """A cancelled job that delivered nothing: its refund is written; `stopped` says how much.

    A GenerationCancelled, so every caller that already handles a cancel (the REST
    dialects, the comparison, the recovery of a batch) keeps working unchanged."""

    def __init__(self, stopped: Stopped) -> None:
        self.stopped = stopped
        super().__init__(stopped.message)


def outcome_message(stopped: Stopped | None, cancel_requested: bool) -> str:
    """The line a panel shows after a job: the stop, or that the cancel came too late, or nothing."""
    if stopped is not None:
        return stopped.message
    return ALREADY_FINISHED if cancel_requested else ""

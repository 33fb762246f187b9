"""A Cancel click: stop this tab's running jobs and the ones still waiting for the GPU.

Why Gradio's queue is read here: a job queued behind another tab's job has not reached the
studio yet (it has no cancel token), so a Cancel used to answer "Nothing is running." and
the job then ran and was charged (issue 20). Gradio keeps its waiting events per
concurrency id; the GPU jobs of this session are counted there and handed to
`CancelRegistry.stop`, which stops them as they start, before any charge. The attributes
read are Gradio 6's (`Blocks._queue.event_queue_per_concurrency_id[...].queue`, each
event's `session_hash`); if they are missing, Cancel still stops running jobs.
"""

from __future__ import annotations

import gradio as gr

from studio.ui.shared.common import GPU
from studio.ui.shared.session import caller_key


def waiting_gpu_jobs(request: gr.Request | None) -> int:
    """This session's GPU jobs that wait in Gradio's queue (not started)."""
    try:
        queues = request.request.app.get_blocks()._queue.event_queue_per_concurrency_id
        session = request.session_hash
        return sum(1 for q in list(queues.values()) for e in list(q.queue)
                   if e.session_hash == session and e.concurrency_id == GPU)
    except AttributeError:
        return 0


def cancel_answer(studio, request: gr.Request | None) -> str:
    """Stop this tab's jobs, running and queued; the line says what that did."""
    key = caller_key(request)
    seen = studio.cancels.starts(key)
    return studio.cancels.stop(key, queued=waiting_gpu_jobs(request), starts_seen=seen)

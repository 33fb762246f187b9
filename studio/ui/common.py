"""What every tab shares: the GPU concurrency id, user-facing errors, progress wiring."""

from __future__ import annotations

import functools

import gradio as gr

from pipelines.types import GenerationCancelled, ModelUnavailable, OutOfMemory, Progress
from studio.services.credits import InsufficientCredits
from studio.services.generation import GenerationFailed
from studio.services.requests import InvalidRequest
from studio.ui.session import caller_key

GPU = "gpu"  # every event that runs a model shares this concurrency_id
USER_ERRORS = (InvalidRequest, InsufficientCredits, ModelUnavailable, OutOfMemory, GenerationFailed, ValueError)
UI = {"queue": False, "api_visibility": "undocumented", "show_progress": "hidden"}


def guard(fn):
    """Service errors become a gr.Error toast with the service's own message."""

    @functools.wraps(fn)  # keeps the signature and hints Gradio reads to inject gr.Request
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as exc:
            raise gr.Error(str(exc)) from None

    return wrapped


def progress_reporter(progress: gr.Progress):
    """Engine Progress events → the Gradio progress bar with a step count."""

    def report(p: Progress) -> None:
        if p.stage == "denoise" and p.total:
            progress((p.current, p.total), desc=f"Step {p.current}/{p.total}", unit="steps")
        elif p.stage == "download" and p.total:
            progress((p.current, p.total), desc=p.message or "Downloading model", unit="bytes")
        elif p.stage == "load":
            progress(None, desc=p.message or "Loading model")
        elif p.stage == "decode":
            progress(None, desc="Decoding images")

    return report


def run_cancellable(studio, request: gr.Request, progress: gr.Progress | None, work):
    """Run `work(progress_fn, cancel_token)` with this caller's Cancel button wired to it.

    Every GPU callback goes through here, so cancelling and user errors read the same
    wherever they happen: the service has already refunded the credits."""
    if progress is not None:
        progress(0, desc="Starting")
    try:
        with studio.cancels.running(caller_key(request)) as token:
            return work(progress_reporter(progress) if progress is not None else None, token)
    except GenerationCancelled:
        raise gr.Error("Cancelled. Your credits were refunded.", title="Cancelled") from None
    except USER_ERRORS as exc:
        raise gr.Error(str(exc)) from None

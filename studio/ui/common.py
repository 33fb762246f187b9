"""What every tab shares: the GPU concurrency id, user-facing errors, progress wiring."""

from __future__ import annotations

import functools

import gradio as gr

from pipelines.types import ModelUnavailable, OutOfMemory, Progress
from studio.services.credits import InsufficientCredits
from studio.services.generation import GenerationFailed
from studio.services.requests import InvalidRequest

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

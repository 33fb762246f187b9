"""What every tab shares: the GPU concurrency id, user-facing errors, progress wiring.

How a service error reaches a person: `user_message` is the one translation. Only the
studio's own refusal types (`USER_ERRORS`) are shown as their sentence (a KeyError's
str() would wrap it in quotes, so its first argument is used). Anything else is a bug,
not the person's mistake: it is logged with a short reference id and the person sees
"Something went wrong (ref …)", never the exception's class name or text (which may
hold a server path), so a report can be matched to the log line.

Endpoints that people or programs call with typed values take them raw
(`LOOSE`: `preprocess=False` for widget events; `gr.api` never preprocesses), so the
services' validation answers a bad value instead of Gradio's "Could not preprocess
input component at index N", and a seed of 1.5 is refused rather than rounded.
"""

from __future__ import annotations

import functools
import logging
import uuid

import gradio as gr

from pipelines.types import GenerationCancelled, ModelUnavailable, OutOfMemory, Progress, RequestRejected, UnknownModel
from studio.services.billing.ledger import InsufficientCredits
from studio.services.generation.service import GenerationFailed
from studio.services.generation.requests import InvalidRequest
from studio.services.generation.stopping import outcome_message
from studio.services.common.validation import plain_message
from studio.store.tinydb_store import StoreWriteFailed
from studio.ui.shared.events import NeedsInput
from studio.ui.shared.session import caller_key

log = logging.getLogger(__name__)
GPU = "gpu"  # every event that runs a model shares this concurrency_id
# The studio's own refusals: their message is written for the person. Not bare ValueError:
# a bug that raises one must be logged, not shown as if the person had made a mistake.
USER_ERRORS = (InvalidRequest, InsufficientCredits, ModelUnavailable, OutOfMemory, GenerationFailed, RequestRejected,
               UnknownModel, StoreWriteFailed, NeedsInput)
LOOSE = {"preprocess": False}  # event kwargs: the callback gets the raw JSON values and validates them
UNEXPECTED = "Something went wrong on the server; it has been logged. Please try again."


def unexpected(where: str) -> str:
    """Log the exception being handled under a short reference id; the sentence to show."""
    ref = uuid.uuid4().hex[:8]
    log.exception("unexpected error in %s (ref %s)", where, ref)
    return f"Something went wrong (ref {ref}). It has been logged; please try again."


def user_message(exc: BaseException) -> str:
    """The sentence a person sees for a service error."""
    if isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    else:
        text = str(exc)
    return plain_message(text, limit=400) or UNEXPECTED


def guard(fn):
    """Service errors become a gr.Error toast with the service's own message; anything
    else is logged and becomes a plain sentence (Gradio would show its raw text)."""

    @functools.wraps(fn)  # keeps the signature and hints Gradio reads to inject gr.Request
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except GenerationCancelled as exc:
            raise gr.Error(_cancelled(exc), title="Cancelled") from None
        except USER_ERRORS as exc:
            raise gr.Error(user_message(exc)) from None
        except Exception:
            raise gr.Error(unexpected(getattr(fn, "__name__", "a callback"))) from None

    return wrapped


def _cancelled(exc: BaseException) -> str:
    """A stop's one wording (studio.services.generation.stopping), from the job's own numbers."""
    stopped = getattr(exc, "stopped", None)
    return stopped.message if stopped is not None else "Stopped before anything was made."


def progress_reporter(progress: gr.Progress):
    """Engine Progress events → the Gradio progress bar with a step count."""

    def report(p: Progress) -> None:
        if p.stage == "denoise" and p.total:
            progress((p.current, p.total), desc=f"Step {p.current}/{p.total}", unit="steps")
        elif p.stage == "download" and p.total:
            progress((p.current, p.total), desc=p.message or "Downloading model", unit="bytes")
        # Gradio shows a description only beside a progress level, so the steps without a
        # count report 0: the person sees "Loading <model>…" and the tracker's elapsed time.
        elif p.stage == "load":
            progress(0.0, desc=p.message or "Loading model")
        elif p.stage == "decode":
            progress(1.0, desc="Decoding images")

    return report


def run_cancellable(studio, request: gr.Request, progress: gr.Progress | None, work):
    """Run `work(progress_fn, cancel_token)` with this caller's Cancel button wired to it.

    Every GPU callback goes through here, so cancelling and user errors read the same
    wherever they happen: the service has already refunded the credits. The line that says
    how the job ended (its result's `stopped`, or that a cancel came after it finished) is
    handed to the registry, so the Cancel click that is waiting answers with it."""
    if progress is not None:
        progress(0, desc="Starting")

    @guard
    def run():
        with studio.cancels.running(caller_key(request)) as token:
            try:
                result = work(progress_reporter(progress) if progress is not None else None, token)
            except GenerationCancelled as exc:
                studio.cancels.finish(token, _cancelled(exc))
                raise
            studio.cancels.finish(token, outcome_message(getattr(result, "stopped", None), token.cancelled))
            return result

    return run()


def clear_note_on(trigger, note) -> None:
    """The line that said how the last job ended (or what the last Cancel did) is cleared
    when the next job starts, so it never describes a job that is no longer the latest."""
    trigger(lambda: "", None, note, api_name=f"clear_{note.elem_id or 'note'}", queue=False,
            api_visibility="undocumented", show_progress="hidden")

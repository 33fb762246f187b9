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
from gradio.context import LocalContext

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
    """Every exception of a callback becomes a gr.Error with a sentence for a person: the
    studio's refusals keep their own message, anything else is logged as a bug with a
    reference (`unexpected`). `guard_events` puts it around every event of the app; how
    the error then reaches the caller (toast or failed API call) is decided there."""
    if getattr(fn, "guarded", False):
        return fn

    @functools.wraps(fn)  # keeps the signature and hints Gradio reads to inject gr.Request
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except GenerationCancelled as exc:
            raise gr.Error(_cancelled(exc), title="Cancelled") from None
        except USER_ERRORS as exc:
            raise gr.Error(user_message(exc), title="Not done") from None
        except Exception:
            raise gr.Error(unexpected(getattr(fn, "__name__", "a callback"))) from None

    wrapped.guarded = True
    return wrapped


def asked_by_page() -> bool:
    """Whether the studio's own page made this call through the queue (so a toast reaches it).

    Gradio's page sends `x-gradio-user: app`; gradio_client and the JS client send `api`."""
    request = LocalContext.request.get(None)
    headers = getattr(request, "headers", None) or {}
    return LocalContext.event_id.get(None) is not None and headers.get("x-gradio-user") == "app"


# (session, event id) of the page's calls that were refused: their `.success()` follow-ups skip
# themselves (with the outputs skipped rather than an error, the page would run them).
_refused_events: set[tuple[str, int]] = set()


def guard_events(app: gr.Blocks) -> None:
    """Put every event of the built app behind `guard` and `_shown_on_page`, so no panel
    (today's or a future one) can leave its outputs in Gradio's error state by raising."""
    for block_fn in app.fns.values():
        if block_fn.fn is None or block_fn.types_generator or getattr(block_fn.fn, "shown_on_page", False):
            continue
        after = block_fn.trigger_after if block_fn.trigger_only_on_success else None
        block_fn.fn = _shown_on_page(guard(block_fn.fn), block_fn._id, after)


def _shown_on_page(fn, event_id: int, after: int | None):
    """A refusal on the studio's own page: a toast with the sentence, and every output left
    exactly as it was (`gr.skip()`). A raised gr.Error would put Gradio's red "Error" badge
    over every output of the event (the page marks them all on a failed event), including the
    field the person has to fix, until a reload. A program calling the API still gets the
    gr.Error, so its call fails with the reason."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        session = getattr(LocalContext.request.get(None), "session_hash", None) or ""
        _refused_events.discard((session, event_id))
        if after is not None and (session, after) in _refused_events:
            return gr.skip()
        try:
            return fn(*args, **kwargs)
        except gr.Error as exc:
            if not asked_by_page():
                raise
            if len(_refused_events) > 10_000:  # sessions that left: forget them rather than grow
                _refused_events.clear()
            _refused_events.add((session, event_id))
            gr.Warning(exc.message, title=exc.title if exc.title != "Error" else "Not done")
            return gr.skip()

    wrapped.shown_on_page = True
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

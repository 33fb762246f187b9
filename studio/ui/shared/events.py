"""How UI events are declared, in one place.

Every UI event is queued: Gradio 6's browser client drops the message of an error
raised by a non-queued event (the page gets an HTTP 500 and shows nothing), so an
event that can fail must go through the queue to reach the person as a toast.
"""

from __future__ import annotations

UI = {"queue": True, "api_visibility": "undocumented", "show_progress": "hidden"}


class NeedsInput(ValueError):
    """Something the person has to pick or type first; `guard` shows its text as is."""


def need(value, message: str):
    """The value, or a toast telling the person what to pick first."""
    if value in (None, "", []):
        raise NeedsInput(message)
    return value

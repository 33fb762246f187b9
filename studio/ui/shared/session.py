"""Who is calling: the account name under --auth, else the single local user."""

from __future__ import annotations

import gradio as gr

from studio.services.studio import LOCAL_USER


def user_of(request: gr.Request | None) -> str:
    name = getattr(request, "username", None) if request is not None else None
    return name or LOCAL_USER


def caller_key(request: gr.Request | None) -> str:
    """One key per browser tab or API client session, for cancelling its own job only."""
    session = getattr(request, "session_hash", None) if request is not None else None
    return f"{user_of(request)}:{session or 'no-session'}"

"""`guard` and `guard_events` (studio/ui/shared/common.py) without a browser: who gets a toast
and skipped outputs (the studio's own page), who gets the error (a program), and that a bug
is still logged with a reference and shown as a generic failure, never swallowed.

The browser side (no red "Error" badge, fields usable after a refusal) is in
tests/test_browser_errors.py.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import gradio as gr
import pytest
from gradio.context import LocalContext

from studio.services.generation.requests import InvalidRequest
from studio.ui.shared.common import _shown_on_page, guard


def called_by(who: str | None, session: str = "s1"):
    """Gradio's context for one queued call from `who` (the x-gradio-user header)."""
    headers = {"x-gradio-user": who} if who else {}
    LocalContext.request.set(SimpleNamespace(headers=headers, session_hash=session))
    LocalContext.event_id.set("event-1")


@pytest.fixture(autouse=True)
def no_context():
    yield
    LocalContext.request.set(None)
    LocalContext.event_id.set(None)


def refuse():
    raise InvalidRequest("Give the key a name.")


def crash():
    raise RuntimeError("/srv/secret/path exploded")


def test_a_refusal_on_the_page_is_a_warning_and_skipped_outputs():
    called_by("app")
    with pytest.warns(UserWarning, match="Give the key a name."):  # gr.Warning outside a live queue
        assert _shown_on_page(guard(refuse), 1, None)() == gr.skip()


@pytest.mark.parametrize("who", ["api", "mcp", None])
def test_a_program_still_gets_the_error_with_the_sentence(who):
    called_by(who)
    with pytest.raises(gr.Error, match="Give the key a name."):
        _shown_on_page(guard(refuse), 1, None)()


def test_a_bug_is_logged_with_a_reference_and_shown_as_a_generic_failure(caplog):
    called_by("api")
    with caplog.at_level(logging.ERROR), pytest.raises(gr.Error) as raised:
        _shown_on_page(guard(crash), 1, None)()
    assert raised.value.message.startswith("Something went wrong (ref ")
    assert "/srv/secret" not in raised.value.message
    ref = raised.value.message.split("ref ")[1][:8]
    assert any(ref in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_success_follow_up_of_a_refused_event_does_not_run():
    called_by("app")
    ran = []
    with pytest.warns(UserWarning):
        _shown_on_page(guard(refuse), 7, None)()
    assert _shown_on_page(guard(lambda: ran.append(1)), 8, after=7)() == gr.skip() and not ran
    _shown_on_page(guard(lambda: "ok"), 7, None)()  # the same event, now accepted
    _shown_on_page(guard(lambda: ran.append(1)), 8, after=7)()
    assert ran == [1]

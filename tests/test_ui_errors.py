"""Only the studio's own refusals reach a person as their sentence; a bug is logged with a
reference id and shown as "Something went wrong (ref …)" in the page and in both dialects."""

from __future__ import annotations

import logging
import re

import gradio as gr
import pytest

from pipelines.params import BadParameter
from studio.api.errors import service_error
from studio.services.common.validation import InvalidRequest
from studio.ui.shared.common import guard


def _raises(exc: BaseException):
    @guard
    def callback():
        raise exc

    return callback


@pytest.mark.parametrize("exc", [InvalidRequest("Write a prompt first: it is empty."),
                                 BadParameter("Steps must be a whole number from 1 to 150; 900 is out of range.")])
def test_refusals_are_shown_as_their_sentence(exc):
    with pytest.raises(gr.Error) as caught:
        _raises(exc)()
    assert caught.value.message == str(exc)


@pytest.mark.parametrize("exc", [ValueError("invalid literal for int() with base 10: '/srv/data/x'"),
                                 KeyError("shots"), TypeError("NoneType is not subscriptable")])
def test_a_bug_is_logged_with_a_reference_the_person_can_quote(exc, caplog):
    with caplog.at_level(logging.ERROR), pytest.raises(gr.Error) as caught:
        _raises(exc)()
    shown = caught.value.message
    ref = re.fullmatch(r"Something went wrong \(ref ([0-9a-f]{8})\)\. It has been logged; please try again\.", shown)
    assert ref, shown
    assert "/srv" not in shown and type(exc).__name__ not in shown
    assert any(ref[1] in r.getMessage() and r.exc_info for r in caplog.records)


def test_the_rest_dialects_answer_a_bug_with_a_reference_and_a_refusal_with_its_sentence(caplog):
    with caplog.at_level(logging.ERROR):
        err = service_error(ValueError("boom at /srv/x"))
    ref = re.search(r"\(ref ([0-9a-f]{8})\)", err.message)
    assert err.status == 500 and ref and "/srv" not in err.message
    assert any(ref[1] in r.getMessage() for r in caplog.records)
    refused = service_error(BadParameter("Guidance (CFG scale) must be a number from 0 to 30; 99 is out of range."))
    assert refused.status == 422 and refused.message.startswith("Guidance (CFG scale) must be")

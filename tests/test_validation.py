"""The boundary rules, one by one, and the promise that a refused request costs and writes nothing."""

from __future__ import annotations

import pytest

from studio.services.common import validation as v
from studio.services.generation.jobs import JOBS
from studio.services.generation.requests import InvalidRequest, StudioRequest, check_count, check_prompt, normalise_seed
from studio.services.common.uploads import InvalidUpload, validate_upload
from tests.studio_factory import image_files, make_studio

INVISIBLE_ONLY = ["", "   ", "\n\t", "\u200b", "\u200b\u200c\u200d", "\ufeff", "\u2060\u2060", "\u00a0", "\u3164",
                  "\u2800", "\u0301"]


@pytest.mark.parametrize("text", INVISIBLE_ONLY)
def test_text_of_only_invisible_characters_counts_as_empty(text):
    assert v.is_blank(text)
    with pytest.raises(InvalidRequest, match="Write a prompt first"):
        check_prompt(text)


@pytest.mark.parametrize("text", ["a", " a ", "\u200ba", "é", "猫", "🙂"])
def test_visible_text_passes_stripped(text):
    assert check_prompt(text) == text.strip()


@pytest.mark.parametrize("value", [12345, ["a", "b"], {"a": 1}, True, 1.5])
def test_text_must_be_a_string(value):
    with pytest.raises(InvalidRequest, match="must be text"):
        check_prompt(value)


def test_text_that_cannot_be_stored_is_refused():
    with pytest.raises(InvalidRequest, match="can't be saved"):
        check_prompt("a \ud800 b")


@pytest.mark.parametrize("value, expected", [(1, 1), (4, 4), (2.0, 2)])
def test_counts_are_whole_json_numbers(value, expected):
    assert check_count(value) == expected


@pytest.mark.parametrize("value", ["2", "abc", 1.5, 0, 5, -1, True, None, [2], float("nan"), float("inf")])
def test_counts_refuse_text_fractions_and_out_of_range(value):
    with pytest.raises(InvalidRequest, match="Number of images must be a whole number from 1 to 4"):
        check_count(value)


@pytest.mark.parametrize("value, expected", [(None, None), (-1, None), (-1.0, None), (0, 0), (42, 42), (7.0, 7)])
def test_seed_rules(value, expected):
    assert normalise_seed(value) == expected


@pytest.mark.parametrize("value", [1.5, "42", "", "abc", -2, 2**32, True])
def test_bad_seeds_are_refused(value):
    with pytest.raises(InvalidRequest, match="Seed must be a whole number from 0 to"):
        normalise_seed(value)


@pytest.mark.parametrize("value", ["abc", "0.5", None, True, float("nan"), -0.1, 1.5])
def test_fractions_must_be_numbers_in_range(value):
    with pytest.raises(InvalidRequest, match="Strength must be a number from 0 to 1"):
        v.number(value, "Strength", minimum=0, maximum=1)


def test_messages_quote_nothing_and_hide_paths_and_classes():
    text = v.plain_message("OSError: could not read /srv/studio/data/images/x.png: <class 'PIL.Image.Image'> broke")
    assert "/srv" not in text and "OSError" not in text and "<class" not in text
    assert text.startswith("Could not read")
    assert v.mib(20 * 1024 * 1024) == "20 MiB"


def test_upload_limit_is_stated_in_mib():
    big = b"\x89PNG" + b"0" * (22 * 1000 * 1000)
    with pytest.raises(InvalidUpload) as refused:
        validate_upload(big)
    assert str(refused.value) == "The file is 21.0 MiB; the limit is 20 MiB. Upload a smaller image."


BAD_REQUESTS = [
    ({"prompt": 12345}, "must be text"),
    ({"prompt": ["a", "b"]}, "must be text"),
    ({"prompt": {"a": 1}}, "must be text"),
    ({"prompt": "\u200b\u200b"}, "Write a prompt first"),
    ({"prompt": "a \ud800 b"}, "can't be saved"),
    ({"negative_prompt": 42}, "negative prompt must be text"),
    ({"negative_prompt": "x \udfff"}, "can't be saved"),
    ({"seed": 1.5}, "Seed must be"),
    ({"count": "2"}, "Number of images"),
    ({"enhance": "yes"}, "Enhance prompt must be true or false"),
    ({"model_id": ["demo-faces"]}, "Unknown model"),
    ({"style_id": 3}, "Unknown style"),
    ({"aspect": "4:3"}, "Unknown aspect ratio"),
    ({"user": ""}, "Sign in first"),
]


@pytest.mark.parametrize("change, message", BAD_REQUESTS)
def test_bad_requests_are_refused_before_any_charge(tmp_path, change, message):
    studio = make_studio(tmp_path)
    fields = dict(user="ana", model_id="demo-faces", style_id="auto", aspect="1:1", count=1, prompt="a sailor")
    request = StudioRequest(**{**fields, **change})
    check = studio.generation.preflight(request)
    assert not check.ok and message in check.reason
    assert not check.reason.startswith(("'", '"'))
    with pytest.raises(InvalidRequest, match=message):
        studio.generation.generate(request)
    assert studio.store.all(JOBS) == []
    assert [e["kind"] for e in studio.credits.ledger("ana")] == ["grant"]
    assert image_files(tmp_path) == []


def test_preflight_prices_and_explains(tmp_path):
    studio = make_studio(tmp_path, starting_credits=2)
    fields = dict(user="ana", model_id="demo-faces", style_id="auto", aspect="1:1", prompt="a sailor")
    cost = studio.catalog.get("demo-faces").credit_cost
    ok = studio.generation.preflight(StudioRequest(count=1, **fields))
    assert ok.ok and ok.cost == cost and ok.balance == 2 and ok.reason is None
    short = studio.generation.preflight(StudioRequest(count=4, **fields))
    assert not short.ok and short.cost == 4 * cost and f"costs {4 * cost} credits; you have 2" in short.reason
    empty = studio.generation.preflight(StudioRequest(count=2, **{**fields, "prompt": ""}))
    assert empty.cost == 2 * cost and empty.reason.startswith("Write a prompt")

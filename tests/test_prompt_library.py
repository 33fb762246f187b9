"""Saved prompts: per user, newest first, validated before anything is written."""

from __future__ import annotations

import pytest

from studio.services.prompts.library import PROMPTS_TABLE, PromptLibrary
from studio.store import MemoryStore, TinyDBStore


@pytest.fixture(params=["memory", "tinydb"])
def store(request, tmp_path):
    return MemoryStore() if request.param == "memory" else TinyDBStore(tmp_path / "db.json")


def _save(library: PromptLibrary, user: str = "ann", **overrides):
    fields = dict(
        name="Castle at dusk",
        prompt="a castle on a hill, golden hour",
        negative_prompt="blurry",
        model_id="sd-turbo",
        style_id="cinematic",
        aspect="16:9",
        count=2,
        enhance=True,
    )
    fields.update(overrides)
    return library.save(user, **fields)


def test_save_keeps_every_setting_and_get_returns_it(store):
    library = PromptLibrary(store)
    saved = _save(library)
    fetched = library.get("ann", saved["id"])
    assert fetched == saved
    assert {k: fetched[k] for k in ("name", "prompt", "negative_prompt", "model_id", "style_id", "aspect", "count", "enhance")} == {
        "name": "Castle at dusk",
        "prompt": "a castle on a hill, golden hour",
        "negative_prompt": "blurry",
        "model_id": "sd-turbo",
        "style_id": "cinematic",
        "aspect": "16:9",
        "count": 2,
        "enhance": True,
    }


def test_list_is_newest_first_and_only_the_users_own(store):
    library = PromptLibrary(store)
    first = _save(library, name="one")
    second = _save(library, name="two")
    theirs = _save(library, user="bob", name="bob's")
    assert [p["id"] for p in library.list("ann")] == [second["id"], first["id"]]
    assert [p["id"] for p in library.list("bob")] == [theirs["id"]]
    assert library.list("nobody") == []
    assert library.get("ann", theirs["id"]) is None  # can't read someone else's


def test_delete_removes_only_your_own(store):
    library = PromptLibrary(store)
    mine = _save(library, name="mine")
    theirs = _save(library, user="bob", name="theirs")
    assert library.delete("ann", theirs["id"]) is False
    assert library.get("bob", theirs["id"]) is not None
    assert library.delete("ann", mine["id"]) is True
    assert library.delete("ann", mine["id"]) is False
    assert library.list("ann") == []


def test_limits_are_inclusive(store):
    library = PromptLibrary(store)
    saved = _save(library, name="n" * 80, prompt="p" * 2000, style_id=None, count=4, enhance=False)
    assert len(saved["name"]) == 80 and len(saved["prompt"]) == 2000 and saved["style_id"] is None


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"name": ""}, "The name is empty"),
        ({"name": "   "}, "The name is empty"),
        ({"name": "n" * 81}, "The name is 81 characters; the limit is 80"),
        ({"prompt": ""}, "Write a prompt first: it is empty"),
        ({"prompt": " \n "}, "Write a prompt first: it is empty"),
        ({"prompt": "\u200b\u200d\ufeff"}, "Write a prompt first: it is empty"),
        ({"prompt": 12345}, "The prompt must be text"),
        ({"prompt": "a \ud800 b"}, "can't be saved"),
        ({"count": "2"}, "Number of images must be a whole number"),
        ({"prompt": "p" * 2001}, "The prompt is 2001 characters; the limit is 2000"),
        ({"prompt": None}, "Write a prompt first"),
        ({"model_id": ""}, "The model is empty"),
        ({"aspect": ""}, "The aspect ratio is empty"),
        ({"count": 0}, "Number of images must be a whole number from 1 to 4"),
        ({"count": 5}, "Number of images"),
        ({"enhance": "yes"}, "Enhance prompt must be true or false"),
        ({"name": "castle AT DUSK"}, "already have a saved prompt named"),
    ],
)
def test_bad_input_is_refused_clearly_and_writes_nothing(store, overrides, message):
    library = PromptLibrary(store)
    _save(library)
    before = store.all(PROMPTS_TABLE)
    with pytest.raises(ValueError, match=message):
        _save(library, **overrides)
    assert store.all(PROMPTS_TABLE) == before


def test_saved_prompts_survive_a_restart(tmp_path):
    saved = _save(PromptLibrary(TinyDBStore(tmp_path / "db.json")))
    assert PromptLibrary(TinyDBStore(tmp_path / "db.json")).get("ann", saved["id"]) == saved

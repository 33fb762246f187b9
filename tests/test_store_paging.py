"""Paging: newest first, a cursor that is a position (not an offset), on both stores and
through the services that page."""

from __future__ import annotations

import pytest

from studio.services.gen_space.assets import AssetService
from studio.services.billing.ledger import CreditsService
from studio.services.common.paging import Page, decode_cursor, encode_cursor
from studio.services.prompts.library import PromptLibrary
from studio.services.generation.requests import InvalidRequest
from studio.store import MemoryStore, Store, open_store


@pytest.fixture(params=["memory", "disk"])
def store(request, tmp_path) -> Store:
    return MemoryStore() if request.param == "memory" else open_store(tmp_path)


def _walk(store: Store, table: str, limit: int, **equals) -> list[int]:
    seen, before = [], None
    while True:
        docs, before = store.page(table, limit=limit, before=before, **equals)
        seen += [d["n"] for d in docs]
        if before is None:
            return seen


def test_pages_are_newest_first_and_cover_everything_once(store):
    for n in range(23):
        store.insert("t", {"n": n, "owner": "ann" if n % 3 else "bob"})
    assert _walk(store, "t", 5) == list(range(22, -1, -1))
    assert _walk(store, "t", 4, owner="bob") == [n for n in range(22, -1, -1) if n % 3 == 0]
    docs, more = store.page("t", limit=100)
    assert len(docs) == 23 and more is None
    assert store.page("empty", limit=3) == ([], None)


def test_new_documents_and_deletes_never_shift_a_later_page(store):
    ids = [store.insert("t", {"n": n})["id"] for n in range(10)]
    first, before = store.page("t", limit=4)
    assert [d["n"] for d in first] == [9, 8, 7, 6]
    for n in range(10, 15):  # new images arrive while the user scrolls
        store.insert("t", {"n": n})
    store.delete("t", ids[6])  # the last item of the page the user has
    second, before = store.page("t", limit=4, before=before)
    assert [d["n"] for d in second] == [5, 4, 3, 2]
    third, before = store.page("t", limit=4, before=before)
    assert [d["n"] for d in third] == [1, 0] and before is None


def test_a_missing_field_matches_none(store):
    store.insert("t", {"n": 0})
    store.insert("t", {"n": 1, "project_id": None})
    store.insert("t", {"n": 2, "project_id": "p"})
    assert [d["n"] for d in store.find("t", project_id=None)] == [0, 1]
    assert [d["n"] for d in store.page("t", limit=5, project_id=None)[0]] == [1, 0]


def test_cursors_are_opaque_and_a_forged_one_is_refused():
    cursor = encode_cursor("assets", 41)
    assert decode_cursor(cursor, "assets") == 41 and decode_cursor(None, "assets") is None
    for bad in ("41", cursor + "x", encode_cursor("ledger", 41), 41, "p1.!!!", "p1." + "A" * 200):
        with pytest.raises(InvalidRequest, match="cursor is not valid"):
            decode_cursor(bad, "assets")


def test_ledger_and_prompts_page_through_the_services(store):
    credits = CreditsService(store, 100)
    for i in range(7):
        credits.charge("ann", 1, reason="x", job_id=f"job{i}")
    page = credits.ledger_page("ann", limit=3)
    assert isinstance(page, Page) and page.has_more
    assert [e["job_id"] for e in page.items] == ["job6", "job5", "job4"]
    rest = credits.ledger_page("ann", limit=50, cursor=page.next_cursor)
    assert [e["job_id"] for e in rest.items] == ["job3", "job2", "job1", "job0", None] and not rest.has_more
    assert credits.ledger_page("bob").items[0]["kind"] == "grant"
    with pytest.raises(InvalidRequest, match="1 to 200"):
        credits.ledger_page("ann", limit=0)
    with pytest.raises(InvalidRequest, match="cursor"):
        credits.ledger_page("ann", cursor=encode_cursor("assets", 3))

    prompts = PromptLibrary(store)
    for i in range(3):
        prompts.save("ann", name=f"p{i}", prompt="x", model_id="m", aspect="square")
    assert [p["name"] for p in prompts.page("ann", limit=2).items] == ["p2", "p1"]
    assert prompts.page("bob").items == []


def test_asset_pages_filter_like_the_list_and_history_is_image_studio_only(store, tmp_path):
    from studio.store.images import ImageFiles

    assets = AssetService(store, ImageFiles(tmp_path / "images"))
    project = store.insert("projects", {"owner": "ann", "name": "P", "created": "1"})
    shot = store.insert("shots", {"owner": "ann", "project_id": project["id"], "type": "prop", "name": "s"})
    for n in range(6):
        store.insert("assets", {"owner": "ann", "kind": "generated", "n": n, "file": f"{n}.png"})  # Image Studio
        store.insert("assets", {"owner": "ann", "kind": "generated", "n": 10 + n, "project_id": project["id"],
                                "shot_id": shot["id"] if n % 2 else None, "file": f"g{n}.png"})
    store.insert("assets", {"owner": "bob", "kind": "generated", "n": 99, "file": "b.png"})
    history = assets.history_page("ann", limit=4)
    assert [a["n"] for a in history.items] == [5, 4, 3, 2] and history.has_more
    assert [a["n"] for a in assets.history_page("ann", cursor=history.next_cursor).items] == [1, 0]
    in_project = assets.page("ann", project_id=project["id"], limit=24)
    assert [a["n"] for a in in_project.items] == [15, 14, 13, 12, 11, 10] and not in_project.has_more
    assert [a["n"] for a in assets.page("ann", shot_id=shot["id"]).items] == [15, 13, 11]
    assert [a["n"] for a in assets.page("ann", project_id=project["id"], shot_type="prop").items] == [15, 13, 11]
    assert assets.page("ann", kind="upload").items == []
    with pytest.raises(InvalidRequest, match="Unknown project"):
        assets.page("ann", project_id="f" * 32)
    assert assets.page("ann", limit=3).to_api()["has_more"] is True


def test_find_containing_looks_inside_list_fields_and_follows_changes(store):
    a = store.insert("shots", {"owner": "ann", "history": ["x", "y"]})
    b = store.insert("shots", {"owner": "bob", "history": ["y"]})
    store.insert("shots", {"owner": "ann", "history": "y"})  # not a list: never matches
    assert [d["id"] for d in store.find_containing("shots", "history", "y")] == [a["id"], b["id"]]
    assert [d["id"] for d in store.find_containing("shots", "history", "y", owner="bob")] == [b["id"]]
    store.update("shots", a["id"], {"history": ["x"]})
    assert [d["id"] for d in store.find_containing("shots", "history", "y")] == [b["id"]]
    store.delete("shots", b["id"])
    assert store.find_containing("shots", "history", "y") == []
    assert [d["id"] for d in store.find_containing("shots", "history", "x")] == [a["id"]]
    assert store.find_containing("shots", "unindexed", "x") == []
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            tx.update("shots", a["id"], {"history": ["z"]})
            raise RuntimeError("undo")
    assert [d["id"] for d in store.find_containing("shots", "history", "x")] == [a["id"]]
    assert store.find_containing("shots", "history", "z") == []

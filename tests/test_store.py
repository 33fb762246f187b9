"""The Store contract, run against both the in-memory twin and the TinyDB file store,
plus safety across processes. The file store's own promises (journal, compaction, faults,
migration, crashes) are in tests/test_store_journal.py and tests/test_store_crash.py."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from studio.store import MemoryStore, NotFound, Store, TinyDBStore


@pytest.fixture(params=["memory", "tinydb"])
def store(request, tmp_path) -> Store:
    return MemoryStore() if request.param == "memory" else TinyDBStore(tmp_path / "db.json")


# -- the shared contract -------------------------------------------------------------


def test_both_implement_the_protocol(store):
    assert isinstance(store, Store)


def test_insert_assigns_id_and_get_returns_an_independent_copy(store):
    original = {"name": "castle", "tags": ["a"]}
    saved = store.insert("shots", original)
    assert len(saved["id"]) == 32 and "id" not in original

    original["tags"].append("mutated-input")
    saved["tags"].append("mutated-output")
    fetched = store.get("shots", saved["id"])
    assert fetched == {"id": saved["id"], "name": "castle", "tags": ["a"]}

    fetched["name"] = "changed"
    assert store.get("shots", saved["id"])["name"] == "castle"
    assert store.get("shots", "missing") is None


def test_explicit_id_is_kept_and_a_duplicate_is_refused_without_change(store):
    store.insert("assets", {"id": "hero", "kind": "character"})
    with pytest.raises(ValueError, match="already exists"):
        store.insert("assets", {"id": "hero", "kind": "prop"})
    assert store.all("assets") == [{"id": "hero", "kind": "character"}]


def test_update_merges_fields_and_refuses_missing_or_id_change(store):
    doc = store.insert("shots", {"name": "a", "size": 1})
    updated = store.update("shots", doc["id"], {"size": 2, "new": True})
    assert updated == {"id": doc["id"], "name": "a", "size": 2, "new": True}
    assert store.get("shots", doc["id"]) == updated
    with pytest.raises(NotFound):
        store.update("shots", "nope", {"size": 3})
    with pytest.raises(ValueError, match="id can't be changed"):
        store.update("shots", doc["id"], {"id": "other"})
    assert store.get("shots", doc["id"]) == updated


def test_delete_reports_whether_something_was_removed(store):
    doc = store.insert("shots", {"name": "a"})
    assert store.delete("shots", doc["id"]) is True
    assert store.delete("shots", doc["id"]) is False
    assert store.get("shots", doc["id"]) is None


def test_find_matches_all_given_fields_in_insertion_order(store):
    for i in range(6):
        store.insert("items", {"n": i, "even": i % 2 == 0, "owner": "ann" if i < 4 else "bob"})
    assert [d["n"] for d in store.find("items", even=True)] == [0, 2, 4]
    assert [d["n"] for d in store.find("items", even=True, owner="ann")] == [0, 2]
    assert store.find("items", missing_field=1) == []
    assert [d["n"] for d in store.all("items")] == list(range(6))
    assert store.all("empty") == []


def test_values_that_cannot_be_saved_as_json_are_refused_and_nothing_is_written(store):
    with pytest.raises(ValueError, match="plain JSON"):
        store.insert("shots", {"when": object()})
    with pytest.raises(ValueError):
        store.insert("", {"a": 1})
    assert store.all("shots") == []


def test_transaction_rolls_back_everything_on_error(store):
    keep = store.insert("t", {"v": 1})
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            tx.insert("t", {"v": 2})
            tx.update("t", keep["id"], {"v": 100})
            tx.delete("t", keep["id"])
            raise RuntimeError("boom")
    assert store.all("t") == [keep]


def test_transaction_commits_and_nested_failure_only_undoes_the_inner_part(store):
    with store.transaction() as tx:
        tx.insert("t", {"id": "outer"})
        with pytest.raises(RuntimeError):
            with tx.transaction() as inner:
                inner.insert("t", {"id": "inner"})
                raise RuntimeError("inner fails")
        assert tx.get("t", "inner") is None
        with tx.transaction() as inner:
            inner.insert("t", {"id": "inner-ok"})
    assert [d["id"] for d in store.all("t")] == ["outer", "inner-ok"]


def test_calls_on_the_store_itself_join_an_open_transaction(store):
    """A service may call the store (not the yielded one) inside its own transaction."""
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.insert("t", {"id": "x"})
            assert store.get("t", "x") == {"id": "x"}
            raise RuntimeError("undo")
    assert store.get("t", "x") is None


def test_concurrent_threads_never_lose_an_increment(store):
    counter = store.insert("counters", {"value": 0})

    def bump():
        for _ in range(25):
            with store.transaction() as tx:
                value = tx.get("counters", counter["id"])["value"]
                tx.update("counters", counter["id"], {"value": value + 1})

    threads = [threading.Thread(target=bump) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("counters", counter["id"])["value"] == 150


# -- only the file store ---------------------------------------------------------------


def _increment_in_process(path: str, counter_id: str, times: int) -> None:
    store = TinyDBStore(Path(path))
    for _ in range(times):
        with store.transaction() as tx:
            value = tx.get("counters", counter_id)["value"]
            tx.update("counters", counter_id, {"value": value + 1})
            tx.insert("log", {"pid": os.getpid()})


def test_processes_sharing_the_file_never_lose_each_others_writes(tmp_path):
    path = tmp_path / "shared.json"
    counter = TinyDBStore(path).insert("counters", {"value": 0})
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_increment_in_process, args=(str(path), counter["id"], 40)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    fresh = TinyDBStore(path)
    assert fresh.get("counters", counter["id"])["value"] == 120
    assert len(fresh.all("log")) == 120
    assert len({d["pid"] for d in fresh.all("log")}) == 3

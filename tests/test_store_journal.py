"""What only the file store promises: snapshot + journal on disk, compaction, reading
other processes' commits, and clear refusals for damaged files (which are never
overwritten)."""

from __future__ import annotations

import errno
import json
import os

import pytest
from tinydb import TinyDB
from tinydb.table import Table as TinyTable

from studio.store import StoreFileCorrupt, StoreWriteFailed, TinyDBStore, open_store
from studio.store import tinydb_store


class _StringIds(TinyTable):
    document_id_class = str


def _tinydb_docs(path, table):
    TinyDB.table_class = _StringIds
    try:
        db = TinyDB(path)
        try:
            return {doc.doc_id: dict(doc) for doc in db.table(table).all()}
        finally:
            db.close()
    finally:
        TinyDB.table_class = TinyTable


def test_a_commit_appends_one_journal_line_and_never_rewrites_the_snapshot(tmp_path):
    store = open_store(tmp_path)
    snapshot = store.path.read_bytes()
    lines = store.journal_path.read_bytes().count(b"\n")
    with store.transaction() as tx:
        for i in range(20):
            tx.insert("t", {"i": i})
    store.find("t")
    assert store.journal_path.read_bytes().count(b"\n") == lines + 1  # one record, reads add none
    assert store.path.read_bytes() == snapshot


def test_two_handles_see_each_others_writes_and_compaction_leaves_plain_tinydb_json(tmp_path):
    a = open_store(tmp_path)
    b = TinyDBStore(a.path)
    doc = a.insert("shots", {"name": "one"})
    b.update("shots", doc["id"], {"name": "two"})
    gone = b.insert("shots", {"name": "gone"})
    a.delete("shots", gone["id"])
    assert a.get("shots", doc["id"])["name"] == "two" and b.get("shots", gone["id"]) is None
    a.compact()
    assert b.get("shots", doc["id"])["name"] == "two"  # b notices the new snapshot
    docs = _tinydb_docs(a.path, "shots")
    assert list(docs) == [doc["id"]] and docs[doc["id"]]["name"] == "two"
    assert TinyDBStore(a.path).all("shots") == [{"id": doc["id"], "name": "two"}]


def test_the_journal_compacts_itself_when_it_outgrows_the_snapshot(tmp_path):
    store = TinyDBStore(tmp_path / "db.json", compact_at=2000)
    ids = [store.insert("t", {"i": i, "pad": "x" * 100})["id"] for i in range(60)]
    snapshot = store.path.stat().st_size
    assert store.journal_path.stat().st_size <= max(snapshot, 2000) + 300  # one record past the bar at most
    assert len(json.loads(store.path.read_text())["t"]) >= 30
    docs, before = store.page("t", limit=10)
    store.delete("t", ids[-20])
    store.compact()
    again, _ = TinyDBStore(store.path).page("t", limit=10, before=before)
    assert [d["i"] for d in again] == [*range(49, 40, -1), 39]  # the cursor survives compaction and reopen


def test_a_snapshot_that_is_not_json_is_reported_and_never_overwritten(tmp_path):
    path = tmp_path / "db.json"
    path.write_text('{"t": {"a": {"id": "a"')
    with pytest.raises(StoreFileCorrupt, match=r"db\.json is not valid JSON.*backup") as info:
        TinyDBStore(path)
    assert "Error" not in str(info.value)
    assert path.read_text() == '{"t": {"a": {"id": "a"'


def _store_with_records(tmp_path, n=3):
    store = TinyDBStore(tmp_path / "db.json")
    for i in range(n):
        store.insert("t", {"id": f"d{i}", "i": i})
    store.close()
    return store.journal_path


def test_a_torn_last_record_is_cut_off_and_everything_committed_before_it_stays(tmp_path):
    journal = _store_with_records(tmp_path)
    whole = journal.read_bytes()
    journal.write_bytes(whole + whole.splitlines(keepends=True)[-1][:25])  # a writer died mid-line
    store = TinyDBStore(tmp_path / "db.json")
    assert [d["i"] for d in store.all("t")] == [0, 1, 2]
    assert journal.read_bytes() == whole
    store.insert("t", {"id": "d3", "i": 3})
    assert [d["i"] for d in TinyDBStore(tmp_path / "db.json").all("t")] == [0, 1, 2, 3]


@pytest.mark.parametrize("damage", ["checksum", "middle-truncated"])
def test_a_damaged_record_is_reported_naming_the_journal_and_nothing_is_written(tmp_path, damage):
    journal = _store_with_records(tmp_path)
    lines = journal.read_bytes().splitlines(keepends=True)
    if damage == "checksum":
        lines[2] = lines[2].replace(b'"i":1', b'"i":7')
    else:
        lines[2] = lines[2][:20] + b"\n"
    journal.write_bytes(b"".join(lines))
    damaged = journal.read_bytes()
    with pytest.raises(StoreFileCorrupt, match=r"db\.journal is damaged at byte \d+.*backup"):
        TinyDBStore(tmp_path / "db.json")
    assert journal.read_bytes() == damaged


def test_a_journal_from_another_database_is_refused(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one, two = open_store(tmp_path / "one"), open_store(tmp_path / "two")
    one.insert("t", {"id": "a"})
    two.insert("t", {"id": "b"})
    one.close(), two.close()
    two.journal_path.write_bytes(one.journal_path.read_bytes())
    with pytest.raises(StoreFileCorrupt, match="belongs to another database"):
        open_store(tmp_path / "two")


def test_a_failing_disk_write_saves_nothing_says_so_and_the_store_carries_on(tmp_path, monkeypatch):
    store = TinyDBStore(tmp_path / "db.json")
    store.insert("t", {"id": "kept"})
    journal_before = store.journal_path.read_bytes()
    real_write = os.write

    def full_disk(fd, data):
        real_write(fd, bytes(data[:10]))  # half a record reaches the file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tinydb_store.os, "write", full_disk)
    with pytest.raises(StoreWriteFailed, match=r"^Could not save to db\.journal in the data folder: the disk is full\. "
                                               r"Nothing was saved; free some disk space"):
        with store.transaction() as tx:
            tx.insert("t", {"id": "lost"})
            tx.update("t", "kept", {"changed": True})
    monkeypatch.undo()
    assert store.journal_path.read_bytes() == journal_before
    assert store.all("t") == [{"id": "kept"}]
    store.insert("t", {"id": "after"})
    assert [d["id"] for d in TinyDBStore(tmp_path / "db.json").all("t")] == ["kept", "after"]


def test_a_failed_compaction_keeps_every_commit_and_leaves_no_temp_files(tmp_path, monkeypatch):
    store = TinyDBStore(tmp_path / "db.json", compact_at=1)
    store.insert("t", {"id": "a"})

    def crash(src, dst):
        raise OSError("disk yanked mid-write")

    monkeypatch.setattr(tinydb_store.atomic_file.__globals__["os"], "replace", crash)
    store.insert("t", {"id": "b"})  # committed to the journal; the compaction after it fails
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []
    assert [d["id"] for d in TinyDBStore(tmp_path / "db.json").all("t")] == ["a", "b"]


def test_the_store_reserves_its_bookkeeping_table(tmp_path):
    store = open_store(tmp_path)
    with pytest.raises(ValueError, match="reserved"):
        store.insert("_store", {"x": 1})


def test_a_document_deleted_and_inserted_again_in_one_transaction_replays_elsewhere(tmp_path):
    a = TinyDBStore(tmp_path / "db.json")
    b = TinyDBStore(tmp_path / "db.json")
    a.insert("t", {"id": "x", "v": 1})
    a.insert("t", {"id": "y", "v": 2})
    assert b.get("t", "x") == {"id": "x", "v": 1}
    with a.transaction() as tx:
        tx.delete("t", "x")
        tx.insert("t", {"id": "x", "v": 3})  # now the newest
    assert [d["id"] for d in b.page("t", limit=5)[0]] == ["x", "y"]
    assert [d["v"] for d in TinyDBStore(tmp_path / "db.json").all("t")] == [2, 3]


def test_a_journal_whose_snapshot_is_missing_is_refused_not_dropped(tmp_path):
    store = open_store(tmp_path)
    store.insert("t", {"id": "a"})
    store.close()
    store.path.unlink()
    journal = store.journal_path.read_bytes()
    with pytest.raises(StoreFileCorrupt, match=r"studio\.journal has no database snapshot.*studio\.json"):
        open_store(tmp_path)
    assert store.journal_path.read_bytes() == journal and not store.path.exists()


def test_damage_found_while_running_is_refused_on_every_call_until_repaired(tmp_path):
    a = open_store(tmp_path)
    b = TinyDBStore(a.path)
    a.insert("t", {"id": "x"})
    assert b.get("t", "x") == {"id": "x"}
    with open(a.journal_path, "ab") as journal:  # another writer's record, damaged on disk
        journal.write(b'12 00000000 {"ops":[],"n"}\n')
    for _ in range(2):
        with pytest.raises(StoreFileCorrupt, match="damaged"):
            b.get("t", "x")

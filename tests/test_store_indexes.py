"""The indexes never disagree with a plain scan: random inserts, updates, deletes and
rolled-back transactions on the file store, compared with the in-memory twin after
every step, and again after reopening (journal replay) and compaction (snapshot load)."""

from __future__ import annotations

import random

import pytest

from studio.store import MemoryStore, TinyDBStore

OWNERS = ["ann", "bob", None]
PROJECTS = ["p1", "p2", None]


def _random_doc(rng: random.Random) -> dict:
    doc = {"owner": rng.choice(OWNERS), "kind": rng.choice(["generated", "upload"]), "n": rng.randint(0, 9)}
    if rng.random() < 0.7:
        doc["project_id"] = rng.choice(PROJECTS)
    if rng.random() < 0.5:
        doc["reference_ids"] = rng.sample(["r1", "r2", "r3"], rng.randint(0, 2))
    if rng.random() < 0.1:
        doc["owner"] = {"odd": ["json", 1]}  # an unhashable value still indexes
    return doc


def _pages(store, equals: dict) -> list[list[dict]]:
    """Every page, each store following its own cursors (positions are the store's own)."""
    pages, before = [], None
    while True:
        docs, before = store.page("a", limit=7, before=before, **equals)
        pages.append(docs)
        if before is None:
            return pages


def _same(disk: TinyDBStore, twin: MemoryStore, ids: list[str]) -> None:
    for equals in ({}, {"owner": "ann"}, {"owner": None}, {"project_id": None}, {"owner": "bob", "project_id": "p1"},
                   {"kind": "upload", "n": 3}, {"owner": {"odd": ["json", 1]}}):
        assert disk.find("a", **equals) == twin.find("a", **equals), equals
        assert _pages(disk, equals) == _pages(twin, equals), equals
    for ref in ("r1", "r2", "r3"):
        assert disk.find_containing("a", "reference_ids", ref) == twin.find_containing("a", "reference_ids", ref)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_indexes_agree_with_a_scan_through_changes_reopen_and_compaction(tmp_path, seed):
    rng = random.Random(seed)
    disk, twin = TinyDBStore(tmp_path / "db.json", compact_at=4000, compact_ratio=0.5), MemoryStore()
    ids: list[str] = []
    for step in range(300):
        op = rng.random()
        if op < 0.45 or not ids:
            doc = {**_random_doc(rng), "id": f"d{step}"}
            disk.insert("a", doc), twin.insert("a", doc)
            ids.append(doc["id"])
        elif op < 0.75:
            doc_id, fields = rng.choice(ids), _random_doc(rng)
            disk.update("a", doc_id, fields), twin.update("a", doc_id, fields)
        elif op < 0.9:
            doc_id = ids.pop(rng.randrange(len(ids)))
            disk.delete("a", doc_id), twin.delete("a", doc_id)
        else:
            for store in (disk, twin):
                with pytest.raises(RuntimeError):
                    with store.transaction() as tx:
                        tx.insert("a", {"id": f"x{step}", "owner": "ann"})
                        tx.update("a", ids[0], {"owner": "bob", "reference_ids": ["r1"]})
                        tx.delete("a", ids[-1])
                        raise RuntimeError("undo")
        if step % 25 == 0:
            _same(disk, twin, ids)
        if step % 100 == 99:
            disk = TinyDBStore(tmp_path / "db.json", compact_at=4000, compact_ratio=0.5)
    _same(disk, twin, ids)
    disk.compact()
    _same(TinyDBStore(tmp_path / "db.json"), twin, ids)

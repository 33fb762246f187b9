"""A database written by the previous version (one TinyDB file, rewritten whole; made by
tests/data/make_studio_v1.py with the code of commit 314487b) opens in this one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from studio.services.gen_space.assets import AssetService
from studio.services.billing.ledger import LEDGER_TABLE, CreditsService
from studio.services.gen_space.projects import ProjectService
from studio.services.prompts.library import PromptLibrary
from studio.services.gen_space.shots import ShotService
from studio.store import ImageFiles, TinyDBStore, open_store

V1 = Path(__file__).parent / "data" / "studio-v1.json"


def _open_v1(tmp_path: Path) -> TinyDBStore:
    shutil.copy(V1, tmp_path / "studio.json")
    return open_store(tmp_path)


def test_the_old_file_is_kept_byte_for_byte_and_every_record_carries_over(tmp_path):
    old = json.loads(V1.read_text())
    store = _open_v1(tmp_path)
    assert (tmp_path / "studio.before-journal.json").read_bytes() == V1.read_bytes()
    for table, docs in old.items():
        assert [d["id"] for d in store.all(table)] == list(docs), table  # same records, same order
    ledger = store.all(LEDGER_TABLE)
    assert all("owner" in e and "user" not in e for e in ledger + store.all("jobs") + store.all("saved_prompts"))
    assert [e["owner"] for e in ledger] == [e["user"] for e in old[LEDGER_TABLE].values()]
    snapshot = json.loads((tmp_path / "studio.json").read_text())
    assert snapshot["_store"]["meta"]["format"] == 2


def test_the_services_work_on_a_migrated_database(tmp_path):
    store = _open_v1(tmp_path)
    credits = CreditsService(store, 20)
    assert credits.balance("ann") == 17 and credits.balance("bob") == 20
    assert sum(e["delta"] for e in credits.ledger("ann")) == 17
    assert [e["kind"] for e in credits.ledger_page("ann", limit=2).items] == ["refund", "charge"]
    assert PromptLibrary(store).list("ann")[0]["name"] == "sailor"
    project = ProjectService(store).list("ann")[0]
    shot = ShotService(store).list("ann", project["id"])[0]
    assets = AssetService(store, ImageFiles(tmp_path / "images"))
    assert [a["seed"] for a in assets.history_page("ann").items] == [42, 41, 40]
    assert [a["kind"] for a in assets.page("ann", shot_id=shot["id"]).items] == ["upload"]
    credits.charge("ann", 2, reason="after migration", job_id="c" * 32)
    again = TinyDBStore(tmp_path / "studio.json")  # reopening does not migrate twice
    assert CreditsService(again, 20).balance("ann") == 15
    assert (tmp_path / "studio.before-journal.json").read_bytes() == V1.read_bytes()

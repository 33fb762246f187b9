"""`python -m studio.store backup DEST` and `check`: a consistent copy while a writer runs,
and a report of what is wrong (real files, real processes)."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from studio.services.gen_space.assets import AssetService
from studio.services.billing.ledger import LEDGER_TABLE, CreditsService
from studio.services.gen_space.projects import ProjectService
from studio.services.gen_space.shots import ShotService
from studio.store import ImageFiles, open_store
from studio.store.maintenance import backup, check
from tests.test_store_crash import _check_consistent, _spawn

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio.store", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def _library(data: Path) -> dict:
    store = open_store(data)
    images = ImageFiles(data / "images")
    project = ProjectService(store, images).ensure_default("ann")
    shot = ShotService(store).create("ann", project["id"], type="prop", name="Lantern")
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buf, "PNG")
    assets = AssetService(store, images)
    ups = [assets.upload("ann", project["id"], buf.getvalue(), f"{i}.png", shot_id=shot["id"]) for i in range(3)]
    ShotService(store).apply_asset("ann", shot["id"], ups[0]["id"])
    CreditsService(store, 20).charge("ann", 3, reason="x", job_id="j" * 32)
    return {"store": store, "images": images, "shot": shot, "uploads": ups}


def test_a_healthy_library_checks_clean_and_its_backup_opens_the_same(tmp_path):
    lib = _library(tmp_path / "data")
    result = _cli("--data-dir", str(tmp_path / "data"), "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 assets" in result.stdout and "PROBLEM" not in result.stdout
    result = _cli("--data-dir", str(tmp_path / "data"), "backup", str(tmp_path / "copy"))
    assert result.returncode == 0 and "3 image files" in result.stdout
    assert check(tmp_path / "copy").ok
    copy = open_store(tmp_path / "copy")
    assert [a["id"] for a in copy.all("assets")] == [a["id"] for a in lib["store"].all("assets")]
    assert _cli("--data-dir", str(tmp_path / "data"), "backup", str(tmp_path / "copy")).returncode == 2  # not empty


def test_check_reports_missing_files_broken_ledgers_bad_records_and_dangling_pointers(tmp_path):
    lib = _library(tmp_path / "data")
    store = lib["store"]
    (tmp_path / "data" / "images" / lib["uploads"][1]["file"]).unlink()
    store.insert(LEDGER_TABLE, {"owner": "ann", "delta": 5, "kind": "grant", "reason": "hand edit",
                                "job_id": None, "created": "now", "balance_after": 999})
    store.insert("projects", {"owner": "ann"})  # no name, no created
    store.delete("assets", lib["uploads"][0]["id"])  # behind the services' back: the shot still points at it
    report = check(tmp_path / "data")
    text = "\n".join(report.problems)
    assert not report.ok
    assert f"file images/{lib['uploads'][1]['file']} is missing" in text
    assert "credit ledger of 'ann': the entries add up to 22 but the balance shown is 999" in text
    assert "projects record" in text and "name: Field required" in text
    assert f"shot {lib['shot']['id']}: it points at image {lib['uploads'][0]['id']}, which is gone" in text
    result = _cli("--data-dir", str(tmp_path / "data"), "check")
    assert result.returncode == 1 and "PROBLEM:" in result.stdout and "Traceback" not in result.stderr


def test_check_names_a_damaged_journal_and_what_to_do(tmp_path):
    store = open_store(tmp_path)
    store.insert("t", {"x": 1})
    store.insert("t", {"x": 2})
    store.close()
    lines = store.journal_path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"x":1', b'"x":9')
    store.journal_path.write_bytes(b"".join(lines))
    result = _cli("--data-dir", str(tmp_path), "check")
    assert result.returncode == 2
    assert "studio.journal is damaged" in result.stderr and "backup" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_backup_taken_while_a_writer_commits_is_consistent(tmp_path):
    data = tmp_path / "data"
    writer = _spawn(data / "studio.json", "ann", 400, 1 << 30)
    assert writer.stdout.readline()
    time.sleep(0.3)
    try:
        backup(data, tmp_path / "copy")
    finally:
        writer.kill()
        writer.wait(10)
    copied = _check_consistent(tmp_path / "copy" / "studio.json", "ann", 1)
    assert 1 <= copied <= 400

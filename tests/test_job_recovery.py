"""A job whose process is killed keeps the promise: at the next start it is failed, refunded
exactly once, and its files are gone; a second live studio's jobs are left alone.

Real processes throughout: a child Python process runs a real generation on a tiny slow
model and is killed with SIGKILL at varying moments; `python app.py` is killed mid-job
through its API and started again.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client

from pipelines.testing.tiny import build_tiny_sd15
from studio.services.generation.jobs import JOBS
from studio.services.generation.recovery import recover
from studio.store import open_store
from tests.launched_app import REPO, free_port
from tests.studio_factory import image_files, make_studio

pytestmark = pytest.mark.slow
SIZES = {a: {"width": 64, "height": 64} for a in ("16:9", "1:1", "9:16")}
COST = 3

CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from tests.studio_factory import make_studio
from studio.services.generation.requests import StudioRequest
studio = make_studio(Path({data!r}), starting_credits=20)
print("ready", flush=True)
studio.generation.generate(StudioRequest(user="ana", model_id="tiny-slow", style_id="auto", aspect="1:1",
                                         count={count}, prompt="a red boat"))
print("done", flush=True)
"""


LOOP_CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from tests.studio_factory import make_studio
from studio.services.generation.requests import StudioRequest
studio = make_studio(Path({data!r}), starting_credits=10**6)
print("ready", flush=True)
while True:
    studio.generation.generate(StudioRequest(user="ana", model_id="demo-faces", style_id="auto", aspect="1:1",
                                             count=4, prompt="a red boat"))
"""


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_sd15(tmp_path_factory.mktemp("model") / "tiny-sd15")


def _data_dir(root: Path, model: Path, steps: int) -> Path:
    data = root / "data"
    data.mkdir(parents=True)
    (data / "models.json").write_text(json.dumps({"models": [{
        "id": "tiny-slow", "name": "Tiny slow SD1.5", "description": "tiny random model, many steps",
        "family": "sd15", "source": {"kind": "folder", "path": str(model)}, "default_steps": steps,
        "default_guidance": 5.0, "sizes": SIZES, "credit_cost": COST, "speed": "slow", "quality": "draft",
    }]}))
    return data


def _jobs(data: Path) -> list[dict]:
    """The jobs as another process sees them now (a fresh store reads what others committed)."""
    if not (data / "studio.json").exists():
        return []
    return open_store(data).all(JOBS)


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _start_child(data: Path, count: int = 2) -> subprocess.Popen:
    code = CHILD.format(repo=str(REPO), data=str(data), count=count)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)  # reap it: a zombie still answers kill(pid, 0)


def _assert_clean_after_recovery(data: Path, expected_balance: int) -> None:
    studio = make_studio(data, starting_credits=20)  # the restart: build_studio runs recovery
    assert studio.credits.balance("ana") == expected_balance
    ledger = studio.credits.ledger("ana")
    for job in studio.store.all(JOBS):
        assert job["status"] in ("done", "failed", "cancelled"), job
        kinds = [e["kind"] for e in ledger if e.get("job_id") == job["id"]]
        assert kinds.count("charge") == 1
        assert kinds.count("refund") == (0 if job["status"] == "done" else 1), (job, kinds)
    referenced = {a["file"] for a in studio.store.all("assets")}
    on_disk = {p.relative_to(data / "images").as_posix() for p in image_files(data)}
    assert on_disk == referenced, "no orphan or temporary image files remain"
    again = recover(studio.store, studio.credits, studio.images)
    assert again.reaped_jobs == [] and again.refunded_credits == 0, "refunded exactly once"


def test_killed_jobs_are_refunded_once_and_leave_no_files(tmp_path, tiny_model):
    """Several kills at different moments of a job (loading, denoising, writing), bounded in
    iterations and seconds; after each one a restart makes the books and the folder right."""
    data = _data_dir(tmp_path, tiny_model, steps=40)
    rng = random.Random(8)
    started, kills, finished = time.monotonic(), 0, 0
    while kills < 5 and time.monotonic() - started < 40:
        child = _start_child(data)
        try:
            _wait_for(lambda: any(j["status"] == "running" for j in _jobs(data)), 60, "the job to start")
            time.sleep(rng.uniform(0.0, 1.5))
        finally:
            if child.poll() is None:
                _kill(child)
                kills += 1
            else:
                finished += 1
        done = sum(1 for j in _jobs(data) if j["status"] == "done")
        _assert_clean_after_recovery(data, 20 - COST * 2 * done)
    print(f"kill loop: {kills} kills mid-job, {finished} jobs finished first, {time.monotonic() - started:.0f} s")
    assert kills >= 2, f"only {kills} kills landed mid-job in the time bound"


def test_a_live_second_process_keeps_its_running_job(tmp_path, tiny_model):
    data = _data_dir(tmp_path, tiny_model, steps=50)
    child = _start_child(data, count=1)
    try:
        _wait_for(lambda: any(j["status"] == "running" for j in _jobs(data)), 60, "the job to start")
        other = make_studio(data, starting_credits=20)  # a second studio starting on the same data directory
        (job,) = other.store.all(JOBS)
        assert job["status"] == "running", "a live process's job is not reaped"
        assert [e["kind"] for e in other.credits.ledger("ana")] == ["charge", "grant"]
        assert child.wait(timeout=120) == 0
    finally:
        if child.poll() is None:
            _kill(child)
    (job,) = _jobs(data)
    assert job["status"] == "done"
    studio = make_studio(data, starting_credits=20)
    assert studio.credits.balance("ana") == 20 - COST
    assert len(image_files(data)) == 1


def _start_app(data: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = open(data.parent / f"app-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py", "--data-dir", str(data), "--port", str(port), "--device", "cpu",
                             "--starting-credits", "20", "--default-model", "tiny-slow"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"app exited: {(data.parent / f'app-{port}.log').read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return True
        except OSError:
            return False

    _wait_for(up, 120, "the app to serve")
    return proc, url


def test_kill_minus_9_of_the_app_mid_job_then_restart_refunds(tmp_path, tiny_model):
    data = _data_dir(tmp_path, tiny_model, steps=150)
    app, url = _start_app(data)
    try:
        client = Client(url, verbose=False)
        client.submit("tiny-slow", "auto", "1:1", 2, "a red boat", False, "", -1, api_name="/generate")
        _wait_for(lambda: any(j["status"] == "running" for j in _jobs(data)), 60, "the job to start")
        assert Client(url, verbose=False).predict(api_name="/balance") == 20 - 2 * COST
    finally:
        _kill(app)
    assert [j["status"] for j in _jobs(data)] == ["running"], "the killed job was left running"
    app, url = _start_app(data)
    try:
        client = Client(url, verbose=False)
        assert client.predict(api_name="/balance") == 20
        kinds = [e["kind"] for e in client.predict(api_name="/ledger")["items"]]
        assert kinds == ["refund", "charge", "grant"]
    finally:
        app.terminate()
        app.wait(timeout=30)
    assert [j["status"] for j in _jobs(data)] == ["failed"]
    assert image_files(data) == []


def test_kill_loop_on_fast_jobs_hits_every_moment_and_recovers(tmp_path):
    """Back-to-back fast jobs, killed at random moments, so kills land while PNGs are being
    written and records committed, not only mid-denoise. Bounded: 6 kills or 45 s."""
    data = tmp_path / "data"
    data.mkdir()
    rng = random.Random(40)
    started, kills, stray = time.monotonic(), 0, 0
    while kills < 6 and time.monotonic() - started < 45:
        child = subprocess.Popen([sys.executable, "-c", LOOP_CHILD.format(repo=str(REPO), data=str(data))],
                                 cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.2, 2.5))
        finally:
            _kill(child)
            kills += 1
        files = {p.relative_to(data / "images").as_posix() for p in image_files(data)}
        recorded = {a["file"] for a in open_store(data).all("assets")} if (data / "studio.json").exists() else set()
        stray += len(files - recorded)
        studio = make_studio(data, starting_credits=10**6)  # restart: recovery runs here
        report = recover(studio.store, studio.credits, studio.images)
        assert report.reaped_jobs == [], "the restart already recovered everything, once"
        jobs = studio.store.all(JOBS)
        done = sum(1 for j in jobs if j["status"] == "done")
        cost = studio.catalog.get("demo-faces").credit_cost * 4
        assert studio.credits.balance("ana") == 10**6 - cost * done
        referenced = {a["file"] for a in studio.store.all("assets")}
        on_disk = {p.relative_to(data / "images").as_posix() for p in image_files(data)}
        assert on_disk == referenced
    reaped = sum(1 for j in studio.store.all(JOBS) if j.get("recovered"))
    print(f"fast kill loop: {kills} kills, {reaped} jobs reaped, {stray} stray files swept, "
          f"{time.monotonic() - started:.0f} s")
    assert kills >= 3


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _leave_job(studio, job_id: str, runner: dict, cost: int = 2) -> None:
    """The state a process leaves when it dies mid-job: the charge and the running record."""
    with studio.store.transaction() as tx:
        studio.credits.charge("ana", cost, reason="2 × Demo", job_id=job_id)
        tx.insert(JOBS, {"id": job_id, "owner": "ana", "status": "running", "model_id": "demo-faces", "count": 2,
                         "cost": cost, "created": "2026-12-01T00:00:00+00:00", "runner": runner})


def _png(studio, job_id: str | None) -> str:
    from PIL import Image

    meta = {"job_id": job_id} if job_id else {}
    return studio.images.save(Image.new("RGB", (8, 8), "red"), parameters="", studio_meta=meta, subdir="ana-1")


def test_sweep_removes_what_dead_jobs_left_and_keeps_what_records_point_at(tmp_path):
    from studio.services.generation.jobs import this_runner

    studio = make_studio(tmp_path, starting_credits=20)
    dead = {**this_runner(), "pid": _dead_pid(), "boot": "an-earlier-process"}
    _leave_job(studio, "a" * 32, dead)
    recorded = _png(studio, "a" * 32)
    studio.store.insert("assets", {"id": "c" * 32, "owner": "ana", "kind": "generated", "job_id": "a" * 32,
                                     "file": recorded, "created": "2026-12-01T00:00:00+00:00"})
    unrecorded = _png(studio, "a" * 32)  # killed between writing the PNG and recording it
    kept = _png(studio, "b" * 32)
    studio.store.insert("assets", {"id": "d" * 32, "owner": "ana", "kind": "generated", "job_id": "b" * 32, "file": kept,
                                     "created": "2026-12-01T00:00:00+00:00"})
    tmp = tmp_path / "images" / "ana-1" / ".tmp-abc.png"
    tmp.write_bytes(b"half a png")

    report = recover(studio.store, studio.credits, studio.images)
    assert report.reaped_jobs == ["a" * 32] and report.refunded_credits == 2
    assert set(report.removed_files) == {recorded, unrecorded, "ana-1/.tmp-abc.png"}
    assert [p.name for p in image_files(tmp_path)] == [Path(kept).name]
    assert studio.store.get(JOBS, "a" * 32)["status"] == "failed"
    assert studio.credits.balance("ana") == 20
    assert recover(studio.store, studio.credits, studio.images).refunded_credits == 0


def test_sweep_spares_fresh_files_while_another_live_process_runs_a_job(tmp_path):
    from studio.services.generation.jobs import _start_ticks, this_runner

    studio = make_studio(tmp_path, starting_credits=20)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = {**this_runner(), "pid": other.pid, "started": _start_ticks(other.pid), "boot": "the-other-app"}
        _leave_job(studio, "e" * 32, live)
        its_png = _png(studio, "e" * 32)  # written, about to be recorded by the other app
        upload = _png(studio, None)  # an upload the other app is recording right now
        tmp = tmp_path / "images" / "ana-1" / ".tmp-xyz.png"
        tmp.write_bytes(b"being written")
        report = recover(studio.store, studio.credits, studio.images)
        assert report.reaped_jobs == [] and report.removed_files == []
        assert studio.store.get(JOBS, "e" * 32)["status"] == "running"
        assert {p.relative_to(tmp_path / "images").as_posix() for p in image_files(tmp_path)} == {
            its_png, upload, "ana-1/.tmp-xyz.png"}
    finally:
        _kill(other)
    report = recover(studio.store, studio.credits, studio.images)  # now that process is gone
    assert report.reaped_jobs == ["e" * 32] and image_files(tmp_path) == []


def test_two_launched_apps_on_one_data_directory_keep_each_others_jobs(tmp_path, tiny_model):
    """App B starts (and runs its recovery) while app A is mid-job: A's job is not reaped, A
    finishes it and is charged once; B serves the same books."""
    data = _data_dir(tmp_path, tiny_model, steps=150)
    sizes = {a: {"width": 128, "height": 128} for a in ("16:9", "1:1", "9:16")}
    catalog = json.loads((data / "models.json").read_text())
    catalog["models"][0]["sizes"] = sizes
    (data / "models.json").write_text(json.dumps(catalog))
    app_a, url_a = _start_app(data)
    app_b = None
    try:
        job = Client(url_a, verbose=False).submit("tiny-slow", "auto", "1:1", 1, "a red boat", False, "", -1,
                                                  api_name="/generate")
        _wait_for(lambda: any(j["status"] == "running" for j in _jobs(data)), 60, "A's job to start")
        app_b, url_b = _start_app(data)
        statuses = [j["status"] for j in _jobs(data)]
        assert statuses in (["running"], ["done"]), statuses
        assert "failed" not in statuses, "B reaped A's live job"
        job.result(timeout=240)
        assert [j["status"] for j in _jobs(data)] == ["done"]
        assert Client(url_b, verbose=False).predict(api_name="/balance") == 20 - COST
        kinds = [e["kind"] for e in Client(url_b, verbose=False).predict(api_name="/ledger")["items"]]
        assert kinds == ["charge", "grant"]
        assert len(image_files(data)) == 1, "B's sweep left A's new image alone"
        assert statuses == ["running"], "A's job ended before B started: make the job longer"
    finally:
        for app in (app_a, app_b):
            if app is not None:
                app.terminate()
                app.wait(timeout=30)

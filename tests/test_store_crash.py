"""Real processes against one data folder: `kill -9` during commits and during compaction,
and two writers at once. Every commit a writer reported done must be there afterwards,
transactions are all-or-nothing, the database always opens and the ledger balances."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from studio.services.billing.ledger import LEDGER_TABLE, CreditsService
from studio.store import TinyDBStore

ROOT = Path(__file__).resolve().parents[1]
START = 1_000_000

WRITER = """
import os, sys
from studio.services.billing.ledger import CreditsService
from studio.store import TinyDBStore
path, owner, count, compact_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
store = TinyDBStore(path, compact_at=compact_at, compact_ratio=0 if compact_at < 10_000 else 1)
credits = CreditsService(store, {start})
for i in range(count):
    job = f"{{owner}}-{{os.getpid()}}-{{i}}"
    with store.transaction() as tx:  # a generate-sized transaction: charge + job + asset
        credits.charge(owner, 1, reason="one image", job_id=job)
        tx.insert("jobs", {{"id": job, "owner": owner, "status": "running", "pad": "x" * 300}})
        tx.insert("assets", {{"owner": owner, "job_id": job, "kind": "generated", "file": job + ".png"}})
    print(i, flush=True)
""".format(start=START)


def _spawn(path: Path, owner: str, count: int, compact_at: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), owner, str(count), str(compact_at)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )


def _check_consistent(path: Path, owner: str, acknowledged: int) -> int:
    store = TinyDBStore(path)
    entries = store.find(LEDGER_TABLE, owner=owner)
    charges = [e for e in entries if e["kind"] == "charge"]
    jobs = store.find("jobs", owner=owner)
    assets = store.find("assets", owner=owner)
    assert len(charges) >= acknowledged, "a commit the writer saw finish was lost"
    assert len(charges) == len(jobs) == len(assets), "a transaction was applied in part"
    assert sum(e["delta"] for e in entries) == entries[-1]["balance_after"] == CreditsService(store, START).balance(owner)
    assert sum(e["delta"] for e in entries) == START - len(charges)
    store.close()
    return len(charges)


def _kill_loop(tmp_path: Path, compact_at: int, iterations: int, budget_s: float) -> int:
    """Start a writer, kill it at a random moment, check; repeat. Returns the snapshot generation."""
    path = tmp_path / "studio.json"
    deadline = time.monotonic() + budget_s
    rng = random.Random(6)
    done = 0
    for _ in range(iterations):
        if time.monotonic() > deadline:
            break
        proc = _spawn(path, "ann", 10_000, compact_at)
        first = proc.stdout.readline()  # the writer is up and committing
        assert first, "the writer could not open the database"
        time.sleep(rng.uniform(0.0, 0.15))
        os.kill(proc.pid, signal.SIGKILL)
        lines = [first] + proc.stdout.read().splitlines()
        proc.wait(10)
        acknowledged = done + len([line for line in lines if line.strip()])
        done = _check_consistent(path, "ann", acknowledged)
    assert done > 0
    TinyDBStore(path).insert("t", {"after": True})  # it still takes writes; a killed compaction's temp file is gone
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    return json.loads(path.read_text())["_store"]["meta"]["gen"]


def test_kill_9_during_commits_loses_no_acknowledged_transaction(tmp_path):
    assert _kill_loop(tmp_path, compact_at=1 << 30, iterations=10, budget_s=25) == 0  # never compacted


def test_kill_9_during_compaction_loses_nothing(tmp_path):
    # compacting whenever the journal passes 2 KB (every few commits): many kills land in a compaction
    assert _kill_loop(tmp_path, compact_at=2048, iterations=10, budget_s=25) > 20  # many compactions ran


def test_two_writer_processes_lose_nothing_and_the_ledger_balances(tmp_path):
    path = tmp_path / "studio.json"
    TinyDBStore(path).close()
    procs = [_spawn(path, owner, 60, 8192) for owner in ("ann", "bob")]
    for proc in procs:
        out, _ = proc.communicate(timeout=90)
        assert proc.returncode == 0 and len(out.split()) == 60
    for owner in ("ann", "bob"):
        assert _check_consistent(path, owner, 60) == 60

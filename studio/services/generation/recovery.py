"""Start-up recovery: keep the promise for jobs whose process died mid-run.

A job's credits are taken together with its `running` record. If the process is
killed before the job ends, nobody would ever refund it: so at start-up every job
still `running` whose runner is gone (see `studio.services.jobs.runner_alive`) is
marked failed, refunded exactly once (the ledger refuses a second refund for a job),
and its image records and files are removed. Then the image folder is swept:

* `.tmp-*` files are half-written PNGs of a killed write;
* an image file no asset record points at is an orphan: a job killed between
  writing its PNG and recording it, or a rollback killed before removing its files.

A second live studio on the same data directory may be writing such files right now,
so while another live process has running jobs, only files that belong to a reaped
or finished job (the PNG's metadata names its job) or that are older than
`grace_s` are removed. A file a record points at is never removed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from studio.services.billing.ledger import CreditsService
from studio.services.generation.jobs import FAILED, JOBS, RUNNING, runner_alive
from studio.store.atomic import TEMP_PREFIX
from studio.store.base import Store
from studio.store.images import ImageFiles
from studio.store.records import ASSETS
from studio.store.records import update_record

log = logging.getLogger(__name__)
REAPED_ERROR = "The studio stopped while this job was running."
DEFAULT_GRACE_S = 600.0


@dataclass
class RecoveryReport:
    reaped_jobs: list[str] = field(default_factory=list)
    refunded_credits: int = 0
    removed_files: list[str] = field(default_factory=list)  # relative to the image folder

    def __str__(self) -> str:
        return (f"recovered {len(self.reaped_jobs)} interrupted job(s), refunded {self.refunded_credits} credit(s), "
                f"removed {len(self.removed_files)} stray file(s)")


def recover(store: Store, credits: CreditsService, images: ImageFiles, *, grace_s: float = DEFAULT_GRACE_S) -> RecoveryReport:
    report = RecoveryReport()
    for job in store.find(JOBS, status=RUNNING):
        if not runner_alive(job.get("runner")):
            _reap(store, credits, images, job["id"], report)
    _sweep(store, images, grace_s, report)
    if report.reaped_jobs or report.removed_files:
        log.warning("%s", report)
    return report


def _reap(store: Store, credits: CreditsService, images: ImageFiles, job_id: str, report: RecoveryReport) -> None:
    """One transaction: still running? then refund, mark failed, drop its records. Files after."""
    with store.transaction() as tx:
        job = tx.get(JOBS, job_id)
        if job is None or job.get("status") != RUNNING:
            return  # another process recovered it first
        assets = tx.find(ASSETS, job_id=job_id)
        for asset in assets:
            tx.delete(ASSETS, asset["id"])
        refund = credits.refund(job_id, reason="job failed: the studio stopped while it ran")
        update_record(tx, JOBS, job_id, {"status": FAILED, "error": REAPED_ERROR, "recovered": True})
    report.reaped_jobs.append(job_id)
    report.refunded_credits += refund["delta"] if refund else 0
    for asset in assets:
        if _remove(images, asset.get("file")):
            report.removed_files.append(asset["file"])


def _remove(images: ImageFiles, rel: object) -> bool:
    if not isinstance(rel, str):
        return False
    try:
        return bool(images.delete(rel))
    except (OSError, ValueError):
        log.exception("could not remove %s", rel)
        return False


def _sweep(store: Store, images: ImageFiles, grace_s: float, report: RecoveryReport) -> None:
    root = Path(images.root)
    if not root.is_dir():
        return
    with store.transaction() as tx:
        referenced = {a.get("file") for a in tx.all(ASSETS)}
        running = tx.find(JOBS, status=RUNNING)
    live_jobs = {j["id"] for j in running if runner_alive(j.get("runner"))}
    others_busy = bool(live_jobs)
    now = time.time()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel in referenced:
            continue
        try:
            old = now - path.stat().st_mtime > grace_s
        except OSError:
            continue
        if path.name.startswith(TEMP_PREFIX):
            stray = old or not others_busy
        elif path.suffix.lower() == ".png":
            job_id = _job_of(images, rel)
            stray = old or not others_busy or (job_id is not None and job_id not in live_jobs)
        else:
            continue  # not ours to judge
        if stray:
            try:
                path.unlink()
                report.removed_files.append(rel)
            except OSError:
                log.exception("could not remove stray file %s", rel)


def _job_of(images: ImageFiles, rel: str) -> str | None:
    """The job a PNG was made by, from its own metadata (uploads and edits have none)."""
    try:
        job_id = images.read_metadata(rel).get("studio", {}).get("job_id")
    except Exception:  # unreadable: a damaged file is judged by its age alone
        return None
    return job_id if isinstance(job_id, str) else None

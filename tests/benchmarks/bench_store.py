"""Store benchmark: what a request costs at 100,000 images compared with 1,000.

The promise (issue 6): a click costs the same whatever the size of the library. Two data
folders are filled through the store with records shaped as the services write them
(assets as `GenerationService` and uploads write them, one job and one ledger charge per
two images, Gen Space projects and shots), then the same requests run against both, in
turns (small, large, small, large...) so they share the machine's noise, and the script
prints the median of each and the ratio large / small. The bar: every per-request ratio
at most 1.5x. Opening the store (reading the snapshot, replaying the journal, building the
indexes) is printed too: it grows with the library by nature and must stay a few seconds.

    python -m tests.benchmarks.bench_store                  # 1,000 vs 100,000 images, ~2-3 min on 2 cores
    python -m tests.benchmarks.bench_store --large 20000    # quicker
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from studio.services.generation.requests import StudioRequest  # noqa: E402
from studio.store import TinyDBStore, open_store  # noqa: E402
from studio.store.records import utc_now  # noqa: E402

USER = "ann"  # the person measured: she owns 40% of everything, the worst case for her requests
OTHERS = ("bob", "cat", "dan")
DEMO = "demo-faces"
SHOTS_PER_PROJECT = 25
IMAGES_PER_SHOT = 40


def _asset(owner: str, job_id: str, i: int, project_id: str | None, shot_id: str | None) -> dict:
    """An asset record with every field `GenerationService._save_image` writes."""
    return {
        "id": uuid.uuid4().hex, "job_id": job_id, "owner": owner, "kind": "generated",
        "model_id": DEMO, "model_name": "Offline demo (faces)", "style_id": "cinematic", "style_name": "Cinematic",
        "aspect": "1:1", "prompt": f"a portrait of a sailor number {i} on a stormy sea, dramatic light",
        "styled_prompt": f"cinematic still, a portrait of a sailor number {i} on a stormy sea, dramatic light, "
                         "shallow depth of field, film grain",
        "negative_prompt": "blurry, low quality, watermark", "enhanced": False, "seed": 1000 + i,
        "width": 512, "height": 512, "steps": 1, "guidance": 0.0, "sampler": "dcgan", "cost": 1, "elapsed_s": 0.05,
        "created": utc_now(), "prompt_ignored": True, "file": f"{owner}/{job_id}-{i}.png",
        "project_id": project_id, "shot_id": shot_id, "reference_ids": [],
    }


def fill(data_dir: Path, images: int) -> dict:
    """`images` generated images (half in Gen Space shots), their jobs and ledger charges,
    written through the store in batches of one transaction each. Returns ids to query."""
    store = open_store(data_dir)
    owners = [USER] * 4 + list(OTHERS) * 2
    balances = {o: 10**9 for o in [USER, *OTHERS]}
    place: dict[str, dict] = {o: {"project": None, "shot": None, "shots": 0, "in_shot": IMAGES_PER_SHOT} for o in balances}
    with store.transaction() as tx:
        for owner in balances:
            tx.insert("credit_ledger", {"owner": owner, "delta": 10**9, "kind": "grant", "reason": "Starting balance",
                                        "job_id": None, "created": utc_now(), "balance_after": 10**9})
    n = 0
    while n < images:
        with store.transaction() as tx:
            for _ in range(min(5000, images - n) // 2):
                owner = owners[(n // 2) % len(owners)]
                job_id = uuid.uuid4().hex
                project_id = shot_id = None
                if (n // 2) % 3:  # two jobs in three are Gen Space: for the owner's current shot
                    at = place[owner]
                    if at["in_shot"] >= IMAGES_PER_SHOT:
                        if at["shots"] % SHOTS_PER_PROJECT == 0:
                            at["project"] = tx.insert("projects", {"owner": owner, "name": f"Story {at['shots']}",
                                                                   "created": utc_now(), "updated": utc_now()})["id"]
                        at["shot"] = tx.insert("shots", {
                            "owner": owner, "project_id": at["project"], "type": "character", "name": f"Hero {at['shots']}",
                            "description": "a brave sailor", "applied_asset_id": None, "history": [],
                            "order": at["shots"] % SHOTS_PER_PROJECT, "created": utc_now(), "updated": utc_now()})["id"]
                        at["shots"], at["in_shot"] = at["shots"] + 1, 0
                    project_id, shot_id = at["project"], at["shot"]
                    at["in_shot"] += 2
                balances[owner] -= 2
                tx.insert("credit_ledger", {"owner": owner, "delta": -2, "kind": "charge", "reason": "2 × Demo",
                                            "job_id": job_id, "created": utc_now(), "balance_after": balances[owner]})
                tx.insert("jobs", {"id": job_id, "owner": owner, "status": "done", "model_id": DEMO,
                                   "style_id": "cinematic", "aspect": "1:1", "count": 2, "cost": 2,
                                   "prompt": "a portrait of a sailor", "created": utc_now(), "elapsed_s": 0.1})
                for i in range(2):
                    tx.insert("assets", _asset(owner, job_id, n + i, project_id, shot_id))
                n += 2
    made = {"project": place[USER]["project"], "shot": place[USER]["shot"]}
    store.compact()
    store.close()
    return made


def _sample_ms(fn: Callable[[], object], calls: int = 1) -> float:
    """Milliseconds per call, averaged over `calls` back-to-back calls (sub-ms requests
    need several per sample to rise above the timer's and the scheduler's noise)."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) * 1000 / calls


def _write_heavy(store: TinyDBStore, threads: int = 20, each: int = 50) -> float:
    """`threads` threads each committing `each` generate-sized transactions (charge, job, asset)."""
    from studio.services.billing.ledger import CreditsService

    credits = CreditsService(store, 0)

    def work(t: int) -> None:
        for i in range(each):
            job_id = uuid.uuid4().hex
            with store.transaction() as tx:
                credits.charge(USER, 1, reason="1 × Demo", job_id=job_id)
                tx.insert("jobs", {"id": job_id, "owner": USER, "status": "done", "model_id": DEMO, "count": 1,
                                   "cost": 1, "created": utc_now()})
                tx.insert("assets", _asset(USER, job_id, i, None, None))

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return threads * each / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    from tests.studio_factory import make_studio

    root = Path(args.workdir or tempfile.mkdtemp(prefix="bench-store-"))
    sizes = {"small": args.small, "large": args.large}
    dirs, ids, fill_s = {}, {}, {}
    for name, count in sizes.items():
        dirs[name] = root / name
        start = time.perf_counter()
        ids[name] = fill(dirs[name], count)
        fill_s[name] = time.perf_counter() - start
        print(f"filled {count:>7,} images in {fill_s[name]:.1f} s "
              f"({(dirs[name] / 'studio.json').stat().st_size / 1e6:.1f} MB snapshot)", flush=True)

    opens = {name: [] for name in sizes}
    for _ in range(3):
        for name in sizes:
            opens[name].append(_sample_ms(lambda: TinyDBStore(dirs[name] / "studio.json").close()))

    studios = {name: make_studio(dirs[name], starting_credits=0) for name in sizes}
    request = StudioRequest(user=USER, model_id=DEMO, style_id="auto", aspect="1:1", count=1, prompt="a sailor")
    for studio in studios.values():  # warm-up: the demo model loads once per studio
        studio.generation.generate(request)

    cases: dict[str, Callable[[object, dict], object]] = {
        "one-image demo generate (GenerationService)": lambda s, i: s.generation.generate(request),
        "keystroke cost check (estimate + balance)": lambda s, i: (s.generation.estimate(DEMO, 2), s.credits.balance(USER)),
        "asset library, first page (project)": lambda s, i: s.assets.page(USER, project_id=i["project"]),
        "asset library, first page (all images)": lambda s, i: s.assets.page(USER),
        "a shot's results, first page": lambda s, i: s.assets.page(USER, shot_id=i["shot"]),
        "Image Studio history, first page": lambda s, i: s.assets.history_page(USER),
        "billing, first ledger page": lambda s, i: s.credits.ledger_page(USER),
    }
    results = {label: {name: [] for name in sizes} for label in cases}
    for _ in range(args.repeats):
        for label, fn in cases.items():
            for name in sizes:
                calls = 1 if "generate" in label else 20
                results[label][name].append(_sample_ms(lambda: fn(studios[name], ids[name]), calls))

    small, large = f"{args.small:,}", f"{args.large:,}"
    print(f"\nmedian ms per request over {args.repeats} rounds, sizes alternating {small:>9} {large:>10}   ratio")
    worst = 0.0
    for label, by_size in results.items():
        a, b = statistics.median(by_size["small"]), statistics.median(by_size["large"])
        worst = max(worst, b / a)
        print(f"  {label:<48} {a:>10.2f} {b:>10.2f}   {b / a:.2f}x")
    a, b = statistics.median(opens["small"]), statistics.median(opens["large"])
    print(f"  {'store open (snapshot + journal + indexes)':<48} {a:>10.1f} {b:>10.1f}   {b / a:.1f}x (not per request)")
    print(f"worst per-request ratio: {worst:.2f}x (bar: 1.50x)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process (both libraries open): {peak_mb:,.0f} MB")

    print("\nwrite-heavy: 20 threads x 50 generate-sized transactions (charge + job + asset, fsynced)")
    for name in sizes:
        tps = _write_heavy(studios[name].store)
        print(f"  {sizes[name]:>7,} images: {tps:,.0f} transactions/s")


if __name__ == "__main__":
    main()

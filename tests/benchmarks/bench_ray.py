"""Ray Serve engine benchmark: what the cluster engine buys and costs, as ratios in one run.

A local multi-node cluster (tests/ray_cluster.py: a head and two nodes declaring GPUs),
replicas running a tiny random SD 1.5 on the CPU with ONE torch thread each, so two
replicas can really use this 2-core machine's two cores. Everything goes through the real
engine objects the app composes: `RayEngine` (pipelines/serve) behind `FairDispatcher`,
and the local `PipelineManager` for the baseline.

    python -m tests.benchmarks.bench_ray            # ~3 min on 2 cores
    python -m tests.benchmarks.bench_ray --jobs 16 --steps 12 --size 128

1. throughput: N concurrent one-image jobs on 2 replicas vs on 1 replica (two Serve apps
   on the same cluster, measured in turns), jobs per second;
2. latency: one job through Ray (1 replica) vs the local engine in this process (one
   torch thread too), medians of alternating runs;
3. model switches: the same random sequence of jobs over 4 models on 2 replicas that keep
   2 models each, routed by model (Serve multiplexing) vs to any replica (random
   placement); counts the model loads each needed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def request(model: str, size: int, steps: int, seed: int = 1):
    from pipelines.types import GenerationRequest

    return GenerationRequest(model_id=model, prompt="a lighthouse at dusk", width=size, height=size, steps=steps,
                             seeds=(seed,), owner=f"user{seed % 3}")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


BUSY: dict[str, list[float]] = {}  # per engine label: each job's own run time on its replica


def burst(engine, n: int, size: int, steps: int, label: str = "") -> float:
    """Seconds for n concurrent one-image jobs (each job's time on its replica goes to BUSY)."""
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        start = time.perf_counter()
        results = list(pool.map(lambda i: engine.generate(request("m0", size, steps, i)), range(n)))
        wall = time.perf_counter() - start
    BUSY.setdefault(label, []).extend(r.elapsed_s for r in results)
    return wall


def loads(engine) -> int:
    return sum(len(r["loads"]) for r in engine._handle.broadcast("resident").results())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=12, help="concurrent jobs per throughput round")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--switch-jobs", type=int, default=24, help="jobs per placement round (section 3)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from pipelines.catalog import Catalog, ModelEntry
    from pipelines.fair import FairDispatcher
    from pipelines.manager import PipelineManager
    from pipelines.serve.client import connect
    from pipelines.serve.settings import ServeOptions
    from tests.ray_cluster import local_cluster, model_entry, tiny_folder

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-ray-"))
    folder = tiny_folder(work)
    sizes = {a: {"width": args.size, "height": args.size} for a in ("16:9", "1:1", "9:16")}
    catalog = Catalog(models=[ModelEntry.model_validate(model_entry(f"m{i}", folder, steps=args.steps, sizes=sizes))
                              for i in range(4)])
    torch.set_num_threads(1)
    local = PipelineManager(catalog, device="cpu")
    with local_cluster(gpu_nodes=2, gpus_per_node=2, cpus_per_node=2) as cluster:
        common = dict(address=cluster.address, cpu_threads=1, device="cpu", env={"HF_HUB_OFFLINE": "1"})
        one = connect(ServeOptions(replicas=1, app_name="bench-one", **common), catalog)
        two = connect(ServeOptions(replicas=2, models_per_replica=2, app_name="bench-two", **common), catalog)
        fair_one, fair_two = FairDispatcher(one, slots=1), FairDispatcher(two, slots=2)
        # Warm-up: the model on every replica (two at once reach both replicas of "two") and locally.
        burst(fair_one, 2, args.size, args.steps), burst(fair_two, 4, args.size, args.steps)
        local.generate(request("m0", args.size, args.steps))

        rates_one, rates_two = [], []
        for _ in range(args.repeats):
            rates_one.append(args.jobs / burst(fair_one, args.jobs, args.size, args.steps, "one"))
            rates_two.append(args.jobs / burst(fair_two, args.jobs, args.size, args.steps, "two"))
        thr = statistics.median(rates_two) / statistics.median(rates_one)

        ray_s, local_s = [], []
        for i in range(args.repeats * 4):
            ray_s.append(timed(lambda: one.generate(request("m0", args.size, args.steps, i))))
            local_s.append(timed(lambda: local.generate(request("m0", args.size, args.steps, i))))
        lat = statistics.median(ray_s) / statistics.median(local_s)

        rng = random.Random(5)
        switches = {"multiplexed": 0, "random": 0}
        for _ in range(2):
            for mode in ("multiplexed", "random"):
                two.route_by_model = mode == "multiplexed"
                seq = [f"m{rng.randrange(4)}" for _ in range(args.switch_jobs)]
                before = loads(two)
                for i, model in enumerate(seq):
                    two.generate(request(model, 64, 1, i))
                switches[mode] += loads(two) - before
        two.route_by_model = True

        print(f"cluster: head + 2 nodes declaring 2 GPUs each; replicas on the CPU, 1 torch thread each; "
              f"tiny SD1.5 {args.size}² {args.steps} steps; {os.cpu_count()} CPU cores")
        print(f"1. throughput, {args.jobs} concurrent 1-image jobs: 2 replicas {statistics.median(rates_two):.2f} jobs/s "
              f"vs 1 replica {statistics.median(rates_one):.2f} jobs/s  ->  {thr:.2f}x  (one job's run on its replica: "
              f"{statistics.median(BUSY['two']) * 1000:.0f} ms with 2 replicas, {statistics.median(BUSY['one']) * 1000:.0f} ms with 1)")
        print(f"2. latency of one job: Ray {statistics.median(ray_s) * 1000:.0f} ms vs local "
              f"{statistics.median(local_s) * 1000:.0f} ms  ->  {lat:.3f}x")
        saved = switches["random"] / max(1, switches["multiplexed"])
        print(f"3. model loads for {2 * args.switch_jobs} random jobs over 4 models, 2 replicas x 2 models: "
              f"multiplexed {switches['multiplexed']} vs random placement {switches['random']}  ->  "
              f"{saved:.1f}x fewer ({switches['random'] - switches['multiplexed']} switches avoided)")
        from ray import serve

        serve.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

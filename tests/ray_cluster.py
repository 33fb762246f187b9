"""A real multi-node Ray cluster on this one machine, for the cluster tests and the benchmark.

`ray.cluster_utils.Cluster` starts a head and worker nodes as separate raylets (separate
processes, each declaring its CPUs and GPUs), which is what `ray start` does on separate
machines. The nodes declare GPUs they do not have; the replicas run the tiny test models
on the CPU with one thread each. Ray's files go under $RAY_TMPDIR (default /tmp/ray-studio-tests)
so several checkouts can test on one machine. Always shut down in a `finally`.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

from pipelines.testing.tiny import build_tiny_sd15

SIZES = {a: {"width": 64, "height": 64} for a in ("16:9", "1:1", "9:16")}
BIG_SIZES = {a: {"width": 192, "height": 192} for a in ("16:9", "1:1", "9:16")}  # slow steps: time to cancel or kill


def model_entry(model_id: str, folder: Path, *, steps: int = 2, sizes: dict | None = None, cost: int = 1) -> dict:
    return {"id": model_id, "name": model_id, "description": "tiny random test model", "family": "sd15",
            "source": {"kind": "folder", "path": str(folder)}, "default_steps": steps, "default_guidance": 5.0,
            "sizes": sizes or SIZES, "credit_cost": cost, "speed": "fast", "quality": "draft"}


def data_dir_with_models(root: Path, entries: list[dict]) -> Path:
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "models.json").write_text(json.dumps({"models": entries}))
    return data


def tiny_folder(root: Path) -> Path:
    return build_tiny_sd15(root / "tiny-sd15")


@contextmanager
def local_cluster(gpu_nodes: int = 2, *, gpus_per_node: int = 1, cpus_per_node: int = 1, disconnect: bool = True):
    """A head node (no GPU: it hosts Serve's controller) and `gpu_nodes` worker nodes.
    `disconnect`: end this process's Ray connection too (off for a second, unconnected cluster)."""
    os.environ.setdefault("RAY_TMPDIR", "/tmp/ray-studio-tests")
    Path(os.environ["RAY_TMPDIR"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    from ray.cluster_utils import Cluster

    # A lost node is declared dead after 3 missed 1 s health checks (Ray's default: tens of
    # seconds), so Serve replaces its replica within the test's patience.
    fast_death = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 1000, "health_check_failure_threshold": 3}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0, "_system_config": fast_death})
    try:
        for _ in range(gpu_nodes):
            cluster.add_node(num_cpus=cpus_per_node, num_gpus=gpus_per_node)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        import ray

        if disconnect and ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()


def replicas(cluster) -> list[dict]:
    """Every engine replica's node, loaded models and model registrations, asked through Ray
    from the test process (the app's engine is deployed by the app process)."""
    import ray
    from ray import serve

    from pipelines.serve.settings import APP_NAME

    if not ray.is_initialized():
        ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
    # After a node is removed the handle's list of replicas is updated asynchronously: a call
    # may still reach the dead replica once. Ask again (bounded) rather than read a stale list.
    deadline = time.monotonic() + 60
    while True:
        try:
            return serve.get_app_handle(APP_NAME).broadcast("resident").results()
        except ray.exceptions.ActorDiedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


def running_replicas() -> int:
    from ray import serve

    from pipelines.serve.settings import APP_NAME, DEPLOYMENT_NAME

    app = serve.status().applications.get(APP_NAME)
    return 0 if app is None else app.deployments[DEPLOYMENT_NAME].replica_states.get("RUNNING", 0)

"""RayEngine: the engine interface the services use, answered by a Ray Serve deployment.

The studio host keeps the catalog, the store and the files; this object is what the
services hold as `engine` instead of a PipelineManager. Same calls, same exceptions:

- `generate` sends the request to a replica that holds the model (model multiplexing),
  relays its streamed progress to the caller's ProgressFn, reaches the replica with
  Cancel (the Serve request is cancelled; the replica stops at the next step) and turns
  the PNG bytes that come back into PIL images for the host to write as today.
- A replica or node lost mid-job: the job runs again once, on another replica, if the
  lost one had not started denoising yet (nothing was made, the user saw nothing but
  "queued"/"loading"); otherwise, or when the second run is lost too, `ReplicaLost`
  (a ModelUnavailable) is raised and the services refund the job exactly once. A request
  that Serve routed to a replica already dead (before Ray marked it so) never ran: it is
  sent again, with a short back-off, for up to a minute, and is not counted as a run.
- `check` runs on the host (validation needs no GPU; a prompt tokenizer is read only when
  the model's files are on this machine, as the local engine does), so bad input is still
  refused before any credit is taken without a round trip.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from pathlib import Path

from pipelines.catalog import Catalog, ModelEntry
from pipelines.serve import wire
from pipelines.serve.adapter_files import HostFiles
from pipelines.serve.settings import DEPLOYMENT_NAME, NAMESPACE, ServeOptions
from pipelines.types import (
    CancelToken,
    GenerationCancelled,
    GenerationRequest,
    GenerationResult,
    ModelUnavailable,
    Progress,
    ProgressFn,
    report,
)

log = logging.getLogger(__name__)
PIPELINES_DIR = Path(__file__).resolve().parent.parent
_DOWNLOADED_TTL_S = 30.0
_REACH_TIMEOUT_S = 60.0  # how long a job keeps trying to reach a live replica after losing one


class ClusterUnavailable(RuntimeError):
    """The Ray cluster cannot be reached or cannot host the engine; the message says why."""


class ReplicaLost(ModelUnavailable):
    """The replica (or its node) running the job went away after the job had started."""


def _lost_errors() -> tuple[type[BaseException], ...]:
    """Ray's errors for "the replica is gone": actor died/unavailable, node or worker lost."""
    from ray import exceptions as rex
    from ray.serve.exceptions import DeploymentUnavailableError

    names = ("RayActorError", "ActorDiedError", "ActorUnavailableError", "NodeDiedError", "WorkerCrashedError",
             "ObjectLostError", "OwnerDiedError", "LocalRayletDiedError")
    return tuple(getattr(rex, n) for n in names if hasattr(rex, n)) + (DeploymentUnavailableError,)


def check_reachable(address: str, timeout_s: float = 3.0) -> None:
    """Fail in seconds with the address named, instead of Ray's minutes of retries."""
    if address == "auto":
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterUnavailable(f"The Ray address {address!r} is not HOST:PORT (for example 10.0.0.5:6379) or 'auto'.")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ClusterUnavailable(
            f"Cannot reach the Ray cluster at {address}: {exc.strerror or exc}. Start it with `ray start --head` "
            "on that machine (port 6379 by default), or check the address and the firewall."
        ) from None


class RayEngine:
    """The Serve deployment behind the PipelineManager's interface (see the module docstring)."""

    def __init__(self, catalog: Catalog, options: ServeOptions, handle, host_checker, adapters=None) -> None:
        self._catalog = catalog
        self.adapters = adapters  # the host's LoRA and embedding files: checked and listed here, sent per job
        self._files = HostFiles(adapters)
        self.options = options
        self._handle = handle
        self._checker = host_checker  # a PipelineManager on the host that never loads a model
        self._downloaded: dict[str, tuple[float, bool | None, bool]] = {}  # id -> (when, answer, asking)
        self._lock = threading.Lock()
        self.retries = 0  # jobs re-run after losing their replica (for the log and the tests)
        # Route each job to a replica holding its model (Serve's multiplexing). Off only to
        # measure what that saves (tests/benchmarks/bench_ray.py): then any replica is used.
        self.route_by_model = True

    # ----- what the services ask before charging ------------------------------------------
    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def entry(self, model_id: str) -> ModelEntry:
        return self._checker.entry(model_id)

    def check(self, request: GenerationRequest) -> ModelEntry:
        return self._checker.check(request)

    def expected_placement(self, model_id: str):
        """Decided by the replica that loads it (its GPU, not the host's); a model too large for
        a replica is refused there and refunded."""
        self.entry(model_id)
        return None

    def is_downloaded(self, model_id: str) -> bool:
        """Whether a replica has the model's files. The UI asks on every change and a replica may
        be busy with a job for minutes, so the answer is the last one a replica gave (the host's
        own view until then), refreshed in the background at most every 30 s."""
        self.entry(model_id)
        now = time.monotonic()
        with self._lock:
            cached = self._downloaded.get(model_id)
            stale = cached is None or (now - cached[0] >= _DOWNLOADED_TTL_S and not cached[2])
            if stale:
                self._downloaded[model_id] = (now, cached[1] if cached else None, True)
        if stale:
            threading.Thread(target=self._refresh_downloaded, args=(model_id,), daemon=True).start()
        if cached is None or cached[1] is None:
            return bool(self._checker.is_downloaded(model_id))  # same files on a shared disk, usually
        return cached[1]

    def _refresh_downloaded(self, model_id: str) -> None:
        try:
            answer = bool(self._handle.is_downloaded.remote(model_id).result(timeout_s=600))
        except Exception:  # no replica answered: ask again next time
            answer = None
        with self._lock:
            self._downloaded[model_id] = (time.monotonic(), answer, False)

    def resident(self) -> list[dict]:
        """Every replica's loaded models, each row naming its node."""
        rows = []
        for replica in self._handle.broadcast("resident").results():
            rows += [{**m, "node_id": replica["node_id"]} for m in replica["models"]]
        return rows

    def preload(self, model_id: str, progress: ProgressFn | None = None) -> None:
        self.entry(model_id)
        report(progress, Progress("load", message=f"Loading {model_id} on the cluster…"))
        self._handle.options(multiplexed_model_id=model_id).preload.remote(model_id).result()

    # ----- the job ------------------------------------------------------------------------------
    def generate(self, request: GenerationRequest, progress: ProgressFn | None = None,
                 cancel: CancelToken | None = None) -> GenerationResult:
        entry = self.check(request)
        payload = {**wire.encode_request(request), "job_id": uuid.uuid4().hex,
                   "adapter_files": self._files.needed(request, entry.family)}
        runs, deadline, pause = 0, time.monotonic() + _REACH_TIMEOUT_S, 0.25
        while True:
            reached, started = [False], [False]
            try:
                return self._run_once(request.model_id, payload, progress, cancel, reached, started)
            except _lost_errors() as exc:
                if cancel is not None and cancel.cancelled:
                    raise GenerationCancelled("cancelled") from None
                if not reached[0] and time.monotonic() < deadline:
                    # Routed to a replica that had already died (Serve drops it once Ray marks
                    # it dead): nothing ran, so this is no run; try again shortly.
                    time.sleep(pause)
                    pause = min(pause * 2, 4.0)
                    continue
                runs += 1
                if started[0] or runs == 2 or not reached[0]:
                    raise ReplicaLost(
                        "The machine running this job went away before it finished"
                        + (" (twice)" if runs == 2 and not started[0] else "")
                    ) from exc
                log.warning("replica lost before job started (%s); running it again elsewhere", type(exc).__name__)
                with self._lock:
                    self.retries += 1
                report(progress, Progress("queued", message="The machine running this job went away; trying another"))

    def _run_once(self, model_id: str, payload: dict, progress: ProgressFn | None,
                  cancel: CancelToken | None, reached: list[bool], started: list[bool]) -> GenerationResult:
        from ray.serve.exceptions import RequestCancelledError

        routed = self._handle.options(stream=True, multiplexed_model_id=model_id if self.route_by_model else "")
        stream = routed.generate.remote(payload)
        finished = threading.Event()
        if cancel is not None:
            # keep_partial: the replica stops at the next step and still answers with what it made,
            # so the job is told to stop instead of its request being cancelled.
            stop = ((lambda: self._handle.broadcast("cancel_job", payload["job_id"]).results())
                    if payload.get("keep_partial") else stream.cancel)
            threading.Thread(target=_cancel_when_asked, args=(cancel, finished, stop), daemon=True).start()
        try:
            for kind, data in stream:
                if kind == "replica":
                    reached[0] = True
                elif kind == "progress":
                    event = wire.decode_progress(data)
                    if event.stage in ("denoise", "decode", "done"):
                        started[0] = True
                    report(progress, event)
                elif kind == "result":
                    return wire.decode_result(data)
                elif kind == "error":
                    raise wire.decode_error(data)
            raise ReplicaLost("The replica ended the job without an answer")
        except (RequestCancelledError, GenerationCancelled) as exc:
            raise GenerationCancelled("cancelled") from exc
        except Exception as exc:
            if cancel is not None and cancel.cancelled and _is_cancellation(exc):
                raise GenerationCancelled("cancelled") from exc
            raise
        finally:
            finished.set()


def _cancel_when_asked(cancel: CancelToken, finished: threading.Event, stop) -> None:
    """Watch the caller's token and stop the job on its replica when it is set."""
    while not finished.is_set():
        if cancel.event.wait(0.05):
            if not finished.is_set():
                stop()
            return


def _is_cancellation(exc: BaseException) -> bool:
    import asyncio
    import concurrent.futures

    from ray.exceptions import TaskCancelledError

    return isinstance(exc, (TaskCancelledError, asyncio.CancelledError, concurrent.futures.CancelledError))


def connect(options: ServeOptions, catalog: Catalog, *, adapters=None, startup_timeout_s: float = 180.0) -> RayEngine:
    """Join the cluster, deploy (or update) the engine, wait for a first replica; raises
    ClusterUnavailable with the address named when the cluster cannot be used."""
    import ray
    from ray import serve

    from pipelines.manager import PipelineManager
    from pipelines.serve.deployment import StudioEngine

    check_reachable(options.address)
    try:
        if not ray.is_initialized():  # a second engine in one process (the benchmark) shares the connection
            ray.init(address=options.address, namespace=NAMESPACE, logging_level=logging.WARNING, log_to_driver=False,
                     runtime_env={"py_modules": [str(PIPELINES_DIR)], "excludes": ["__pycache__", "*.pyc"]})
    except Exception as exc:
        raise ClusterUnavailable(f"Cannot join the Ray cluster at {options.address}: {exc}") from None
    num_gpus = options.num_gpus
    if num_gpus > 0 and not ray.cluster_resources().get("GPU"):
        if not options.allow_cpu:
            ray.shutdown()
            raise ClusterUnavailable(
                f"The Ray cluster at {options.address} has no GPU, and each engine replica asks for {num_gpus:g}. "
                "Start the GPU nodes with `ray start --address …` (they declare their GPUs), or allow CPU "
                "placement (--ray-allow-cpu)."
            )
        log.warning("the Ray cluster has no GPU: engine replicas run on CPUs")
        num_gpus = 0
    if options.deploy:
        serve.start(proxy_location="Disabled")
        app = StudioEngine.options(**options.deployment_options(num_gpus)).bind(
            catalog.model_dump(mode="json"), options.manager_options(on_gpu=num_gpus > 0)
        )
        # serve.run waits until EVERY replica runs; replicas waiting for a GPU node to join would
        # hold the app's start forever, so deploy without waiting (pinned Ray: 2.60) and wait for one.
        from ray.serve.api import _run

        _run(app, name=options.app_name, route_prefix=None, _blocking=False)
    _wait_for_a_replica(options.address, options.app_name, startup_timeout_s)
    handle = serve.get_app_handle(options.app_name)
    return RayEngine(catalog, options, handle, PipelineManager(catalog, device="cpu", adapters=adapters), adapters)


def _wait_for_a_replica(address: str, app_name: str, timeout_s: float) -> None:
    """Serve starts the rest as nodes with room join; one running replica is enough to serve."""
    from ray import serve

    deadline = time.monotonic() + timeout_s
    while True:
        app = serve.status().applications.get(app_name)
        deployment = app.deployments.get(DEPLOYMENT_NAME) if app is not None else None
        if deployment is not None and deployment.replica_states.get("RUNNING", 0) > 0:
            return
        if app is not None and app.status == "DEPLOY_FAILED":
            raise ClusterUnavailable(f"The engine could not start on the Ray cluster at {address}: {app.message}")
        if time.monotonic() > deadline:
            why = deployment.message if deployment is not None else "no deployment status"
            raise ClusterUnavailable(f"No engine replica started on the Ray cluster at {address} in {timeout_s:.0f} s: {why}")
        time.sleep(0.5)

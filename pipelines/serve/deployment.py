"""The engine as a Ray Serve deployment: each replica runs today's PipelineManager.

Why a thin shell around the manager instead of a second engine: residency, offload,
request merging, checks and errors stay one code path whether the studio runs on one
box or on twenty. What the shell adds:

- Model multiplexing. `generate` is called with `multiplexed_model_id=<catalog id>`;
  `_register` (Serve's `@serve.multiplexed`) records the model on this replica so Serve
  routes the next request for it here, and Serve's LRU beyond `models_per_replica` unloads
  it from the manager. Registration is cheap: the load itself happens inside the job, so
  its download/load progress streams to the user like every other stage.
- Streaming. `generate` is an async generator of ("progress", dict) items and ends with
  one ("result", dict) or ("error", dict) item (see `wire.py`). The manager runs in a
  thread; its progress callback hops onto the event loop through a queue.
- Cancel. The host cancels the Serve request; the generator is then cancelled at its
  next await, and its `finally` sets the job's CancelToken, so the pipeline stops at its
  next step (the manager's own cancel path).
- Health. `check_health` fails when the replica's CUDA context is broken (a tiny kernel
  and a synchronize), so Serve replaces the replica instead of routing jobs to it.

Replicas never see the studio's store or data directory: requests in, PNG bytes out. The
LoRA and embedding files a job needs come with it through the object store, once per file
version per replica (adapter_files.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from pathlib import Path

from ray import serve

from pipelines.serve import wire
from pipelines.serve.adapter_files import ReplicaFiles
from pipelines.serve.settings import DEPLOYMENT_NAME
from pipelines.types import CancelToken, GenerationCancelled

log = logging.getLogger("ray.serve")

# Serve fixes the multiplexing LRU size when the class is defined, so the replica reads it
# from its environment (set by ServeOptions.deployment_options through the runtime env).
MODELS_PER_REPLICA = int(os.environ.get("STUDIO_RAY_MODELS_PER_REPLICA", "3"))


class _Registered:
    """What Serve's multiplexing LRU holds per model: a name tag; dropping it unloads the
    model from the manager (in a thread: unloading waits for a running job of that model)."""

    def __init__(self, manager, model_id: str) -> None:
        self.manager = manager
        self.model_id = model_id

    def __del__(self) -> None:
        threading.Thread(target=self._unload, daemon=True).start()

    def _unload(self) -> None:
        try:
            self.manager.unload(self.model_id)
        except Exception:  # pragma: no cover - logged, never fatal to the replica
            log.exception("could not unload %s", self.model_id)


@serve.deployment(name=DEPLOYMENT_NAME)
class StudioEngine:
    def __init__(self, catalog: dict, manager_options: dict) -> None:
        from pipelines.catalog import Catalog
        from pipelines.manager import PipelineManager

        options = dict(manager_options)
        threads = options.pop("cpu_threads", None)
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        models_dir = options.pop("models_dir", None) or Path.home() / ".cache" / "studio-models"
        # LoRAs and embeddings the host sent (adapter_files.py); "_" never starts a model id.
        self.files = ReplicaFiles(Path(models_dir) / "_adapters")
        self.manager = PipelineManager(Catalog.model_validate(catalog), models_dir=Path(models_dir),
                                       adapters=self.files.library, **options)
        # One thread per job the replica accepts: a job blocked on one model's lock never
        # holds up another model's job.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="studio-job")
        self._load_lock = threading.Lock()
        self._tokens: dict[str, CancelToken] = {}  # running jobs by the host's job id
        self.node_id = _node_id()
        self.loads: list[str] = []  # models registered here, in order (routing is judged by it)
        log.info("studio engine replica up on node %s (device %s)", self.node_id, options.get("device"))

    @serve.multiplexed(max_num_models_per_replica=MODELS_PER_REPLICA)
    async def _register(self, model_id: str) -> _Registered:
        self.manager.entry(model_id)  # UnknownModel for an id the catalog lacks
        self.loads.append(model_id)
        return _Registered(self.manager, model_id)

    async def generate(self, payload: dict):
        """Stream ("progress", …) items, then ("result", …) or ("error", …) for one request."""
        model_id = serve.get_multiplexed_model_id()
        token = CancelToken()
        job_id = payload.get("job_id")
        if job_id:
            self._tokens[job_id] = token
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()
        yield ("replica", {"node_id": self.node_id, "pid": os.getpid()})
        try:
            request = wire.decode_request(payload)
            if model_id and model_id != request.model_id:
                raise ValueError(f"routed as {model_id!r} but asks for {request.model_id!r}")
            await self._register(request.model_id)
            for file in self.files.missing(payload.get("adapter_files") or []):
                self.files.store(file, await file["ref"])  # first time this replica meets this file version
        except Exception as exc:
            yield ("error", wire.encode_error(exc))
            return

        def progress(event) -> None:
            loop.call_soon_threadsafe(events.put_nowait, ("progress", wire.encode_progress(event)))

        job = loop.run_in_executor(self._pool, self._run, request, progress, token)
        try:
            while True:
                item = asyncio.ensure_future(events.get())
                done, _ = await asyncio.wait({item, job}, return_when=asyncio.FIRST_COMPLETED)
                if item in done:
                    yield item.result()
                    continue
                item.cancel()
                break
            while not events.empty():
                yield events.get_nowait()
            yield job.result()
        finally:
            # Cancelled by the host (or the host went away): stop the pipeline at its next step.
            token.cancel()
            self._tokens.pop(job_id, None)

    def cancel_job(self, job_id: str) -> bool:
        """Stop one job at its next step and let it answer (a request with keep_partial returns
        what it made); sent to every replica (`broadcast`), the one running it says True."""
        token = self._tokens.get(job_id)
        if token is not None:
            token.cancel()
        return token is not None

    def _run(self, request, progress, token) -> tuple[str, dict]:
        try:
            if self.manager.placement(request.model_id) is None:
                # One load at a time per replica: loads share the node's disk and bus anyway, and
                # diffusers/transformers resolve their lazy modules unsafely from parallel threads
                # (two first loads at once failed with "no attribute AutoPipelineForText2Image").
                with self._load_lock:
                    if token.cancelled:
                        raise GenerationCancelled("cancelled before it started")
                    self.manager.preload(request.model_id, progress)
            return ("result", wire.encode_result(self.manager.generate(request, progress=progress, cancel=token)))
        except Exception as exc:
            if not isinstance(exc, (ValueError, KeyError, GenerationCancelled)) and type(exc).__name__ not in (
                "ModelUnavailable", "ModelTooLarge", "OutOfMemory"
            ):
                log.exception("generation failed on this replica")
            return ("error", wire.encode_error(exc))

    async def preload(self, model_id: str) -> str:
        await self._register(model_id)
        await asyncio.get_running_loop().run_in_executor(self._pool, self.manager.preload, model_id)
        return self.node_id

    def resident(self) -> dict:
        return {"node_id": self.node_id, "pid": os.getpid(), "models": self.manager.resident(), "loads": list(self.loads),
                "adapter_files": list(self.files.received)}

    def is_downloaded(self, model_id: str) -> bool:
        return bool(self.manager.is_downloaded(model_id))

    def check_health(self) -> None:
        """Raise when the accelerator is unusable, so Serve restarts this replica."""
        if self.manager._device is None or not self.manager._device.startswith("cuda"):
            return
        import torch

        torch.ones(1, device=self.manager._device).add_(1)
        torch.cuda.synchronize(self.manager._device)

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _node_id() -> str:
    import ray

    try:
        return ray.get_runtime_context().get_node_id()
    except Exception:  # pragma: no cover - outside a Ray worker
        return "local"

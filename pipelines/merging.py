"""Run concurrent, compatible generation requests for one model as ONE pipeline call.

Why: turbo models are launch-bound. On an H100, 4 prompts in one call gave 2.35–3.41×
the throughput of 4 separate calls (shared/anchors). When several users wait for the
same model, running their requests together is almost free for each of them.

How (opt-in: `PipelineManager(merge_window_ms=N)`, N > 0):
- A caller's request joins the model's queue; one worker thread per busy model (started
  on demand, gone when the queue is empty) takes the model through `PipelineManager.use`
  (its lock held, so the model is never moved or evicted while it runs), waits up to
  the window (counted from the oldest queued request's arrival) for more, then takes the
  oldest request and every queued request compatible with it (up to `max_batch_images`).
- Compatible = same model, width × height, steps, guidance, sampler and schedule (the
  scheduler is swapped for the whole call, see samplers.use_sampler), the same LoRAs at the
  same weights (they change the UNet and text encoder of the whole call), no reference images, a
  family the table marks `mergeable`, AND the same prompt-embedding token length. The last
  rule keeps results identical to a solo run: padding a 77-token prompt to 154 tokens
  would change what cross-attention sees, so prompts of different chunk counts run apart.
- Each request's prompt is encoded on its own (`encode_prompts`, rows already repeated
  per image) and the rows are concatenated; generators too, one per image with that
  image's own seed, so each image equals the one the request gives alone (within the
  CPU's batch rounding). The images are split back, each caller gets its own result.
- Progress: every caller in the call gets the per-step reports. Cancel: a cancelling
  caller gets `GenerationCancelled` at once and its images are dropped; the call is
  interrupted only when every caller in it has gone. An error in the call goes to all.
- The call's arguments come from `generate.build_call`, the same function a solo request
  uses, so a model that carries an IP-Adapter gets its (scale 0) image embeddings here too.
- The callers wait on their own thread (polling their cancel token); the pipeline runs
  on the worker thread. On a ZeroGPU Space (GPU lent to the calling function only) keep
  merging off.
- The merger knows nothing of the manager: it is handed `use(model_id, progress)`, a
  context manager yielding (pipe, entry) with the model ready and its lock held.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Callable

from .types import (
    CancelToken,
    GenerationCancelled,
    GenerationRequest,
    GenerationResult,
    Progress,
    ProgressFn,
)

if TYPE_CHECKING:
    from .catalog import ModelEntry

UseModel = Callable[[str, ProgressFn], AbstractContextManager]
# (pipe, entry, request): set the request's LoRAs and embeddings on the pipe before encoding / running
Activate = Callable[[Any, "ModelEntry", GenerationRequest], None]
DEFAULT_MAX_BATCH_IMAGES = 8
_CANCEL_POLL_S = 0.05


def is_mergeable(entry: ModelEntry, request: GenerationRequest) -> bool:
    """Requests that may share a pipeline call: text-to-image on a family the table marks
    mergeable. A request that keeps its partial images on cancel runs alone: a merged call
    drops a leaving caller's images."""
    return (entry.traits.mergeable and not request.reference_images and not request.keep_partial
            and request.init_image is None)


@dataclass(eq=False)
class _Job:
    request: GenerationRequest
    progress: ProgressFn | None
    cancel: CancelToken | None
    steps: int
    guidance: float
    seeds: list[int]
    kwargs: dict[str, Any] | None = None  # its encoded prompt, once the worker has encoded it
    gone: bool = False  # the caller cancelled (or its progress callback failed) and left
    result: GenerationResult | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    arrived: float = field(default_factory=time.monotonic)

    @property
    def shape_key(self) -> tuple:
        r = self.request
        return (r.width, r.height, self.steps, self.guidance, r.sampler, r.schedule, r.loras)

    @property
    def key(self) -> tuple:
        """What must be equal to share a call: shape, and the prompt's token length."""
        assert self.kwargs is not None
        lengths = tuple(t.shape[1] for k, t in sorted(self.kwargs.items()) if k.endswith("prompt_embeds"))
        return (*self.shape_key, lengths)

    def report(self, event: Progress) -> None:
        if self.progress is None or self.gone:
            return
        try:
            self.progress(event)
        except Exception as error:  # one caller's broken callback must not stop the others
            self.gone, self.error = True, error


class RequestMerger:
    """The per-model queues and worker threads; `PipelineManager.generate` uses it."""

    def __init__(self, use: UseModel, window_ms: int, max_batch_images: int = DEFAULT_MAX_BATCH_IMAGES,
                 activate: Activate | None = None) -> None:
        if not isinstance(window_ms, int) or isinstance(window_ms, bool) or window_ms < 1:
            raise ValueError(f"merge window must be a whole number of milliseconds ≥ 1, got {window_ms!r}")
        if max_batch_images < 1:
            raise ValueError(f"max_batch_images must be at least 1, got {max_batch_images}")
        self._use = use
        self._activate = activate
        self.window_s = window_ms / 1000
        self.max_batch_images = max_batch_images
        self._cond = threading.Condition()
        self._queues: dict[str, list[_Job]] = {}
        self._workers: dict[str, threading.Thread] = {}
        self.calls = 0  # pipeline calls made (for tests and benchmarks)

    def pending(self, model_id: str) -> int:
        """Requests for `model_id` waiting to be taken into a call."""
        with self._cond:
            return len(self._queues.get(model_id, ()))

    def generate(
        self, entry: ModelEntry, request: GenerationRequest, progress: ProgressFn | None, cancel: CancelToken | None
    ) -> GenerationResult:
        """Queue `request` (already validated), wait for its share of a call, return it."""
        from .generate import draw_seeds
        from .prompt_encoding import check_prompt_length

        check_prompt_length(request.prompt, request.negative_prompt)
        if cancel is not None and cancel.cancelled:
            raise GenerationCancelled("cancelled before it started")
        job = _Job(
            request=request,
            progress=progress,
            cancel=cancel,
            steps=request.steps if request.steps is not None else entry.default_steps,
            guidance=float(request.guidance if request.guidance is not None else entry.default_guidance),
            seeds=list(request.seeds) if request.seeds is not None else draw_seeds(request.num_images),
        )
        with self._cond:
            self._queues.setdefault(request.model_id, []).append(job)
            busy = request.model_id in self._workers
            if not busy:
                worker = threading.Thread(
                    target=self._work, args=(request.model_id,), name=f"merge-{request.model_id}", daemon=True
                )
                self._workers[request.model_id] = worker
                worker.start()
            self._cond.notify_all()
        if busy:
            job.report(Progress("queued", message=f"Waiting: {entry.name} is busy; this request joins the next batch"))
        return self._wait(job)

    # ------------------------------------------------------------ caller side

    def _wait(self, job: _Job) -> GenerationResult:
        while not job.done.wait(_CANCEL_POLL_S):
            if job.cancel is not None and job.cancel.cancelled:
                with self._cond:
                    job.gone = True
                    queue = self._queues.get(job.request.model_id, [])
                    if job in queue:
                        queue.remove(job)
                raise GenerationCancelled("generation cancelled")
        if job.error is not None:
            raise job.error
        if job.cancel is not None and job.cancel.cancelled:
            raise GenerationCancelled("generation cancelled")
        assert job.result is not None
        return job.result

    # ------------------------------------------------------------ worker side

    def _work(self, model_id: str) -> None:
        """Run batches for `model_id` until its queue is empty, then leave (atomically
        with the queue check, so a request arriving now starts a new worker)."""
        while True:
            with self._cond:
                if not self._queues.get(model_id):
                    self._queues.pop(model_id, None)
                    del self._workers[model_id]
                    return
            batch: list[_Job] = []
            try:
                with self._use(model_id, self._fan_out(model_id)) as (pipe, entry):
                    batch = self._take_batch(model_id, pipe, entry)
                    if batch:
                        self._run(pipe, entry, batch)
            except BaseException as error:  # noqa: BLE001 - handed to the callers, who raise it
                if not batch:  # failed before a batch was taken (e.g. loading): all waiting fail
                    with self._cond:
                        batch = self._queues.pop(model_id, [])
                for job in batch:
                    if job.error is None:
                        job.error = error
            finally:
                for job in batch:
                    job.done.set()

    def _fan_out(self, model_id: str) -> ProgressFn:
        """Load/queue progress goes to everyone waiting for the model."""

        def report(event: Progress) -> None:
            with self._cond:
                waiting = list(self._queues.get(model_id, ()))
            for job in waiting:
                job.report(event)

        return report

    def _take_batch(self, model_id: str, pipe: Any, entry: ModelEntry) -> list[_Job]:
        """With the model's lock held: let the window since the oldest request arrived
        run out (or the batch fill up), encode what is queued, take the oldest and its
        compatible followers. Requests that waited for a busy model start at once."""
        with self._cond:
            while True:
                queue = [j for j in self._queues.get(model_id, []) if not j.gone]
                if not queue:
                    break
                head = queue[0]
                images = sum(j.request.num_images for j in queue if j.shape_key == head.shape_key)
                left = head.arrived + self.window_s - time.monotonic()
                if images >= self.max_batch_images or left <= 0:
                    break
                self._cond.wait(left)
            queue = self._queues.get(model_id, [])
            left_behind = [j for j in queue if j.gone]
            queue[:] = [j for j in queue if not j.gone]
            waiting = list(queue)
        for job in left_behind:  # its caller left (or must be told its callback failed)
            job.done.set()
        for job in waiting:  # outside the condition: encoding takes a text-encoder pass
            if job.kwargs is None:
                self._encode(pipe, entry, job)
        with self._cond:
            queue = self._queues.get(model_id, [])
            failed = [j for j in queue if j.error is not None]
            candidates = [j for j in queue if j.error is None and not j.gone and j.kwargs is not None]
            batch: list[_Job] = []
            if candidates:
                head, images = candidates[0], 0
                for job in candidates:
                    if job.key == head.key and images + job.request.num_images <= self.max_batch_images:
                        batch.append(job)
                        images += job.request.num_images
            failed += [j for j in queue if j.gone]
            taken = set(map(id, batch + failed))
            queue[:] = [j for j in queue if id(j) not in taken]
        for job in failed:
            job.done.set()
        return batch

    def _encode(self, pipe: Any, entry: ModelEntry, job: _Job) -> None:
        from .prompt_encoding import encode_prompts

        r = job.request
        try:
            if self._activate is not None:  # a text-encoder LoRA changes the embeddings
                self._activate(pipe, entry, r)
            job.kwargs = encode_prompts(pipe, entry.family, r.prompt, r.negative_prompt, r.num_images)
        except Exception as error:  # this request alone fails (e.g. a bad prompt)
            job.error = error

    def _run(self, pipe: Any, entry: ModelEntry, batch: list[_Job]) -> None:
        """One pipeline call for `batch`; each job gets its own slice of the images."""
        import torch

        from .generate import build_call, sampler_name
        from .samplers import use_sampler

        head = batch[0]
        started = time.perf_counter()
        conditioning: dict[str, Any] = {"num_images_per_prompt": 1}
        for name in head.kwargs:
            if name.endswith("prompt_embeds"):
                conditioning[name] = torch.cat([j.kwargs[name] for j in batch], dim=0)
        kwargs = build_call(
            pipe,
            entry,
            conditioning=conditioning,
            seeds=[s for j in batch for s in j.seeds],
            width=head.request.width,
            height=head.request.height,
            steps=head.steps,
            guidance=head.guidance,
            callback=self._step_callback(head.steps, batch),
        )
        with self._cond:
            self.calls += 1
        if self._activate is not None:
            self._activate(pipe, entry, head.request)
        with use_sampler(pipe, entry.family, head.request.sampler, head.request.schedule):
            output = pipe(**kwargs)
            ran_sampler = sampler_name(pipe, entry.family)
        images = list(output.images)
        elapsed = time.perf_counter() - started
        offset = 0
        for job in batch:
            n = job.request.num_images
            mine, offset = images[offset : offset + n], offset + n
            if job.gone:
                continue
            job.report(Progress(stage="done", current=head.steps, total=head.steps))
            job.result = GenerationResult(
                images=mine,
                seeds=job.seeds,
                model_id=entry.id,
                width=job.request.width,
                height=job.request.height,
                steps=job.steps,
                guidance=job.guidance,
                sampler=ran_sampler,
                elapsed_s=elapsed,
                extra={"family": entry.family, "merged_requests": len(batch)},
            )

    @staticmethod
    def _step_callback(steps: int, batch: list[_Job]):
        def on_step_end(pipe: Any, step: int, timestep: Any, callback_kwargs: dict) -> dict:
            total = int(getattr(pipe, "num_timesteps", None) or steps)
            for job in batch:
                if job.cancel is not None and job.cancel.cancelled:
                    job.gone = True
                job.report(Progress(stage="denoise", current=step + 1, total=total))
                if step + 1 >= total:
                    job.report(Progress(stage="decode", current=total, total=total))
            if all(job.gone or (job.cancel is not None and job.cancel.cancelled) for job in batch):
                pipe._interrupt = True  # nobody is left waiting for these images
            return callback_kwargs

        return on_step_end

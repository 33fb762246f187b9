"""PipelineManager: which models are loaded, where they live, and who may use them now.

Cheap to construct (no torch import, no device probing, no loads): the app builds it at
start-up and the first generation pays for the device choice and the model load.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from pipelines.catalog import Catalog, ModelEntry
from pipelines.placement import Placement, pipeline_bytes
from pipelines.residency import ResidentTiers, _budget, _Resident
from pipelines.types import (
    CancelToken,
    GenerationCancelled,
    GenerationRequest,
    GenerationResult,
    OutOfMemory,
    Progress,
    ProgressFn,
    RequestRejected,
    UnknownModel,
    report,
)

if TYPE_CHECKING:
    from pipelines.adapters import AdapterLibrary
    from pipelines.merging import RequestMerger  # manager → merging only; merging never imports the manager

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class PipelineManager(ResidentTiers):
    """Keeps loaded pipelines resident and hands them out one user at a time.

    Policy:
    - Device: "auto" picks cuda, then mps, then cpu. dtype: fp16 on cuda/mps (bf16 for
      flux), fp32 on the CPU and for the demo GAN; an explicit dtype overrides.
    - Tiers: on an accelerator, several models stay on it while their weights fit the VRAM
      budget (default 70 % of its memory, the rest is for activations). Making room moves
      the least recently used models to the CPU tier (`pipe.to("cpu")`, seconds to bring
      back instead of a reload); when the CPU tier exceeds the RAM budget (default 50 % of
      RAM) its least recently used models are dropped altogether. On a CPU-only machine
      every model is in the CPU tier, under the RAM budget. Sizes are the parameter and
      buffer bytes of each pipeline; budgets are enforced right after each load, and the
      model being used always stays even if it alone is over the CPU-tier budget.
    - Too big (pipelines/placement.py), decided BEFORE loading from the weight files'
      headers at the run dtype: a model whose weights exceed the RAM limit
      (`ram_limit_bytes`, default 90 % of RAM) is refused with `ModelTooLarge` saying how much it
      needs. On an accelerator, a model larger than the VRAM budget left by busy models runs
      with diffusers' model CPU offload (weights in RAM, each component on the GPU while it
      runs), or sequential offload when even its largest component does not fit; it stays
      in the CPU tier, so the VRAM budget still holds the other models. The progress text
      says so at every use and `resident()`/`placement()` expose it for the model card.
      On the CPU nothing is ever offloaded (there is nowhere to offload to).
    - Locks: one lock per model, held while it loads, moves or runs. A model is never moved
      or dropped while its lock is held (busy models are skipped when making room), so a
      generation on model X never blocks loading or running model Y; a second user of X
      waits (and is told "queued").
    - Out of memory: other idle models leave the accelerator, the allocator cache is
      emptied and `OutOfMemory` is raised; the user may retry, smaller.
    - Hub models download on first use into the HF cache (`cache_dir`); the demo model is
      converted into `models_dir/demo-faces` (default `./data/models`).
    - Reference images: a model's IP-Adapter (and its image encoder) is fetched and loaded
      into the resident pipeline at its first IP-Adapter request and stays with it (its
      bytes count towards the model's size); the image-to-image pipeline is built once per
      resident model with `from_pipe`, sharing the weights. Both go when the model is dropped.
    - Merging (opt-in, `merge_window_ms` > 0): compatible text-to-image requests that wait
      for the same model run as one pipeline call, each image keeping its own seed
      (`pipelines/merging.py`); 0 (the default) runs every request on its own.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        device: str | None = None,
        dtype: str | None = None,
        vram_budget_gb: float | None = None,
        ram_budget_gb: float | None = None,
        cache_dir: Path | None = None,
        models_dir: Path | None = None,
        vram_budget_bytes: int | None = None,
        ram_budget_bytes: int | None = None,
        merge_window_ms: int = 0,
        ram_limit_bytes: int | None = None,
        adapters: "AdapterLibrary | None" = None,
    ) -> None:
        if not isinstance(catalog, Catalog):
            raise ValueError("PipelineManager needs a pipelines.catalog.Catalog")
        if device is not None and not _DEVICE_PATTERN.match(device.strip().lower()):
            raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps")
        if dtype is not None and dtype.strip().lower() not in ("auto", "fp32", "float32", "fp16", "float16", "half", "bf16", "bfloat16"):
            raise ValueError(f"unknown dtype {dtype!r}; use auto, fp32, fp16 or bf16")
        self._vram_budget = _budget("VRAM", vram_budget_gb, vram_budget_bytes)
        self._ram_budget = _budget("RAM", ram_budget_gb, ram_budget_bytes)
        self._ram_limit = _budget("RAM limit", None, ram_limit_bytes)
        self._catalog = catalog
        self._requested_device = device
        self._requested_dtype = dtype
        self._device: str | None = None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.models_dir = Path(models_dir) if models_dir is not None else Path("data") / "models"
        self._state = threading.RLock()  # guards the tables below, never held during a load or a run
        self._locks: dict[str, threading.Lock] = {}
        self._resident: OrderedDict[str, _Resident] = OrderedDict()  # least recently used first
        self._tokenizers: dict[str, Any] = {}  # prompt tokenizers read for `check` before a load
        self.adapters = adapters  # LoRA and embedding files (None: this engine takes none)
        if not isinstance(merge_window_ms, int) or isinstance(merge_window_ms, bool) or merge_window_ms < 0:
            raise ValueError(f"merge_window_ms must be a whole number ≥ 0, got {merge_window_ms!r}")
        self.merger: RequestMerger | None = None  # off: every request is its own pipeline call
        if merge_window_ms > 0:
            from pipelines.merging import RequestMerger

            self.merger = RequestMerger(self.use, merge_window_ms, activate=self._activate_adapters)

    # ------------------------------------------------------------ catalog

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def entry(self, model_id: str) -> ModelEntry:
        try:
            return self._catalog.get(model_id)
        except KeyError:
            known = ", ".join(self._catalog.ids()) or "none"
            raise UnknownModel(f"unknown model {model_id!r} (known: {known})") from None

    def add_entry(self, entry: ModelEntry | dict) -> ModelEntry:
        """Add (or replace) a catalog entry at runtime, e.g. a user's own folder or file.
        A replaced model that was loaded is unloaded, so the next use loads the new source."""
        if isinstance(entry, dict):
            entry = ModelEntry.model_validate(entry)  # pydantic's ValidationError is a ValueError
        if not isinstance(entry, ModelEntry):
            raise ValueError(f"add_entry needs a ModelEntry, got {type(entry).__name__}")
        with self._state:
            old = next((m for m in self._catalog.models if m.id == entry.id), None)
            self._catalog = self._catalog.with_models([entry])
        if old is not None and old != entry:
            self.unload(entry.id)
        return entry

    # ------------------------------------------------------------ device

    @property
    def device(self) -> str:
        """The device models run on, chosen on first use."""
        with self._state:
            if self._device is None:
                from pipelines.devices import choose_device

                self._device = choose_device(self._requested_device)
            return self._device

    def dtype_for(self, entry: ModelEntry) -> Any:
        from pipelines.devices import choose_dtype

        return choose_dtype(self.device, entry.family, self._requested_dtype)

    def vram_budget_bytes(self) -> float:
        if self._vram_budget is not None:
            return self._vram_budget
        from pipelines.devices import GPU_WEIGHTS_SHARE, device_memory_bytes

        total = device_memory_bytes(self.device)
        return float("inf") if total is None else total * GPU_WEIGHTS_SHARE

    def ram_budget_bytes(self) -> float:
        if self._ram_budget is not None:
            return self._ram_budget
        from pipelines.devices import RAM_SHARE, system_ram_bytes

        return system_ram_bytes() * RAM_SHARE

    # ------------------------------------------------------------ using models

    @contextmanager
    def use(self, model_id: str, progress: ProgressFn | None = None) -> Iterator[tuple[Any, ModelEntry]]:
        """Yield (pipe, entry) with the model loaded, on the device, and its lock held."""
        entry = self.entry(model_id)
        lock = self._lock_for(model_id)
        if not lock.acquire(blocking=False):
            report(progress, Progress("queued", message=f"Waiting: {entry.name} is busy with another generation"))
            lock.acquire()
        try:
            try:
                pipe = self._ready(model_id, entry, progress)
                yield pipe, entry
            except Exception as error:
                from pipelines.devices import is_out_of_memory

                if is_out_of_memory(error):
                    self._recover_from_oom(model_id)
                    raise OutOfMemory(
                        f"The {self.device} ran out of memory with {entry.name}. Other models were moved out and "
                        "caches freed; try again, perhaps with fewer images or a smaller size."
                    ) from error
                raise
        finally:
            lock.release()

    def generate(
        self,
        request: GenerationRequest,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> GenerationResult:
        """Run `request` on its model. A request the model cannot run (bad size, references
        it cannot use…) raises ValueError before anything is loaded."""
        from pipelines.generate import run_generation
        from pipelines.references import reference_mode

        entry = self.check(request)
        if self.merger is not None:
            from pipelines.merging import is_mergeable

            if is_mergeable(entry, request):
                return self.merger.generate(entry, request, progress, cancel)
        mode = reference_mode(request)
        with self.use(request.model_id, progress) as (pipe, entry):
            if cancel is not None and cancel.cancelled:
                raise GenerationCancelled("cancelled before it started")
            self._activate_adapters(pipe, entry, request, progress)
            img2img = None
            if mode == "ip_adapter":
                self._ensure_ip_adapter(request.model_id, pipe, entry, progress)
            elif mode == "img2img":
                img2img = self._img2img_for(request.model_id, pipe)
            if request.init_image is not None:  # repaint / extend / hires pass: the resident twin
                img2img = self._twin_for(request.model_id, pipe, request)
            return run_generation(
                pipe, entry, request, progress=progress, cancel=cancel, img2img_pipe=img2img, cache_dir=self.cache_dir
            )

    def check(self, request: GenerationRequest) -> ModelEntry:
        """Everything about `request` that can be refused without running the model: sizes,
        steps, seeds, references, and (for families with a token limit, FLUX's 512 T5 tokens)
        the prompt's length, counted with the model's own tokenizer when it is resident or on
        disk (only the tokenizer is read). Raises UnknownModel / RequestRejected (ValueErrors);
        the services call it before taking credits."""
        from pipelines.generate import validate_request
        from pipelines.prompt_encoding import check_prompt_tokens

        entry = self.entry(request.model_id)
        validate_request(entry, request)
        if request.loras:
            if self.adapters is None:
                raise RequestRejected("This studio has no LoRA folder set up; remove the LoRAs.")
            self.adapters.check(entry.family, entry.name, request.loras)
        limit = entry.traits.max_prompt_tokens
        tokenizer = self._prompt_tokenizer(entry) if limit else None
        if tokenizer is not None:
            check_prompt_tokens(tokenizer, request.prompt, limit)
        return entry

    def _activate_adapters(self, pipe: Any, entry: ModelEntry, request: GenerationRequest,
                           progress: ProgressFn | None = None) -> None:
        """Called with the model's lock held: the request's LoRAs on (loaded once per resident
        model, then switched), every other LoRA off, the embeddings its prompts name loaded."""
        from pipelines.adapter_loading import activate

        activate(pipe, entry, request.loras, (request.prompt, request.negative_prompt), self.adapters, progress)

    def _prompt_tokenizer(self, entry: ModelEntry) -> Any:
        name = entry.traits.prompt_tokenizer
        with self._state:
            res = self._resident.get(entry.id)
            if res is not None:
                return getattr(res.pipe, name, None)
            if entry.id in self._tokenizers:
                return self._tokenizers[entry.id]
        from pipelines.loaders import load_tokenizer

        tokenizer = load_tokenizer(entry, name, self.cache_dir)
        if tokenizer is None:
            return None  # not downloaded yet: the encoder checks it once loaded
        with self._state:
            self._tokenizers[entry.id] = tokenizer
        return tokenizer

    def preload(self, model_id: str, progress: ProgressFn | None = None) -> None:
        """Download if needed, load, and place on the device, so the first generation is quick."""
        with self.use(model_id, progress):
            pass

    def is_downloaded(self, model_id: str) -> bool:
        entry = self.entry(model_id)
        with self._state:
            if model_id in self._resident:
                return True
        from pipelines.loaders import is_available_locally

        return is_available_locally(entry, self.cache_dir)

    def resident(self) -> list[dict]:
        """Loaded models, least recently used first: id, name, tier ("gpu"/"cpu"), bytes, in_use."""
        with self._state:
            return [
                {
                    "id": mid,
                    "name": r.entry.name,
                    "tier": r.tier,
                    "bytes": r.nbytes,
                    "in_use": self._locks[mid].locked(),
                    "offload": r.placement.mode if r.placement.offloaded else None,
                    "note": r.placement.note,
                }
                for mid, r in self._resident.items()
            ]

    def placement(self, model_id: str) -> Placement | None:
        """How a loaded model runs (on the GPU, offloaded, on the CPU); None when not loaded."""
        with self._state:
            res = self._resident.get(model_id)
            return res.placement if res is not None else None

    def ram_limit_bytes(self) -> float:
        """Weights larger than this are refused before loading (default 90 % of RAM)."""
        if self._ram_limit is not None:
            return self._ram_limit
        from pipelines.devices import RAM_LOAD_SHARE, system_ram_bytes

        return system_ram_bytes() * RAM_LOAD_SHARE

    def unload(self, model_id: str) -> bool:
        """Drop a model from memory (waiting for a running generation to end). True if it was loaded."""
        self.entry(model_id)
        lock = self._lock_for(model_id)
        with lock:
            with self._state:
                gone = self._resident.pop(model_id, None)
        if gone is not None:
            self._release_memory()
        return gone is not None

    def unload_all(self) -> None:
        with self._state:
            ids = list(self._resident)
        for mid in ids:
            self.unload(mid)

    # ------------------------------------------------------------ internals

    def _lock_for(self, model_id: str) -> threading.Lock:
        with self._state:
            return self._locks.setdefault(model_id, threading.Lock())

    def _ready(self, model_id: str, entry: ModelEntry, progress: ProgressFn | None) -> Any:
        """Called with the model's lock held: load it if needed and bring it to the device."""
        with self._state:
            res = self._resident.get(model_id)
        if res is None:
            from pipelines.loaders import load_pipeline
            from pipelines.placement import apply_placement

            decided: list[tuple[Placement, int]] = []
            pipe = load_pipeline(
                entry,
                device="cpu",
                dtype=self.dtype_for(entry),
                cache_dir=self.cache_dir,
                progress=progress,
                models_dir=self.models_dir,
                before_load=lambda path: decided.append(self._choose_placement(model_id, entry, path)),
            )
            placement, largest = decided[0] if decided else (Placement("cpu" if self.device == "cpu" else "gpu"), 0)
            if placement.offloaded:
                self._make_room_on_gpu(model_id, largest)
                apply_placement(pipe, placement, self.device)
            res = _Resident(pipe=pipe, entry=entry, nbytes=pipeline_bytes(pipe), tier="cpu", placement=placement)
            with self._state:
                self._resident[model_id] = res
        if res.placement.offloaded:
            report(progress, Progress("load", message=res.placement.note))
        elif self.device != "cpu" and res.tier != "gpu":
            self._make_room_on_gpu(model_id, res.nbytes)
            report(progress, Progress("load", message=f"Moving {entry.name} to the {self.device}…"))
            try:
                res.pipe.to(self.device)
            except BaseException:
                res.pipe.to("cpu")  # never leave a model half on the device
                raise
            res.tier = "gpu"
        with self._state:
            self._resident.move_to_end(model_id)
        self._enforce_ram_budget(keep=model_id)
        return res.pipe

    def _ensure_ip_adapter(self, model_id: str, pipe: Any, entry: ModelEntry, progress: ProgressFn | None) -> None:
        """Called with the model's lock held: load its IP-Adapter once, then count its bytes."""
        from pipelines.references import ensure_ip_adapter

        if ensure_ip_adapter(pipe, entry, cache_dir=self.cache_dir, progress=progress):
            nbytes = pipeline_bytes(pipe)
            with self._state:
                res = self._resident.get(model_id)
                if res is not None and res.pipe is pipe:
                    res.nbytes = nbytes

    def _img2img_for(self, model_id: str, pipe: Any) -> Any:
        """Called with the model's lock held: the resident model's image-to-image twin."""
        from pipelines.references import image_to_image_pipe

        with self._state:
            res = self._resident.get(model_id)
        if res is None or res.pipe is not pipe:  # not resident (cannot happen under the lock)
            return image_to_image_pipe(pipe, res.entry.family)
        if res.img2img is None:
            res.img2img = image_to_image_pipe(pipe, res.entry.family)
        return res.img2img

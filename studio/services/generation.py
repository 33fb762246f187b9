"""Turns a StudioRequest into saved, paid-for images.

The order matters and is the product's promise: validate everything first (bad
input costs nothing and writes nothing), charge the credits when the job starts,
run the engine, write the PNGs, and give the credits back if anything after the
charge fails or the user cancels. A failed job never leaves files behind.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Callable

from pipelines.catalog import ModelEntry
from pipelines.generate import draw_seeds
from pipelines.types import (
    MAX_SEED,
    CancelToken,
    GenerationCancelled,
    GenerationRequest,
    GenerationResult,
    ModelUnavailable,
    OutOfMemory,
    ProgressFn,
)
from studio.services.credits import CreditsService, InsufficientCredits
from studio.services.enhancer import enhance_prompt
from studio.services.requests import (
    InvalidRequest,
    StudioRequest,
    check_aspect,
    check_count,
    check_model,
    check_negative,
    check_prompt,
    normalise_seed,
)
from studio.services.styles import Style, apply_style
from studio.store.base import Store
from studio.store.images import ImageFiles, format_parameters
from studio.store.records import ASSETS, JOBS, utc_now

log = logging.getLogger(__name__)


class GenerationFailed(RuntimeError):
    """The job started but did not finish; its credits were given back."""


@dataclass(frozen=True)
class PreparedJob:
    """A request that passed every check: what will run and what it costs."""

    request: StudioRequest
    entry: ModelEntry
    style: Style
    prompt: str  # after enhancement: what the user sees and what gets recorded
    styled_prompt: str  # after the style template: what the model gets
    negative_prompt: str
    width: int
    height: int
    count: int
    seed: int | None
    cost: int


@dataclass
class SavedImage:
    asset_id: str
    path: str  # absolute file path
    seed: int
    details: dict


@dataclass
class StudioResult:
    job_id: str
    images: list[SavedImage]
    prompt: str
    cost: int
    balance: int
    elapsed_s: float
    model_id: str
    extra: dict = field(default_factory=dict)


def user_subdir(user: str) -> str:
    """A folder name per user that is safe whatever characters the account name has."""
    slug = "".join(c for c in user.lower() if c.isascii() and c.isalnum())[:24] or "user"
    return f"{slug}-{hashlib.sha256(user.encode()).hexdigest()[:8]}"


def _now() -> str:
    return utc_now()


class GenerationService:
    def __init__(
        self,
        *,
        engine,  # pipelines.manager.PipelineManager (duck-typed: catalog, generate, is_downloaded)
        styles: list[Style],
        credits: CreditsService,
        store: Store,
        images: ImageFiles,
    ) -> None:
        self.engine = engine
        self.styles = {s.id: s for s in styles}
        self.credits = credits
        self.store = store
        self.images = images

    # ----- checks and prices -------------------------------------------------
    def style(self, style_id: object) -> Style:
        try:
            return self.styles[str(style_id)]
        except KeyError:
            raise InvalidRequest(f"Unknown style {style_id!r}. Choose one of: {', '.join(self.styles)}.") from None

    def estimate(self, model_id: object, count: object) -> int:
        entry = check_model(self.engine.catalog, model_id)
        return entry.credit_cost * check_count(count)

    def check_settings(self, model_id: object, style_id: object, aspect: object) -> None:
        """The settings a saved prompt refers to must exist (the prompt library can't see the catalog)."""
        check_model(self.engine.catalog, model_id)
        self.style(style_id)
        check_aspect(aspect)

    def enhance(self, prompt: object, style_id: object = "auto") -> str:
        text = check_prompt(prompt)
        return enhance_prompt(text, self.style(style_id).id)

    def prepare(self, request: StudioRequest) -> PreparedJob:
        """Every check that can fail on input, in the order a person would fix them."""
        prompt = check_prompt(request.prompt)
        entry = check_model(self.engine.catalog, request.model_id)
        style = self.style(request.style_id)
        aspect = check_aspect(request.aspect)
        count = check_count(request.count)
        negative = check_negative(request.negative_prompt)
        seed = normalise_seed(request.seed)
        if request.enhance:
            prompt = enhance_prompt(prompt, style.id)
        styled, styled_negative = apply_style(style, prompt, negative)
        size = entry.sizes[aspect]
        return PreparedJob(
            request=request,
            entry=entry,
            style=style,
            prompt=prompt,
            styled_prompt=styled,
            negative_prompt=styled_negative,
            width=size.width,
            height=size.height,
            count=count,
            seed=seed,
            cost=entry.credit_cost * count,
        )

    # ----- the job -------------------------------------------------------------
    def generate(
        self,
        request: StudioRequest,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        engine_extras: Callable[[PreparedJob], dict] | None = None,
        asset_fields: dict | None = None,
    ) -> StudioResult:
        job = self.prepare(request)
        extras = engine_extras(job) if engine_extras else {}
        job_id = uuid.uuid4().hex
        started = time.perf_counter()
        self.credits.charge(
            request.user, job.cost, reason=f"{job.count} × {job.entry.name}", job_id=job_id
        )
        self.store.insert(JOBS, self._job_record(job_id, job, status="running"))
        written: list[str] = []
        try:
            result = self.engine.generate(self._engine_request(job, extras), progress=progress, cancel=cancel)
            saved = [self._save_image(job_id, job, result, i, asset_fields or {}, written) for i in range(len(result.images))]
        except BaseException as exc:
            self._roll_back(job_id, written, exc)
            raise self._user_error(exc) from exc
        elapsed = time.perf_counter() - started
        self.store.update(
            JOBS, job_id, {"status": "done", "elapsed_s": round(elapsed, 3), "asset_ids": [s.asset_id for s in saved]}
        )
        return StudioResult(
            job_id=job_id,
            images=saved,
            prompt=job.prompt,
            cost=job.cost,
            balance=self.credits.balance(request.user),
            elapsed_s=elapsed,
            model_id=job.entry.id,
        )

    def compare(
        self,
        request: StudioRequest,
        model_ids: list[str],
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> list[StudioResult]:
        """One prompt across 2-4 models with the same seed, each model charged as its own job.

        Every model is checked and the whole comparison priced before the first one runs,
        so a bad pick or a short balance costs nothing."""
        if not 2 <= len(model_ids or []) <= 4:
            raise InvalidRequest("Pick 2 to 4 models to compare.")
        seed = normalise_seed(request.seed)
        if seed is None:
            seed = draw_seeds(1)[0]
        requests = [replace(request, model_id=m, seed=seed) for m in model_ids]
        total = sum(self.prepare(r).cost for r in requests)
        balance = self.credits.balance(request.user)
        if total > balance:
            raise InsufficientCredits(total, balance)
        return [self.generate(r, progress=progress, cancel=cancel) for r in requests]

    def _engine_request(self, job: PreparedJob, extras: dict) -> GenerationRequest:
        seeds = None if job.seed is None else tuple((job.seed + i) % (MAX_SEED + 1) for i in range(job.count))
        return GenerationRequest(
            model_id=job.entry.id,
            prompt=job.styled_prompt,
            negative_prompt=job.negative_prompt,
            width=job.width,
            height=job.height,
            num_images=job.count,
            seeds=seeds,
            **extras,
        )

    def _save_image(
        self, job_id: str, job: PreparedJob, result: GenerationResult, index: int, asset_fields: dict, written: list[str]
    ) -> SavedImage:
        image = result.images[index]
        seed = result.seeds[index]
        asset_id = uuid.uuid4().hex
        details = {
            "asset_id": asset_id,
            "job_id": job_id,
            "owner": job.request.user,
            "kind": "generated",
            "model_id": job.entry.id,
            "model_name": job.entry.name,
            "style_id": job.style.id,
            "style_name": job.style.name,
            "aspect": job.request.aspect,
            "prompt": job.prompt,
            "styled_prompt": job.styled_prompt,
            "negative_prompt": job.negative_prompt,
            "enhanced": job.request.enhance,
            "seed": seed,
            "width": image.width,
            "height": image.height,
            "steps": result.steps,
            "guidance": result.guidance,
            "sampler": result.sampler,
            "cost": job.entry.credit_cost,
            "elapsed_s": round(result.elapsed_s, 3),
            "created": _now(),
            "prompt_ignored": job.entry.ignores_prompt,
            **asset_fields,
        }
        parameters = format_parameters(
            prompt=job.styled_prompt,
            negative_prompt=job.negative_prompt,
            steps=result.steps,
            sampler=result.sampler,
            guidance=result.guidance,
            seed=seed,
            width=image.width,
            height=image.height,
            model=job.entry.id,
        )
        rel = self.images.save(image, parameters=parameters, studio_meta=details, subdir=user_subdir(job.request.user))
        written.append(rel)
        record = {**details, "id": asset_id, "file": rel}
        self.store.insert(ASSETS, record)
        return SavedImage(asset_id=asset_id, path=str(self.images.path(rel)), seed=seed, details=record)

    def _roll_back(self, job_id: str, written: list[str], exc: BaseException) -> None:
        for rel in written:
            try:
                self.images.delete(rel)
            except Exception:  # pragma: no cover - best effort, logged
                log.exception("could not remove %s after a failed job", rel)
        for asset in self.store.find(ASSETS, job_id=job_id):
            self.store.delete(ASSETS, asset["id"])
        status = "cancelled" if isinstance(exc, GenerationCancelled) else "failed"
        self.credits.refund(job_id, reason=f"job {status}")
        self.store.update(JOBS, job_id, {"status": status, "error": str(exc)[:500]})

    @staticmethod
    def _user_error(exc: BaseException) -> BaseException:
        if isinstance(exc, (GenerationCancelled, ModelUnavailable, OutOfMemory, InvalidRequest)):
            return exc
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            return exc
        log.exception("generation failed")
        return GenerationFailed(f"Generation failed ({type(exc).__name__}: {exc}). Your credits were refunded.")

    def _job_record(self, job_id: str, job: PreparedJob, *, status: str) -> dict:
        return {
            "id": job_id,
            "owner": job.request.user,
            "status": status,
            "model_id": job.entry.id,
            "style_id": job.style.id,
            "aspect": job.request.aspect,
            "count": job.count,
            "cost": job.cost,
            "prompt": job.prompt,
            "created": _now(),
        }

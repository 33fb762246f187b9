"""Refining an image: repaint part of it with a mask, extend it past its edges, enlarge
it, and generate with a hires fix. Each is a paid job that makes NEW images linked to
their source (`parent_id`, and `chain`: every ancestor, oldest first); the source never
changes.

Why a module beside service.py: the job lifecycle is the same promise as generation's
(priced by the one preflight, charged with the job record in one transaction, refunded
with the records dropped on failure or cancel, files removed) and reuses the
GenerationService's roll-back and wording, but the inputs differ: a source image and a
mask instead of a style and an aspect, and an upscaler that is not a diffusers model.

Prices (`refine_cost`): repaint and extend cost what generating the same number of
images on the model costs; enlarging costs ENLARGE_CREDITS per started
ENLARGE_PIXELS_PER_CREDIT of output; a hires fix costs two model passes plus the
enlargement, per image.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image

from pipelines.catalog import ModelEntry
from pipelines.generate import draw_seeds
from pipelines.masks import extend_canvas, outpaint_amounts, prepare_mask
from pipelines.params import INPAINT_FILLS, MAX_SEED, PARAMS, RequestRejected
from pipelines.types import CancelToken, GenerationRequest, ProgressFn, UnknownModel
from pipelines.upscalers import LANCZOS, check_factor
from studio.services.common import validation as v
from studio.services.common.validation import InvalidRequest, plain_message
from studio.services.generation.jobs import DONE, JOBS, RUNNING, this_runner
from studio.services.generation.preflight import Preflight, run_preflight
from studio.services.generation.requests import StudioRequest, check_count, check_model, check_negative, check_user, normalise_seed
from studio.services.generation.stopping import JobStopped, Stopped
from studio.services.generation.results import SavedImage, StudioResult, user_subdir
from studio.store.images import format_parameters
from studio.store.records import ASSETS, insert_record, update_record, utc_now

OPERATIONS = ("repaint", "extend", "enlarge", "hires")
ENLARGE_PIXELS_PER_CREDIT = 4 * 1024 * 1024
ENLARGE_CREDITS = 1
_LABELS = {"repaint": "Repaint", "extend": "Extend", "enlarge": "Enlarge", "hires": "Hires fix"}


def enlarge_cost(width: int, height: int) -> int:
    return ENLARGE_CREDITS * max(1, math.ceil(width * height / ENLARGE_PIXELS_PER_CREDIT))


@dataclass
class RefinePlan:
    """A refine request that passed every check: what runs and what it costs."""

    request: StudioRequest
    cost: int
    entry: ModelEntry | None = None
    source: Image.Image | None = None
    record: dict | None = None  # the source asset (None: an image sent by an API client)
    prompt: str = ""
    negative: str = ""
    count: int = 1
    seed: int | None = None
    engine: GenerationRequest | None = None  # repaint / extend: the engine request
    out_size: tuple[int, int] | None = None
    notes: list[str] = field(default_factory=list)


def _checked(name: str, value: object, family: str | None = None):
    """A parameter row's check (the one validation module's), as the services' InvalidRequest."""
    return v.parameter(name, value, family)


class RefineService:
    def __init__(self, generation, upscalers) -> None:
        self.gen = generation  # GenerationService: engine, store, credits, images, roll-back
        self.upscalers = upscalers  # pipelines.upscalers.Upscalers

    # ----- checks and prices -------------------------------------------------
    def source_of(self, request: StudioRequest) -> tuple[Image.Image, dict | None]:
        if request.init_image is not None:
            if not isinstance(request.init_image, Image.Image):
                raise InvalidRequest("The picture to refine could not be read as an image.")
            return request.init_image.convert("RGB"), None
        if not isinstance(request.source_id, str) or not request.source_id:
            raise InvalidRequest("Pick an image to refine first.")
        record = self.gen.store.get(ASSETS, request.source_id)
        if record is None or record.get("owner") != request.user:
            raise InvalidRequest("That image is not in your library any more; pick another one.")
        return self.gen.images.open(record["file"]).convert("RGB"), record

    def prepare(self, request: StudioRequest) -> RefinePlan:
        """Every check that can fail on input, before any charge, in the order a person fixes them."""
        check_user(request.user)
        op = request.operation
        if op not in OPERATIONS:
            raise InvalidRequest(f"Unknown operation; choose one of {', '.join(OPERATIONS)}.")
        if op == "hires":
            return self._prepare_hires(request)
        source, record = self.source_of(request)
        if op == "enlarge":
            return self._prepare_enlarge(request, source, record)
        entry = check_model(self.gen.engine.catalog, request.model_id)
        self.gen.check_runnable(entry)
        count = check_count(request.count)
        seed = normalise_seed(request.seed)
        prompt = request.prompt if isinstance(request.prompt, str) else ""
        if not prompt.strip() and record is not None:
            prompt = record.get("prompt") or ""
        if not prompt.strip() and op == "repaint" and not entry.ignores_prompt:
            raise InvalidRequest("Write what to paint in the masked area: the prompt is empty.")
        negative = check_negative(request.negative_prompt)
        denoise = _checked("denoise", request.denoise)
        blur = _checked("mask_blur", request.mask_blur)
        if request.inpainting_fill not in INPAINT_FILLS:
            raise InvalidRequest(f"Masked area fill must be one of {', '.join(INPAINT_FILLS)}.")
        notes: list[str] = []
        if entry.traits.inpaint_pipeline is None:
            raise InvalidRequest(f"{entry.name} can't repaint or extend pictures; choose another model.")
        fields: dict[str, Any] = dict(denoise=denoise, mask_blur=blur, inpainting_fill=request.inpainting_fill)
        if op == "repaint":
            if request.mask is None or not isinstance(request.mask, Image.Image):
                raise InvalidRequest("Paint a mask over the part to repaint first.")
            try:
                prepared = prepare_mask(request.mask, source.size, invert=bool(request.mask_invert))
            except RequestRejected as exc:
                raise InvalidRequest(str(exc)) from None
            if prepared.note:
                notes.append(prepared.note)
            fields.update(init_image=source, mask=request.mask, mask_invert=bool(request.mask_invert),
                          inpaint_only_masked=bool(request.inpaint_only_masked),
                          inpaint_padding=_checked("inpaint_padding", request.inpaint_padding))
            size = source.size
        else:
            pixels = _checked("outpaint_pixels", request.extend_pixels)
            try:
                amounts = outpaint_amounts(tuple(request.extend_sides or ()), pixels, source.size,
                                           multiple=entry.traits.size_multiple)
            except RequestRejected as exc:
                raise InvalidRequest(str(exc)) from None
            canvas, mask = extend_canvas(source, amounts)
            top = PARAMS["width"].bounds(entry.family)[1]
            if max(canvas.size) > top:
                raise InvalidRequest(f"Extending {source.width}×{source.height} that way gives {canvas.width}×"
                                     f"{canvas.height}; {entry.name} works up to {top} pixels a side. Extend by less.")
            fields.update(init_image=canvas, mask=mask, feather_inside_only=True)
            size = canvas.size
        seeds = None if seed is None else tuple((seed + i) % (MAX_SEED + 1) for i in range(count))
        multiple = entry.traits.size_multiple
        engine_request = GenerationRequest(
            model_id=entry.id, prompt=prompt, negative_prompt=negative, num_images=count, seeds=seeds,
            width=max(multiple, size[0] // multiple * multiple), height=max(multiple, size[1] // multiple * multiple),
            **fields)
        try:
            self.gen.engine.check(engine_request)
        except (RequestRejected, UnknownModel) as exc:
            raise InvalidRequest(plain_message(str(exc))) from None
        return RefinePlan(request=request, cost=entry.credit_cost * count, entry=entry, source=source, record=record,
                          prompt=prompt, negative=negative, count=count, seed=seed, engine=engine_request,
                          out_size=size, notes=notes)

    def _prepare_enlarge(self, request: StudioRequest, source: Image.Image, record: dict | None) -> RefinePlan:
        try:
            self.upscalers.info(request.upscaler)
            size = check_factor(source.size, request.upscale_factor)
        except RequestRejected as exc:
            raise InvalidRequest(str(exc)) from None
        return RefinePlan(request=request, cost=enlarge_cost(*size), source=source, record=record,
                          prompt=(record or {}).get("prompt", ""), out_size=size,
                          seed=(record or {}).get("seed"))

    def _prepare_hires(self, request: StudioRequest) -> RefinePlan:
        """Generate, enlarge, redraw; with a source image (A1111's "sd upscale" script) the
        first step is skipped and the source is enlarged and redrawn."""
        job = self.gen.prepare(request)
        self.gen.check_engine_request(job)
        denoise = _checked("hires_denoise", request.hires_denoise)
        given = request.init_image is not None or request.source_id
        source, record = self.source_of(request) if given else (None, None)
        if source is not None and job.entry.traits.img2img_pipeline is None:
            raise InvalidRequest(f"{job.entry.name} can't redraw an existing picture; choose another model.")
        try:
            self.upscalers.info(request.upscaler)
            size = check_factor(source.size if source is not None else (job.width, job.height), request.upscale_factor)
        except RequestRejected as exc:
            raise InvalidRequest(str(exc)) from None
        top = PARAMS["width"].bounds(job.entry.family)[1]
        if max(size) > top:
            raise InvalidRequest(f"A hires fix to {size[0]}×{size[1]} is more than the {top} pixels a side "
                                 f"{job.entry.name} works at; choose a smaller factor.")
        passes = 1 if source is not None else 2
        cost = job.count * (passes * job.entry.credit_cost + enlarge_cost(*size))
        return RefinePlan(request=replace(request, hires_denoise=denoise), cost=cost, entry=job.entry,
                          source=source, record=record, prompt=job.styled_prompt, negative=job.negative_prompt,
                          count=job.count, seed=job.seed, out_size=size, engine=self.gen._engine_request(job))

    def cost_of(self, request: StudioRequest) -> int:
        return self.prepare(request).cost

    def preflight(self, request: StudioRequest) -> Preflight:
        """The price on the button and in the API answer, and why it can't run (None when it can)."""
        def hint() -> int:
            return 0
        return run_preflight(lambda: self.prepare(request).cost, lambda: self.gen.balance_of(request.user), hint,
                             limit=self.gen.limit_of(request.user))

    # ----- the job -------------------------------------------------------------
    def run(self, request: StudioRequest, *, progress: ProgressFn | None = None,
            cancel: CancelToken | None = None) -> StudioResult:
        plan = self.prepare(request)
        user = request.user
        run_preflight(lambda: plan.cost, lambda: self.gen.balance_of(user), lambda: plan.cost,
                      limit=self.gen.limit_of(user)).raise_if_blocked()
        if cancel is not None and cancel.cancelled:  # cancelled while it waited for the GPU: no charge at all
            raise JobStopped(Stopped(made=0, asked=plan.count, returned=0, started=False))
        job_id = uuid.uuid4().hex
        started = time.perf_counter()
        label = _LABELS[request.operation]
        with self.gen.store.transaction() as tx:
            self.gen.credits.charge(user, plan.cost, reason=f"{label} · {self._what(plan)}", job_id=job_id)
            insert_record(tx, JOBS, {"id": job_id, "owner": user, "status": RUNNING, "kind": request.operation,
                             "model_id": plan.entry.id if plan.entry else f"upscaler:{request.upscaler}", "count": plan.count,
                             "cost": plan.cost, "prompt": plan.prompt, "created": utc_now(), "runner": this_runner(),
                             "source_id": request.source_id})
        written: list[str] = []
        try:
            made, extra = self._execute(plan, progress, cancel)
            records = [self._save(job_id, plan, image, seed, extra, written) for image, seed in made]
            elapsed = time.perf_counter() - started
            with self.gen.store.transaction() as tx:
                for record in records:
                    insert_record(tx, ASSETS, record)
                update_record(tx, JOBS, job_id, {"status": DONE, "elapsed_s": round(elapsed, 3),
                                         "asset_ids": [r["id"] for r in records]})
        except BaseException as exc:
            returned = self.gen._roll_back(job_id, written, exc)
            raise self.gen._user_error(exc, plan.cost, asked=plan.count, returned=returned) from exc
        saved = [SavedImage(asset_id=r["id"], path=str(self.gen.images.path(r["file"])), seed=r["seed"], details=r)
                 for r in records]
        return StudioResult(job_id=job_id, images=saved, prompt=plan.prompt, cost=plan.cost,
                            balance=self.gen.credits.balance(user), elapsed_s=elapsed,
                            model_id=plan.entry.id if plan.entry else "", extra={"notes": plan.notes, **extra})

    def _what(self, plan: RefinePlan) -> str:
        if plan.entry is None:
            return f"{plan.request.upscaler} ×{plan.request.upscale_factor:g}"
        return f"{plan.count} × {plan.entry.name}"

    def _execute(self, plan: RefinePlan, progress, cancel) -> tuple[list[tuple[Image.Image, int]], dict]:
        req = plan.request
        engine = self.gen.engine
        if req.operation == "enlarge":
            out = self.upscalers.upscale(plan.source, req.upscaler, req.upscale_factor, progress=progress,
                                         cancel=cancel)
            return [(out, int(plan.seed or 0))], {}
        if req.operation in ("repaint", "extend"):
            result = engine.generate(plan.engine, progress=progress, cancel=cancel)
            return list(zip(result.images, result.seeds)), _result_extra(result)
        if plan.source is not None:  # enlarge and redraw a given picture (A1111's sd upscale)
            seeds = list(plan.engine.seeds or draw_seeds(plan.count))
            pairs, base = [(plan.source, s) for s in seeds], None
        else:  # hires fix: generate, enlarge, redraw
            base = engine.generate(plan.engine, progress=progress, cancel=cancel)
            pairs = list(zip(base.images, base.seeds))
        made, last = [], None
        for image, seed in pairs:
            big = self.upscalers.upscale(image, req.upscaler, req.upscale_factor, progress=progress, cancel=cancel)
            m = plan.entry.traits.size_multiple
            second = replace(plan.engine, num_images=1, seeds=(seed,), width=max(m, big.width // m * m),
                             height=max(m, big.height // m * m), init_image=big, denoise=req.hires_denoise)
            last = engine.generate(second, progress=progress, cancel=cancel)
            made.append((last.images[0], seed))
        return made, _result_extra(base or last)

    def _save(self, job_id: str, plan: RefinePlan, image: Image.Image, seed: int, extra: dict,
              written: list[str]) -> dict:
        req = plan.request
        source = plan.record or {}
        asset_id = uuid.uuid4().hex
        chain = [*(source.get("chain") or []), source["id"]] if source.get("id") else []
        settings = _settings(req)
        details = {
            "asset_id": asset_id, "job_id": job_id, "owner": req.user, "kind": req.operation,
            "model_id": plan.entry.id if plan.entry else source.get("model_id"),
            "model_name": plan.entry.name if plan.entry else source.get("model_name"),
            "prompt": plan.prompt, "negative_prompt": plan.negative, "seed": int(seed),
            "width": image.width, "height": image.height, "cost": round(plan.cost / max(1, plan.count)),
            "created": utc_now(), "parent_id": source.get("id"), "chain": chain, "refine": settings,
            "notes": plan.notes, "project_id": source.get("project_id"), "shot_id": source.get("shot_id"),
            "style_id": source.get("style_id"), "style_name": source.get("style_name"),
            "aspect": source.get("aspect"), **{k: v for k, v in extra.items() if k in ("steps", "guidance", "sampler")},
        }
        if req.operation == "hires":
            details.update(style_id=req.style_id, aspect=req.aspect)
        parameters = format_parameters(
            prompt=plan.prompt, negative_prompt=plan.negative, steps=extra.get("steps", 0),
            sampler=extra.get("sampler", "None"), guidance=extra.get("guidance", 0), seed=int(seed),
            width=image.width, height=image.height, model=details["model_id"] or "",
        ) + "".join(f", {k}: {v}" for k, v in _a1111_settings(req).items())
        rel = self.gen.images.save(image, parameters=parameters, studio_meta=details, subdir=user_subdir(req.user))
        written.append(rel)
        return {**details, "id": asset_id, "file": rel}


def _result_extra(result) -> dict:
    return {"steps": result.steps, "guidance": result.guidance, "sampler": result.sampler}


def _settings(req: StudioRequest) -> dict:
    if req.operation == "enlarge":
        return {"upscaler": req.upscaler, "factor": req.upscale_factor}
    if req.operation == "hires":
        return {"upscaler": req.upscaler, "factor": req.upscale_factor, "denoise": req.hires_denoise}
    out = {"denoise": req.denoise, "mask_blur": req.mask_blur, "fill": req.inpainting_fill}
    if req.operation == "repaint":
        out.update(invert=bool(req.mask_invert), only_masked=bool(req.inpaint_only_masked),
                   padding=req.inpaint_padding)
    else:
        out.update(sides=list(req.extend_sides), pixels=req.extend_pixels)
    return out


def _a1111_settings(req: StudioRequest) -> dict:
    """The names A1111 writes in `parameters` for the same settings, so its PNG Info reads them."""
    if req.operation == "enlarge":
        return {"Postprocess upscaler": req.upscaler, "Postprocess upscale by": f"{req.upscale_factor:g}"}
    if req.operation == "hires":
        return {"Denoising strength": req.hires_denoise, "Hires upscale": f"{req.upscale_factor:g}",
                "Hires upscaler": req.upscaler}
    return {"Denoising strength": req.denoise, "Mask blur": req.mask_blur}


def default_upscaler() -> str:
    return LANCZOS

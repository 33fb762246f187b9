"""The AUTOMATIC1111 dialect: `/sdapi/v1/*`, as `webuiapi`, editor plugins and bots call it.

What each request field does is decided in one place, studio/api/fields.py: honoured,
mapped onto the studio's own, or said in the `info` JSON under `studio_notes` (a field the
studio cannot honour is never dropped in silence). Samplers and schedules come from
pipelines/samplers.py; a name that cannot run falls back to the model's own with a note.
`n_iter` runs as successive jobs, each priced and charged before it starts; `/interrupt`
and `/skip` return what was made (A1111 returns the images as far as they got).
Errors come back like A1111's own: `{"error", "detail", "body", "errors"}`.

The lists and utilities (`/prompt-styles`, `/png-info` ...) are in a1111_utilities.py,
`/options` storage in a1111_options.py.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
from dataclasses import replace
from datetime import datetime, timezone

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from pipelines import samplers
from pipelines.generate import draw_seeds
from pipelines.model_hash import checkpoint_sha256, short_hash
from pipelines.params import MAX_IMAGES, MAX_SEED, PARAMS, BadParameter
from pipelines.types import GenerationCancelled
from studio.accounts import SignInThrottled
from studio.api import a1111_extras, a1111_utilities, fields
from studio.api.a1111_options import HONOURED, AccountOptions, OptionError
from studio.api.a1111_adapters import adapter_routes
from studio.api.auth import caller_of
from studio.api.common import ApiContext, ApiError, closest_aspect, decode_image, find_model, find_style, read_json_object, png_bytes
from studio.api.errors import a1111_error, service_error
from studio.services.billing.ledger import InsufficientCredits
from studio.services.generation.requests import NO_REFERENCES, InvalidRequest, References, StudioRequest



class _Lax(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Txt2Img(_Lax):
    prompt: str = ""
    negative_prompt: str | None = ""
    styles: list[str] | None = None
    seed: int = -1
    steps: int | None = None  # ranges: the parameter table's, checked by the service
    cfg_scale: float | None = None
    width: int = 512
    height: int = 512
    batch_size: int = 1  # batch_size: the count row, n_iter: the n_iter row (checked in prepare)
    n_iter: int = 1
    sampler_name: str | None = None
    sampler_index: str | None = None
    scheduler: str | None = None
    override_settings: dict | None = None
    denoising_strength: float | None = None
    send_images: bool = True


class Img2Img(Txt2Img):
    init_images: list = Field(default_factory=list)
    denoising_strength: float | None = None  # None: the strength row's A1111 default


def _validation_message(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "body"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


def fit_size(entry, width: int, height: int) -> tuple[int, int, list[str]]:
    """The size the model makes for an asked width × height: each side rounded to the
    family's size multiple (A1111 rounds too; said in a note), then checked against the
    width/height rows of the parameter table (outside them: refused, saying the range)."""
    step = entry.traits.size_multiple
    sides, notes = [], []
    for name, value in (("width", width), ("height", height)):
        rounded = max(step, int(round(value / step)) * step)
        if rounded != value:
            notes.append(f"{name} {value} was rounded to {rounded}: {entry.name} needs multiples of {step}")
        try:
            sides.append(PARAMS[name].check(rounded, entry.family))
        except BadParameter as exc:
            raise ApiError(422, f"{entry.name}: {exc} Send a {name} in that range.", code="invalid_size") from None
    return sides[0], sides[1], notes


def encode_image(png: bytes, fmt: str) -> bytes:
    """An API image in the account's `samples_format` (PNG as written, else re-encoded with
    the `parameters` text in EXIF UserComment, where A1111 puts it for JPEG and WebP)."""
    if fmt == "png":
        return png
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        text = img.text.get("parameters", "") if hasattr(img, "text") else ""
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + text.encode("utf-16-be")
        out = io.BytesIO()
        img.convert("RGB").save(out, format="JPEG" if fmt in ("jpg", "jpeg") else "WEBP", quality=90, exif=exif)
        return out.getvalue()


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(prefix="/sdapi/v1")
    studio = ctx.studio
    options = AccountOptions(studio)

    async def caller(request: Request) -> str:
        # Off the event loop: a basic-auth password is an argon2 check (deliberately slow).
        try:
            user = await asyncio.to_thread(
                caller_of, request.headers.get("authorization"), ctx.keys, ctx.password_check, allow_basic=True)
        except SignInThrottled as exc:
            raise ApiError(429, str(exc), code="too_many_failed_sign_ins") from None
        if user is None:
            raise ApiError(401, "Sign in: send an API key as 'Authorization: Bearer KEY', or your account name and password (or key) as HTTP basic auth.",
                           code="unauthorized")
        return user

    def guarded(handler):
        async def endpoint(request: Request):
            try:
                return await handler(request, await caller(request))
            except ApiError as exc:
                return a1111_error(exc)
            except Exception as exc:  # service errors: same messages as the UI
                return a1111_error(service_error(exc))
        endpoint.__name__ = handler.__name__
        return endpoint

    def resolve_model(name: object) -> str:
        entry = find_model(studio, name)
        if entry is None:
            raise ApiError(404, f"Unknown model {name!r}. Choose one of: {', '.join(studio.catalog.ids())} (GET /sdapi/v1/sd-models).",
                           code="model_not_found")
        return entry.id

    def model_hash(model_id: str, *, known_only: bool = False) -> str | None:
        engine = studio.engine
        return short_hash(checkpoint_sha256(studio.catalog.get(model_id), getattr(engine, "cache_dir", None),
                                            getattr(engine, "models_dir", None), known_only=known_only))

    def checked_options(body: dict) -> dict:
        try:
            return options.check(body, resolve_model)
        except OptionError as exc:
            raise ApiError(422, str(exc), code="invalid_option") from None

    # ----- generation -------------------------------------------------------------
    def prepare(body: dict, user: str, img2img: bool):
        try:
            req = (Img2Img if img2img else Txt2Img).model_validate(body)
        except ValidationError as err:
            raise ApiError(422, _validation_message(err)) from None
        rules = fields.A1111_IMG2IMG if img2img else fields.A1111_TXT2IMG
        refused = fields.refusal(rules, body)
        if refused:
            raise ApiError(422, refused, code="not_supported")
        notes = fields.notes_for(rules, body, dialect="AUTOMATIC1111")
        override = checked_options(req.override_settings or {})
        if set(override) - set(HONOURED):
            notes.append(f"override_settings {', '.join(sorted(set(override) - set(HONOURED)))} do not change how the studio "
                         f"generates (it honours {', '.join(HONOURED)})")
        model_id = override.get("sd_model_checkpoint") or options.model(user)
        entry = studio.catalog.get(model_id)
        sampler_asked = req.sampler_name or req.sampler_index or override.get("sampler_name") or options.value(user, "sampler_name")
        schedule_asked = req.scheduler or override.get("scheduler") or options.value(user, "scheduler")
        choice = samplers.resolve(sampler_asked, schedule_asked, entry.family)
        notes += choice.notes
        width, height, size_notes = fit_size(entry, req.width, req.height)
        notes += size_notes
        try:
            n_iter = PARAMS["n_iter"].check(req.n_iter)
        except BadParameter as exc:
            raise ApiError(422, f"n_iter: {exc} Send fewer batches, or several requests.") from None
        if req.batch_size > MAX_IMAGES:
            raise ApiError(422, f"batch_size is {req.batch_size}; the studio makes at most {MAX_IMAGES} images per batch. "
                                "Use n_iter for more batches.")
        style_id = "auto"
        for name in req.styles or []:
            found = find_style(studio, name)
            if found is None:
                notes.append(f"style {name!r} is not one of the studio's styles and was ignored (GET /sdapi/v1/prompt-styles)")
            elif style_id == "auto":
                style_id = found
            else:
                notes.append(f"only the first style is applied; {name!r} was ignored")
        if entry.ignores_prompt:
            notes.append(f"{entry.name} ignores the prompt, style, steps and guidance")
        references = NO_REFERENCES
        if img2img:
            if not req.init_images:
                raise InvalidRequest("init_images is empty: send one base64-encoded image to start from.")
            if "img2img" not in entry.reference_modes:
                raise InvalidRequest(f"{entry.name} cannot start from an image; pick a model that supports image-to-image.")
            strength = PARAMS["strength"].default_for("a1111") if req.denoising_strength is None else req.denoising_strength
            images = [decode_image(img, f"init_images[{i}]") for i, img in enumerate(req.init_images)]
            if len(images) > 1:
                notes.append("only the first of init_images is used")
            references = References(images=(images[0],), mode="img2img", strength=strength)
        study = StudioRequest(
            user=user, model_id=model_id, style_id=style_id, aspect=closest_aspect(entry, width, height),
            count=req.batch_size, prompt=req.prompt, negative_prompt=req.negative_prompt or "", seed=req.seed,
            steps=req.steps, guidance=req.cfg_scale, references=references, origin="a1111",
            width=width, height=height, sampler=choice.sampler, schedule=choice.schedule, keep_partial=True,
        )
        fmt = override.get("samples_format") or options.value(user, "samples_format")
        return study, notes, req, n_iter, fmt

    async def generate(request: Request, user: str, img2img: bool):
        body = await read_json_object(request)
        # Decoding images and the jobs themselves block: off the event loop, which keeps serving.
        return await run_in_threadpool(generate_now, body, user, img2img)

    def generate_now(body: dict, user: str, img2img: bool) -> JSONResponse:
        refining = a1111_extras.wants_refine(body, img2img)  # a mask, the hires fix, the sd upscale script
        study, notes, req, n_iter, fmt = prepare(a1111_extras.without_refine_fields(body) if refining else body,
                                                 user, img2img)
        if refining:  # one refine job (studio/api/a1111_extras.py)
            refined = a1111_extras.refine_request(studio, body, study, notes, img2img)
            studio.refine.prepare(refined)  # every service check before a credit moves
            return respond([ctx.jobs.run(refined, refine=True)], notes, req, refined, 1, fmt, False)
        studio.generation.prepare(study)  # every service check before a credit moves
        pending = options.take_pending_note(user)
        if pending:
            notes.append(pending)
        # One seed for the run: batch i starts at seed + i × batch_size, as in A1111.
        first_seed = study.seed if study.seed is not None and study.seed >= 0 else draw_seeds(1)[0]
        results, interrupted = [], False
        with ctx.jobs.batches(user, n_iter) as run:
            for i in range(n_iter):
                if run.interrupted:
                    interrupted = True
                    notes.append(f"interrupted: batches {i + 1} to {n_iter} were not run and cost nothing")
                    break
                run.batch = i
                batch = replace(study, seed=(first_seed + i * study.count) % (MAX_SEED + 1))
                try:
                    result = ctx.jobs.run(batch, run=run)
                except GenerationCancelled:  # stopped before its first step: refunded, nothing made
                    interrupted = interrupted or run.interrupted
                    notes.append(f"batch {i + 1} was {'interrupted' if run.interrupted else 'skipped'} before its first step; "
                                 "it cost nothing (a charge taken was refunded)")
                    continue
                except (InsufficientCredits, InvalidRequest) as exc:
                    if not results:
                        raise
                    notes.append(f"batch {i + 1} of {n_iter} was not run: {exc}")
                    break
                results.append(result)
                stopped = result.extra.get("interrupted_at")
                if stopped:
                    interrupted = interrupted or run.interrupted
                    notes.append(f"batch {i + 1} was {'interrupted' if run.interrupted else 'skipped'} after step {stopped}: "
                                 "its images are returned as far as they were denoised (and were charged)")
        return respond(results, notes, req, study, n_iter, fmt, interrupted)

    def respond(results, notes, req, study, n_iter, fmt, interrupted) -> JSONResponse:
        images = [img for r in results for img in r.images]
        files = [encode_image(png, fmt) for r in results for png in png_bytes(r)]
        first = images[0].details if images else {}
        ran, sched = samplers.split_name(first.get("sampler", "")) if first else (None, None)
        infotexts = [img.details.get("parameters") or _parameters_text(path) for img, path in
                     zip(images, [i.path for i in images])]
        info = {
            "prompt": results[0].prompt if results else study.prompt,
            "all_prompts": [r.prompt for r in results for _ in r.images],
            "negative_prompt": first.get("negative_prompt", study.negative_prompt),
            "all_negative_prompts": [first.get("negative_prompt", "")] * len(images),
            "seed": images[0].seed if images else study.seed,
            "all_seeds": [img.seed for img in images],
            "subseed": -1, "all_subseeds": [-1] * len(images), "subseed_strength": 0,
            "width": first.get("width", study.width), "height": first.get("height", study.height),
            "sampler_name": ran.name if ran else first.get("sampler"), "scheduler": sched.label if sched else "Automatic",
            "cfg_scale": first.get("guidance"), "steps": first.get("steps"),
            "batch_size": req.batch_size, "n_iter": n_iter,
            "sd_model_name": study.model_id, "sd_model_hash": model_hash(study.model_id),
            "denoising_strength": a1111_extras.denoising_strength(study),
            "styles": [study.style_id] if study.style_id != "auto" else [],
            "infotexts": infotexts, "index_of_first_image": 0,
            "job_timestamp": datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S"),
            "restore_faces": False, "clip_skip": 1, "is_using_inpainting_conditioning": study.mask is not None,
            "version": "image-generation-studio", "interrupted": interrupted,
            "studio_notes": notes,
            "credits_charged": sum(r.cost for r in results),
            "balance": results[-1].balance if results else studio.credits.balance(study.user),
            "job_id": results[0].job_id if results else None, "job_ids": [r.job_id for r in results],
            "asset_ids": [img.asset_id for img in images],
        }
        parameters = {k: v for k, v in req.model_dump().items() if k != "init_images"}
        return JSONResponse({
            "images": [base64.b64encode(data).decode("ascii") for data in files] if req.send_images else [],
            "parameters": parameters,
            "info": json.dumps(info),
        })

    async def txt2img(request: Request, user: str):
        return await generate(request, user, img2img=False)

    async def img2img(request: Request, user: str):
        return await generate(request, user, img2img=True)

    # ----- reading and settings ------------------------------------------------------
    async def sd_models(request: Request, user: str):
        def listing():
            out = []
            for m in studio.catalog.models:
                sha = checkpoint_sha256(m, getattr(studio.engine, "cache_dir", None),
                                        getattr(studio.engine, "models_dir", None), known_only=True)
                out.append({"title": m.id, "model_name": m.id, "hash": short_hash(sha), "sha256": sha, "filename": m.id,
                            "config": None, "name": m.name, "downloaded": studio.is_downloaded(m.id),
                            "credit_cost": m.credit_cost})
            return out

        return JSONResponse(await run_in_threadpool(listing))

    async def samplers_list(request: Request, user: str):
        return JSONResponse(a1111_utilities._sampler_items())

    async def scripts(request: Request, user: str):
        return JSONResponse({"txt2img": [], "img2img": []})

    async def get_options(request: Request, user: str):
        model = options.model(user)
        return JSONResponse(options.as_a1111(user, await run_in_threadpool(model_hash, model)))

    async def set_options(request: Request, user: str):
        body = await read_json_object(request)
        options.write(user, checked_options(body))  # all checked first: a bad key stores nothing
        return JSONResponse(None)

    async def progress(request: Request, user: str):
        jobs = ctx.jobs.of(user)
        runs = ctx.jobs.runs_of(user)
        job = jobs[0] if jobs else None
        run = runs[0] if runs else None
        fraction = (job.step / job.steps) if job and job.steps else 0.0
        if run is not None and run.batches > 1:
            fraction = (run.batch + fraction) / run.batches
        elapsed = (datetime.now(timezone.utc).timestamp() - job.started) if job else 0.0
        eta = (elapsed / fraction - elapsed) if job and fraction else 0.0
        return JSONResponse({
            "progress": round(fraction, 4), "eta_relative": round(eta, 2),
            "state": {"skipped": False, "interrupted": bool(run and run.interrupted), "stopping_generation": False,
                      "job": job.stage if job else "", "job_count": run.batches if run else len(jobs),
                      "job_timestamp": datetime.fromtimestamp(job.started, timezone.utc).strftime("%Y%m%d%H%M%S") if job else "0",
                      "job_no": run.batch if run else 0, "sampling_step": job.step if job else 0,
                      "sampling_steps": job.steps if job else 0},
            "current_image": None, "textinfo": None,
        })

    async def interrupt(request: Request, user: str):
        ctx.jobs.interrupt(user)
        return JSONResponse({})

    for path, handler, method in [
        ("/txt2img", txt2img, "POST"), ("/img2img", img2img, "POST"),
        ("/sd-models", sd_models, "GET"), ("/samplers", samplers_list, "GET"), ("/scripts", scripts, "GET"),
        ("/options", get_options, "GET"), ("/options", set_options, "POST"),
        ("/progress", progress, "GET"), ("/interrupt", interrupt, "POST"),
    ] + adapter_routes(studio, options.model):
        router.add_api_route(path, guarded(handler), methods=[method], name=f"a1111_{handler.__name__}")
    a1111_utilities.add_routes(router, ctx, guarded)
    router.include_router(a1111_extras.build_router(ctx, caller))  # extras, upscalers
    return router


def _parameters_text(path: str) -> str:
    from PIL import Image

    with Image.open(path) as img:
        return img.text.get("parameters", "") if hasattr(img, "text") else ""

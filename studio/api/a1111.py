"""The AUTOMATIC1111 dialect: `/sdapi/v1/*`, as `webuiapi`, editor plugins and bots call it.

Masks, the hires fix, the "sd upscale" script and the extras are in a1111_extras.py.
Fields the original accepts but the studio cannot honour (restore faces, other
scripts, subseeds…) are ignored the way A1111 ignores unknown ones, and every request
field that was changed or not used is said in the `info` JSON under `studio_notes`.
Errors come back like A1111's own: `{"error", "detail", "body", "errors"}`.
"""

from __future__ import annotations

import asyncio

import base64
import json
from datetime import datetime, timezone

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from pipelines.params import MAX_IMAGES, PARAMS
from pipelines.types import GenerationCancelled
from studio.accounts import SignInThrottled
from studio.api import a1111_extras
from studio.api.auth import caller_of
from studio.api.errors import a1111_error, service_error
from studio.api.common import ApiContext, ApiError, check_side, closest_aspect, decode_image, find_model, find_style, read_json_object, png_bytes
from studio.services.generation.requests import NO_REFERENCES, InvalidRequest, References, StudioRequest
from studio.store.records import insert_record, update_record
from studio.store.records import API_OPTIONS

OPTIONS_TABLE = API_OPTIONS
# A1111's sampler names. The studio runs each model with its own scheduler, so a known
# name is accepted (clients always send one) and the scheduler really used is in `info`.
SAMPLERS = [
    "DPM++ 2M", "DPM++ SDE", "DPM++ 2M SDE", "DPM++ 2M SDE Heun", "DPM++ 2S a", "DPM++ 3M SDE",
    "Euler a", "Euler", "LMS", "Heun", "DPM2", "DPM2 a", "DPM fast", "DPM adaptive", "Restart",
    "DDIM", "DDIM CFG++", "PLMS", "UniPC", "LCM",
]


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
    batch_size: int = 1  # batch_size × n_iter: the count row's range, checked by the service
    n_iter: int = 1
    sampler_name: str | None = None
    sampler_index: str | None = None
    override_settings: dict | None = None
    denoising_strength: float | None = None


class Img2Img(Txt2Img):
    init_images: list = Field(default_factory=list)
    denoising_strength: float | None = None  # None: the strength row's A1111 default


def _validation_message(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "body"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(prefix="/sdapi/v1")
    studio = ctx.studio

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

    # ----- per-user options -------------------------------------------------------
    def current_model(user: str) -> str:
        docs = studio.store.find(OPTIONS_TABLE, owner=user)
        chosen = docs[-1].get("sd_model_checkpoint") if docs else None
        return chosen if chosen in studio.catalog.ids() else studio.choose_default_model()

    def set_model(user: str, model_id: str) -> None:
        docs = studio.store.find(OPTIONS_TABLE, owner=user)
        if docs:
            update_record(studio.store, OPTIONS_TABLE, docs[-1]["id"], {"sd_model_checkpoint": model_id})
        else:
            insert_record(studio.store, OPTIONS_TABLE, {"owner": user, "sd_model_checkpoint": model_id})

    def resolve_model(name: object) -> str:
        entry = find_model(studio, name)
        if entry is None:
            raise ApiError(404, f"Unknown model {name!r}. Choose one of: {', '.join(studio.catalog.ids())} (GET /sdapi/v1/sd-models).",
                           code="model_not_found")
        return entry.id

    # ----- generation -------------------------------------------------------------
    def prepare(body: dict, user: str, img2img: bool) -> tuple[StudioRequest, list[str], Txt2Img]:
        try:
            req = (Img2Img if img2img else Txt2Img).model_validate(body)
        except ValidationError as err:
            raise ApiError(422, _validation_message(err)) from None
        notes: list[str] = []
        override = req.override_settings or {}
        model_id = resolve_model(override["sd_model_checkpoint"]) if override.get("sd_model_checkpoint") else current_model(user)
        if set(override) - {"sd_model_checkpoint"}:
            notes.append(f"override_settings other than sd_model_checkpoint were ignored: {sorted(set(override) - {'sd_model_checkpoint'})}")
        entry = studio.catalog.get(model_id)
        sampler = req.sampler_name or req.sampler_index
        if sampler and sampler not in SAMPLERS:
            raise ApiError(404, f"Sampler not found: {sampler!r}. Choose one of: {', '.join(SAMPLERS)}.", code="sampler_not_found")
        if sampler:
            notes.append(f"sampler_name {sampler!r}: the model's own scheduler was used (see sampler_name)")
        width, height = check_side(req.width, "width"), check_side(req.height, "height")
        count = req.batch_size * req.n_iter
        if count > MAX_IMAGES:
            raise InvalidRequest(f"batch_size × n_iter is {count}; the studio makes at most {MAX_IMAGES} images per request.")
        aspect = closest_aspect(entry, width, height)
        native = entry.sizes[aspect]
        if (native.width, native.height) != (width, height):
            notes.append(f"{width}x{height} was made at {entry.name}'s native {native.width}x{native.height} ({aspect})")
        style_id = "auto"
        for name in req.styles or []:
            found = find_style(studio, name)
            if found is None:
                notes.append(f"style {name!r} is not one of the studio's styles and was ignored")
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
            user=user, model_id=model_id, style_id=style_id, aspect=aspect, count=count,
            prompt=req.prompt, negative_prompt=req.negative_prompt or "", seed=req.seed,
            steps=req.steps, guidance=req.cfg_scale, references=references, origin="a1111",
        )
        return study, notes, req

    async def generate(request: Request, user: str, img2img: bool):
        body = await read_json_object(request)
        # Decoding images and the job itself block: off the event loop, which keeps serving.
        return await run_in_threadpool(generate_now, body, user, img2img)

    def generate_now(body: dict, user: str, img2img: bool) -> JSONResponse:
        study, notes, req = prepare(body, user, img2img)
        strength = study.references.strength if study.references.images else None
        refined = a1111_extras.refine_request(studio, body, study, notes, img2img)  # mask, hires, sd upscale
        if refined is not None:
            study, strength = refined, refined.denoise if refined.operation == "repaint" else refined.hires_denoise
        (studio.refine if refined else studio.generation).prepare(study)  # every service check before a credit moves
        try:
            result = ctx.jobs.run(study, refine=refined is not None)
        except GenerationCancelled:  # A1111 answers an interrupted job normally, with what it has
            info = {"prompt": study.prompt, "all_seeds": [], "interrupted": True,
                    "studio_notes": notes + ["interrupted: no image was kept and the credits were refunded"]}
            return JSONResponse({"images": [], "parameters": {}, "info": json.dumps(info)})
        files = png_bytes(result)
        first = result.images[0].details
        infotexts = [_parameters_text(data) for data in files]
        info = {
            "prompt": result.prompt,
            "all_prompts": [result.prompt] * len(files),
            "negative_prompt": first["negative_prompt"],
            "all_negative_prompts": [first["negative_prompt"]] * len(files),
            "seed": result.images[0].seed,
            "all_seeds": [img.seed for img in result.images],
            "subseed": -1, "all_subseeds": [-1] * len(files), "subseed_strength": 0,
            "width": first["width"], "height": first["height"],
            "sampler_name": first.get("sampler"), "cfg_scale": first.get("guidance"), "steps": first.get("steps"),
            "batch_size": req.batch_size, "n_iter": req.n_iter,
            "sd_model_name": result.model_id, "sd_model_hash": None,
            "denoising_strength": strength,
            "styles": [first["style_id"]] if first.get("style_id") not in (None, "auto") else [],
            "infotexts": infotexts, "index_of_first_image": 0,
            "job_timestamp": datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S"),
            "restore_faces": False, "clip_skip": 1, "is_using_inpainting_conditioning": bool(refined and refined.mask),
            "version": "image-generation-studio",
            "studio_notes": notes,
            "credits_charged": result.cost, "balance": result.balance,
            "job_id": result.job_id, "asset_ids": [img.asset_id for img in result.images],
        }
        parameters = {k: v for k, v in req.model_dump().items() if k != "init_images"}
        return JSONResponse({
            "images": [base64.b64encode(data).decode("ascii") for data in files],
            "parameters": parameters,
            "info": json.dumps(info),
        })

    async def txt2img(request: Request, user: str):
        return await generate(request, user, img2img=False)

    async def img2img(request: Request, user: str):
        return await generate(request, user, img2img=True)

    # ----- reading and settings ------------------------------------------------------
    async def sd_models(request: Request, user: str):
        return JSONResponse([
            {"title": m.id, "model_name": m.id, "hash": None, "sha256": None, "filename": m.id, "config": None,
             "name": m.name, "downloaded": studio.is_downloaded(m.id), "credit_cost": m.credit_cost}
            for m in studio.catalog.models
        ])

    async def samplers(request: Request, user: str):
        return JSONResponse([{"name": s, "aliases": [], "options": {}} for s in SAMPLERS])

    async def scripts(request: Request, user: str):
        return JSONResponse({"txt2img": [], "img2img": ["sd upscale"]})

    async def get_options(request: Request, user: str):
        return JSONResponse({"sd_model_checkpoint": current_model(user), "sd_checkpoint_hash": None, "samples_format": "png"})

    async def set_options(request: Request, user: str):
        body = await read_json_object(request)
        if "sd_model_checkpoint" in body:
            set_model(user, resolve_model(body["sd_model_checkpoint"]))
        return JSONResponse(None)

    async def progress(request: Request, user: str):
        jobs = ctx.jobs.of(user)
        job = jobs[0] if jobs else None
        fraction = (job.step / job.steps) if job and job.steps else 0.0
        elapsed = (datetime.now(timezone.utc).timestamp() - job.started) if job else 0.0
        eta = (elapsed / fraction - elapsed) if job and fraction else 0.0
        return JSONResponse({
            "progress": round(fraction, 4), "eta_relative": round(eta, 2),
            "state": {"skipped": False, "interrupted": False, "stopping_generation": False,
                      "job": job.stage if job else "", "job_count": len(jobs),
                      "job_timestamp": datetime.fromtimestamp(job.started, timezone.utc).strftime("%Y%m%d%H%M%S") if job else "0",
                      "job_no": 0, "sampling_step": job.step if job else 0, "sampling_steps": job.steps if job else 0},
            "current_image": None, "textinfo": None,
        })

    async def interrupt(request: Request, user: str):
        ctx.jobs.interrupt(user)
        return JSONResponse(None)

    for path, handler, method in [
        ("/txt2img", txt2img, "POST"), ("/img2img", img2img, "POST"),
        ("/sd-models", sd_models, "GET"), ("/samplers", samplers, "GET"), ("/scripts", scripts, "GET"),
        ("/options", get_options, "GET"), ("/options", set_options, "POST"),
        ("/progress", progress, "GET"), ("/interrupt", interrupt, "POST"),
    ]:
        router.add_api_route(path, guarded(handler), methods=[method], name=f"a1111_{handler.__name__}")
    router.include_router(a1111_extras.build_router(ctx, caller))  # extras, upscalers
    return router


def _parameters_text(png: bytes) -> str:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        return img.text.get("parameters", "") if hasattr(img, "text") else ""

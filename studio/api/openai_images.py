"""The OpenAI images dialect: `/v1/images/generations` and `/v1/models`, as the `openai`
SDK and the tools built on it call them.

`size` is one of OpenAI's standard sizes (made at the model's native size of the nearest
aspect ratio), or any WIDTHxHEIGHT the model can make exactly (a multiple of its size step
within the width/height rows of pipelines/params.py). `model` is a catalog model or one of
the configured aliases (by default dall-e-2, dall-e-3 and gpt-image-1 name the default
model). What each field does is decided in studio/api/fields.py; fields the studio cannot
honour (style, background …) are listed in `studio_notes` of the answer.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from pipelines.params import PARAMS
from studio.api import openai_edits
from studio.api.auth import caller_of
from studio.api.errors import openai_error, service_error
from studio.api import fields as field_rules
from studio.api.common import (ApiContext, ApiError, closest_aspect, find_model, openai_images_body, png_bytes,
                               public_base_url, read_json_object)
from studio.services.generation.service import ASSETS
from studio.services.generation.requests import InvalidRequest, StudioRequest, check_size

QUALITY_STEPS = {"auto": 1.0, "standard": 1.0, "medium": 1.0, "low": 0.5, "hd": 1.5, "high": 1.5}
STYLES = ("vivid", "natural")
OPENAI_SIZES = ("256x256", "512x512", "1024x1024", "1792x1024", "1024x1792", "1536x1024", "1024x1536")
_SIZE = re.compile(r"^(\d{2,4})x(\d{2,4})$")
_ASSET_ID = re.compile(r"^[0-9a-f]{32}$")


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(prefix="/v1")
    studio = ctx.studio

    def caller(request: Request) -> str:
        user = caller_of(request.headers.get("authorization"), ctx.keys, ctx.password_check, allow_basic=False)
        if user is None:
            raise ApiError(401, "Incorrect or missing API key: send 'Authorization: Bearer KEY' with a key from the studio's API keys panel.",
                           code="invalid_api_key")
        return user

    def field(body: dict, name: str, kind: type, default):
        value = body.get(name, default)
        if value is None:
            return default
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ApiError(400, f"'{name}' must be a whole number.", code="invalid_type", param=name)
        if kind is str and not isinstance(value, str):
            raise ApiError(400, f"'{name}' must be a string.", code="invalid_type", param=name)
        return value

    def size_of(entry, size: str) -> tuple[str, tuple[int, int] | None]:
        """(aspect, exact size or None for the catalog's native size of that aspect)."""
        if size == "auto":
            return "1:1", None
        native = {f"{s.width}x{s.height}": a for a, s in entry.sizes.items()}
        if size in native:
            return native[size], None
        match = _SIZE.match(size)
        if match is None:
            raise ApiError(400, f"Unsupported size {size!r}. Send WIDTHxHEIGHT, e.g. 1024x1024, or auto.",
                           code="invalid_value", param="size")
        width, height = int(match[1]), int(match[2])
        if size in OPENAI_SIZES:
            return closest_aspect(entry, width, height), None
        try:
            exact = check_size(entry, width, height)
        except InvalidRequest as exc:
            raise ApiError(400, f"Unsupported size {size!r}: {exc} OpenAI's sizes ({', '.join(OPENAI_SIZES)}) and auto "
                                "are made at the model's nearest native size.", code="invalid_value", param="size") from None
        return closest_aspect(entry, width, height), exact

    def model_of(name: str | None):
        if name is None:
            return studio.catalog.get(studio.choose_default_model())
        if name.strip().lower() in ctx.openai_aliases:
            target = ctx.openai_aliases[name.strip().lower()]
            return find_model(studio, target) if target else studio.catalog.get(studio.choose_default_model())
        return find_model(studio, name)

    def run_job(job: StudioRequest):
        studio.generation.prepare(job)  # every service check before a credit moves
        return ctx.jobs.run(job)

    async def generations(request: Request):
        try:
            user = caller(request)
            body = await read_json_object(request)
            prompt = field(body, "prompt", str, None)
            if prompt is None:
                raise ApiError(400, "'prompt' is required.", code="missing_required_parameter", param="prompt")
            model_name = field(body, "model", str, None)
            entry = model_of(model_name)
            if entry is None:
                aliases = ", ".join(ctx.openai_aliases)
                raise ApiError(404, f"The model {model_name!r} does not exist. Choose one of: {', '.join(studio.catalog.ids())} "
                                    f"(GET /v1/models){f', or {aliases}' if aliases else ''}.",
                               code="model_not_found", param="model")
            n = field(body, "n", int, PARAMS["count"].default)  # its range: the count row, checked by the service
            aspect, exact = size_of(entry, field(body, "size", str, "auto"))
            fmt = field(body, "response_format", str, "url")
            if fmt not in ("url", "b64_json"):
                raise ApiError(400, f"'response_format' must be 'url' or 'b64_json', got {fmt!r}.", code="invalid_value",
                               param="response_format")
            quality = field(body, "quality", str, "auto")
            if quality not in QUALITY_STEPS:
                raise ApiError(400, f"'quality' must be one of {', '.join(QUALITY_STEPS)}, got {quality!r}.",
                               code="invalid_value", param="quality")
            style = field(body, "style", str, "vivid")
            if style not in STYLES:
                raise ApiError(400, f"'style' must be 'vivid' or 'natural', got {style!r}.", code="invalid_value", param="style")
            notes = field_rules.notes_for(field_rules.OPENAI_GENERATION, body, dialect="OpenAI")
            steps = None
            if QUALITY_STEPS[quality] != 1.0:
                if entry.traits.takes_steps:
                    lo, hi = PARAMS["steps"].bounds(entry.family)
                    steps = int(max(lo, min(hi, round(entry.default_steps * QUALITY_STEPS[quality]))))
                    notes.append(f"quality {quality!r} ran {steps} steps ({entry.name}'s default is {entry.default_steps})")
                else:
                    notes.append(f"quality {quality!r} was not used: {entry.name} has no steps to change")
            end_user = field(body, "user", str, "")[:200]
            seed = body.get("seed")  # not in OpenAI's API; accepted so results can be reproduced
            job = StudioRequest(user=user, model_id=entry.id, style_id="auto", aspect=aspect, count=n, prompt=prompt,
                                seed=seed, steps=steps, origin="openai", end_user=end_user or None,
                                width=exact[0] if exact else None, height=exact[1] if exact else None)
            result = await run_in_threadpool(run_job, job)
            if fmt == "b64_json":
                pngs = await run_in_threadpool(png_bytes, result)
        except Exception as exc:
            return openai_error(service_error(exc, invalid_status=400))
        return JSONResponse(openai_images_body(result, pngs if fmt == "b64_json" else None,
                                               public_base_url(request, "/v1/images/generations"), ctx.links, notes))

    async def image_file(asset_id: str, request: Request):
        asset = studio.store.get(ASSETS, asset_id) if _ASSET_ID.match(asset_id) else None
        if asset is None or not ctx.links.valid(asset_id, request.query_params.get("expires"), request.query_params.get("sig")):
            return openai_error(ApiError(404, "This image link is unknown or has expired; generate again for a new one.",
                                         code="not_found"))
        return FileResponse(studio.images.path(asset["file"]), media_type="image/png")

    async def models(request: Request):
        try:
            caller(request)
        except ApiError as exc:
            return openai_error(exc)
        return JSONResponse({"object": "list", "data": [
            {"id": m.id, "object": "model", "created": 0, "owned_by": "studio"} for m in studio.catalog.models
        ]})

    async def model(model_id: str, request: Request):
        try:
            caller(request)
        except ApiError as exc:
            return openai_error(exc)
        entry = find_model(studio, model_id)
        if entry is None:
            return openai_error(ApiError(404, f"The model {model_id!r} does not exist.", code="model_not_found", param="model"))
        return JSONResponse({"id": entry.id, "object": "model", "created": 0, "owned_by": "studio"})

    router.add_api_route("/images/generations", generations, methods=["POST"], name="openai_images_generations")
    openai_edits.add_routes(router, ctx, caller)  # /images/edits: a repaint
    router.add_api_route("/images/files/{asset_id}.png", image_file, methods=["GET"], name="openai_image_file")
    router.add_api_route("/models", models, methods=["GET"], name="openai_models")
    router.add_api_route("/models/{model_id}", model, methods=["GET"], name="openai_model")
    return router

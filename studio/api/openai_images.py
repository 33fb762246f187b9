"""The OpenAI images dialect: `/v1/images/generations` and `/v1/models`, as the `openai`
SDK and the tools built on it call them.

`size` is either one of the model's native sizes or one of OpenAI's standard sizes,
made at the model's native size of the nearest aspect ratio; OpenAI's own parameters
the studio has no counterpart for (quality, style, background…) are ignored.
"""

from __future__ import annotations

import base64
import re
import time

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from pipelines.params import PARAMS
from studio.api import openai_edits
from studio.api.auth import caller_of
from studio.api.errors import openai_error, service_error
from studio.api.common import ApiContext, ApiError, closest_aspect, find_model, read_json_object, png_bytes
from studio.services.generation.service import ASSETS
from studio.services.generation.requests import StudioRequest

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

    def size_of(entry, size: str) -> str:
        if size == "auto":
            return "1:1"
        native = {f"{s.width}x{s.height}": a for a, s in entry.sizes.items()}
        if size in native:
            return native[size]
        match = _SIZE.match(size)
        if size not in OPENAI_SIZES or match is None:
            allowed = sorted(set(native) | set(OPENAI_SIZES), key=lambda s: [int(p) for p in s.split("x")])
            raise ApiError(400, f"Unsupported size {size!r}. Use one of: {', '.join(allowed)}, or auto.",
                           code="invalid_value", param="size")
        return closest_aspect(entry, int(match[1]), int(match[2]))

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
            entry = find_model(studio, model_name) if model_name is not None else studio.catalog.get(studio.choose_default_model())
            if entry is None:
                raise ApiError(404, f"The model {model_name!r} does not exist. Choose one of: {', '.join(studio.catalog.ids())} (GET /v1/models).",
                               code="model_not_found", param="model")
            n = field(body, "n", int, PARAMS["count"].default)  # its range: the count row, checked by the service
            aspect = size_of(entry, field(body, "size", str, "auto"))
            fmt = field(body, "response_format", str, "url")
            if fmt not in ("url", "b64_json"):
                raise ApiError(400, f"'response_format' must be 'url' or 'b64_json', got {fmt!r}.", code="invalid_value",
                               param="response_format")
            end_user = field(body, "user", str, "")[:200]
            seed = body.get("seed")  # not in OpenAI's API; accepted so results can be reproduced
            job = StudioRequest(user=user, model_id=entry.id, style_id="auto", aspect=aspect, count=n, prompt=prompt,
                                seed=seed, origin="openai", end_user=end_user or None)
            result = await run_in_threadpool(run_job, job)
            if fmt == "b64_json":
                pngs = await run_in_threadpool(png_bytes, result)
        except Exception as exc:
            return openai_error(service_error(exc, invalid_status=400))
        if fmt == "b64_json":
            data = [{"b64_json": base64.b64encode(png).decode("ascii"), "revised_prompt": result.prompt} for png in pngs]
        else:
            # The public address as Gradio computes it for its own file links (X-Forwarded-Host
            # behind a Space's proxy or another reverse proxy), not the address uvicorn sees.
            from gradio.route_utils import get_root_url

            base = get_root_url(request, "/v1/images/generations", request.scope.get("root_path") or None)
            data = [{"url": f"{base}/v1/images/files/{img.asset_id}.png?{ctx.links.query(img.asset_id)}",
                     "revised_prompt": result.prompt} for img in result.images]
        first = result.images[0].details
        return JSONResponse({
            "created": int(time.time()),
            "data": data,
            "output_format": "png",
            "size": f"{first['width']}x{first['height']}",
            "usage": {"credits_charged": result.cost, "balance": result.balance},
        })

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

"""OpenAI's `POST /v1/images/edits` (multipart: image, mask, prompt, n, size,
response_format), as the unmodified `openai` client sends it: a repaint through the
refine service, priced, charged and refunded like every other job.

OpenAI's mask rule: its fully transparent pixels mark the area to change. Without a
mask, the image's own transparent pixels are the area; an image with none is redrawn
whole (said in `studio_notes`). `size` is the picture's own: a different one is named
in the notes, never silently obeyed or dropped.
"""

from __future__ import annotations

import io

import numpy as np
from fastapi import Request
from fastapi.responses import JSONResponse
from PIL import Image
from starlette.concurrency import run_in_threadpool

from pipelines.types import MAX_IMAGES
from studio.api.common import ApiError, find_model, openai_images_body, png_bytes, public_base_url
from studio.api.errors import openai_error, service_error
from studio.services.common.uploads import validate_upload
from studio.services.generation.requests import StudioRequest

MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # OpenAI's own limit for an edit's image


def repaint_mask(image: Image.Image, mask: Image.Image | None, notes: list[str]) -> Image.Image:
    """White where OpenAI's mask (or the image itself, without one) is transparent."""
    source = mask if mask is not None else image
    if "A" in source.getbands() or (source.mode == "P" and "transparency" in source.info):
        alpha = np.asarray(source.convert("RGBA").getchannel("A"))
        if mask is not None or alpha.min() < 128:
            return Image.fromarray(np.where(alpha < 128, 255, 0).astype(np.uint8), "L")
    if mask is not None:
        raise ApiError(400, "The mask must be a PNG with transparency: its transparent pixels mark the area to edit.",
                       code="invalid_value", param="mask")
    notes.append("no mask and no transparent pixels in the image: the whole picture was redrawn")
    return Image.new("L", image.size, 255)


def _read_upload(upload, name: str) -> Image.Image:
    data = upload.file.read(MAX_UPLOAD_BYTES + 1) if hasattr(upload, "file") else None
    if data is None:
        raise ApiError(400, f"'{name}' must be an uploaded PNG file.", code="invalid_value", param=name)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(400, f"'{name}' is larger than 25 MB.", code="invalid_value", param=name)
    try:
        validate_upload(data)  # the studio's upload checks (format, size, decompression bombs)
        image = Image.open(io.BytesIO(data))
        image.load()
    except ApiError:
        raise
    except Exception as exc:
        raise ApiError(400, f"'{name}' could not be read as an image: {exc}", code="invalid_value", param=name) from None
    return image


def add_routes(router, ctx, caller) -> None:
    studio = ctx.studio

    async def edits(request: Request):
        try:
            user = caller(request)
            form = await request.form()
            notes: list[str] = []
            uploads = form.getlist("image") or form.getlist("image[]")
            if not uploads:
                raise ApiError(400, "'image' is required: upload the PNG to edit.", code="missing_required_parameter",
                               param="image")
            if len(uploads) > 1:
                notes.append("only the first image was edited")
            image = _read_upload(uploads[0], "image")
            mask = _read_upload(form["mask"], "mask") if form.get("mask") is not None else None
            prompt = form.get("prompt")
            if not isinstance(prompt, str) or not prompt.strip():
                raise ApiError(400, "'prompt' is required.", code="missing_required_parameter", param="prompt")
            model_name = form.get("model")
            entry = find_model(studio, model_name) if model_name else studio.catalog.get(studio.choose_default_model())
            if entry is None:
                raise ApiError(404, f"The model {model_name!r} does not exist. Choose one of: {', '.join(studio.catalog.ids())}.",
                               code="model_not_found", param="model")
            try:
                n = int(form.get("n") or 1)
            except ValueError:
                raise ApiError(400, "'n' must be a whole number.", code="invalid_type", param="n") from None
            if not 1 <= n <= MAX_IMAGES:
                raise ApiError(400, f"'n' must be 1 to {MAX_IMAGES}, got {n}.", code="invalid_value", param="n")
            fmt = form.get("response_format") or "url"
            if fmt not in ("url", "b64_json"):
                raise ApiError(400, f"'response_format' must be 'url' or 'b64_json', got {fmt!r}.", code="invalid_value",
                               param="response_format")
            size = form.get("size")
            if size and size not in ("auto", f"{image.width}x{image.height}"):
                notes.append(f"size {size}: an edit keeps the picture's own size {image.width}x{image.height}")
            for name in ("quality", "background", "input_fidelity", "output_format", "output_compression"):
                if form.get(name):
                    notes.append(f"{name} has no counterpart here and was not used")
            repaint = repaint_mask(image, mask, notes)
            job = StudioRequest(user=user, model_id=entry.id, style_id="auto", aspect="1:1", count=n, prompt=prompt,
                                operation="repaint", init_image=image.convert("RGB"), mask=repaint,
                                seed=int(form["seed"]) if str(form.get("seed") or "").isdigit() else None)

            def run():
                studio.refine.prepare(job)  # every check before a credit moves
                return ctx.jobs.run(job, refine=True)

            result = await run_in_threadpool(run)
            notes += result.extra.get("notes") or []
            if fmt == "b64_json":
                pngs = await run_in_threadpool(png_bytes, result)
        except Exception as exc:
            return openai_error(service_error(exc, invalid_status=400))
        return JSONResponse(openai_images_body(result, pngs if fmt == "b64_json" else None,
                                               public_base_url(request, "/v1/images/edits"), ctx.links, notes))

    router.add_api_route("/images/edits", edits, methods=["POST"], name="openai_images_edits")

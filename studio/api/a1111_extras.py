"""The AUTOMATIC1111 dialect's refinement: masks and the "sd upscale" script on `img2img`,
the hires fix on `txt2img`, and `/extra-single-image`, `/extra-batch-images`,
`/upscalers`, `/latent-upscale-modes` in A1111's shapes.

Why a module beside a1111.py: a1111.py turns a request into a plain generation; this one
decides when an A1111 request is a refinement (a `mask`, `enable_hr`, `script_name: "sd
upscale"`) and turns it into the typed StudioRequest the refine service runs, so the
mask is never ignored. Every field that cannot be honoured as sent is named in the notes
(`studio_notes` in `info`, `html_info` for extras); none is dropped silently.
"""

from __future__ import annotations

import base64
import math
from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from PIL import Image, ImageOps
from starlette.concurrency import run_in_threadpool

from pipelines.params import PARAMS
from pipelines.upscalers import LANCZOS
from studio.api.common import ApiContext, ApiError, decode_image, read_json_object
from studio.api.errors import a1111_error, service_error
from studio.services.generation.requests import NO_REFERENCES, InvalidRequest, StudioRequest

# A1111's inpainting_fill: 0 fill (blurred surroundings), 1 original, 2 latent noise, 3 latent nothing.
FILLS = {0: "blank", 1: "original", 2: "noise", 3: "blank"}
NO_UPSCALER = "None"


def upscaler_names(studio) -> list[str]:
    """The `/upscalers` order: A1111's "None" first, then the studio's (Lanczos, files, hub)."""
    return [NO_UPSCALER, *studio.refine.upscalers.names()]


def resolve_upscaler(studio, value: object, notes: list[str], field: str) -> str | None:
    """A studio upscaler for an A1111 name or index; None for "None"."""
    names = upscaler_names(studio)
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < len(names):
            raise InvalidRequest(f"{field} {value} is not an upscaler index; GET /sdapi/v1/upscalers lists {len(names)}.")
        value = names[value]
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be an upscaler name from GET /sdapi/v1/upscalers.")
    if value in names:
        return value
    low = value.lower()
    if low.startswith("latent") or low in ("lanczos", "nearest"):
        if low != "lanczos":
            notes.append(f"{field} {value!r} is not available here; {LANCZOS} was used"
                         + (" (hires fix)" if field == "hr_upscaler" else ""))
        return LANCZOS
    raise InvalidRequest(f"Unknown upscaler {value!r} for {field}. Choose one of: {', '.join(names)}.")


_MASK_FIELDS = ("mask", "mask_blur", "mask_blur_x", "mask_blur_y", "mask_round", "inpainting_fill", "inpaint_full_res",
                "inpaint_full_res_padding", "inpainting_mask_invert")
_SCRIPT_FIELDS = ("script_name", "script_args")


def wants_refine(body: dict, img2img: bool) -> bool:
    """Whether an A1111 generation request is a refinement this module runs."""
    if not img2img:
        return _flag(body, "enable_hr")
    return bool(body.get("mask")) or str(body.get("script_name") or "").lower() == "sd upscale"


def without_refine_fields(body: dict) -> dict:
    """The request without the fields this module honours, for the plain-request checks
    of a1111.py/fields.py (which would otherwise refuse or note them as unsupported)."""
    drop = set(_MASK_FIELDS) | set(_SCRIPT_FIELDS)
    drop |= {k for k in body if k == "enable_hr" or k.startswith("hr_") or k.startswith("firstphase_")}
    if not body.get("init_images"):
        drop.add("denoising_strength")
    return {k: v for k, v in body.items() if k not in drop}


def denoising_strength(study: StudioRequest) -> float | None:
    """What `info.denoising_strength` reports: the repaint's, the hires pass's, or img2img's."""
    if study.operation == "repaint":
        return study.denoise
    if study.operation == "hires":
        return study.hires_denoise
    return study.references.strength if study.references.images else None


def _flag(body: dict, name: str) -> bool:
    return bool(body.get(name) or False)


def refine_request(studio, body: dict, study: StudioRequest, notes: list[str],
                   img2img: bool) -> StudioRequest | None:
    """The refinement an A1111 generation request asks for, or None for a plain one."""
    if not img2img:
        if not _flag(body, "enable_hr"):
            return None
        upscaler = resolve_upscaler(studio, body.get("hr_upscaler", "Latent"), notes, "hr_upscaler") or LANCZOS
        factor = body.get("hr_scale", 2.0)
        entry = studio.catalog.get(study.model_id)
        size = entry.sizes[study.aspect]
        rx, ry = body.get("hr_resize_x") or 0, body.get("hr_resize_y") or 0
        if rx or ry:
            factor = max(rx / size.width, ry / size.height)
            notes.append(f"hr_resize_x/y: made at hr_scale {factor:g} of the native {size.width}x{size.height}")
        for name in ("hr_second_pass_steps", "hr_prompt", "hr_negative_prompt", "hr_sampler_name", "hr_checkpoint_name"):
            if body.get(name) not in (None, "", 0, "Use same sampler", "Use same checkpoint"):
                notes.append(f"{name} is not supported; the second pass uses the first pass's settings")
        denoise = body.get("denoising_strength")
        if denoise is None:
            denoise = PARAMS["hires_denoise"].default_for("a1111")
        floor = PARAMS["hires_denoise"].minimum
        if isinstance(denoise, (int, float)) and 0 <= denoise < floor:
            notes.append(f"hires fix: denoising_strength {denoise:g} ran as the smallest redraw, {floor:g}")
            denoise = floor
        return replace(study, operation="hires", upscaler=upscaler, upscale_factor=factor, hires_denoise=denoise)
    image = study.references.images[0] if study.references.images else None
    study = replace(study, references=NO_REFERENCES)  # the picture is the refine's source, not a reference
    denoise = body.get("denoising_strength")
    denoise = PARAMS["denoise"].default_for("a1111") if denoise is None else denoise
    if str(body.get("script_name") or "").lower() == "sd upscale":
        args = list(body.get("script_args") or [])
        args += [None] * (4 - len(args))
        if body.get("mask"):
            notes.append("mask is not used by the sd upscale script (A1111 ignores it there too)")
        notes.append("sd upscale: the enlarged picture is redrawn in one pass, so its tile overlap was not used")
        upscaler = resolve_upscaler(studio, args[2], notes, "script_args[2]") or LANCZOS
        return replace(study, operation="hires", init_image=image, upscaler=upscaler,
                       upscale_factor=args[3] if args[3] is not None else 2.0, hires_denoise=denoise)
    if body.get("script_name"):
        notes.append(f"script {body['script_name']!r} is not available here and was not run")
    mask = body.get("mask")
    if not mask:
        return None
    fill = body.get("inpainting_fill", 1)
    if fill not in FILLS:
        raise InvalidRequest("inpainting_fill must be 0 (fill), 1 (original), 2 (latent noise) or 3 (latent nothing).")
    if fill == 0:
        notes.append("inpainting_fill 0 (fill): the masked area started from blank grey")
    blur = body.get("mask_blur")
    if blur is None:
        blur = max(body.get("mask_blur_x") or 0, body.get("mask_blur_y") or 0) or PARAMS["mask_blur"].default
    if image is not None and (body.get("width"), body.get("height")) != (None, None) and \
            (body.get("width", image.width), body.get("height", image.height)) != image.size:
        notes.append(f"the repaint keeps the picture's own size {image.width}x{image.height}; width and height were not used")
    return replace(study, operation="repaint", init_image=image, mask=decode_image(mask, "mask"),
                   denoise=denoise, mask_blur=blur, inpainting_fill=FILLS[fill],
                   mask_invert=bool(body.get("inpainting_mask_invert") or False),
                   inpaint_only_masked=bool(body.get("inpaint_full_res") or False),
                   inpaint_padding=body.get("inpaint_full_res_padding", PARAMS["inpaint_padding"].default), prompt=study.prompt)


# ----- extras -------------------------------------------------------------------------


def build_router(ctx: ApiContext, caller) -> APIRouter:
    """The extras routes, included into a1111.py's `/sdapi/v1` router; `caller(request) ->
    user` is its authentication (the same keys and passwords)."""
    router = APIRouter()
    studio = ctx.studio

    def guarded(handler):
        async def endpoint(request: Request):
            try:
                return await handler(request, await caller(request))
            except ApiError as exc:
                return a1111_error(exc)
            except Exception as exc:
                return a1111_error(service_error(exc))
        endpoint.__name__ = handler.__name__
        return endpoint

    def enlarge_one(body: dict, data: object, user: str, what: str) -> tuple[str, list[str], int]:
        """(base64 PNG, notes, credits) for one extras image."""
        notes: list[str] = []
        image = decode_image(data, what)
        for name in ("gfpgan_visibility", "codeformer_visibility"):
            if body.get(name):
                notes.append(f"{name}: face restoration is not available here and was not applied")
        if body.get("extras_upscaler_2_visibility") and resolve_upscaler(studio, body.get("upscaler_2"), notes, "upscaler_2"):
            notes.append("upscaler_2 is not blended in; only upscaler_1 was used")
        upscaler = resolve_upscaler(studio, body.get("upscaler_1", NO_UPSCALER), notes, "upscaler_1")
        if upscaler is None:
            notes.append("upscaler_1 is None: the image is returned as sent, nothing was charged")
            return _b64(image), notes, 0
        mode = body.get("resize_mode", 0)
        target = None
        if mode == 1:
            target = (int(body.get("upscaling_resize_w") or 512), int(body.get("upscaling_resize_h") or 512))
            factor = math.ceil(max(target[0] / image.width, target[1] / image.height) * 2) / 2
        else:
            factor = body.get("upscaling_resize", PARAMS["upscale_factor"].default_for("a1111"))
        request = StudioRequest(user=user, model_id="", style_id="auto", aspect="1:1", count=1, prompt="",
                                operation="enlarge", init_image=image, upscaler=upscaler, upscale_factor=factor)
        studio.refine.prepare(request)  # every check before a credit moves
        result = ctx.jobs.run(request, refine=True)
        out = Image.open(result.images[0].path)
        if target is not None and out.size != target:
            crop = body.get("upscaling_crop", True)
            out = ImageOps.fit(out, target, Image.Resampling.LANCZOS) if crop else out.resize(target, Image.Resampling.LANCZOS)
            notes.append(f"enlarged ×{factor:g}, then {'cropped' if crop else 'resized'} to {target[0]}x{target[1]} "
                         "(the saved image is the uncropped enlargement)")
        return _b64(out), notes, result.cost

    async def single(request: Request, user: str):
        body = await read_json_object(request)
        if not body.get("image"):
            raise InvalidRequest("image is empty: send one base64-encoded image.")
        image, notes, cost = await run_in_threadpool(enlarge_one, body, body["image"], user, "image")
        return JSONResponse({"html_info": _html(notes, cost), "image": image})

    async def batch(request: Request, user: str):
        body = await read_json_object(request)
        items = body.get("imageList") or []
        if not isinstance(items, list) or not items:
            raise InvalidRequest("imageList is empty: send [{\"data\": base64, \"name\": ...}, ...].")
        images, notes, cost = [], [], 0
        for i, item in enumerate(items):
            data = item.get("data") if isinstance(item, dict) else None
            one, said, paid = await run_in_threadpool(enlarge_one, body, data, user, f"imageList[{i}]")
            images.append(one)
            notes += [n for n in said if n not in notes]
            cost += paid
        return JSONResponse({"html_info": _html(notes, cost), "images": images})

    async def upscalers(request: Request, user: str):
        infos = {i.name: i for i in studio.refine.upscalers.infos()}
        out = [{"name": NO_UPSCALER, "model_name": None, "model_path": None, "model_url": None, "scale": 4}]
        for name in studio.refine.upscalers.names():
            info = infos[name]
            out.append({"name": name, "model_name": None if info.kind == "lanczos" else name,
                        "model_path": None, "model_url": None, "scale": info.scale or 4})
        return JSONResponse(out)

    async def latent_modes(request: Request, user: str):
        return JSONResponse([])  # latent upscaling is not available; a "Latent" hr_upscaler uses Lanczos, with a note

    for path, handler, method in [
        ("/extra-single-image", single, "POST"), ("/extra-batch-images", batch, "POST"),
        ("/upscalers", upscalers, "GET"), ("/latent-upscale-modes", latent_modes, "GET"),
    ]:
        router.add_api_route(path, guarded(handler), methods=[method], name=f"a1111_{handler.__name__}")
    return router


def _b64(image: Image.Image) -> str:
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _html(notes: list[str], cost: int) -> str:
    from html import escape

    lines = [f"<p>{escape(n)}</p>" for n in notes] + [f"<p>credits charged: {cost}</p>"]
    return "<div>" + "".join(lines) + "</div>"

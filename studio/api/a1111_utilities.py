"""A1111's lists and utilities that clients read on start-up, in A1111's shapes.

Each answers with what the studio really has: its styles, its samplers and schedules,
the `parameters` text of a PNG. Where the studio has none of a thing (VAEs to swap,
hypernetworks, face restorers) the answer is A1111's empty list, which is true; where
A1111 would run a model the studio does not have (CLIP interrogation) it is a 501 with a
message, never a made-up 200. Each endpoint gets the caller's account name from
`guarded`, like the generation endpoints.
"""

from __future__ import annotations

import io
import os
from typing import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from pipelines import samplers
from pipelines.families import FAMILIES
from studio.api.common import ApiContext, ApiError, decode_image, read_json_object


def _sampler_items() -> list[dict]:
    """Samplers at least one family can run, with A1111's aliases and options."""
    runnable = []
    kinds = {t.scheduler_kind for t in FAMILIES.values()}
    for s in samplers.SAMPLERS:
        if not ((s.scheduler and "discrete" in kinds) or (s.flow_scheduler and "flow_match" in kinds)):
            continue
        if s.needs and samplers.importlib.util.find_spec(s.needs) is None:
            continue
        options = {"diffusers": s.scheduler or s.flow_scheduler}
        if s.default_schedule != "uniform":
            options["scheduler"] = s.default_schedule
        if not s.flow_scheduler:
            options["families"] = "sd15, sd21, sdxl"
        runnable.append({"name": s.name, "aliases": list(s.aliases), "options": options})
    return runnable


def _schedule_items() -> list[dict]:
    items = []
    for c in samplers.SCHEDULES:
        if c.options is None or (c.needs and samplers.importlib.util.find_spec(c.needs) is None):
            continue
        items.append({"name": c.name, "label": c.label, "aliases": None,
                      "default_rho": 7.0 if c.name == "karras" else -1.0, "need_inner_model": False})
    return items


def png_info(data: object) -> dict:
    """A1111's /png-info answer for a base64 image: its `parameters` text, the other text
    chunks, and the text parsed into A1111's keys (Prompt, Steps, Sampler, Schedule type,
    Size-1, Size-2 ...)."""
    from PIL import Image

    from studio.store.images import parse_parameters

    if not isinstance(data, str) or not data.strip():
        raise ApiError(422, "image is empty: send a base64-encoded PNG.", code="invalid_image")
    decode_image(data, "image")  # refuses bad base64 / non-images with the upload's words
    text = data.strip().partition(",")[2] if data.strip().startswith("data:") else data.strip()
    import base64

    with Image.open(io.BytesIO(base64.b64decode(text))) as img:
        chunks = dict(getattr(img, "text", {}) or {})
        items = {k: v for k, v in {**img.info, **chunks}.items() if isinstance(v, (str, int, float))}
    info = str(items.pop("parameters", "") or "")
    items.pop("studio", None)  # the studio's own record: account names and ids stay on the server
    if not info:
        return {"info": "", "items": items, "parameters": {}}
    parsed = parse_parameters(info)
    out: dict = {"Prompt": parsed["prompt"], "Negative prompt": parsed["negative_prompt"]}
    for key, name in (("steps", "Steps"), ("guidance", "CFG scale"), ("seed", "Seed"), ("model", "Model")):
        if key in parsed:
            out[name] = str(parsed[key])
    if "sampler" in parsed:
        entry, sched = samplers.split_name(parsed["sampler"])
        out["Sampler"] = entry.name if entry else parsed["sampler"]
        out["Schedule type"] = sched.label if sched else "Automatic"
    if "width" in parsed:
        out["Size-1"], out["Size-2"] = str(parsed["width"]), str(parsed["height"])
    out.update(parsed.get("extra", {}))
    return {"info": info, "items": items, "parameters": out}


def add_routes(router: APIRouter, ctx: ApiContext, guarded: Callable) -> None:
    studio = ctx.studio

    async def schedulers(request: Request, user: str):
        return JSONResponse(_schedule_items())

    async def prompt_styles(request: Request, user: str):
        return JSONResponse([{"name": s.name, "prompt": s.template, "negative_prompt": s.negative_prompt}
                             for s in studio.styles])

    async def png_info_route(request: Request, user: str):
        body = await read_json_object(request)
        return JSONResponse(png_info(body.get("image")))

    async def empty_list(request: Request, user: str):
        return JSONResponse([])

    async def embeddings(request: Request, user: str):
        return JSONResponse({"loaded": {}, "skipped": {}})

    async def cmd_flags(request: Request, user: str):
        return JSONResponse({
            "api": True, "nowebui": False, "listen": os.environ.get("STUDIO_HOST") == "0.0.0.0",
            "api_auth": None, "api_log": False, "share": False, "lowvram": False, "medvram": False,
            "xformers": False, "no_half": False, "precision": "autocast", "skip_torch_cuda_test": False,
            "ckpt": None, "ckpt_dir": None, "vae_dir": None, "hypernetwork_dir": None, "embeddings_dir": None,
            "lora_dir": None, "disable_safe_unpickle": False, "device_id": None,
            "use_cpu": [] if str(getattr(studio.engine, "device", "cpu")).startswith(("cuda", "mps")) else ["all"],
            "studio_note": "flags of AUTOMATIC1111's launcher, with this studio's equivalents; "
                           "the studio's own settings are `python app.py --help`",
        })

    async def memory(request: Request, user: str):
        import psutil

        vm = psutil.virtual_memory()
        ram = {"free": vm.available, "used": vm.total - vm.available, "total": vm.total}
        cuda: dict = {"error": "no CUDA device is in use"}
        try:
            import torch

            if torch.cuda.is_available():
                free, total = torch.cuda.mem_get_info()
                stats = torch.cuda.memory_stats()
                cuda = {"system": {"free": free, "used": total - free, "total": total},
                        "active": {"current": stats.get("active_bytes.all.current", 0), "peak": stats.get("active_bytes.all.peak", 0)},
                        "allocated": {"current": stats.get("allocated_bytes.all.current", 0), "peak": stats.get("allocated_bytes.all.peak", 0)},
                        "reserved": {"current": stats.get("reserved_bytes.all.current", 0), "peak": stats.get("reserved_bytes.all.peak", 0)},
                        "inactive": {"current": stats.get("inactive_split_bytes.all.current", 0), "peak": stats.get("inactive_split_bytes.all.peak", 0)},
                        "events": {"retries": stats.get("num_alloc_retries", 0), "oom": stats.get("num_ooms", 0)}}
        except Exception as exc:  # noqa: BLE001 - the memory report must not fail
            cuda = {"error": f"CUDA memory could not be read: {type(exc).__name__}"}
        return JSONResponse({"ram": ram, "cuda": cuda})

    async def refresh_checkpoints(request: Request, user: str):
        # The catalog is read at start; whether each model is on disk is checked on every
        # GET /sdapi/v1/sd-models, so there is nothing to rescan.
        return JSONResponse(None)

    async def skip(request: Request, user: str):
        ctx.jobs.skip(user)
        return JSONResponse({})

    async def interrogate(request: Request, user: str):
        body = await read_json_object(request)
        if body.get("image"):
            decode_image(body["image"], "image")
        raise ApiError(501, "Interrogation (CLIP / DeepDanbooru captions) is not available in this studio: it has no "
                            "captioning model. Write the prompt yourself, or read a PNG's prompt with POST /sdapi/v1/png-info.",
                       code="not_implemented")

    for path, handler, method in [
        ("/schedulers", schedulers, "GET"), ("/prompt-styles", prompt_styles, "GET"),
        ("/png-info", png_info_route, "POST"), ("/sd-vae", empty_list, "GET"), ("/hypernetworks", empty_list, "GET"),
        ("/face-restorers", empty_list, "GET"), ("/realesrgan-models", empty_list, "GET"),
        ("/embeddings", embeddings, "GET"), ("/cmd-flags", cmd_flags, "GET"), ("/memory", memory, "GET"),
        ("/refresh-checkpoints", refresh_checkpoints, "POST"), ("/skip", skip, "POST"),
        ("/interrogate", interrogate, "POST"),
    ]:
        name = f"a1111_{handler.__name__}_{path.strip('/').replace('-', '_')}"
        router.add_api_route(path, guarded(handler), methods=[method], name=name)

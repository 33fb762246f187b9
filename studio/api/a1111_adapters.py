"""The A1111 dialect's LoRA and embedding endpoints, in A1111's shapes:

- `GET /sdapi/v1/loras`: `[{"name", "alias", "path", "metadata"}]` (the Lora extension's
  `create_lora_json`); `path` is the file name inside the LoRA folder, never a server path;
  `family` is added so a client can tell which models take it;
- `POST /sdapi/v1/refresh-loras`: rescans the folders (files added while running appear), `null`;
- `GET /sdapi/v1/embeddings`: `{"loaded": {name: {step, sd_checkpoint, sd_checkpoint_name,
  shape, vectors}}, "skipped": {...}}` for the caller's current model.

Kept out of a1111.py so that file stays the generation dialect; its router mounts these.
"""

from __future__ import annotations

from typing import Callable

from fastapi import Request
from fastapi.responses import JSONResponse

from studio.services.generation import adapters as lora_rules


def adapter_routes(studio, current_model: Callable[[str], str]) -> list[tuple[str, Callable, str]]:
    """(path, handler(request, user), method) rows for the A1111 router's table."""

    async def loras(request: Request, user: str):
        return JSONResponse([{"name": row["name"], "alias": row["name"], "path": row["file"],
                              "metadata": row["metadata"], "family": row["family"]}
                             for row in lora_rules.lora_listing(studio.engine)])

    async def refresh_loras(request: Request, user: str):
        lora_rules.refresh(studio.engine)
        return JSONResponse(None)

    async def embeddings(request: Request, user: str):
        model_id = current_model(user)
        family = studio.catalog.get(model_id).family if model_id in studio.catalog.ids() else None
        fit, other = lora_rules.embedding_listing(studio.engine, family)

        def shape(row: dict) -> dict:
            return {"step": None, "sd_checkpoint": None, "sd_checkpoint_name": None,
                    "shape": row["width"], "vectors": row["vectors"]}

        return JSONResponse({"loaded": {r["name"]: shape(r) for r in fit},
                             "skipped": {r["name"]: shape(r) for r in other}})

    return [("/loras", loras, "GET"), ("/refresh-loras", refresh_loras, "POST"), ("/embeddings", embeddings, "GET")]

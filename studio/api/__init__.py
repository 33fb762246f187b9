"""REST dialects other programs already speak, on the same server as the Gradio app.

`mount_rest_apis` is the one place they are wired: app.py calls it with the FastAPI
app Gradio serves, so the routes share its port, its share link and its process (and
therefore the same services, credits, GPU queue and data directory as the UI).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Callable

from studio.api.auth import password_check_from_pairs

__all__ = ["mount_rest_apis", "password_check_from_pairs", "rest_apis_lifespan"]


def mount_rest_apis(fastapi_app, studio, password_check: Callable[[str, str], bool] | None,
                    openai_aliases: dict[str, str | None] | None = None) -> None:
    """Add `/sdapi/v1/*` (AUTOMATIC1111) and `/v1/*` (OpenAI images) to `fastapi_app`.

    `password_check(user, password)`: None when accounts are off (one local user, no
    key needed); otherwise every call must carry an API key or, for A1111, the
    account's basic-auth credentials. `openai_aliases`: OpenAI model names -> catalog id
    (None: the default model); by default dall-e-2, dall-e-3 and gpt-image-1."""
    from studio.api import a1111, openai_images
    from studio.api.common import DEFAULT_OPENAI_ALIASES, ApiContext, ImageLinks, JobTracker
    from studio.services.access.api_keys import ApiKeyService

    ctx = ApiContext(
        studio=studio,
        keys=ApiKeyService(studio.store),
        password_check=password_check,
        jobs=JobTracker(studio),
        links=ImageLinks(),
        openai_aliases=DEFAULT_OPENAI_ALIASES if openai_aliases is None else dict(openai_aliases),
    )
    fastapi_app.include_router(a1111.build_router(ctx))
    fastapi_app.include_router(openai_images.build_router(ctx))


def rest_apis_lifespan(studio, password_check: Callable[[str, str], bool] | None,
                       openai_aliases: dict[str, str | None] | None = None):
    """A FastAPI lifespan (for `launch(app_kwargs={"lifespan": ...})`) that mounts the
    routes when the server starts, before it answers its first request: Gradio builds
    its FastAPI app inside launch(), so there is no earlier moment to add them."""

    @asynccontextmanager
    async def lifespan(fastapi_app):
        mount_rest_apis(fastapi_app, studio, password_check, openai_aliases)
        yield

    return lifespan

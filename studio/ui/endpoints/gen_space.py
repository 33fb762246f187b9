"""Gen Space as a JSON API: the same services as the tab, with plain typed arguments.

Widget events return widget updates, which make poor API results; these endpoints
return records instead. Files (upload, storyboard export) go through the tab's own
events, which carry real file components. Image files are served at
`/gradio_api/file=<path>` (the data directory is an allowed path).
"""

from __future__ import annotations

import gradio as gr

from pipelines.params import PARAMS
from studio.services.generation.requests import References, StudioRequest
from studio.services.common.paging import DEFAULT_LIMIT
from studio.services.studio import Studio
from studio.ui.shared.common import GPU, guard, run_cancellable
from studio.ui.shared.session import user_of


def _asset_view(studio: Studio, user: str, asset_id: str) -> dict:
    """An asset record for API callers. The file's location is `local_path` (for a client on
    the same machine) and `url`: a key named `path` would make gradio_client swap the
    whole record for a downloaded file."""
    details = studio.assets.details(user, asset_id)
    path = details.pop("path")
    return {**details, "local_path": path, "url": f"/gradio_api/file={path}"}


def register_gen_space_api(studio: Studio) -> None:
    @guard
    def list_projects(request: gr.Request) -> list[dict]:
        """The caller's projects (a default one is created on first use)."""
        user = user_of(request)
        studio.projects.ensure_default(user)
        return studio.projects.list(user)

    @guard
    def create_project(name: str, request: gr.Request) -> dict:
        """A new, empty project."""
        return studio.projects.create(user_of(request), name)

    @guard
    def list_shots(project_id: str, type_filter: str = "all", request: gr.Request = None) -> list[dict]:
        """The project's shots in order; type_filter: all, character, scene or prop."""
        return studio.shots.list(user_of(request), project_id, None if type_filter in ("", "all") else type_filter)

    @guard
    def create_shot(project_id: str, type: str, name: str, description: str = "", request: gr.Request = None) -> dict:
        """A new shot element (character, scene or prop) at the end of the project."""
        return studio.shots.create(user_of(request), project_id, type=type, name=name, description=description)

    @guard
    def update_shot(shot_id: str, name: str | None = None, description: str | None = None, type: str | None = None,
                    request: gr.Request = None) -> dict:
        """Change a shot's name, description or type; leave a field empty to keep it."""
        return studio.shots.update(user_of(request), shot_id, name=name or None,
                                   description=description, type=type or None)

    @guard
    def delete_shot(shot_id: str, request: gr.Request = None) -> bool:
        """Remove a shot; its images stay in the asset library."""
        studio.shots.delete(user_of(request), shot_id)
        return True

    @guard
    def generate_for_shot(shot_id: str, model_id: str, count: int, prompt: str, reference_ids: list[str] | None = None,
                          style_id: str = "auto", aspect: str = "1:1", enhance: bool = False, seed: int = -1,
                          ip_adapter_scale: float = PARAMS["ip_adapter_scale"].default,
                          strength: float = PARAMS["strength"].default, request: gr.Request = None) -> dict:
        """Generate 1-4 images for a shot, guided by up to 6 reference asset ids; costs credits."""
        user = user_of(request)
        job = StudioRequest(user=user, model_id=model_id, count=count, prompt=prompt, style_id=style_id,
                            aspect=aspect, enhance=enhance, seed=seed,
                            references=References(asset_ids=reference_ids, ip_adapter_scale=ip_adapter_scale,
                                                  strength=strength))
        result = run_cancellable(studio, request, None, lambda report, token: studio.gen_space.generate_for_shot(
            shot_id, job, cancel=token))
        return {"job_id": result.job_id, "cost": result.cost, "balance": result.balance, "prompt": result.prompt,
                "images": [_asset_view(studio, user, img.asset_id) for img in result.images]}

    @guard
    def generate_batch(shot_ids: list[str], model_id: str, count: int, prompt: str = "",
                       reference_ids: list[str] | None = None, style_id: str = "auto", aspect: str = "1:1",
                       seed: int = -1, request: gr.Request = None) -> list[dict]:
        """The consistency flow: the same model, style and references for several shots, each
        described by its own description (prompt stands in for shots without one). The whole
        batch's cost is checked before the first shot runs."""
        user = user_of(request)
        job = StudioRequest(user=user, model_id=model_id, count=count, prompt=prompt, style_id=style_id, aspect=aspect,
                            seed=seed, references=References(asset_ids=reference_ids))
        results = run_cancellable(studio, request, None, lambda report, token: studio.gen_space.generate_batch(
            shot_ids, job, cancel=token, prompt_from_shot=True))
        if results.failures:
            gr.Warning(results.message)
        if results.stopped is not None:  # a Cancel: what was made is returned, the line says the rest
            gr.Warning(results.stopped.message)
        return [{"shot_id": sid, "job_id": r.job_id, "cost": r.cost, "balance": r.balance,
                 "images": [_asset_view(studio, user, img.asset_id) for img in r.images]} for sid, r in results]

    @guard
    def use_as_reference(project_id: str, asset_id: str, request: gr.Request = None) -> list[str]:
        """Add an image to the project's reference list (at most 6); returns the list."""
        return studio.assets.add_reference(user_of(request), project_id, asset_id)

    @guard
    def list_references(project_id: str, request: gr.Request = None) -> list[str]:
        """The asset ids on the project's reference list, in the order they were added."""
        return studio.assets.references(user_of(request), project_id)

    @guard
    def remove_reference(project_id: str, asset_id: str, request: gr.Request = None) -> list[str]:
        """Take an image off the project's reference list; returns the list."""
        return studio.assets.remove_reference(user_of(request), project_id, asset_id)

    @guard
    def apply_to_shot(shot_id: str, asset_id: str, request: gr.Request = None) -> dict:
        """Make an image the shot's applied image (what the navigator and storyboard show)."""
        return studio.shots.apply_asset(user_of(request), shot_id, asset_id)

    @guard
    def list_assets(project_id: str = "", shot_id: str = "", shot_type: str = "", kind: str = "",
                    limit: int = DEFAULT_LIMIT, cursor: str = "", request: gr.Request = None) -> dict:
        """One page of the caller's images, newest first, filtered by project, shot, shot type or
        kind: {items, next_cursor, has_more}; pass next_cursor back for the next page."""
        return studio.assets.page(user_of(request), project_id=project_id or None, shot_id=shot_id or None,
                                  shot_type=shot_type or None, kind=kind or None, limit=limit,
                                  cursor=cursor or None).to_api()

    @guard
    def asset_details(asset_id: str, request: gr.Request = None) -> dict:
        """Every recorded field of an image, its PNG parameters and a URL to fetch it."""
        return _asset_view(studio, user_of(request), asset_id)

    @guard
    def edit_asset(asset_id: str, op: str, degrees: int = 90, direction: str = "horizontal", left: float = 0.0,
                   top: float = 0.0, right: float = 1.0, bottom: float = 1.0, request: gr.Request = None) -> dict:
        """A new image from an existing one: op rotate (degrees), flip (direction) or crop (fractions 0-1)."""
        params = {"rotate": {"degrees": degrees}, "flip": {"direction": direction},
                  "crop": {"left": left, "top": top, "right": right, "bottom": bottom}}.get(op, {})
        user = user_of(request)
        return _asset_view(studio, user, studio.assets.edit_transform(user, asset_id, op, **params)["id"])

    @guard
    def delete_asset(asset_id: str, confirm: bool = False, request: gr.Request = None) -> bool:
        """Delete an image file and record (confirm must be true); shots and references using it are updated."""
        studio.assets.delete(user_of(request), asset_id, confirm=confirm)
        return True

    for fn in (list_projects, create_project, list_shots, create_shot, update_shot, delete_shot, use_as_reference,
               list_references, remove_reference, apply_to_shot, list_assets, asset_details, edit_asset, delete_asset):
        gr.api(fn, api_name=fn.__name__, queue=False)
    for fn in (generate_for_shot, generate_batch):
        gr.api(fn, api_name=fn.__name__, concurrency_id=GPU, concurrency_limit=studio.gpu_concurrency)

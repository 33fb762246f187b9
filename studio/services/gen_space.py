"""Generation in Gen Space: for a shot, with the project's reference images.

Builds on GenerationService (same checks, credits and refunds) and adds what only
Gen Space knows: which shot the images are for, which library images guide them
and how (IP-Adapter or image-to-image, per catalog entry), and the shot's history.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pipelines.catalog import ModelEntry
from pipelines.types import MAX_REFERENCES, CancelToken, ProgressFn
from studio.services.assets import AssetService
from studio.services.credits import InsufficientCredits
from studio.services.generation import GenerationService, PreparedJob, StudioResult
from studio.services.ids import check_id
from studio.services.projects import ProjectService
from studio.services.requests import InvalidRequest, StudioRequest, check_count, check_model
from studio.services.shots import ShotService

MODE_LABELS = {
    "ip_adapter": "IP-Adapter: all references guide the look",
    "img2img": "Image-to-image: starts from the first reference",
}


@dataclass(frozen=True)
class ShotJob:
    """What the user set for one shot generation besides the shot and the model."""

    model_id: str
    count: int
    prompt: str
    style_id: str = "auto"
    aspect: str = "1:1"
    enhance: bool = False
    negative_prompt: str = ""
    seed: int | None = None
    reference_ids: tuple[str, ...] = ()
    ip_adapter_scale: float = 0.6
    strength: float = 0.6


def reference_mode(entry: ModelEntry) -> str | None:
    """IP-Adapter where the entry has one (several references), else image-to-image, else none."""
    for mode in ("ip_adapter", "img2img"):
        if mode in entry.reference_modes:
            return mode
    return None


def describe_reference_support(entry: ModelEntry) -> str:
    mode = reference_mode(entry)
    if entry.traits.ignores_prompt:
        return "The demo model does not use reference images: they are ignored."
    if mode is None:
        return f"{entry.name} does not use reference images."
    return f"{entry.name} uses references by {MODE_LABELS[mode]}."


class GenSpaceService:
    def __init__(
        self,
        *,
        generation: GenerationService,
        projects: ProjectService,
        shots: ShotService,
        assets: AssetService,
    ) -> None:
        self.generation = generation
        self.projects = projects
        self.shots = shots
        self.assets = assets

    # ----- checks ----------------------------------------------------------------
    def _check_references(self, user: str, project_id: str, ids: tuple[str, ...]) -> tuple[str, ...]:
        if len(ids) > MAX_REFERENCES:
            raise InvalidRequest(f"You can use up to {MAX_REFERENCES} reference images; remove one first.")
        for asset_id in ids:
            self.assets.get(user, check_id(asset_id, "asset"))  # raises "Unknown asset" for missing/foreign
        return tuple(dict.fromkeys(ids))

    def estimate_batch(self, user: str, shot_ids: list[str], model_id: str, count: int) -> int:
        entry = check_model(self.generation.engine.catalog, model_id)
        for shot_id in shot_ids:
            self.shots.get(user, check_id(shot_id, "shot"))
        return entry.credit_cost * check_count(count) * len(shot_ids)

    # ----- generation --------------------------------------------------------------
    def generate_for_shot(
        self,
        user: str,
        shot_id: str,
        job: ShotJob,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        parent_id: str | None = None,
        mode_override: str | None = None,
    ) -> StudioResult:
        shot = self.shots.get(user, check_id(shot_id, "shot"))
        refs = self._check_references(user, shot["project_id"], tuple(job.reference_ids))
        entry = check_model(self.generation.engine.catalog, job.model_id)
        mode = mode_override or reference_mode(entry)
        used = refs if (mode and refs) else ()
        if mode_override and mode_override not in entry.reference_modes:
            raise InvalidRequest(f"{entry.name} cannot edit images by prompt; choose a model that supports image-to-image.")
        images = tuple(self.assets.open_image(user, a) for a in used)

        def engine_extras(prepared: PreparedJob) -> dict:
            if not used:
                return {}
            return {
                "reference_images": images,
                "reference_mode": mode,
                "ip_adapter_scale": float(job.ip_adapter_scale),
                "strength": float(job.strength),
            }

        request = StudioRequest(
            user=user, model_id=job.model_id, style_id=job.style_id, aspect=job.aspect, count=job.count,
            prompt=job.prompt, enhance=job.enhance, negative_prompt=job.negative_prompt, seed=job.seed,
            project_id=shot["project_id"], shot_id=shot["id"], reference_ids=used,
        )
        fields = {
            "project_id": shot["project_id"],
            "shot_id": shot["id"],
            "shot_type": shot["type"],
            "reference_ids": list(used),
            "reference_mode": mode if used else None,
            "references_ignored": len(refs) if (refs and not used) else 0,
            "parent_id": parent_id,
        }
        if parent_id:
            fields["kind"] = "edit"
        result = self.generation.generate(
            request, progress=progress, cancel=cancel, engine_extras=engine_extras, asset_fields=fields
        )
        self.shots.add_to_history(user, shot["id"], [img.asset_id for img in result.images])
        return result

    def generate_batch(
        self,
        user: str,
        shot_ids: list[str],
        job: ShotJob,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        prompt_from_shot: bool = False,
    ) -> list[tuple[str, StudioResult]]:
        """The consistency flow: the same settings and references for several shots.

        The whole batch must be affordable before the first shot runs, so nobody
        ends up with half a batch because the credits ran out in the middle. With
        prompt_from_shot each shot is described by its own description (the job's
        prompt stands in for shots that have none).
        """
        if not shot_ids:
            raise InvalidRequest("Select at least one shot.")
        total = self.estimate_batch(user, shot_ids, job.model_id, job.count)
        balance = self.generation.credits.balance(user)
        if total > balance:
            raise InsufficientCredits(total, balance)
        results = []
        for shot_id in shot_ids:
            if cancel is not None and cancel.cancelled:
                break
            shot_job = job
            if prompt_from_shot:
                description = self.shots.get(user, check_id(shot_id, "shot"))["description"]
                shot_job = replace(job, prompt=description or job.prompt)
            results.append((shot_id, self.generate_for_shot(user, shot_id, shot_job, progress=progress, cancel=cancel)))
        return results

    def edit_with_prompt(
        self, user: str, asset_id: str, *, prompt: str, model_id: str, strength: float = 0.5,
        shot_id: str | None = None, progress: ProgressFn | None = None, cancel: CancelToken | None = None,
    ) -> StudioResult:
        """A new image derived from an existing one by prompt (image-to-image), linked to its parent.

        It joins the history of the image's own shot, or of `shot_id` (the selected
        shot) for an upload that belongs to none."""
        source = self.assets.get(user, check_id(asset_id, "asset"))
        shot_id = source.get("shot_id") or shot_id
        if not shot_id:
            raise InvalidRequest("Select a shot first: the edited image is added to it.")
        aspect = source.get("aspect") or "1:1"
        job = ShotJob(model_id=model_id, count=1, prompt=prompt, aspect=aspect, reference_ids=(source["id"],),
                      strength=strength)
        return self.generate_for_shot(user, shot_id, job, progress=progress, cancel=cancel,
                                      parent_id=source["id"], mode_override="img2img")

"""Generation in Gen Space: for a shot, with the project's reference images.

Builds on GenerationService (same checks, credits and refunds) and adds what only
Gen Space knows: which shot the images are for, which library images guide them
and how (IP-Adapter or image-to-image, per catalog entry), and the shot's history.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pipelines.catalog import ModelEntry
from pipelines.types import MAX_PROMPT_CHARS, MAX_REFERENCES, CancelToken, GenerationCancelled, ProgressFn
from studio.services.common import validation as v
from studio.services.gen_space.assets import AssetService
from studio.services.generation.service import GenerationService
from studio.services.generation.results import GenerationFailed, Outcome, PreparedJob, StudioResult
from studio.services.common.ids import SHOTS, check_id, now
from studio.services.generation.preflight import Preflight, run_preflight
from studio.services.gen_space.projects import ProjectService
from studio.services.generation.requests import InvalidRequest, StudioRequest, check_count, check_model, check_user
from studio.services.gen_space.shots import ShotService
from studio.store.base import Store

MAX_BATCH_SHOTS = 50

MODE_LABELS = {
    "ip_adapter": "IP-Adapter: all references guide the look",
    "img2img": "Image-to-image: starts from the first reference",
}


@dataclass(frozen=True)
class ShotJob:
    """What the user set for one shot generation besides the shot and the model.

    Fields hold whatever the caller sent (the API passes loose JSON through); the
    service checks them all before anything is charged."""

    model_id: Any
    count: Any
    prompt: Any
    style_id: Any = "auto"
    aspect: Any = "1:1"
    enhance: Any = False
    negative_prompt: Any = ""
    seed: Any = None
    reference_ids: Any = ()
    ip_adapter_scale: Any = 0.6
    strength: Any = 0.6


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


@dataclass(frozen=True)
class _ShotPlan:
    """A shot job that passed the Gen Space checks: the request plus what the engine needs."""

    request: StudioRequest
    shot: dict
    images: tuple  # opened reference images actually used
    mode: str | None
    ip_adapter_scale: float
    strength: float
    fields: dict  # recorded on every asset the job makes
    cost: int


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
    def _check_references(self, user: str, ids: object) -> tuple[str, ...]:
        ids = v.id_list(ids, "reference images", max_items=MAX_REFERENCES)
        for asset_id in ids:
            self.assets.get(user, check_id(asset_id, "reference image"))  # "Unknown ..." for missing/foreign
        return tuple(dict.fromkeys(ids))

    def _plan(self, user: object, shot_id: object, job: ShotJob, *, parent_id: str | None = None,
              mode_override: str | None = None, open_images: bool = True) -> _ShotPlan:
        """Every Gen Space check, before anything is charged; raises InvalidRequest."""
        user = check_user(user)
        shot = self.shots.get(user, check_id(shot_id, "shot"))
        entry = check_model(self.generation.engine.catalog, job.model_id)
        refs = self._check_references(user, job.reference_ids)
        scale = v.number(job.ip_adapter_scale, "Reference strength (IP-Adapter scale)", minimum=0.0, maximum=1.0)
        strength = v.number(job.strength, "Strength", minimum=0.05, maximum=1.0)
        if mode_override and mode_override not in entry.reference_modes:
            raise InvalidRequest(f"{entry.name} cannot edit images by prompt; choose a model that supports image-to-image.")
        mode = mode_override or reference_mode(entry)
        used = refs if (mode and refs) else ()
        request = StudioRequest(
            user=user, model_id=job.model_id, style_id=job.style_id, aspect=job.aspect, count=job.count,
            prompt=job.prompt, enhance=job.enhance, negative_prompt=job.negative_prompt, seed=job.seed,
            project_id=shot["project_id"], shot_id=shot["id"], reference_ids=used,
        )
        cost = self.generation.prepare(request).cost  # the shared prompt/count/seed/... rules, before any image is opened
        images = tuple(self.assets.open_image(user, a) for a in used) if open_images else ()
        fields = {
            "project_id": shot["project_id"], "shot_id": shot["id"], "shot_type": shot["type"],
            "reference_ids": list(used), "reference_mode": mode if used else None,
            "references_ignored": len(refs) if (refs and not used) else 0, "parent_id": parent_id,
        }
        if parent_id:
            fields["kind"] = "edit"
        return _ShotPlan(request=request, shot=shot, images=images, mode=mode, ip_adapter_scale=scale,
                         strength=strength, fields=fields, cost=cost)

    def _balance(self, user: object) -> int:
        return self.generation.balance_of(user)

    def _cost_hint(self, job: ShotJob, shots: int = 1) -> int:
        try:
            return self.generation.estimate(job.model_id, job.count) * shots
        except InvalidRequest:
            return 0

    # ----- preflight: what the UI and API ask before a paid click -------------------
    def preflight_for_shot(self, user: object, shot_id: object, job: ShotJob) -> Preflight:
        return run_preflight(lambda: self._plan(user, shot_id, job, open_images=False).cost,
                             lambda: self._balance(user), lambda: self._cost_hint(job),
                             limit=self.generation.limit_of(user))

    def preflight_batch(self, user: object, shot_ids: object, job: ShotJob) -> Preflight:
        return run_preflight(lambda: self._batch_cost(user, shot_ids, job), lambda: self._balance(user),
                             lambda: self._cost_hint(job, len(shot_ids) if isinstance(shot_ids, (list, tuple)) else 1),
                             limit=self.generation.limit_of(user))

    def preflight_edit(self, user: object, asset_id: object, *, prompt: object, model_id: object,
                       strength: object = 0.5, shot_id: object = None) -> Preflight:
        def check() -> int:
            target, job = self._edit_job(user, asset_id, prompt=prompt, model_id=model_id, strength=strength,
                                         shot_id=shot_id)
            return self._plan(user, target, job, parent_id="-", mode_override="img2img", open_images=False).cost

        return run_preflight(check, lambda: self._balance(user),
                             lambda: self._cost_hint(ShotJob(model_id=model_id, count=1, prompt=prompt)),
                             limit=self.generation.limit_of(user))

    def estimate_batch(self, user: str, shot_ids: list[str], model_id: str, count: int) -> int:
        entry = check_model(self.generation.engine.catalog, model_id)
        for shot_id in self._shot_list(shot_ids):
            self.shots.get(user, check_id(shot_id, "shot"))
        return entry.credit_cost * check_count(count) * len(shot_ids)

    @staticmethod
    def _shot_list(shot_ids: object) -> list[str]:
        if isinstance(shot_ids, str) or not isinstance(shot_ids, (list, tuple)):
            raise InvalidRequest("Give the shots as a list of shot ids.")
        if not shot_ids:
            raise InvalidRequest("Select at least one shot.")
        if len(shot_ids) > MAX_BATCH_SHOTS:
            raise InvalidRequest(f"A batch can have up to {MAX_BATCH_SHOTS} shots; select fewer.")
        ids = [check_id(s, "shot") for s in shot_ids]
        if len(set(ids)) != len(ids):
            raise InvalidRequest("Each shot can be in the batch once; remove the repeated one.")
        return ids

    def _batch_jobs(self, user: object, shot_ids: object, job: ShotJob, prompt_from_shot: bool) -> list[tuple[str, ShotJob]]:
        user = check_user(user)
        # The prompt stands in for shots without a description: it must be valid text even
        # when every shot has one, so a bad value is refused the same way every time.
        v.optional_text(job.prompt, "The prompt", max_chars=MAX_PROMPT_CHARS)
        jobs = []
        for shot_id in self._shot_list(shot_ids):
            shot_job = job
            if prompt_from_shot:
                description = self.shots.get(user, shot_id)["description"]
                shot_job = replace(job, prompt=description or job.prompt)
            self._plan(user, shot_id, shot_job, open_images=False)
            jobs.append((shot_id, shot_job))
        return jobs

    def _batch_cost(self, user: object, shot_ids: object, job: ShotJob, prompt_from_shot: bool = True) -> int:
        jobs = self._batch_jobs(user, shot_ids, job, prompt_from_shot)
        return self.generation.estimate(job.model_id, job.count) * len(jobs)

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
        plan = self._plan(user, shot_id, job, parent_id=parent_id, mode_override=mode_override)

        def engine_extras(prepared: PreparedJob) -> dict:
            if not plan.images:
                return {}
            return {"reference_images": plan.images, "reference_mode": plan.mode,
                    "ip_adapter_scale": plan.ip_adapter_scale, "strength": plan.strength}

        def add_to_history(tx: Store, saved: list) -> None:
            shot = tx.get(SHOTS, plan.shot["id"])
            if shot is not None:
                new = [img.asset_id for img in saved]
                history = [a for a in shot.get("history", []) if a not in new] + new
                tx.update(SHOTS, shot["id"], {"history": history, "updated": now()})

        return self.generation.generate(plan.request, progress=progress, cancel=cancel, engine_extras=engine_extras,
                                        asset_fields=plan.fields, after_save=add_to_history)

    def generate_batch(
        self,
        user: str,
        shot_ids: list[str],
        job: ShotJob,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        prompt_from_shot: bool = False,
    ) -> Outcome:
        """The consistency flow: the same settings and references for several shots.

        Every shot is checked and the whole batch must be affordable before the first
        shot runs, so nobody ends up with half a batch because the credits ran out in
        the middle. With prompt_from_shot each shot is described by its own description
        (the job's prompt stands in for shots that have none). It yields (shot id, result)
        pairs; if a shot fails after others were made, those are kept and the failure is
        reported in `failures` (that shot's credits were returned)."""
        jobs = self._batch_jobs(user, shot_ids, job, prompt_from_shot)
        total = self.generation.estimate(job.model_id, job.count) * len(jobs)
        run_preflight(lambda: total, lambda: self._balance(user), lambda: total,
                      limit=self.generation.limit_of(user)).raise_if_blocked()
        done = Outcome(results=[])
        for index, (shot_id, shot_job) in enumerate(jobs):
            if cancel is not None and cancel.cancelled:
                break
            try:
                done.results.append((shot_id, self.generate_for_shot(user, shot_id, shot_job, progress=progress,
                                                                     cancel=cancel)))
            except (GenerationFailed, GenerationCancelled, InvalidRequest) as exc:
                if not done.results:
                    raise  # nothing was made: the error is the answer
                left = len(jobs) - index - 1
                note = f" The {left} shot(s) after it were not run and cost nothing." if left else ""
                done.failures.append((self.shots.get(user, shot_id)["name"], f"{exc}{note}"))
                break
        return done

    def _edit_job(self, user: object, asset_id: object, *, prompt: object, model_id: object, strength: object,
                  shot_id: object) -> tuple[str, ShotJob]:
        source = self.assets.get(check_user(user), check_id(asset_id, "image"))
        target = source.get("shot_id") or shot_id
        if not target:
            raise InvalidRequest("Select a shot first: the edited image is added to it.")
        job = ShotJob(model_id=model_id, count=1, prompt=prompt, aspect=source.get("aspect") or "1:1",
                      reference_ids=(source["id"],), strength=strength)
        return target, job

    def edit_with_prompt(
        self, user: str, asset_id: str, *, prompt: str, model_id: str, strength: float = 0.5,
        shot_id: str | None = None, progress: ProgressFn | None = None, cancel: CancelToken | None = None,
    ) -> StudioResult:
        """A new image derived from an existing one by prompt (image-to-image), linked to its parent.

        It joins the history of the image's own shot, or of `shot_id` (the selected
        shot) for an upload that belongs to none."""
        target, job = self._edit_job(user, asset_id, prompt=prompt, model_id=model_id, strength=strength,
                                     shot_id=shot_id)
        return self.generate_for_shot(user, target, job, progress=progress, cancel=cancel,
                                      parent_id=job.reference_ids[0], mode_override="img2img")

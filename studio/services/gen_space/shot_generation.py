"""Generation in Gen Space: for a shot, with the project's reference images.

Builds on GenerationService (same checks, credits and refunds) and adds what only
Gen Space knows: which shot the images are for, which library images guide them
and how (IP-Adapter or image-to-image, per catalog entry), and the shot's history.
"""

from __future__ import annotations

from dataclasses import replace

from pipelines.catalog import ModelEntry
from pipelines.params import MAX_PROMPT_CHARS, MAX_REFERENCES, PARAMS
from pipelines.types import CancelToken, GenerationCancelled, ProgressFn
from studio.services.common import validation as v
from studio.services.gen_space.assets import AssetService
from studio.services.generation.service import GenerationService
from studio.services.generation.results import GenerationFailed, Outcome, StudioResult
from studio.services.generation.stopping import JobStopped, Stopped
from studio.services.common.ids import check_id
from studio.services.generation.preflight import Preflight, run_preflight
from studio.services.gen_space.projects import ProjectService
from studio.services.generation.requests import (
    InvalidRequest,
    References,
    ShotTarget,
    StudioRequest,
    check_count,
    check_model,
    check_user,
)
from studio.services.gen_space.shots import ShotService

MAX_BATCH_SHOTS = 50

MODE_LABELS = {
    "ip_adapter": "IP-Adapter: all references guide the look",
    "img2img": "Image-to-image: starts from the first reference",
}


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
    def _check_references(self, user: str, ids: object) -> tuple[str, ...]:
        ids = v.id_list(ids, "reference images", max_items=MAX_REFERENCES)
        for asset_id in ids:
            self.assets.get(user, check_id(asset_id, "reference image"))  # "Unknown ..." for missing/foreign
        return tuple(dict.fromkeys(ids))

    def _for_shot(self, shot_id: object, request: StudioRequest, *, mode_override: str | None = None,
                  open_images: bool = True) -> StudioRequest:
        """The request as it will run for that shot: the shot checked and named, the picked
        references checked, filtered to what the model can use and (to run) opened.
        Every other field is checked once, by `GenerationService.prepare`."""
        user = check_user(request.user)
        shot = self.shots.get(user, check_id(shot_id, "shot"))
        entry = check_model(self.generation.engine.catalog, request.model_id)
        refs = self._check_references(user, request.references.asset_ids)
        if mode_override and mode_override not in entry.reference_modes:
            raise InvalidRequest(f"{entry.name} cannot edit images by prompt; choose a model that supports image-to-image.")
        mode = mode_override or reference_mode(entry)
        used = refs if (mode and refs) else ()
        images = tuple(self.assets.open_image(user, a) for a in used) if open_images else ()
        references = replace(request.references, asset_ids=used, images=images, mode=mode if used else None,
                             ignored=len(refs) - len(used))
        target = ShotTarget(project_id=shot["project_id"], shot_id=shot["id"], shot_type=shot["type"])
        return replace(request, user=user, references=references, shot=target)

    def _cost(self, shot_id: object, request: StudioRequest, **kw) -> int:
        return self.generation.prepare(self._for_shot(shot_id, request, open_images=False, **kw), checking=True).cost

    def _balance(self, user: object) -> int:
        return self.generation.balance_of(user)

    def _cost_hint(self, request: StudioRequest, shots: int = 1) -> int:
        try:
            return self.generation.estimate(request.model_id, request.count) * shots
        except InvalidRequest:
            return 0

    # ----- preflight: what the UI and API ask before a paid click -------------------
    def preflight_for_shot(self, shot_id: object, request: StudioRequest) -> Preflight:
        return run_preflight(lambda: self._cost(shot_id, request), lambda: self._balance(request.user),
                             lambda: self._cost_hint(request), limit=self.generation.limit_of(request.user))

    def preflight_batch(self, shot_ids: object, request: StudioRequest) -> Preflight:
        shots = len(shot_ids) if isinstance(shot_ids, (list, tuple)) else 1
        return run_preflight(lambda: self._batch_cost(shot_ids, request), lambda: self._balance(request.user),
                             lambda: self._cost_hint(request, shots), limit=self.generation.limit_of(request.user))

    def preflight_edit(self, user: object, asset_id: object, *, prompt: object, model_id: object,
                       strength: object = 0.5, shot_id: object = None) -> Preflight:
        def check() -> int:
            target, request = self._edit_request(user, asset_id, prompt=prompt, model_id=model_id,
                                                 strength=strength, shot_id=shot_id)
            return self._cost(target, request, mode_override="img2img")

        hint = StudioRequest(user=user, model_id=model_id, prompt=prompt)
        return run_preflight(check, lambda: self._balance(user), lambda: self._cost_hint(hint),
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

    def _batch_requests(self, shot_ids: object, request: StudioRequest,
                        prompt_from_shot: bool) -> list[tuple[str, StudioRequest]]:
        user = check_user(request.user)
        # The prompt stands in for shots without a description: it must be valid text even
        # when every shot has one, so a bad value is refused the same way every time.
        v.optional_text(request.prompt, "The prompt", max_chars=MAX_PROMPT_CHARS)
        jobs = []
        for shot_id in self._shot_list(shot_ids):
            shot_request = request
            if prompt_from_shot:
                description = self.shots.get(user, shot_id)["description"]
                shot_request = replace(request, prompt=description or request.prompt)
            self._cost(shot_id, shot_request)
            jobs.append((shot_id, shot_request))
        return jobs

    def _batch_cost(self, shot_ids: object, request: StudioRequest, prompt_from_shot: bool = True) -> int:
        jobs = self._batch_requests(shot_ids, request, prompt_from_shot)
        return self.generation.estimate(request.model_id, request.count) * len(jobs)

    # ----- generation --------------------------------------------------------------
    def generate_for_shot(
        self,
        shot_id: str,
        request: StudioRequest,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        mode_override: str | None = None,
    ) -> StudioResult:
        return self.generation.generate(self._for_shot(shot_id, request, mode_override=mode_override),
                                        progress=progress, cancel=cancel)

    def generate_batch(
        self,
        shot_ids: list[str],
        request: StudioRequest,
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
        user = request.user
        jobs = self._batch_requests(shot_ids, request, prompt_from_shot)
        total = self.generation.estimate(request.model_id, request.count) * len(jobs)
        run_preflight(lambda: total, lambda: self._balance(user), lambda: total,
                      limit=self.generation.limit_of(user)).raise_if_blocked()
        done = Outcome(results=[])
        asked = check_count(request.count) * len(jobs)
        for index, (shot_id, shot_request) in enumerate(jobs):
            if cancel is not None and cancel.cancelled:
                done.stopped = _batch_stopped(done, len(jobs), asked, left=len(jobs) - index) if index else \
                    Stopped(made=0, asked=asked, returned=0, started=False)  # cancelled before it began
                break
            try:
                result = self.generate_for_shot(shot_id, shot_request, progress=progress, cancel=cancel)
            except JobStopped as exc:  # this shot made nothing: it was refunded whole
                done.stopped = _batch_stopped(done, len(jobs), asked, left=len(jobs) - index - 1, returned=exc.stopped.returned)
                break
            except (GenerationFailed, GenerationCancelled, InvalidRequest) as exc:
                if not done.results:
                    raise  # nothing was made: the error is the answer
                left = len(jobs) - index - 1
                note = f" The {left} shot(s) after it were not run and cost nothing." if left else ""
                done.failures.append((self.shots.get(user, shot_id)["name"], f"{exc}{note}"))
                break
            done.results.append((shot_id, result))
            if result.stopped is not None:  # stopped part-way through this shot: what it made is kept
                done.stopped = _batch_stopped(done, len(jobs), asked, left=len(jobs) - index - 1,
                                              returned=result.stopped.returned)
                break
        if done.stopped is not None and not done.results:
            raise JobStopped(done.stopped)  # nothing was made at all: the stop is the answer
        return done

    def _edit_request(self, user: object, asset_id: object, *, prompt: object, model_id: object, strength: object,
                      shot_id: object) -> tuple[str, StudioRequest]:
        user = check_user(user)
        source = self.assets.get(user, check_id(asset_id, "image"))
        target = source.get("shot_id") or shot_id
        if not target:
            raise InvalidRequest("Select a shot first: the edited image is added to it.")
        request = StudioRequest(user=user, model_id=model_id, count=1, prompt=prompt,
                                aspect=source.get("aspect") or "1:1", parent_id=source["id"],
                                references=References(asset_ids=(source["id"],), strength=strength))
        return target, request

    def edit_with_prompt(
        self, user: str, asset_id: str, *, prompt: str, model_id: str, strength: float = PARAMS["strength"].default,
        shot_id: str | None = None, progress: ProgressFn | None = None, cancel: CancelToken | None = None,
    ) -> StudioResult:
        """A new image derived from an existing one by prompt (image-to-image), linked to its parent.

        It joins the history of the image's own shot, or of `shot_id` (the selected
        shot) for an upload that belongs to none."""
        target, request = self._edit_request(user, asset_id, prompt=prompt, model_id=model_id, strength=strength,
                                             shot_id=shot_id)
        return self.generate_for_shot(target, request, progress=progress, cancel=cancel, mode_override="img2img")


def _batch_stopped(done: Outcome, shots: int, asked: int, *, left: int, returned: int = 0) -> Stopped:
    """The consistency flow's stop in numbers: images made by the shots that ran, credits the
    ledger returned for the shot that was running (shots never started were never charged)."""
    made = sum(len(r.images) for _, r in done.results)
    return Stopped(made=made, asked=asked, returned=returned, shots=shots, shots_run=len(done.results),
                   not_started=left)

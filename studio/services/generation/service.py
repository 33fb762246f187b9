"""Turns a StudioRequest into saved, paid-for images.

The order matters and is the product's promise:

1. validate and price everything (`preflight`, the same check the UI asks for): bad
   input costs nothing and writes nothing;
2. take the credits and write the `running` job record in ONE store transaction, so
   there is never a charge without a job (a process killed later leaves a running
   job that start-up recovery refunds, see `studio.services.recovery`);
3. run the engine and write the PNGs; then the asset records and `done` commit together;
4. if anything after the charge fails or the user cancels: the refund, the job's
   `failed`/`cancelled` status and the removal of its records commit together, then
   its files are removed, and the message says the credits were returned;
5. a request made `image_by_image` (the UI's) runs one pipeline call per image, so a
   Cancel keeps the images already made: they are saved as usual and the images not
   made are refunded in the same transaction (`stopping.Stopped` says how many of each).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace

from pipelines.catalog import ModelEntry
from pipelines.params import MAX_REFERENCES, MAX_SEED
from pipelines.types import (
    CancelToken,
    GenerationCancelled,
    GenerationRequest,
    GenerationResult,
    ModelUnavailable,
    OutOfMemory,
    ProgressFn,
    RequestRejected,
    UnknownModel,
)
from studio.services.billing.ledger import CreditsService
from studio.services.prompts.enhancers import Enhanced, PromptEnhancers
from studio.services.generation import adapters as lora_rules
from studio.services.generation.jobs import CANCELLED, DONE, FAILED, JOBS, RUNNING, this_runner
from studio.services.generation.preflight import (ModelCannotRun, Preflight, SpendingCheck, run_preflight,
                                                  unavailable_reason)
from studio.services.common import validation as v
from studio.services.common.ids import SHOTS
from studio.services.generation.requests import (
    InvalidRequest,
    References,
    StudioRequest,
    check_aspect,
    check_count,
    check_enhance,
    check_model,
    check_negative,
    check_prompt,
    check_sampler,
    check_size,
    check_user,
    normalise_seed,
)
from studio.services.generation.results import (
    GenerationFailed,
    PreparedJob,
    SavedImage,
    StudioResult,
    credits_returned,
    user_subdir,
)
from studio.services.generation.comparison import ComparisonMixin
from studio.services.generation.image_by_image import run_images
from studio.services.generation.stopping import JobStopped, Stopped
from studio.services.prompts.styles import Style, apply_style
from studio.services.common.validation import plain_message
from studio.store.base import Store
from studio.store.images import ImageFiles, format_parameters
from studio.store.records import ASSETS, utc_now
from studio.store.records import insert_record, update_record

log = logging.getLogger(__name__)


class GenerationService(ComparisonMixin):
    def __init__(
        self,
        *,
        engine,  # pipelines.manager.PipelineManager (duck-typed: catalog, generate, is_downloaded)
        styles: list[Style],
        credits: CreditsService,
        store: Store,
        images: ImageFiles,
        enhancers: PromptEnhancers | None = None,
    ) -> None:
        self.engine = engine
        self.enhancers = enhancers or PromptEnhancers(engine.catalog)
        self.styles = {s.id: s for s in styles}
        self.credits = credits
        self.store = store
        self.images = images

    # ----- checks and prices -------------------------------------------------
    def style(self, style_id: object) -> Style:
        if not isinstance(style_id, str) or style_id not in self.styles:
            raise InvalidRequest(f"Unknown style. Choose one of: {', '.join(self.styles)}.")
        return self.styles[style_id]

    def estimate(self, model_id: object, count: object) -> int:
        entry = check_model(self.engine.catalog, model_id)
        return entry.credit_cost * check_count(count)

    def check_settings(self, model_id: object, style_id: object, aspect: object) -> None:
        """The settings a saved prompt refers to must exist (the prompt library can't see the catalog)."""
        check_model(self.engine.catalog, model_id)
        self.style(style_id)
        check_aspect(aspect)

    def check_runnable(self, entry: ModelEntry) -> None:
        why = unavailable_reason(self.engine, entry)
        if why:
            raise ModelCannotRun(why)
        try:  # weights on disk that are damaged or can never fit this machine: refused before any charge
            self.engine.expected_placement(entry.id)
        except ModelUnavailable as exc:
            raise ModelCannotRun(plain_message(str(exc))) from None

    def check_engine_request(self, job: "PreparedJob") -> None:
        """The engine's own refusals that need no model run (a prompt past the encoder's
        token limit, references the family can't use, sizes), asked before any charge."""
        try:
            self.engine.check(self._engine_request(job))
        except (RequestRejected, UnknownModel) as exc:
            raise InvalidRequest(plain_message(str(exc))) from None

    def enhance(self, prompt: object, style_id: object = "auto", enhancer: object = None,
                progress=None) -> Enhanced:
        """The enhanced prompt and which enhancer wrote it (the page shows both)."""
        text = check_prompt(prompt)
        style = self.style(style_id).id
        return self.enhancers.enhance(text, style, self.enhancers.check(enhancer), progress)

    def prepare(self, request: StudioRequest, *, checking: bool = False, progress=None) -> PreparedJob:
        """Every check that can fail on input, in the order a person would fix them.
        `checking` (a preflight, a price) skips running the enhancer: its text changes
        neither the price nor whether the job can run, and a language model costs time."""
        check_user(request.user)
        prompt, tagged = lora_rules.split_lora_tags(check_prompt(request.prompt))
        entry = check_model(self.engine.catalog, request.model_id)
        loras = lora_rules.check_loras(self.engine, entry, lora_rules.combine(request.loras, tagged))
        style = self.style(request.style_id)
        aspect = check_aspect(request.aspect)
        count = check_count(request.count)
        negative = check_negative(request.negative_prompt)
        seed = normalise_seed(request.seed)
        enhance = check_enhance(request.enhance)
        enhancer = self.enhancers.check(request.enhancer)
        steps = v.optional_parameter("steps", request.steps, entry.family)
        guidance = v.optional_parameter("guidance", request.guidance, entry.family)
        references = self.check_references(entry, request.references)
        self.check_runnable(entry)
        enhanced = self.enhancers.enhance(prompt, style.id, enhancer, progress) if enhance and not checking else None
        if enhanced is not None:
            prompt = enhanced.prompt
        styled, styled_negative = apply_style(style, prompt, negative)
        size = entry.sizes[aspect]
        width, height = size.width, size.height
        if request.width is not None or request.height is not None:  # an exact size (REST dialects)
            width, height = check_size(entry, request.width, request.height)
        check_sampler(request.sampler, request.schedule)
        return PreparedJob(
            request=replace(request, count=count, seed=seed, enhance=enhance, aspect=aspect, steps=steps,
                            guidance=guidance, references=references, loras=loras),
            entry=entry, style=style, prompt=prompt, styled_prompt=styled, negative_prompt=styled_negative,
            width=width, height=height, count=count, seed=seed, cost=entry.credit_cost * count,
            enhancer=enhanced.label if enhanced else "",
        )

    @staticmethod
    def check_references(entry: ModelEntry, refs: References) -> References:
        """The reference settings checked against the parameter table and what the model can do.
        Ownership of library ids is the library's business (Gen Space checks it first)."""
        scale = v.parameter("ip_adapter_scale", refs.ip_adapter_scale, entry.family)
        strength = v.parameter("strength", refs.strength, entry.family)
        picked = max(len(refs.asset_ids) if isinstance(refs.asset_ids, (list, tuple)) else 0, len(refs.images))
        if picked > MAX_REFERENCES:
            raise InvalidRequest(f"You can use up to {MAX_REFERENCES} reference images; remove {picked - MAX_REFERENCES} first.")
        if refs.mode is not None and refs.mode not in entry.reference_modes:
            raise InvalidRequest(f"{entry.name} cannot start from an image; pick a model that supports image-to-image."
                                 if refs.mode == "img2img" else f"{entry.name} cannot use reference images that way.")
        return replace(refs, ip_adapter_scale=scale, strength=strength)

    def _cost_hint(self, model_id: object, count: object) -> int:
        try:
            return self.estimate(model_id, count)
        except InvalidRequest:
            return 0

    def balance_of(self, user: object) -> int:
        return self.credits.balance(check_user(user))

    def preflight(self, request: StudioRequest) -> Preflight:
        """Cost, balance and the reason this request can't run (None when it can)."""
        def check() -> int:
            job = self.prepare(request, checking=True)
            self.check_engine_request(job)
            return job.cost

        return run_preflight(check, lambda: self.balance_of(request.user),
                             lambda: self._cost_hint(request.model_id, request.count),
                             limit=self.limit_of(request.user))

    def limit_of(self, user: object):
        """The spending-limit question for the preflight: cost -> why it is refused, or None."""
        return SpendingCheck(self.credits, user, check_user)

    # ----- the job -------------------------------------------------------------
    def generate(
        self,
        request: StudioRequest,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> StudioResult:
        """Run one paid job. A Gen Space job's images join its shot's history in the same
        transaction that records them."""
        job = self.prepare(request, progress=progress)
        self.check_engine_request(job)
        check = run_preflight(lambda: job.cost, lambda: self.balance_of(request.user), lambda: job.cost,
                              limit=self.limit_of(request.user))
        check.raise_if_blocked()
        if cancel is not None and cancel.cancelled:  # cancelled while it waited for the GPU: no charge at all
            raise JobStopped(Stopped(made=0, asked=job.count, returned=0, started=False))
        job_id = uuid.uuid4().hex
        started = time.perf_counter()
        with self.store.transaction() as tx:
            self.credits.charge(job.request.user, job.cost, reason=f"{job.count} × {job.entry.name}", job_id=job_id)
            insert_record(tx, JOBS, self._job_record(job_id, job))
        written: list[str] = []
        stopped = None
        try:
            result = run_images(self.engine, self._engine_request(job), one_by_one=job.request.image_by_image,
                                progress=progress, cancel=cancel)
            records = [self._save_image(job_id, job, result, i, written) for i in range(len(result.images))]
            saved = [SavedImage(asset_id=r["id"], path=str(self.images.path(r["file"])), seed=r["seed"], details=r)
                     for r in records]
            elapsed = time.perf_counter() - started
            with self.store.transaction() as tx:
                for record in records:
                    insert_record(tx, ASSETS, record)
                if job.request.shot is not None:
                    _join_shot_history(tx, job.request.shot.shot_id, [r["id"] for r in records])
                fields = {"status": DONE, "elapsed_s": round(elapsed, 3), "asset_ids": [r["id"] for r in records]}
                if len(records) < job.count:  # stopped part-way: the images not made are refunded here
                    stopped = self._refund_unmade(job_id, job, len(records))
                    fields["stopped"] = {"made": stopped.made, "asked": stopped.asked, "returned": stopped.returned}
                update_record(tx, JOBS, job_id, fields)
        except BaseException as exc:
            returned = self._roll_back(job_id, written, exc)
            raise self._user_error(exc, job.cost, asked=job.count, returned=returned) from exc
        return StudioResult(
            job_id=job_id, images=saved, prompt=job.prompt, cost=job.cost - (stopped.returned if stopped else 0),
            balance=self.credits.balance(job.request.user), elapsed_s=elapsed, model_id=job.entry.id,
            extra={k: result.extra[k] for k in ("interrupted_at",) if k in result.extra}, stopped=stopped,
        )

    def _refund_unmade(self, job_id: str, job: PreparedJob, made: int) -> Stopped:
        """Refund the images a stopped job did not make (inside the job's transaction); the
        amount returned is the ledger row's, not a second computation."""
        unmade = job.count - made
        entry = self.credits.refund(job_id, reason=f"stopped: {unmade} of {job.count} image(s) not made",
                                    amount=unmade * job.entry.credit_cost)
        return Stopped(made=made, asked=job.count, returned=entry["delta"] if entry else 0)

    @staticmethod
    def _engine_request(job: PreparedJob) -> GenerationRequest:
        """The one builder of the engine's request from a prepared job."""
        seeds = None if job.seed is None else tuple((job.seed + i) % (MAX_SEED + 1) for i in range(job.count))
        refs = job.request.references
        images = refs.images if refs.mode is not None else ()
        return GenerationRequest(
            model_id=job.entry.id, prompt=job.styled_prompt, negative_prompt=job.negative_prompt,
            width=job.width, height=job.height, num_images=job.count, seeds=seeds, owner=job.request.user,
            steps=job.request.steps, guidance=job.request.guidance,
            reference_images=images, reference_mode=refs.mode if images else None,
            ip_adapter_scale=refs.ip_adapter_scale, strength=refs.strength, loras=job.request.loras,
            sampler=job.request.sampler, schedule=job.request.schedule, keep_partial=job.request.keep_partial,
        )

    @staticmethod
    def _lineage(job: PreparedJob) -> dict:
        """What an image records about where it came from: its shot, references, parent, dialect."""
        request, refs = job.request, job.request.references
        fields: dict = {}
        if request.shot is not None:
            fields.update(project_id=request.shot.project_id, shot_id=request.shot.shot_id,
                          shot_type=request.shot.shot_type, reference_ids=list(refs.asset_ids),
                          reference_mode=refs.mode if refs.asset_ids else None,
                          references_ignored=refs.ignored, parent_id=request.parent_id)
        elif request.parent_id is not None:
            fields["parent_id"] = request.parent_id
        if request.parent_id is not None:
            fields["kind"] = "edit"
        if refs.mode == "img2img" and refs.images:
            fields["strength"] = refs.strength
        if request.origin is not None:
            fields["api"] = request.origin
        if request.end_user:
            fields["api_end_user"] = request.end_user
        return fields

    def _save_image(self, job_id: str, job: PreparedJob, result: GenerationResult, index: int, written: list[str]) -> dict:
        """Write one PNG (its metadata names the job, so recovery can tell whose a stray file is)."""
        image = result.images[index]
        seed = result.seeds[index]
        asset_id = uuid.uuid4().hex
        loras = lora_rules.lora_records(self.engine, job.request.loras)
        embeddings = lora_rules.embedding_records(self.engine, job.entry.family, (job.styled_prompt, job.negative_prompt))
        details = {
            "asset_id": asset_id, "job_id": job_id, "owner": job.request.user, "kind": "generated",
            "model_id": job.entry.id, "model_name": job.entry.name, "style_id": job.style.id,
            "style_name": job.style.name, "aspect": job.request.aspect, "prompt": job.prompt,
            "styled_prompt": job.styled_prompt, "negative_prompt": job.negative_prompt,
            "enhanced": job.request.enhance, **({"enhancer": job.enhancer} if job.enhancer else {}), "seed": seed, "width": image.width, "height": image.height,
            "steps": result.steps, "guidance": result.guidance, "sampler": result.sampler,
            "cost": job.entry.credit_cost, "elapsed_s": round(result.elapsed_s, 3), "created": utc_now(),
            "prompt_ignored": job.entry.ignores_prompt, **self._lineage(job), **({"loras": loras} if loras else {}),
            **({"embeddings": embeddings} if embeddings else {}),
        }
        extras = {k: v for k, v in (("Lora hashes", lora_rules.lora_hashes(loras)),
                                    ("TI hashes", lora_rules.ti_hashes(embeddings))) if v}
        parameters = format_parameters(
            prompt=lora_rules.prompt_with_tags(job.styled_prompt, loras), extras=extras or None,
            hashes={**{f"lora:{r['name']}": r["hash"] for r in loras if r["hash"]},
                    **{f"embed:{r['name']}": r["hash"] for r in embeddings}} or None,
            negative_prompt=job.negative_prompt, steps=result.steps,
            sampler=result.sampler, guidance=result.guidance, seed=seed, width=image.width,
            height=image.height, model=job.entry.id,
        )
        rel = self.images.save(image, parameters=parameters, studio_meta=details,
                               subdir=user_subdir(job.request.user))
        written.append(rel)
        return {**details, "id": asset_id, "file": rel}

    def _roll_back(self, job_id: str, written: list[str], exc: BaseException) -> int | None:
        """Refund, mark the job and drop its records in one transaction; then remove its files
        (a crash in between leaves files that recovery knows to sweep: their job is over).
        Returns the credits the ledger's refund row gave back (None: the rollback failed)."""
        status = CANCELLED if isinstance(exc, GenerationCancelled) else FAILED
        returned = None
        try:
            with self.store.transaction() as tx:
                for asset in tx.find(ASSETS, job_id=job_id):
                    tx.delete(ASSETS, asset["id"])
                entry = self.credits.refund(job_id, reason=f"job {status}")
                update_record(tx, JOBS, job_id, {"status": status, "error": _error_summary(exc)})
            returned = entry["delta"] if entry else 0
        except Exception:  # pragma: no cover - logged; start-up recovery refunds the job
            log.exception("could not roll back job %s; recovery will refund it at the next start", job_id)
        for rel in written:
            try:
                self.images.delete(rel)
            except Exception:  # pragma: no cover - best effort, logged; recovery sweeps it
                log.exception("could not remove %s after a failed job", rel)
        return returned

    @staticmethod
    def _user_error(exc: BaseException, cost: int, *, asked: int = 1, returned: int | None = None) -> BaseException:
        """What the person is told after a job that had been charged: what went wrong, and
        that the credits came back; never an exception class name or a server path.
        A cancel says how much the ledger gave back (`returned`, from the refund row)."""
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            return exc
        if isinstance(exc, GenerationCancelled):
            return JobStopped(Stopped(made=0, asked=asked, returned=cost if returned is None else returned))
        returned = credits_returned(cost)
        if isinstance(exc, (ModelUnavailable, OutOfMemory, InvalidRequest)):
            text = plain_message(str(exc)).rstrip(".")
            return GenerationFailed(f"{text}. {returned}" if text else f"The job could not run. {returned}")
        log.exception("generation failed")
        return GenerationFailed(f"Generation failed because of an error on the server (it is in the server log). {returned}")

    @staticmethod
    def _job_record(job_id: str, job: PreparedJob) -> dict:
        return {
            "id": job_id, "owner": job.request.user, "status": RUNNING, "model_id": job.entry.id,
            "style_id": job.style.id, "aspect": job.request.aspect, "count": job.count, "cost": job.cost,
            "prompt": job.prompt, "created": utc_now(), "runner": this_runner(),
            "project_id": job.request.shot.project_id if job.request.shot else None,
            "shot_id": job.request.shot.shot_id if job.request.shot else None,
        }


def _join_shot_history(tx: Store, shot_id: str, asset_ids: list[str]) -> None:
    """The new images go to the end of their shot's history (inside the job's transaction)."""
    shot = tx.get(SHOTS, shot_id)
    if shot is not None:
        history = [a for a in shot.get("history", []) if a not in asset_ids] + asset_ids
        update_record(tx, SHOTS, shot_id, {"history": history, "updated": utc_now()})


def _error_summary(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]

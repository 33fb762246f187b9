"""Comparing one prompt across 2-4 models: priced as a whole before the first model runs,
each model then charged and refunded as its own job (GenerationService.generate).

A mixin of GenerationService, kept apart so the one-job lifecycle in service.py reads on
its own; it uses only the service's public steps (prepare, generate, balance_of, limit_of).
"""

from __future__ import annotations

from dataclasses import replace

from pipelines.generate import draw_seeds
from pipelines.types import CancelToken, GenerationCancelled, ProgressFn
from studio.services.generation.preflight import Preflight, run_preflight
from studio.services.generation.requests import InvalidRequest, StudioRequest, normalise_seed
from studio.services.generation.results import GenerationFailed, Outcome, PreparedJob

MAX_COMPARE = 4


class ComparisonMixin:
    def preflight_compare(self, request: StudioRequest, model_ids: object) -> Preflight:
        """A comparison runs only if EVERY chosen model can run and the whole of it is affordable."""
        return run_preflight(lambda: sum(j.cost for j in self._prepare_compare(request, model_ids)),
                             lambda: self.balance_of(request.user),
                             lambda: sum(self._cost_hint(m, request.count) for m in self._model_list(model_ids)),
                             limit=self.limit_of(request.user))

    @staticmethod
    def _model_list(model_ids: object) -> list:
        return list(model_ids) if isinstance(model_ids, (list, tuple)) else []

    def _prepare_compare(self, request: StudioRequest, model_ids: object) -> list[PreparedJob]:
        if isinstance(model_ids, str) or not isinstance(model_ids, (list, tuple)):
            raise InvalidRequest(f"Pick 2 to {MAX_COMPARE} models to compare.")
        ids = list(dict.fromkeys(model_ids)) if all(isinstance(m, str) for m in model_ids) else list(model_ids)
        if not 2 <= len(ids) <= MAX_COMPARE:
            raise InvalidRequest(f"Pick 2 to {MAX_COMPARE} different models to compare.")
        seed = normalise_seed(request.seed)
        if seed is None:
            seed = draw_seeds(1)[0]
        return [self.prepare(replace(request, model_id=m, seed=seed)) for m in ids]

    def compare(
        self,
        request: StudioRequest,
        model_ids: list[str],
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> Outcome:
        """One prompt across 2-4 models with the same seed, each model charged as its own job.

        Every model is checked (input, and that it can run here) and the whole comparison
        priced before the first one runs, so a bad pick or a short balance costs nothing.
        A model that fails later is refunded and reported; what the others made is kept."""
        jobs = self._prepare_compare(request, model_ids)
        total = sum(j.cost for j in jobs)
        run_preflight(lambda: total, lambda: self.balance_of(request.user), lambda: total,
                      limit=self.limit_of(request.user)).raise_if_blocked()
        done = Outcome(results=[])
        for job in jobs:
            if cancel is not None and cancel.cancelled and done.results:
                done.failures.append((job.entry.name, "Cancelled before it started; nothing was charged."))
                continue
            try:
                done.results.append(self.generate(job.request, progress=progress, cancel=cancel))
            except (GenerationFailed, GenerationCancelled, InvalidRequest) as exc:
                if not done.results and (job is jobs[-1] or isinstance(exc, GenerationCancelled)):
                    raise
                done.failures.append((job.entry.name, str(exc)))
        if not done.results:
            raise GenerationFailed(done.message or "No model could make an image.")
        return done

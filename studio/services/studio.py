"""The services the UI and the API share, bundled so the tabs get one object.

Built by the composition root (app.py); holds no per-user state of its own: users
are named by the caller and every record carries its owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.services.gen_space.assets import AssetService
from studio.services.generation.cancel import CancelRegistry
from studio.services.gen_space.shot_generation import GenSpaceService
from studio.services.gen_space.projects import ProjectService
from studio.services.gen_space.shots import ShotService
from studio.services.gen_space.storyboard import StoryboardService
from studio.services.billing.ledger import CreditsService
from studio.services.generation.service import GenerationService
from studio.services.prompts.library import PromptLibrary
from studio.services.prompts.styles import Style
from studio.store.base import Store
from studio.store.images import ImageFiles

LOCAL_USER = "local"


@dataclass
class Studio:
    engine: object  # pipelines.manager.PipelineManager
    styles: list[Style]
    store: Store
    images: ImageFiles
    credits: CreditsService
    prompts: PromptLibrary
    generation: GenerationService
    cancels: CancelRegistry
    projects: ProjectService
    shots: ShotService
    assets: AssetService
    storyboard: StoryboardService
    gen_space: GenSpaceService
    exports_dir: Path
    style_preview_dir: Path | None = None
    # How many GPU jobs the UI lets into the engine at once: 1, unless the engine merges
    # concurrent requests into one pipeline call (then they must be able to arrive together).
    gpu_concurrency: int = 1
    default_model_id: str | None = None
    admin: object | None = None  # studio.services.admin.AdminService: balances, grants, daily limits
    refine: object | None = None  # studio.services.generation.refine.RefineService: repaint, extend, enlarge, hires

    @property
    def catalog(self):
        return self.engine.catalog

    def is_downloaded(self, model_id: str) -> bool:
        try:
            return bool(self.engine.is_downloaded(model_id))
        except Exception:
            return False

    def choose_default_model(self) -> str:
        """The configured default; else the first model already on disk; else the offline demo."""
        ids = self.catalog.ids()
        if self.default_model_id in ids:
            return self.default_model_id
        for entry in self.catalog.models:
            if not entry.traits.built_in and self.is_downloaded(entry.id):
                return entry.id
        for entry in self.catalog.models:
            if entry.traits.built_in:
                return entry.id
        return ids[0]

    def models_summary(self) -> list[dict]:
        return [
            {
                "id": m.id,
                "name": m.name,
                "description": m.description,
                "specialties": list(m.specialties),
                "family": m.family,
                "credit_cost": m.credit_cost,
                "speed": m.speed,
                "quality": m.quality,
                "sizes": {a: [s.width, s.height] for a, s in m.sizes.items()},
                "reference_modes": list(m.reference_modes),
                "downloaded": self.is_downloaded(m.id),
                "ignores_prompt": m.ignores_prompt,
            }
            for m in self.catalog.models
        ]

    def style_preview(self, style: Style) -> str | None:
        if self.style_preview_dir is None:
            return None
        path = self.style_preview_dir / style.preview
        return str(path) if path.is_file() else None

    def styles_summary(self) -> list[dict]:
        return [
            {"id": s.id, "name": s.name, "description": s.description, "template": s.template, "negative_prompt": s.negative_prompt}
            for s in self.styles
        ]

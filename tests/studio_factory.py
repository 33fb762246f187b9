"""Builds a real Studio for tests: real catalog, real manager, real files; only the data
directory (and optionally the store) is the test's own."""

from __future__ import annotations

from pathlib import Path

from app import build_studio
from studio.settings import Settings


def make_settings(data_dir: Path, **overrides) -> Settings:
    values = {"data_dir": data_dir, "starting_credits": 20, "device": "cpu", "port": 7860}
    values.update(overrides)
    return Settings(_cli_parse_args=[], **values)


def make_studio(data_dir: Path, store=None, **overrides):
    studio = build_studio(make_settings(data_dir, **overrides))
    if store is not None:  # swap in another Store implementation (the in-memory twin)
        from studio.services.billing.ledger import CreditsService
        from studio.services.prompts.library import PromptLibrary

        studio.store = store
        studio.credits = CreditsService(store, overrides.get("starting_credits", 20))
        studio.prompts = PromptLibrary(store)
        studio.generation.store = store
        studio.generation.credits = studio.credits
        from studio.services.gen_space.assets import AssetService
        from studio.services.gen_space.projects import ProjectService
        from studio.services.gen_space.shots import ShotService

        studio.projects = ProjectService(store, studio.images)
        studio.shots = ShotService(store)
        studio.assets = AssetService(store, studio.images)
        studio.gen_space.projects, studio.gen_space.shots = studio.projects, studio.shots
        studio.gen_space.assets = studio.assets
    return studio


def image_files(data_dir: Path) -> list[Path]:
    root = Path(data_dir) / "images"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []

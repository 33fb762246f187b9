"""Gen Space test setup shared by the asset, project/shot and storyboard tests: both
stores, an image folder, and images saved the way `GenerationService` saves them.

The fixtures are registered for every test module by `pytest_plugins` in conftest.py.
"""

from __future__ import annotations

import uuid

import pytest
from PIL import Image

from studio.services.generation.service import user_subdir
from studio.store import Doc, ImageFiles, MemoryStore, Store, TinyDBStore, format_parameters


@pytest.fixture(params=["memory", "tinydb"])
def store(request, tmp_path) -> Store:
    """Every test runs against the in-memory twin and the real TinyDB file."""
    return MemoryStore() if request.param == "memory" else TinyDBStore(tmp_path / "db.json")


@pytest.fixture
def images(tmp_path) -> ImageFiles:
    return ImageFiles(tmp_path / "images")


def make_generated(
    store: Store,
    images: ImageFiles,
    user: str,
    project_id: str,
    shot_id: str | None = None,
    *,
    prompt: str = "a red fox",
    seed: int = 42,
    picture: Image.Image | None = None,
    negative_prompt: str = "",
    style_id: str = "none",
    style_name: str = "None",
    aspect: str = "1:1",
) -> Doc:
    """An image the way GenerationService saves one (PNG with A1111 text + assets record).

    `picture` defaults to a plain 32x32 red square.
    """
    picture = picture or Image.new("RGB", (32, 32), (200, 40, 40))
    asset_id = uuid.uuid4().hex
    details = {
        "asset_id": asset_id, "job_id": uuid.uuid4().hex, "owner": user, "kind": "generated",
        "model_id": "tiny-sd", "model_name": "Tiny SD", "style_id": style_id, "style_name": style_name,
        "aspect": aspect, "prompt": prompt, "styled_prompt": prompt, "negative_prompt": negative_prompt, "seed": seed,
        "width": picture.width, "height": picture.height, "steps": 2, "guidance": 1.0, "sampler": "Euler",
        "cost": 1, "elapsed_s": 0.1, "created": "2024-01-01T00:00:00+00:00",
        "project_id": project_id, "shot_id": shot_id, "reference_ids": [], "parent_id": None,
    }
    params = format_parameters(
        prompt, negative_prompt, 2, "Euler", 1.0, seed, picture.width, picture.height, "tiny-sd"
    )
    rel = images.save(picture, parameters=params, studio_meta=details, subdir=user_subdir(user))
    return store.insert("assets", {**details, "id": asset_id, "file": rel})

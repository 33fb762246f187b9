"""Catalog entries and tiny model folders for the engine tests.

`tiny_entry` is the one place that knows every field `ModelEntry` needs: each test file
only says what matters to it (id, family, source, steps, sizes ...); the rest are the
small, fast defaults a tiny random model wants. The session fixtures build the tiny
SD 1.5 / SDXL / FLUX folders; conftest.py registers them for every test module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.catalog import ASPECTS, ModelEntry
from pipelines.testing.tiny import build_tiny_sd15, build_tiny_sdxl


def square_sizes(side: int) -> dict[str, dict[str, int]]:
    """The same `side` x `side` size for every aspect (tiny models don't care about shape)."""
    return {a: {"width": side, "height": side} for a in ASPECTS}


SIZES_64 = square_sizes(64)


def tiny_entry(
    model_id: str,
    source: dict[str, Any],
    *,
    family: str = "sd15",
    name: str | None = None,
    description: str = "test model",
    steps: int = 2,
    guidance: float = 5.0,
    sizes: dict[str, dict[str, int]] | None = None,
    credit_cost: int = 1,
    **extra: Any,
) -> ModelEntry:
    """A valid, fast catalog entry; `extra` passes any further `ModelEntry` fields through."""
    return ModelEntry(
        id=model_id,
        name=name or model_id,
        description=description,
        family=family,
        source=source,
        default_steps=steps,
        default_guidance=guidance,
        sizes=SIZES_64 if sizes is None else sizes,
        credit_cost=credit_cost,
        speed="fast",
        quality="draft",
        **extra,
    )


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "tiny-models"


@pytest.fixture(scope="session")
def sd15(tiny_dir) -> Path:
    return build_tiny_sd15(tiny_dir / "sd15")


@pytest.fixture(scope="session")
def sdxl(tiny_dir) -> Path:
    return build_tiny_sdxl(tiny_dir / "sdxl")


@pytest.fixture(scope="session")
def flux_folder(tiny_dir) -> Path:
    from pipelines.testing.tiny_flux import build_tiny_flux

    return build_tiny_flux(tiny_dir / "flux")

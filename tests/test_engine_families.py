"""The family table is the only place that knows model families, and every row of it is
real: its pipeline classes exist in diffusers, its dtypes in torch, and the catalog
validates entries against it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.catalog import ModelEntry
from pipelines.families import FAMILIES, traits
from tests.engine_entries import square_sizes

ROOT = Path(__file__).resolve().parents[1]


def test_every_row_names_real_classes_and_dtypes():
    import diffusers
    import torch

    for fam in FAMILIES.values():
        if not fam.built_in:
            assert hasattr(diffusers, fam.pipeline), fam.name
        if fam.img2img_pipeline:
            assert hasattr(diffusers, fam.img2img_pipeline), fam.name
            assert "img2img" in fam.reference_modes
        for device in ("cuda", "cuda:1", "mps", "cpu"):
            assert isinstance(getattr(torch, fam.dtype_name(device)), torch.dtype)
        assert fam.size_multiple % 8 == 0
        assert not fam.ip_adapter or "ip_adapter" in fam.reference_modes


def test_no_module_outside_the_table_tests_a_family_name():
    pattern = re.compile(r"family *(==|!=|in) ")
    offenders = []
    for path in [*ROOT.glob("pipelines/**/*.py"), *ROOT.glob("studio/**/*.py"), *ROOT.glob("tests/**/*.py"),
                 *ROOT.glob("app.py")]:
        if path.name == "families.py" or path == Path(__file__).resolve():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "ask pipelines/families.py instead:\n" + "\n".join(offenders)


def _entry(**kw) -> dict:
    base = dict(id="x", name="X", description="d", family="sdxl", source={"kind": "folder", "path": "/m"},
                default_steps=2, default_guidance=1.0, sizes=square_sizes(64), credit_cost=1, speed="fast",
                quality="draft")
    base.update(kw)
    return base


def test_the_catalog_validates_entries_against_the_table():
    assert ModelEntry.model_validate(_entry()).traits is traits("sdxl")
    with pytest.raises(ValueError, match="unknown model family 'sd3'.*sd15"):
        ModelEntry.model_validate(_entry(family="sd3"))
    with pytest.raises(ValueError, match="multiples of 16"):
        ModelEntry.model_validate(_entry(family="flux", sizes=square_sizes(72)))
    with pytest.raises(ValueError, match="cannot use reference mode"):
        ModelEntry.model_validate(_entry(family="demo", source={"kind": "demo"}, reference_modes=["img2img"]))

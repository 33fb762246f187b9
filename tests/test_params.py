"""The one parameter table: every layer reads its rows, so the page offers exactly what the
service, the engine and the REST dialects accept, and a bad value gets one sentence."""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
import pytest

from pipelines.catalog import load_catalog
from pipelines.generate import validate_request
from pipelines.params import PARAMS, BadParameter
from pipelines.types import GenerationRequest
from studio.services.generation.requests import References, StudioRequest
from studio.services.common.validation import InvalidRequest
from tests.studio_factory import make_studio

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("row", PARAMS.values(), ids=list(PARAMS))
def test_each_row_is_consistent(row):
    assert row.minimum <= row.maximum and row.step > 0 and row.label
    for default in (row.default, *row.dialect_defaults.values()):
        assert default is None or default in row.special or row.minimum <= default <= row.maximum
    for lo, hi in row.family_limits.values():
        assert row.minimum <= lo <= hi <= row.maximum


def test_check_keeps_one_sentence_for_every_kind_of_bad_value():
    steps = PARAMS["steps"]
    assert steps.check(20) == 20 and steps.check(20.0) == 20
    for bad in ("20", True, 1.5, float("nan"), None):
        with pytest.raises(BadParameter, match=r"^Steps must be a whole number from 1 to 150\.$"):
            steps.check(bad)
    with pytest.raises(BadParameter, match=r"^Steps must be a whole number from 1 to 150; 151 is out of range\.$"):
        steps.check(151)
    assert PARAMS["seed"].check(-1) == -1  # the row's special value
    with pytest.raises(BadParameter, match="or -1 for random; -2 is out of range"):
        PARAMS["seed"].check(-2)


def test_the_service_and_the_engine_refuse_a_value_in_the_same_words(tmp_path):
    studio = make_studio(tmp_path)
    entry = load_catalog(REPO / "presets" / "models.json").models[0]
    cases = [("steps", 999, {"steps": 999}, {"steps": 999}),
             ("guidance", -1, {"guidance": -1}, {"guidance": -1.0}),
             ("strength", 0, {"references": References(strength=0)}, {"strength": 0.0}),
             ("ip_adapter_scale", 3, {"references": References(ip_adapter_scale=3)}, {"ip_adapter_scale": 3.0})]
    for name, value, service_fields, engine_fields in cases:
        with pytest.raises(BadParameter) as table:
            PARAMS[name].check(value, entry.family)
        request = StudioRequest(user="ana", model_id=entry.id, prompt="a boat", **service_fields)
        with pytest.raises(InvalidRequest) as service:
            studio.generation.prepare(request)
        engine_request = GenerationRequest(model_id=entry.id, prompt="a boat", width=512, height=512, **engine_fields)
        with pytest.raises(BadParameter) as engine:
            validate_request(entry, engine_request)
        assert str(service.value) == str(engine.value) == str(table.value), name


def test_sliders_in_the_page_have_the_table_range(tmp_path):
    from studio.ui.app import create_app

    studio = make_studio(tmp_path)
    demo = create_app(studio)
    sliders = {b.elem_id: b for b in demo.blocks.values() if isinstance(b, gr.Slider) and b.elem_id}
    expect = {"gs-scale": "ip_adapter_scale", "gs-strength": "strength", "edit-strength": "strength"}
    for elem_id, name in expect.items():
        row, slider = PARAMS[name], sliders[elem_id]
        assert (slider.minimum, slider.maximum, slider.step, slider.value, slider.label) == \
            (row.minimum, row.maximum, row.step, row.default, row.label), elem_id


LITERAL_RANGE = re.compile(r"gr\.Slider\(\s*-?[0-9]|Field\([^)]*\b(ge|le|gt|lt)=")


def test_no_parameter_range_is_written_outside_the_table():
    """App settings (port, budgets), prices and crop fractions are not generation parameters."""
    offenders = []
    for path in [*(REPO / "studio").rglob("*.py"), *(REPO / "pipelines").rglob("*.py")]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if LITERAL_RANGE.search(line) and not re.search(r"crop|credit_cost", line) and path.name != "settings.py":
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []

"""Refusals that come from the engine or an administrator's limit are answered before
any credit moves: the preflight says why (the UI shows it and disables Generate) and
generate() refuses with the same sentence, leaving the balance, the jobs and the image
folder as they were. These join three parts built apart: the engine's checks (FLUX's
512-token limit, weights too big for this machine's memory), the daily spending limit,
and the services' preflight."""

from __future__ import annotations

import json

import pytest

from studio.services.generation.requests import References, StudioRequest
from studio.services.generation.requests import InvalidRequest, StudioRequest
from tests.studio_factory import make_studio

SIZES = {a: {"width": 32, "height": 32} for a in ("16:9", "1:1", "9:16")}


def _flux_studio(tmp_path, flux_folder, **overrides):
    (tmp_path / "models.json").write_text(json.dumps({"models": [{
        "id": "tiny-flux", "name": "Tiny FLUX", "description": "tiny FLUX stand-in", "family": "flux",
        "source": {"kind": "folder", "path": str(flux_folder)}, "default_steps": 2, "default_guidance": 0.0,
        "sizes": SIZES, "credit_cost": 3, "speed": "slow", "quality": "best", "reference_modes": ["img2img"]}]}))
    return make_studio(tmp_path, starting_credits=20, **overrides)


def _nothing_moved(studio, user="ana", balance=20):
    assert studio.credits.balance(user) == balance
    assert [e["kind"] for e in studio.credits.ledger(user)] == ["grant"]
    assert studio.store.find("jobs", owner=user) == []
    assert not list((studio.images.root).rglob("*.png"))


def _request(prompt: str, model="tiny-flux") -> StudioRequest:
    return StudioRequest(user="ana", model_id=model, style_id="auto", aspect="1:1", count=1, prompt=prompt)


def test_a_flux_prompt_past_512_tokens_is_refused_before_any_charge(tmp_path, flux_folder):
    studio = _flux_studio(tmp_path, flux_folder)
    long_prompt = " ".join(["lighthouse"] * 700)[:1990]
    check = studio.generation.preflight(_request(long_prompt))
    assert not check.ok and "reads at most 512" in check.reason and check.cost == 3
    with pytest.raises(InvalidRequest, match="reads at most 512"):
        studio.generation.generate(_request(long_prompt))
    project = studio.projects.ensure_default("ana")
    shot = studio.shots.create("ana", project["id"], type="scene", name="Harbour")
    with pytest.raises(InvalidRequest, match="reads at most 512"):
        studio.gen_space.generate_for_shot(shot["id"], StudioRequest(user="ana", model_id="tiny-flux", count=1, prompt=long_prompt))
    _nothing_moved(studio)
    assert studio.generation.preflight(_request("a lighthouse at dusk")).ok


def test_weights_too_big_for_this_machine_are_refused_before_any_charge(tmp_path, flux_folder):
    studio = _flux_studio(tmp_path, flux_folder, ram_limit_gb=1e-6)  # about 1 KB
    check = studio.generation.preflight(_request("a lighthouse"))
    assert not check.ok and "needs about" in check.reason
    with pytest.raises(InvalidRequest, match="needs about"):
        studio.generation.generate(_request("a lighthouse"))
    _nothing_moved(studio)


def test_the_daily_limit_is_in_the_preflight_and_refuses_before_any_charge(tmp_path):
    studio = make_studio(tmp_path, starting_credits=20, daily_limit=2)
    demo = StudioRequest(user="ana", model_id="demo-faces", style_id="auto", aspect="1:1", count=3, prompt="a face")
    check = studio.generation.preflight(demo)
    assert not check.ok and check.cost == 3 and "daily limit is 2" in check.reason
    with pytest.raises(Exception, match="daily limit is 2"):
        studio.generation.generate(demo)
    _nothing_moved(studio)
    two = StudioRequest(user="ana", model_id="demo-faces", style_id="auto", aspect="1:1", count=2, prompt="a face")
    assert studio.generation.preflight(two).ok
    studio.generation.generate(two)
    assert studio.credits.balance("ana") == 18
    one_more = studio.generation.preflight(StudioRequest(**{**two.__dict__, "count": 1}))
    assert not one_more.ok and "daily limit is 2" in one_more.reason

"""The Gen Space flow on FLUX (tiny FLUX.1-schnell stand-in): generate for a shot, use a
result as the reference of the next generation (image-to-image, FLUX's reference mode),
the credits and history as for any model, and the PNG records FLUX's sampler."""

from __future__ import annotations

import json

import pytest

from studio.services.generation.requests import References, StudioRequest
from studio.store.images import parse_parameters
from tests.studio_factory import make_studio


@pytest.fixture()
def studio(flux_folder, tmp_path):
    sizes = {a: {"width": 32, "height": 32} for a in ("16:9", "1:1", "9:16")}
    (tmp_path / "models.json").write_text(json.dumps({"models": [{
        "id": "tiny-flux", "name": "Tiny FLUX", "description": "tiny FLUX stand-in", "family": "flux",
        "source": {"kind": "folder", "path": str(flux_folder)}, "default_steps": 2, "default_guidance": 0.0,
        "sizes": sizes, "credit_cost": 3, "speed": "slow", "quality": "best", "reference_modes": ["img2img"]}]}))
    return make_studio(tmp_path, starting_credits=20)


def test_flux_shot_generation_then_a_result_as_reference(studio):
    project = studio.projects.ensure_default("ana")
    mira = studio.shots.create("ana", project["id"], type="character", name="Mira", description="Mira, a sailor")
    first = studio.gen_space.generate_for_shot(mira["id"], StudioRequest(user="ana", model_id="tiny-flux", count=2, prompt="Mira"))
    assert len(first.images) == 2 and studio.credits.balance("ana") == 20 - 6
    ref = first.images[0].asset_id
    second = studio.gen_space.generate_for_shot(mira["id"], StudioRequest(user="ana", model_id="tiny-flux", count=1, prompt="Mira on a boat", references=References(asset_ids=(ref,))))
    details = second.images[0].details
    assert details["reference_mode"] == "img2img" and details["reference_ids"] == [ref]
    assert details["sampler"] == "Euler"
    history = studio.shots.get("ana", mira["id"])["history"]
    assert set(history) == {img.asset_id for img in first.images + second.images}
    assert studio.credits.balance("ana") == 20 - 9
    params = parse_parameters(studio.assets.details("ana", second.images[0].asset_id)["parameters"])
    assert params["sampler"] == "Euler" and params["prompt"].startswith("Mira on a boat")

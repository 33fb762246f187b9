"""The generation service end to end on the offline demo model: what a user is charged,
what lands on disk, and that bad input or a failed job costs and writes nothing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipelines.types import CancelToken, GenerationCancelled
from studio.services.billing.ledger import InsufficientCredits
from studio.services.generation.service import ASSETS, GenerationFailed
from studio.services.generation.jobs import JOBS
from studio.services.generation.requests import InvalidRequest, StudioRequest
from studio.store import MemoryStore
from studio.store.images import parse_parameters
from tests.studio_factory import image_files, make_studio

DEMO = "demo-faces"


@pytest.fixture(params=["tinydb", "memory"])
def studio(request, tmp_path):
    store = MemoryStore() if request.param == "memory" else None
    return make_studio(tmp_path, store=store)


def ask(**kw) -> StudioRequest:
    base = dict(user="ana", model_id=DEMO, style_id="auto", aspect="1:1", count=2, prompt="a portrait of a sailor")
    base.update(kw)
    return StudioRequest(**base)


def test_generate_charges_saves_and_records(studio, tmp_path):
    demo_cost = studio.catalog.get(DEMO).credit_cost
    result = studio.generation.generate(ask(count=2, seed=1234))

    assert len(result.images) == 2
    assert [img.seed for img in result.images] == [1234, 1235]
    assert result.cost == 2 * demo_cost
    assert studio.credits.balance("ana") == 20 - result.cost
    assert sum(e["delta"] for e in studio.credits.ledger("ana")) == studio.credits.balance("ana")
    assert len(image_files(tmp_path)) == 2

    img = Image.open(result.images[0].path)
    params = parse_parameters(img.text["parameters"])
    assert params["seed"] == 1234 and params["model"] == DEMO
    assert (params["width"], params["height"]) == img.size
    assert img.size == (256, 256)
    assert np.asarray(img.convert("L"), dtype=float).std() > 10, "the demo makes real, non-flat pictures"
    assert len(studio.store.find(ASSETS, job_id=result.job_id)) == 2


def test_same_seed_reproduces_exactly(studio):
    a = studio.generation.generate(ask(count=1, seed=77))
    b = studio.generation.generate(ask(count=1, seed=77))
    assert np.array_equal(np.asarray(Image.open(a.images[0].path)), np.asarray(Image.open(b.images[0].path)))


def test_random_seeds_are_recorded_and_reproduce(studio):
    first = studio.generation.generate(ask(count=3))
    seeds = [img.seed for img in first.images]
    assert len(set(seeds)) == 3
    again = studio.generation.generate(ask(count=1, seed=seeds[2]))
    assert np.array_equal(
        np.asarray(Image.open(first.images[2].path)), np.asarray(Image.open(again.images[0].path))
    )


def test_aspect_ratios_give_the_catalog_sizes(studio):
    entry = studio.catalog.get(DEMO)
    for aspect in ("16:9", "1:1", "9:16"):
        result = studio.generation.generate(ask(count=1, aspect=aspect, seed=5))
        size = Image.open(result.images[0].path).size
        assert size == (entry.sizes[aspect].width, entry.sizes[aspect].height)


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(prompt="   "), "empty"),
        (dict(prompt="x" * 2001), "2000"),
        (dict(count=0), "1 to 4"),
        (dict(count=5), "1 to 4"),
        (dict(model_id="no-such-model"), "Unknown model"),
        (dict(style_id="vaporwave"), "Unknown style"),
        (dict(aspect="4:3"), "Unknown aspect"),
        (dict(seed=-5), "Seed"),
        (dict(seed="abc"), "Seed"),
    ],
)
def test_bad_input_costs_nothing_and_writes_nothing(studio, tmp_path, bad, message):
    before = studio.credits.balance("ana")
    with pytest.raises(InvalidRequest, match=message):
        studio.generation.generate(ask(**bad))
    assert studio.credits.balance("ana") == before
    assert len(studio.credits.ledger("ana")) == 1  # only the starting grant
    assert image_files(tmp_path) == []
    assert studio.store.all(ASSETS) == []


def test_short_of_credits_is_refused_before_running(tmp_path):
    studio = make_studio(tmp_path, starting_credits=1)
    cost = studio.generation.estimate(DEMO, 4)
    assert cost > 1
    with pytest.raises(InsufficientCredits, match=f"costs {cost}"):
        studio.generation.generate(ask(count=4))
    assert studio.credits.balance("ana") == 1
    assert image_files(tmp_path) == []


def test_cancel_refunds_and_leaves_no_files(studio, tmp_path):
    token = CancelToken()  # pressed at the first step (a token cancelled before the job is never charged)
    with pytest.raises(GenerationCancelled):
        studio.generation.generate(ask(count=2), cancel=token, progress=lambda p: token.cancel())
    assert studio.credits.balance("ana") == 20
    kinds = [e["kind"] for e in studio.credits.ledger("ana")]
    assert kinds.count("charge") == kinds.count("refund") == 1
    assert image_files(tmp_path) == []
    assert studio.store.all(ASSETS) == []


def test_model_that_cannot_download_is_refused_before_any_charge(studio, tmp_path):
    check = studio.generation.preflight(ask(model_id="sd-turbo", count=1))
    assert not check.ok and "offline" in check.reason and check.cost == studio.catalog.get("sd-turbo").credit_cost
    with pytest.raises(InvalidRequest, match="not downloaded"):
        studio.generation.generate(ask(model_id="sd-turbo", count=1))
    assert studio.credits.balance("ana") == 20
    assert [e["kind"] for e in studio.credits.ledger("ana")] == ["grant"]
    assert image_files(tmp_path) == []


def _broken_model_catalog(tmp_path, cost=3):
    """A user catalog entry whose folder looks downloaded but can't load: it fails after the charge."""
    import json

    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    data = tmp_path / "data"
    data.mkdir()
    sizes = {a: {"width": 64, "height": 64} for a in ("16:9", "1:1", "9:16")}
    (data / "models.json").write_text(json.dumps({"models": [{
        "id": "broken", "name": "Broken", "description": "files are damaged", "family": "sd15",
        "source": {"kind": "folder", "path": str(broken)}, "default_steps": 2, "default_guidance": 5.0,
        "sizes": sizes, "credit_cost": cost, "speed": "fast", "quality": "draft"}]}))
    return data


def test_failure_after_the_charge_refunds_and_says_so_plainly(tmp_path):
    data = _broken_model_catalog(tmp_path, cost=3)
    studio = make_studio(data, starting_credits=20)
    assert studio.generation.preflight(ask(model_id="broken", count=1)).ok
    with pytest.raises(GenerationFailed) as failed:
        studio.generation.generate(ask(model_id="broken", count=1))
    message = str(failed.value)
    assert message.endswith("Your 3 credits were returned.")
    assert str(tmp_path) not in message and "Error" not in message.replace("error", "")
    assert studio.credits.balance("ana") == 20
    (job,) = studio.store.all(JOBS)
    assert job["status"] == "failed" and job["owner"] == "ana"
    assert image_files(data) == []


def test_enhanced_prompt_is_what_gets_recorded(studio):
    result = studio.generation.generate(ask(count=1, prompt="a red fox", enhance=True, style_id="fantasy"))
    assert result.prompt.startswith("a red fox") and len(result.prompt) > len("a red fox") + 20
    meta = studio.images.read_metadata(result.images[0].details["file"])
    assert meta["studio"]["prompt"] == result.prompt
    assert result.prompt in meta["parameters"]


def test_style_template_reaches_the_model_and_auto_leaves_prompt_alone(studio):
    auto = studio.generation.prepare(ask(style_id="auto"))
    assert auto.styled_prompt == "a portrait of a sailor"
    comic = studio.generation.prepare(ask(style_id="comic"))
    assert "a portrait of a sailor" in comic.styled_prompt and comic.styled_prompt != auto.styled_prompt
    assert comic.negative_prompt


def test_users_have_separate_balances(studio):
    studio.generation.generate(ask(user="ana", count=1))
    assert studio.credits.balance("ben") == 20
    assert studio.credits.balance("ana") == 20 - studio.catalog.get(DEMO).credit_cost


def test_saved_prompts_must_name_real_settings(studio):
    with pytest.raises(InvalidRequest, match="Unknown style"):
        studio.generation.check_settings(DEMO, "vaporwave", "1:1")
    with pytest.raises(InvalidRequest, match="Unknown aspect"):
        studio.generation.check_settings(DEMO, "auto", "5:4")
    studio.generation.check_settings(DEMO, "comic", "9:16")


def test_compare_uses_one_seed_across_models_and_checks_everything_first(tmp_path):
    import json

    from pipelines.testing.tiny import build_tiny_sd15

    folder = build_tiny_sd15(tmp_path / "tiny")
    data = tmp_path / "data"
    data.mkdir()
    sizes = {a: {"width": 64, "height": 64} for a in ("16:9", "1:1", "9:16")}
    (data / "models.json").write_text(json.dumps({"models": [{
        "id": "tiny", "name": "Tiny", "description": "tiny test model", "family": "sd15",
        "source": {"kind": "folder", "path": str(folder)}, "default_steps": 2, "default_guidance": 5.0,
        "sizes": sizes, "credit_cost": 5, "speed": "fast", "quality": "draft"}]}))
    studio = make_studio(data, starting_credits=20)
    with pytest.raises(InvalidRequest, match="2 to 4"):
        studio.generation.compare(ask(count=1), [DEMO])
    with pytest.raises(InvalidRequest, match="Unknown model"):
        studio.generation.compare(ask(count=1), [DEMO, "no-such-model"])
    with pytest.raises(InsufficientCredits):
        studio.generation.compare(ask(count=4), [DEMO, "tiny"])  # 4 + 20 > 20
    assert studio.credits.balance("ana") == 20 and image_files(data) == []

    results = studio.generation.compare(ask(count=1), [DEMO, "tiny"])
    assert [r.model_id for r in results] == [DEMO, "tiny"]
    assert results[0].images[0].seed == results[1].images[0].seed
    assert studio.credits.balance("ana") == 20 - 1 - 5


def test_compare_checks_every_model_can_run_before_charging_any(studio, tmp_path):
    check = studio.generation.preflight_compare(ask(count=1), [DEMO, "sd-turbo"])
    assert not check.ok and "SD-Turbo" in check.reason
    with pytest.raises(InvalidRequest, match="SD-Turbo"):
        studio.generation.compare(ask(count=1), [DEMO, "sd-turbo"])
    assert [e["kind"] for e in studio.credits.ledger("ana")] == ["grant"]
    assert image_files(tmp_path) == []


def test_compare_keeps_what_was_made_when_a_later_model_fails(tmp_path):
    data = _broken_model_catalog(tmp_path, cost=3)
    studio = make_studio(data, starting_credits=20)
    demo_cost = studio.catalog.get(DEMO).credit_cost
    assert studio.generation.preflight_compare(ask(count=1), [DEMO, "broken"]).cost == demo_cost + 3
    done = studio.generation.compare(ask(count=1), [DEMO, "broken"])
    assert [r.model_id for r in done] == [DEMO]
    assert len(image_files(data)) == 1
    assert done.failures and done.failures[0][0] == "Broken"
    assert "Your 3 credits were returned." in done.message
    assert studio.credits.balance("ana") == 20 - demo_cost

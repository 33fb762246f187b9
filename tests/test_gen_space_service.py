"""Generating for shots: history, references, batches and edits, on the real demo model."""

from __future__ import annotations

import re

import pytest

from studio.services.billing.ledger import InsufficientCredits
from studio.services.generation.requests import References, StudioRequest
from studio.services.generation.requests import InvalidRequest
from studio.store import MemoryStore
from tests.studio_factory import image_files, make_studio

DEMO = "demo-faces"


@pytest.fixture(params=["tinydb", "memory"])
def studio(request, tmp_path):
    return make_studio(tmp_path, store=MemoryStore() if request.param == "memory" else None)


@pytest.fixture
def project(studio):
    return studio.projects.ensure_default("ana")


def shot(studio, project, name="Mira", type_="character"):
    return studio.shots.create("ana", project["id"], type=type_, name=name, description=f"{name}, a sailor")


def test_generate_for_shot_records_history_and_links(studio, project):
    mira = shot(studio, project)
    result = studio.gen_space.generate_for_shot(mira["id"], StudioRequest(user="ana", model_id=DEMO, count=2, prompt="Mira"))
    ids = [img.asset_id for img in result.images]
    assert studio.shots.get("ana", mira["id"])["history"] == ids
    listed = studio.assets.list("ana", project_id=project["id"], shot_id=mira["id"])
    assert {a["id"] for a in listed} == set(ids)
    assert all(a["shot_type"] == "character" and a["project_id"] == project["id"] for a in listed)
    assert studio.credits.balance("ana") == 20 - 2


def test_demo_model_says_it_ignored_the_references(studio, project):
    mira = shot(studio, project)
    first = studio.gen_space.generate_for_shot(mira["id"], StudioRequest(user="ana", model_id=DEMO, count=1, prompt="Mira"))
    ref = first.images[0].asset_id
    again = studio.gen_space.generate_for_shot(mira["id"], StudioRequest(user="ana", model_id=DEMO, count=1, prompt="Mira", references=References(asset_ids=(ref,)))
    )
    details = studio.assets.details("ana", again.images[0].asset_id)
    assert details["references_ignored"] == 1 and details["reference_ids"] == []


def test_seven_references_are_refused_before_anything_runs(studio, project, tmp_path):
    mira = shot(studio, project)
    made = studio.gen_space.generate_for_shot(mira["id"], StudioRequest(user="ana", model_id=DEMO, count=4, prompt="Mira"))
    more = studio.gen_space.generate_for_shot(mira["id"], StudioRequest(user="ana", model_id=DEMO, count=3, prompt="Mira"))
    refs = tuple(i.asset_id for i in made.images + more.images)
    assert len(refs) == 7
    balance, files = studio.credits.balance("ana"), len(image_files(tmp_path))
    with pytest.raises(InvalidRequest, match="up to 6"):
        studio.gen_space.generate_for_shot(mira["id"], StudioRequest(user="ana", model_id=DEMO, count=1, prompt="x", references=References(asset_ids=refs)))
    assert studio.credits.balance("ana") == balance and len(image_files(tmp_path)) == files


@pytest.mark.parametrize("bad_id", ["../../etc/passwd", "", "0" * 31, "g" * 32])
def test_malformed_or_unknown_ids_change_nothing(studio, project, bad_id):
    with pytest.raises(InvalidRequest, match="Unknown"):
        studio.gen_space.generate_for_shot(bad_id, StudioRequest(user="ana", model_id=DEMO, count=1, prompt="x"))
    mira = shot(studio, project)
    with pytest.raises(InvalidRequest, match="Unknown"):
        studio.gen_space.generate_for_shot(mira["id"], StudioRequest(user="ana", model_id=DEMO, count=1, prompt="x", references=References(asset_ids=(bad_id,)))
        )
    assert studio.credits.balance("ana") == 20


def test_another_users_shot_is_unknown(studio, project):
    mira = shot(studio, project)
    with pytest.raises(InvalidRequest, match="Unknown shot"):
        studio.gen_space.generate_for_shot(mira["id"], StudioRequest(user="ben", model_id=DEMO, count=1, prompt="x"))
    assert studio.credits.balance("ben") == 20


def test_batch_for_all_characters_gives_each_shot_its_results(studio, project):
    shots = [shot(studio, project, n) for n in ("Mira", "Tom", "Ada")]
    shot(studio, project, "Harbour", "scene")
    characters = [s["id"] for s in studio.shots.list("ana", project["id"], "character")]
    assert studio.gen_space.estimate_batch("ana", characters, DEMO, 2) == 6
    results = studio.gen_space.generate_batch(characters, StudioRequest(user="ana", model_id=DEMO, count=2, prompt="portrait"))
    assert [sid for sid, _ in results] == [s["id"] for s in shots]
    for s in shots:
        assert len(studio.shots.get("ana", s["id"])["history"]) == 2
    assert studio.credits.balance("ana") == 20 - 6


def test_batch_that_cannot_be_paid_runs_nothing(tmp_path):
    studio = make_studio(tmp_path, starting_credits=3)
    project = studio.projects.ensure_default("ana")
    ids = [shot(studio, project, n)["id"] for n in ("Mira", "Tom")]
    with pytest.raises(InsufficientCredits):
        studio.gen_space.generate_batch(ids, StudioRequest(user="ana", model_id=DEMO, count=2, prompt="portrait"))
    assert studio.credits.balance("ana") == 3 and image_files(tmp_path) == []


def test_edit_by_prompt_needs_an_image_to_image_model(studio, project):
    mira = shot(studio, project)
    made = studio.gen_space.generate_for_shot(mira["id"], StudioRequest(user="ana", model_id=DEMO, count=1, prompt="Mira"))
    with pytest.raises(InvalidRequest, match="image-to-image"):
        studio.gen_space.edit_with_prompt("ana", made.images[0].asset_id, prompt="red coat", model_id=DEMO)
    assert studio.credits.balance("ana") == 19


def test_batch_can_describe_each_shot_by_its_own_description(studio, project):
    mira = shot(studio, project, "Mira")
    blank = studio.shots.create("ana", project["id"], type="character", name="Blank", description="")
    results = dict(studio.gen_space.generate_batch(
        [mira["id"], blank["id"]], StudioRequest(user="ana", model_id=DEMO, count=1, prompt="a portrait"),
        prompt_from_shot=True))
    assert results[mira["id"]].prompt == "Mira, a sailor"
    assert results[blank["id"]].prompt == "a portrait"


SHOT_BAD = [
    ({"prompt": "a \ud800 b"}, "can't be saved"),
    ({"prompt": 12345}, "must be text"),
    ({"prompt": "\u200b\u200b"}, "Write a prompt first"),
    ({"count": "2"}, "Number of images"),
    ({"strength": "abc"}, "Image-to-image strength must be a number"),
    ({"strength": 5}, "Image-to-image strength must be a number from 0.01 to 1; 5 is out of range"),
    ({"ip_adapter_scale": [1]}, "IP-Adapter scale"),
    ({"seed": 1.5}, "Seed must be a whole number"),
    ({"reference_ids": "abc"}, "list of ids"),
]


def shot_request(user: str = "ana", reference_ids=(), ip_adapter_scale=0.6, strength=0.6, **fields) -> StudioRequest:
    refs = References(asset_ids=reference_ids, ip_adapter_scale=ip_adapter_scale, strength=strength)
    return StudioRequest(user=user, references=refs, **fields)


@pytest.mark.parametrize("change, message", SHOT_BAD)
def test_bad_shot_jobs_are_refused_before_any_charge(studio, project, tmp_path, change, message):
    mira = shot(studio, project)
    job = shot_request(**{**dict(model_id=DEMO, count=1, prompt="Mira"), **change})
    check = studio.gen_space.preflight_for_shot(mira["id"], job)
    assert not check.ok and message in check.reason and check.balance == 20
    with pytest.raises(InvalidRequest, match=re.escape(message)):
        studio.gen_space.generate_for_shot(mira["id"], job)
    assert [e["kind"] for e in studio.credits.ledger("ana")] == ["grant"]
    assert studio.store.all("jobs") == [] and image_files(tmp_path) == []


def test_preflights_price_shot_batch_and_edit(studio, project):
    mira, pier = shot(studio, project), shot(studio, project, "Pier", "scene")
    cost = studio.catalog.get(DEMO).credit_cost
    job = StudioRequest(user="ana", model_id=DEMO, count=2, prompt="Mira")
    assert studio.gen_space.preflight_for_shot(mira["id"], job).cost == 2 * cost
    batch = studio.gen_space.preflight_batch([mira["id"], pier["id"]], job)
    assert batch.ok and batch.cost == 4 * cost
    assert "at least one shot" in studio.gen_space.preflight_batch([], job).reason
    made = studio.gen_space.generate_for_shot(mira["id"], StudioRequest(user="ana", model_id=DEMO, count=1, prompt="Mira"))
    edit = studio.gen_space.preflight_edit("ana", made.images[0].asset_id, prompt="darker", model_id=DEMO)
    assert not edit.ok and "cannot edit images by prompt" in edit.reason  # the demo has no image-to-image
    short = studio.gen_space.preflight_for_shot(mira["id"], StudioRequest(user="ana", model_id=DEMO, count=4, prompt="x"))
    assert short.ok == (4 * cost <= short.balance)


def test_shot_job_record_names_its_owner_and_runner(studio, project):
    mira = shot(studio, project)
    result = studio.gen_space.generate_for_shot(mira["id"], StudioRequest(user="ana", model_id=DEMO, count=1, prompt="Mira"))
    (job,) = studio.store.all("jobs")
    assert job["id"] == result.job_id and job["owner"] == "ana" and job["status"] == "done"
    assert job["shot_id"] == mira["id"] and job["runner"]["pid"] > 0 and job["runner"]["boot"]

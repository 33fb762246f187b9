"""The record models describe what the services really write: a realistic session on the
demo model (generate, a Gen Space shot with an upload, an edit and a delete, a saved
prompt, a refund) leaves a database that `check` finds clean, record for record."""

from __future__ import annotations

import io

from PIL import Image

from studio.services.generation.requests import StudioRequest
from studio.store.maintenance import check
from studio.services.access.api_keys import ApiKeyService
from studio.services.billing.admin import AdminService
from studio.store.records import API_OPTIONS, MODELS, insert_record
from tests.studio_factory import make_studio


def test_every_record_a_session_writes_fits_its_model_and_the_ledger_balances(tmp_path):
    studio = make_studio(tmp_path)
    ask = StudioRequest(user="ana", model_id="demo-faces", style_id="auto", aspect="1:1", count=2, prompt="a sailor")
    studio.generation.generate(ask)
    project = studio.projects.ensure_default("ana")
    shot = studio.shots.create("ana", project["id"], type="character", name="Mira")
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), "green").save(buf, "PNG")
    upload = studio.assets.upload("ana", project["id"], buf.getvalue(), "mira.png", shot_id=shot["id"])
    edit = studio.assets.edit_transform("ana", upload["id"], "rotate", degrees=90)
    studio.assets.add_reference("ana", project["id"], edit["id"])
    studio.shots.apply_asset("ana", shot["id"], edit["id"])
    studio.assets.delete("ana", upload["id"], confirm=True)
    studio.prompts.save("ana", name="sailor", prompt="a sailor", model_id="demo-faces", aspect="1:1")
    studio.credits.charge("ana", 1, reason="test", job_id="f" * 32)
    studio.credits.refund("f" * 32, reason="job failed")
    keys = ApiKeyService(studio.store)
    keys.revoke("ana", keys.create("ana", "laptop script").id)
    AdminService(studio.store, studio.credits, admins=["root"]).set_daily_limit("root", "ana", 50)
    insert_record(studio.store, API_OPTIONS, {"owner": "ana", "sd_model_checkpoint": "demo-faces"})  # as /options does

    report = check(tmp_path)
    assert report.ok, report.problems
    written = {name for name in studio.store.tables()}
    assert set(MODELS) <= written  # every model was exercised by a real record
    for name in MODELS:
        assert all("owner" in doc for doc in studio.store.all(name)), name


def test_a_write_that_does_not_fit_its_model_is_refused_before_the_store_sees_it(tmp_path):
    import pydantic
    import pytest

    from studio.store.records import ASSETS, SHOTS, update_record

    studio = make_studio(tmp_path)
    with pytest.raises(pydantic.ValidationError):
        insert_record(studio.store, ASSETS, {"owner": "ana", "kind": "painting", "file": "x.png", "created": "now"})
    project = studio.projects.ensure_default("ana")
    shot = studio.shots.create("ana", project["id"], type="character", name="Mira")
    with pytest.raises(pydantic.ValidationError):
        update_record(studio.store, SHOTS, shot["id"], {"type": "villain"})
    assert studio.store.all(ASSETS) == [] and studio.store.get(SHOTS, shot["id"])["type"] == "character"

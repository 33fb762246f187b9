"""The record models describe what the services really write: a realistic session on the
demo model (generate, a Gen Space shot with an upload, an edit and a delete, a saved
prompt, a refund) leaves a database that `check` finds clean, record for record."""

from __future__ import annotations

import io

from PIL import Image

from studio.services.generation.requests import StudioRequest
from studio.store.maintenance import check
from studio.store.records import MODELS
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

    report = check(tmp_path)
    assert report.ok, report.problems
    written = {name for name in studio.store.tables()}
    assert set(MODELS) <= written  # every model was exercised by a real record
    for name in MODELS:
        assert all("owner" in doc for doc in studio.store.all(name)), name

"""Gen Space through gradio_client against the launched app, with a real (tiny) IP-Adapter
model added by the user's catalog file: shots, references, apply, storyboard ZIP."""

from __future__ import annotations

import json
import zipfile

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from pipelines.tiny import build_tiny_sd15
from pipelines.tiny_checkpoints import IP_ADAPTER_SUBFOLDER, IP_ADAPTER_WEIGHT_NAME, build_tiny_ip_adapter
from tests.launched_app import launched_app

pytestmark = pytest.mark.slow
SIZES = {"16:9": {"width": 64, "height": 32}, "1:1": {"width": 64, "height": 64}, "9:16": {"width": 32, "height": 64}}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen-space-api")
    sd15 = build_tiny_sd15(root / "tiny-sd15")
    _, adapter = build_tiny_ip_adapter(sd15, root / "tiny-ip-adapter")
    data = root / "data"
    data.mkdir()
    (data / "models.json").write_text(json.dumps({"models": [{
        "id": "tiny-ip", "name": "Tiny IP-Adapter SD1.5", "description": "tiny random test model",
        "family": "sd15", "source": {"kind": "folder", "path": str(sd15)}, "default_steps": 2,
        "default_guidance": 5.0, "sizes": SIZES, "credit_cost": 2, "speed": "fast", "quality": "draft",
        "reference_modes": ["ip_adapter", "img2img"],
        "ip_adapter": {"path": str(adapter), "subfolder": IP_ADAPTER_SUBFOLDER, "weight_name": IP_ADAPTER_WEIGHT_NAME,
                       "image_encoder_folder": f"{IP_ADAPTER_SUBFOLDER}/image_encoder"},
    }]}))
    with launched_app(data, "--starting-credits", "40") as url:
        yield Client(url, verbose=False), root


def test_shot_with_two_references_applied_and_exported(app):
    c, root = app
    project = c.predict(api_name="/list_projects")[0]["id"]
    shot = c.predict(project, "character", "Mira", "a sailor with a red scarf", api_name="/create_shot")
    assert [s["name"] for s in c.predict(project, "character", api_name="/list_shots")] == ["Mira"]

    ref_file = root / "ref.jpg"
    Image.new("RGB", (80, 60), (200, 40, 40)).save(ref_file)
    uploaded, _ = c.predict(project, handle_file(str(ref_file)), api_name="/upload_asset")
    assert uploaded["kind"] == "upload" and uploaded["width"] == 80
    first = c.predict(shot["id"], "tiny-ip", 1, "a sailor", [], api_name="/generate_for_shot")
    refs = [uploaded["id"], first["images"][0]["id"]]
    for ref in refs:
        listed = c.predict(project, ref, api_name="/use_as_reference")
    assert listed == refs

    balance = c.predict(api_name="/balance")
    result = c.predict(shot["id"], "tiny-ip", 2, "a sailor", refs, "auto", "1:1", False, 7,
                       api_name="/generate_for_shot")
    assert result["cost"] == 4 and result["balance"] == balance - 4
    made = result["images"]
    assert [m["seed"] for m in made] == [7, 8]
    assert all(m["reference_ids"] == refs and m["reference_mode"] == "ip_adapter" for m in made)

    no_refs = c.predict(shot["id"], "tiny-ip", 1, "a sailor", [], "auto", "1:1", False, 7,
                        api_name="/generate_for_shot")
    with_refs = Image.open(made[0]["local_path"]).convert("RGB")
    without = Image.open(no_refs["images"][0]["local_path"]).convert("RGB")
    assert with_refs.tobytes() != without.tobytes(), "the references change the picture"

    applied = c.predict(shot["id"], made[0]["id"], api_name="/apply_to_shot")
    assert applied["applied_asset_id"] == made[0]["id"]

    zip_path, sheet, _ = c.predict(project, api_name="/export_storyboard")
    with zipfile.ZipFile(zip_path) as z:
        manifest = json.loads(z.read("manifest.json"))
        entry = manifest["shots"][0]
        assert entry["name"] == "Mira" and entry["applied_asset_id"] == made[0]["id"] and entry["seed"] == 7
        png = z.read(entry["image"])
    assert png == open(made[0]["local_path"], "rb").read(), "the ZIP holds the PNG with its metadata, unchanged"
    assert Image.open(sheet).width >= 256


def test_bad_gen_space_requests_change_nothing(app):
    c, root = app
    project = c.predict(api_name="/list_projects")[0]["id"]
    shot = c.predict(project, "prop", "Lantern", "", api_name="/create_shot")
    balance = c.predict(api_name="/balance")
    assets = len(c.predict(project, api_name="/list_assets")["items"])
    with pytest.raises(Exception, match="Unknown shot"):
        c.predict("../../etc/passwd", "tiny-ip", 1, "a lantern", [], api_name="/generate_for_shot")
    with pytest.raises(Exception, match="up to 6"):
        c.predict(shot["id"], "tiny-ip", 1, "a lantern", ["a" * 32] * 7, api_name="/generate_for_shot")
    with pytest.raises(Exception, match="Unknown (asset|image)"):
        c.predict(shot["id"], "tiny-ip", 1, "a lantern", ["b" * 32], api_name="/generate_for_shot")
    text_file = root / "notes.png"
    text_file.write_text("this is not an image")
    with pytest.raises(Exception, match="(?i)not .*image|PNG, JPEG or WebP"):
        c.predict(project, handle_file(str(text_file)), api_name="/upload_asset")
    assert c.predict(api_name="/balance") == balance
    assert len(c.predict(project, api_name="/list_assets")["items"]) == assets


def test_deleting_a_reference_updates_the_list_and_the_shot(app):
    c, root = app
    project = c.predict(api_name="/list_projects")[0]["id"]
    shot = c.predict(project, "scene", "Harbour", "a harbour at dawn", api_name="/create_shot")
    made = c.predict(shot["id"], "tiny-ip", 1, "a harbour", [], api_name="/generate_for_shot")["images"][0]
    assert made["id"] in c.predict(project, made["id"], api_name="/use_as_reference")
    c.predict(shot["id"], made["id"], api_name="/apply_to_shot")
    with pytest.raises(Exception, match="(?i)confirm"):
        c.predict(made["id"], False, api_name="/delete_asset")
    assert c.predict(made["id"], True, api_name="/delete_asset") is True
    shots = {s["id"]: s for s in c.predict(project, "all", api_name="/list_shots")}
    assert shots[shot["id"]]["applied_asset_id"] is None
    assert made["id"] not in c.predict(project, api_name="/list_references")
    with pytest.raises(Exception, match="Unknown (asset|image)"):
        c.predict(made["id"], api_name="/asset_details")


def test_batch_for_several_shots_through_the_api(app):
    c, _ = app
    project = c.predict(api_name="/list_projects")[0]["id"]
    ids = [c.predict(project, "character", n, f"{n} the sailor", api_name="/create_shot")["id"] for n in ("Ada", "Bo")]
    balance = c.predict(api_name="/balance")
    done = c.predict(ids, "tiny-ip", 1, "fallback", api_name="/generate_batch")
    assert [d["shot_id"] for d in done] == ids
    assert [d["images"][0]["prompt"] for d in done] == ["Ada the sailor", "Bo the sailor"]
    assert c.predict(api_name="/balance") == balance - 4

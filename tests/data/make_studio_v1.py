"""Builds tests/data/studio-v1.json with the services and store of commit 314487b (the one-file format):
    git archive 314487b studio pipelines presets app.py | tar -x -C OLD && PYTHONPATH=OLD python tests/data/make_studio_v1.py OUT
then copy OUT/studio.json here. Not a test; kept so the fixture can be remade."""
import io, json, sys, uuid
from pathlib import Path
from PIL import Image
from studio.store import open_store, ImageFiles
from studio.services.billing.ledger import CreditsService
from studio.services.prompts.library import PromptLibrary
from studio.services.gen_space.projects import ProjectService
from studio.services.gen_space.shots import ShotService
from studio.services.gen_space.assets import AssetService

out = Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
store = open_store(out); images = ImageFiles(out / "images")
credits = CreditsService(store, 20)
credits.charge("ann", 3, reason="3 × Demo", job_id="a" * 32)
credits.charge("ann", 1, reason="1 × Demo", job_id="b" * 32)
credits.refund("b" * 32, reason="job failed")
credits.balance("bob")
PromptLibrary(store).save("ann", name="sailor", prompt="a portrait of a sailor", model_id="demo-faces", aspect="1:1", count=2)
projects, shots, assets = ProjectService(store, images), ShotService(store), AssetService(store, images)
project = projects.ensure_default("ann")
hero = shots.create("ann", project["id"], type="character", name="Hero", description="a brave sailor")
buf = io.BytesIO(); Image.new("RGB", (16, 16), "red").save(buf, "PNG")
up = assets.upload("ann", project["id"], buf.getvalue(), "hero.png", shot_id=hero["id"])
store.insert("jobs", {"id": "a" * 32, "user": "ann", "status": "done", "model_id": "demo-faces", "style_id": "auto",
                      "aspect": "1:1", "count": 3, "cost": 3, "prompt": "a sailor", "created": "2026-11-30T10:00:00+00:00"})
for i in range(3):  # Image Studio generations, shaped as GenerationService wrote them
    store.insert("assets", {"id": uuid.uuid4().hex, "job_id": "a" * 32, "owner": "ann", "kind": "generated",
        "model_id": "demo-faces", "model_name": "Demo faces", "style_id": "auto", "style_name": "Auto", "aspect": "1:1",
        "prompt": "a sailor", "styled_prompt": "a sailor", "negative_prompt": "", "enhanced": False, "seed": 40 + i,
        "width": 64, "height": 64, "steps": 1, "guidance": 0.0, "sampler": "dcgan", "cost": 1, "elapsed_s": 0.01,
        "created": f"2026-11-30T10:00:0{i}+00:00", "prompt_ignored": True, "file": f"ann/{i}.png"})
shots.apply_asset("ann", hero["id"], up["id"])
assets.add_reference("ann", project["id"], up["id"])
print(json.dumps({k: len(v) for k, v in json.loads((out / "studio.json").read_text()).items()}))

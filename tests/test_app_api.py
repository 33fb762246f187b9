"""The launched app through gradio_client, as a script or another program would use it."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import Client
from PIL import Image

from tests.launched_app import launched_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    data = tmp_path_factory.mktemp("api") / "data"
    with launched_app(data, "--starting-credits", "20") as url:
        yield Client(url, verbose=False), data


def images_on_disk(data: Path) -> list[Path]:
    return [p for p in (data / "images").rglob("*.png")] if (data / "images").exists() else []


def test_catalog_and_styles(client):
    c, _ = client
    models = c.predict(api_name="/models")
    ids = [m["id"] for m in models]
    assert {"sd-turbo", "sdxl-turbo", "sd15", "sdxl-base", "flux-schnell", "demo-faces"} <= set(ids)
    demo = next(m for m in models if m["id"] == "demo-faces")
    assert demo["ignores_prompt"] is True and demo["downloaded"] is True
    styles = [s["name"] for s in c.predict(api_name="/styles")]
    assert styles == ["Auto", "3D Anime", "3D Model", "Japanese Anime", "Movie", "Comic", "Cyberpunk", "Fantasy"]


def test_generate_cost_balance_and_ledger_agree(client):
    c, data = client
    before = c.predict(api_name="/balance")
    cost = c.predict("demo-faces", 2, api_name="/estimate_cost")
    assert cost == 2
    gallery, job, *_ = c.predict(
        "demo-faces", "cyberpunk", "9:16", 2, "a portrait of a sailor", True, "", 4242, api_name="/generate"
    )
    assert len(gallery) == 2
    assert job["cost"] == cost and job["balance"] == before - cost
    assert [img["seed"] for img in job["images"]] == [4242, 4243]
    assert job["prompt"].startswith("a portrait of a sailor") and job["prompt"] != "a portrait of a sailor"
    first = Image.open(gallery[0]["image"]["path"] if isinstance(gallery[0]["image"], dict) else gallery[0]["image"])
    assert first.size == (256, 448)
    after = c.predict(api_name="/balance")
    assert after == before - cost
    ledger = c.predict(api_name="/ledger")["items"]
    assert sum(e["delta"] for e in ledger) == after
    assert ledger[0]["kind"] == "charge" and ledger[0]["delta"] == -cost
    assert len(images_on_disk(data)) >= 2


@pytest.mark.parametrize(
    "args, message",
    [
        (("demo-faces", "auto", "1:1", 1, "   ", False, "", -1), "empty"),
        (("demo-faces", "auto", "1:1", 1, "x" * 2001, False, "", -1), "2000"),
        (("no-such-model", "auto", "1:1", 1, "a cat", False, "", -1), "Unknown model"),
        (("demo-faces", "auto", "1:1", 9, "a cat", False, "", -1), "1 to 4|9"),
        (("sd-turbo", "auto", "1:1", 1, "a cat", False, "", -1), "(?i)download|hub|network"),
    ],
)
def test_bad_requests_get_a_message_and_cost_nothing(client, args, message):
    c, data = client
    before, files = c.predict(api_name="/balance"), len(images_on_disk(data))
    with pytest.raises(Exception, match=message):
        c.predict(*args, api_name="/generate")
    assert c.predict(api_name="/balance") == before
    assert len(images_on_disk(data)) == files
    assert c.predict(api_name="/models")  # still serving


def test_enhance_prompt_endpoint(client):
    c, _ = client
    text = c.predict("a red fox", "fantasy", api_name="/enhance_prompt")
    assert text.startswith("a red fox") and len(text) > 30
    assert text == c.predict("a red fox", "fantasy", api_name="/enhance_prompt")

"""LoRAs in the launched app: the A1111 dialect through the real `webuiapi` client
(`/loras`, `/refresh-loras`, `/embeddings`, `<lora:name:weight>` in a txt2img prompt,
refusals that cost nothing), the OpenAI dialect's prompt, and the Image Studio picker in
real Chromium (pick a LoRA and a weight, generate, see it in the details; add a file and
press Refresh). One app for the module: launching one is the slow part here."""

from __future__ import annotations

import re

import pytest
import requests
import webuiapi

from pipelines.testing.tiny import build_tiny_sd15
from pipelines.testing.tiny_lora import build_tiny_embedding, build_tiny_lora
from tests.api_fixtures import TINY, data_dir_with_tiny_model, image_files
from tests.browser import box, chromium_page, expect, open_accordion
from tests.launched_app import launched_app

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("loras-app")
    data = data_dir_with_tiny_model(root)
    model = build_tiny_sd15(root / "models" / "sd15")
    build_tiny_lora(model, data / "loras" / "ink_style.safetensors", seed=1)
    build_tiny_embedding(model, data / "embeddings" / "moodytone.safetensors")
    (data / "loras" / "truncated.safetensors").write_bytes(b"\x40\x00\x00\x00\x00\x00\x00\x00{")
    with launched_app(data, "--starting-credits", "200", timeout=300) as url:  # shared, busy CI machines
        yield url, data, model


@pytest.fixture(scope="module")
def api(app):
    return webuiapi.WebUIApi(baseurl=f"{app[0]}sdapi/v1", sampler="Euler", steps=2)


def test_a1111_lists_loras_and_embeddings_in_its_shapes(api, app):
    api.util_set_model(TINY)
    loras = api.get_loras()
    assert [(entry["name"], entry["alias"], entry["path"], entry["family"]) for entry in loras] == [
        ("ink_style", "ink_style", "ink_style.safetensors", "sd15")]
    assert isinstance(loras[0]["metadata"], dict)
    embeddings = api.get_embeddings()
    assert embeddings["loaded"]["moodytone"] == {"step": None, "sd_checkpoint": None, "sd_checkpoint_name": None,
                                                 "shape": 32, "vectors": 1}
    assert embeddings["skipped"] == {}


def test_a1111_prompt_tag_uses_the_lora_and_writes_it_in_the_infotext(api, app):
    plain = api.txt2img(prompt="a red fox", seed=5, width=64, height=64)
    styled = api.txt2img(prompt="a red fox <lora:ink_style:0.7>", seed=5, width=64, height=64)
    info = styled.info["infotexts"][0]
    assert "<lora:ink_style:0.7>" in info and 'Lora hashes: "ink_style: ' in info
    assert plain.image.tobytes() != styled.image.tobytes()


def test_a1111_bad_lora_costs_nothing(api, app):
    url, data, _ = app
    files = len(image_files(data))
    reply = requests.post(f"{url}sdapi/v1/txt2img", json={"prompt": "a fox <lora:ink_stlye:1>", "width": 64,
                                                           "height": 64, "steps": 2}, timeout=120)
    assert reply.status_code in (400, 422) and "Did you mean: ink_style" in reply.json()["detail"]
    reply = requests.post(f"{url}sdapi/v1/txt2img", json={"prompt": "a fox <lora:ink_style:9>", "width": 64,
                                                           "height": 64, "steps": 2}, timeout=120)
    assert "LoRA weight must be a number from -2 to 2" in reply.json()["detail"]
    assert len(image_files(data)) == files


def test_openai_dialect_takes_the_prompt_tag(app):
    url, _, _ = app
    reply = requests.post(f"{url}v1/images/generations", timeout=120, json={
        "model": TINY, "prompt": "a fox <lora:ink_style:0.5>", "size": "64x64", "response_format": "b64_json"})
    assert reply.status_code == 200, reply.text
    reply = requests.post(f"{url}v1/images/generations", timeout=120, json={
        "model": TINY, "prompt": "a fox <lora:nope:0.5>", "size": "64x64"})
    assert reply.status_code == 400 and "no LoRA called 'nope'" in reply.text


def test_picker_generate_details_and_refresh_in_the_browser(app):
    url, data, model = app
    with chromium_page(1280, 900) as page:
        page.goto(url)
        page.locator("#model input").click()
        page.get_by_role("option", name=re.compile("Tiny SD 1.5")).first.click()
        open_accordion(page, "studio-loras", "#studio-lora-0")
        note = page.locator("#studio-lora-note")
        expect(note).to_contain_text("moodytone")
        expect(note).to_contain_text("truncated.safetensors skipped")
        page.locator("#studio-lora-0 input").click()
        page.get_by_role("option", name="ink_style", exact=True).click()
        weight = page.locator("#studio-lora-weight-0 input[type=number]")
        weight.fill("0.6")
        weight.press("Enter")
        box(page, "prompt").fill("a red fox in the snow")
        expect(page.locator("#generate")).to_be_enabled()
        page.locator("#generate").click()
        expect(page.locator("#details")).to_contain_text("ink_style × 0.6")

        build_tiny_lora(model, data / "loras" / "fresh_look.safetensors", seed=4)
        page.locator("#studio-lora-1 input").click()
        expect(page.get_by_role("option", name="fresh_look", exact=True)).to_have_count(0)
        page.keyboard.press("Escape")
        page.locator("#studio-lora-refresh").click()
        page.locator("#studio-lora-1 input").click()
        expect(page.get_by_role("option", name="fresh_look", exact=True)).to_be_visible()


def test_a1111_refresh_loras_shows_a_file_added_while_running(api, app):
    url, data, model = app
    build_tiny_lora(model, data / "loras" / "late_rest.safetensors", seed=6)
    assert "late_rest" not in [entry["name"] for entry in api.get_loras()]
    reply = requests.post(f"{url}sdapi/v1/refresh-loras", timeout=60)
    assert reply.status_code == 200 and reply.json() is None
    assert "late_rest" in [entry["name"] for entry in api.get_loras()]


def test_gen_space_settings_bar_and_consistency_flow_use_the_picked_lora(app):
    from PIL import Image

    url, data, _ = app
    with chromium_page(1280, 900) as page:
        page.goto(url)
        page.get_by_role("tab", name="Gen Space").click()
        page.locator("#gs-model input").click()
        page.get_by_role("option", name=re.compile("Tiny SD 1.5")).first.click()
        open_accordion(page, "new-shot", "#create-shot")
        page.locator("#new-shot-type").get_by_text("Character", exact=True).click()
        box(page, "new-shot-name").fill("Mira")
        box(page, "new-shot-desc").fill("a young sailor")
        page.click("#create-shot")
        expect(page.locator("#shot-header")).to_contain_text("Mira")
        open_accordion(page, "gs-more", "#gs-seed")
        open_accordion(page, "gs-loras", "#gs-lora-0")
        page.locator("#gs-lora-0 input").click()
        page.get_by_role("option", name="ink_style", exact=True).click()
        weight = page.locator("#gs-lora-weight-0 input[type=number]")
        weight.fill("0.4")
        weight.press("Enter")
        expect(page.locator("#gs-generate")).to_be_enabled()
        page.locator("#gs-generate").click()
        expect(page.locator("#gs-status")).to_contain_text("image(s) for Mira")
        page.locator("#gs-results .thumbnail-item").first.click()
        expect(page.locator("#gs-details")).to_contain_text("ink_style × 0.4")

        before = set(image_files(data))
        open_accordion(page, "batch", "#batch-type")
        page.locator("#batch-type").get_by_text("All characters", exact=True).click()
        expect(page.locator("#batch-run")).to_be_enabled()
        page.locator("#batch-run").click()
        expect(page.locator("#gs-status")).to_contain_text("Done")
    made = [p for p in image_files(data) if p not in before]
    assert made and all("<lora:ink_style:0.4>" in Image.open(p).text["parameters"] for p in made)

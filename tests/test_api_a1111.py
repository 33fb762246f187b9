"""The AUTOMATIC1111 dialect through the real, unmodified `webuiapi` client against the
launched app: the demo model and a tiny local SD 1.5 from the user catalog, images that
decode and reproduce, credits as the ledger says, and A1111-shaped errors that cost
nothing and write nothing."""

from __future__ import annotations

import base64
import json
import re
import threading
import time

import pytest
import requests
import webuiapi
from PIL import Image

from tests.api_fixtures import TINY, data_dir_with_tiny_model, gradio, image_files, ledger_sum, pixels, png_of
from tests.launched_app import launched_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = data_dir_with_tiny_model(tmp_path_factory.mktemp("a1111"))
    with launched_app(data, "--starting-credits", "200") as url:
        yield url, data


@pytest.fixture(scope="module")
def api(app):
    url, _ = app
    return webuiapi.WebUIApi(baseurl=f"{url}sdapi/v1", sampler="Euler a", steps=2)


@pytest.fixture(scope="module")
def ui(app):
    return gradio(app[0])


def test_txt2img_demo_model_images_seeds_and_credits(api, ui, app):
    _, data = app
    before, files = ui.predict(api_name="/balance"), len(image_files(data))
    result = api.txt2img(prompt="a sailor", seed=77, batch_size=2, width=256, height=256,
                         override_settings={"sd_model_checkpoint": "demo-faces"})
    assert [img.size for img in result.images] == [(256, 256), (256, 256)]
    assert result.info["all_seeds"] == [77, 78] and result.info["sd_model_name"] == "demo-faces"
    assert "Seed: 77" in result.info["infotexts"][0]
    assert any("ignores the prompt" in n for n in result.info["studio_notes"])
    after = ui.predict(api_name="/balance")
    assert after == before - 2 == result.info["balance"] and ledger_sum(ui) == after
    assert len(image_files(data)) == files + 2, "API images land in the caller's history like UI ones"
    again = api.txt2img(prompt="a sailor", seed=78, width=256, height=256, override_settings={"sd_model_checkpoint": "demo-faces"})
    assert (pixels(again.image) == pixels(result.images[1])).all(), "seed 78 alone gives the batch's second image"


def test_model_list_switch_and_tiny_local_model(api, ui):
    names = api.util_get_model_names()
    assert {"demo-faces", TINY, "sd15"} <= set(names)
    api.util_set_model(TINY)
    assert api.util_get_current_model() == TINY
    before = ui.predict(api_name="/balance")
    result = api.txt2img(prompt="a red boat", seed=5, steps=2, cfg_scale=4.0, width=64, height=32)
    assert result.image.size == (64, 32) and result.info["sd_model_name"] == TINY
    assert result.info["steps"] == 2 and result.info["cfg_scale"] == 4.0
    assert result.info["sampler_name"] == "Euler a" and "Sampler: Euler a," in result.info["infotexts"][0]
    same = api.txt2img(prompt="a red boat", seed=5, steps=2, cfg_scale=4.0, width=64, height=32)
    assert (pixels(same.image) == pixels(result.image)).all()
    assert ui.predict(api_name="/balance") == before - 6
    # Any size on the model's multiple is made exactly; one off it is rounded, and info says so.
    exact = api.txt2img(prompt="a red boat", seed=5, width=96, height=40)
    assert exact.image.size == (96, 40) and exact.info["width"] == 96
    rounded = api.txt2img(prompt="a red boat", seed=5, width=100, height=42)
    assert rounded.image.size == (96, 40) and any("width 100 was rounded to 96" in n for n in rounded.info["studio_notes"])
    api.util_set_model("demo-faces")
    assert api.util_get_current_model() == "demo-faces"


def test_img2img_starts_from_the_init_image(api, ui):
    red, blue = Image.new("RGB", (64, 64), (200, 30, 30)), Image.new("RGB", (64, 64), (20, 40, 220))
    ask = dict(prompt="a red boat", seed=9, steps=4, width=64, height=64, override_settings={"sd_model_checkpoint": TINY})
    before = ui.predict(api_name="/balance")
    light = api.img2img(images=[red], denoising_strength=0.5, **ask)
    again = api.img2img(images=[red], denoising_strength=0.5, **ask)
    other = api.img2img(images=[blue], denoising_strength=0.5, **ask)
    text = api.txt2img(**ask)
    assert light.image.size == (64, 64) and light.info["denoising_strength"] == 0.5
    diff = lambda a, b: int(abs(pixels(a.image) - pixels(b.image)).max())  # noqa: E731
    assert diff(light, again) == 0, "same start, seed and strength: same picture"
    assert diff(light, other) > 3, "the init image changes the picture"
    assert diff(light, text) > 3, "not the text-to-image picture"
    assert ui.predict(api_name="/balance") == before - 12


def test_interrupt_stops_the_callers_job_and_returns_what_it_had(api, ui, app):
    url, data = app
    before, files = ui.predict(api_name="/balance"), len(image_files(data))
    out = {}
    worker = threading.Thread(target=lambda: out.update(r=api.txt2img(
        prompt="slow", steps=150, batch_size=4, width=64, height=64, override_settings={"sd_model_checkpoint": TINY})))
    worker.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = api.get_progress()["state"]
        if state["sampling_step"] >= 1:
            break
        time.sleep(0.05)
    assert state["sampling_steps"] == 150 and state["job_count"] == 1
    assert api.interrupt() == {}
    worker.join(60)
    # As A1111: the images come back as far as they were denoised, and they are kept and paid for.
    result = out["r"]
    assert len(result.images) == 4 and result.info["interrupted"] is True
    assert any("interrupted after step" in n for n in result.info["studio_notes"])
    assert ui.predict(api_name="/balance") == before - 12 == result.info["balance"] and ledger_sum(ui) == before - 12
    assert len(image_files(data)) == files + 4
    assert api.get_progress()["state"]["job_count"] == 0


def _post(url, path, body, raw=False):
    return requests.post(f"{url}sdapi/v1/{path}", data=body if raw else json.dumps(body), timeout=60)


BIG = base64.b64encode(png_of(Image.new("RGB", (8000, 6000)))).decode()


@pytest.mark.parametrize("path, body, raw, status, words", [
    ("txt2img", b"{not json", True, 400, "not valid JSON"),
    ("txt2img", b"[1, 2]", True, 400, "JSON object"),
    ("txt2img", {"prompt": "a cat", "steps": "many"}, False, 422, "steps"),
    ("txt2img", {"prompt": "a cat", "width": 9000, "override_settings": {"sd_model_checkpoint": TINY}}, False, 422,
     "Width must be a whole number from 8 to 4096; 9000 is out of range"),
    ("txt2img", {"prompt": "a cat", "height": 5000, "override_settings": {"sd_model_checkpoint": TINY}}, False, 422,
     "Height must be a whole number from 8 to 4096"),
    ("txt2img", {"prompt": "a cat", "batch_size": 5}, False, 422, "at most 4 images per batch"),
    ("txt2img", {"prompt": "a cat", "n_iter": 9}, False, 422, "Batches must be a whole number from 1 to 8"),
    ("txt2img", {"prompt": "a cat", "override_settings": {"made_up_option": 1}}, False, 422, "Unknown option 'made_up_option'"),
    ("txt2img", {"prompt": "a cat", "override_settings": {"send_seed": "yes"}}, False, 422, "send_seed must be bool"),
    ("txt2img", {"prompt": "a cat", "override_settings": {"sd_model_checkpoint": "nope"}}, False, 404, "Unknown model 'nope'"),
    ("txt2img", {"prompt": "   "}, False, 422, "prompt"),
    ("img2img", {"prompt": "a cat", "init_images": ["bm90IGFuIGltYWdl"], "override_settings": {"sd_model_checkpoint": TINY}},
     False, 422, "isn't an image"),
    ("img2img", {"prompt": "a cat", "init_images": ["***"], "override_settings": {"sd_model_checkpoint": TINY}},
     False, 422, "not valid base64"),
    ("img2img", {"prompt": "a cat", "init_images": [BIG], "override_settings": {"sd_model_checkpoint": TINY}},
     False, 422, "megapixels"),
    ("img2img", {"prompt": "a cat", "init_images": [], "override_settings": {"sd_model_checkpoint": TINY}},
     False, 422, "init_images"),
    ("img2img", {"prompt": "a cat", "init_images": [base64.b64encode(png_of(Image.new("RGB", (8, 8)))).decode()],
                 "override_settings": {"sd_model_checkpoint": "demo-faces"}}, False, 422, "cannot start from an image"),
])
def test_bad_input_gets_an_a1111_error_and_costs_nothing(app, ui, path, body, raw, status, words):
    url, data = app
    before, files = ui.predict(api_name="/balance"), len(image_files(data))
    response = _post(url, path, body, raw)
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) == {"error", "detail", "body", "errors"} and words in error["detail"], error
    assert "/" not in re.sub(r"/sdapi/v1/[\w-]+", "", error["detail"]), "no server path in the message"
    assert ui.predict(api_name="/balance") == before and len(image_files(data)) == files


def test_a_model_that_cannot_download_is_refused_and_refunded(app, ui):
    url, data = app
    before, files = ui.predict(api_name="/balance"), len(image_files(data))
    response = _post(url, "txt2img", {"prompt": "a cat", "override_settings": {"sd_model_checkpoint": "sd-turbo"}})
    assert response.status_code in (422, 500, 503), response.text  # refused up front, or refunded after the charge
    assert re.search(r"(?i)download|hub|network|offline", response.json()["detail"]), response.text
    assert ui.predict(api_name="/balance") == before and ledger_sum(ui) == before
    assert len(image_files(data)) == files


def test_unknown_fields_are_ignored_and_samplers_listed(api, app):
    samplers = api.util_get_sampler_names()
    assert "Euler a" in samplers and "DPM++ 2M" in samplers
    r = requests.post(f"{app[0]}sdapi/v1/txt2img", json={"prompt": "a cat", "seed": 1, "restore_faces": True,
                                                          "alwayson_scripts": {"x": {}}, "made_up": 1}, timeout=60)
    assert r.status_code == 200 and len(r.json()["images"]) == 1

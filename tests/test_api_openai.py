"""The OpenAI images dialect through the real, unmodified `openai` SDK against the
launched app; then all three ways in at once (openai, webuiapi and the studio's own
Gradio API), with the credits exact."""

from __future__ import annotations

import base64
import io
import threading
import urllib.request

import openai
import pytest
import requests
import webuiapi
from PIL import Image

from tests.api_fixtures import TINY, data_dir_with_tiny_model, gradio, image_files, ledger_sum, pixels
from tests.launched_app import launched_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = data_dir_with_tiny_model(tmp_path_factory.mktemp("openai"))
    with launched_app(data, "--starting-credits", "200") as url:
        yield url, data


@pytest.fixture(scope="module")
def client(app):
    return openai.OpenAI(base_url=f"{app[0]}v1", api_key="not-needed-without-accounts", max_retries=0)


@pytest.fixture(scope="module")
def ui(app):
    return gradio(app[0])


def decode(item) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(item.b64_json)))


def test_models_list(client):
    ids = [m.id for m in client.models.list()]
    assert {"demo-faces", TINY, "sd-turbo"} <= set(ids)
    assert client.models.retrieve(TINY).id == TINY


@pytest.mark.parametrize("model, size, cost", [("demo-faces", "256x256", 1), (TINY, "64x32", 3)])
def test_generate_b64_json_reproduces_and_charges(client, ui, app, model, size, cost):
    _, data = app
    before, files = ui.predict(api_name="/balance"), len(image_files(data))
    ask = dict(model=model, prompt="a lighthouse at dusk", size=size, response_format="b64_json", extra_body={"seed": 31})
    first = client.images.generate(n=2, **ask)
    assert len(first.data) == 2 and first.size == size
    images = [decode(d) for d in first.data]
    assert all(img.size == tuple(int(p) for p in size.split("x")) for img in images)
    assert "Seed: 31" in images[0].text["parameters"], "PNG metadata like the UI's"
    again = client.images.generate(n=1, **ask)
    assert abs(pixels(decode(again.data[0])) - pixels(images[0])).max() <= 2
    after = ui.predict(api_name="/balance")
    assert after == before - 3 * cost and ledger_sum(ui) == after
    assert len(image_files(data)) == files + 3


def test_generate_url_is_fetchable_and_signed(client, app):
    url, _ = app
    result = client.images.generate(model="demo-faces", prompt="a face", size="1024x1024", response_format="url")
    link = result.data[0].url
    assert link.startswith(url) and "/v1/images/files/" in link
    with urllib.request.urlopen(link, timeout=30) as response:
        assert Image.open(io.BytesIO(response.read())).size == (256, 256), "1024x1024 made at the demo's native 1:1"
    forged = link.rsplit("sig=", 1)[0] + "sig=" + "0" * 64
    proxied = requests.post(f"{url}v1/images/generations", timeout=60, headers={
        "X-Forwarded-Host": "studio.example.org", "X-Forwarded-Proto": "https"},
        json={"model": "demo-faces", "prompt": "a face", "response_format": "url"})
    assert proxied.json()["data"][0]["url"].startswith("https://studio.example.org/v1/images/files/"), \
        "behind a proxy (a Space, a share link) the link names the public address"
    assert requests.get(forged, timeout=30).status_code == 404


BAD = [
    (dict(model="demo-faces", prompt="a cat", n=9), openai.BadRequestError, "Number of images must be a whole number from 1 to 4; 9 is out of range"),
    (dict(model="demo-faces", prompt="a cat", size="5000x5000"), openai.BadRequestError, "Unsupported size"),
    (dict(model="demo-faces", prompt="a cat", response_format="gif"), openai.BadRequestError, "response_format"),
    (dict(model="dall-e-9", prompt="a cat"), openai.NotFoundError, "dall-e-9"),
    (dict(model=TINY, prompt="a cat", size="100x50"), openai.BadRequestError, "multiple of 8"),
    (dict(model=TINY, prompt="a cat", size="5000x4096"), openai.BadRequestError, "8 to 4096"),
    (dict(model="demo-faces", prompt="a cat", quality="ultra"), openai.BadRequestError, "'quality' must be one of"),
    (dict(model="demo-faces", prompt="a cat", style="moody"), openai.BadRequestError, "'style' must be 'vivid' or 'natural'"),
    (dict(model="demo-faces", prompt=" "), openai.BadRequestError, "prompt"),
    (dict(model="demo-faces", prompt="x" * 2001), openai.BadRequestError, "2000"),
    (dict(model="demo-faces", prompt="a cat", n=4, extra_body={"seed": "soon"}), openai.BadRequestError, "Seed"),
]


def test_openai_model_names_quality_style_exact_sizes_and_user(client, app):
    import json

    _, data = app
    for alias in ("dall-e-2", "dall-e-3", "gpt-image-1"):
        made = client.images.generate(model=alias, prompt="a lighthouse", size="64x32", response_format="b64_json",
                                      extra_body={"seed": 3})
        assert decode(made.data[0]).size == (64, 32), alias  # the default model: the tiny SD 1.5 on disk
    hd = client.images.generate(model="dall-e-3", prompt="a lighthouse", quality="hd", style="natural", size="96x48",
                                response_format="b64_json", user="end-user-7")
    assert decode(hd.data[0]).size == (96, 48) and hd.size == "96x48"
    notes = hd.model_extra["studio_notes"]
    assert any("quality 'hd' ran 3 steps" in n for n in notes) and any(n.startswith("style was not used") for n in notes)
    newest = max(image_files(data), key=lambda p: p.stat().st_mtime)
    with Image.open(newest) as img:
        record = json.loads(img.text["studio"])
    assert record["api_end_user"] == "end-user-7" and record["steps"] == 3


@pytest.mark.parametrize("ask, error, words", BAD)
def test_bad_input_gets_an_openai_error_and_costs_nothing(client, ui, app, ask, error, words):
    _, data = app
    before, files = ui.predict(api_name="/balance"), len(image_files(data))
    with pytest.raises(error) as caught:
        client.images.generate(**ask)
    body = caught.value.body
    assert set(body) >= {"message", "type", "code"} and words in body["message"], body
    assert ui.predict(api_name="/balance") == before and len(image_files(data)) == files


@pytest.mark.parametrize("body, status, words", [
    (b"{oops", 400, "not valid JSON"),
    (b'{"prompt": 5}', 400, "'prompt' must be a string"),
    (b'{"prompt": "a", "n": "2"}', 400, "'n' must be a whole number"),
    (b'{"prompt": "' + b"a" * (49 * 1024 * 1024) + b'"}', 413, "limit is"),
])
def test_malformed_bodies(app, ui, body, status, words):
    before = ui.predict(api_name="/balance")
    r = requests.post(f"{app[0]}v1/images/generations", data=body, headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == status and words in r.json()["error"]["message"]
    assert ui.predict(api_name="/balance") == before


def test_running_out_of_credits_is_429_insufficient_quota(tmp_path_factory):
    data = tmp_path_factory.mktemp("poor") / "data"
    with launched_app(data, "--starting-credits", "1") as url:
        client = openai.OpenAI(base_url=f"{url}v1", api_key="x", max_retries=0)
        with pytest.raises(openai.RateLimitError) as caught:
            client.images.generate(model="demo-faces", prompt="a cat", n=2, response_format="b64_json")
        assert caught.value.body["code"] == "insufficient_quota" and "you have 1" in caught.value.body["message"]
        assert caught.value.response.headers["x-should-retry"] == "false"
        ui = gradio(url)
        assert ui.predict(api_name="/balance") == 1 and image_files(data) == []


def test_all_three_apis_at_once_keep_credits_exact(app, ui):
    url, data = app
    before, files = ui.predict(api_name="/balance"), len(image_files(data))
    a1111 = webuiapi.WebUIApi(baseurl=f"{url}sdapi/v1", steps=2)
    oai = openai.OpenAI(base_url=f"{url}v1", api_key="x", max_retries=0)
    other_ui = gradio(url)
    errors: list[BaseException] = []

    def run(fn):
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    jobs = []
    for i in range(3):
        jobs.append(lambda i=i: a1111.txt2img(prompt="a", seed=i, batch_size=2, width=64, height=64,
                                              override_settings={"sd_model_checkpoint": TINY}))
        jobs.append(lambda i=i: oai.images.generate(model="demo-faces", prompt="b", n=2, response_format="b64_json"))
        jobs.append(lambda i=i: other_ui.predict("demo-faces", "auto", "1:1", 1, "c", False, "", i, api_name="/generate"))
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    spent = 3 * (2 * 3) + 3 * (2 * 1) + 3 * 1
    after = ui.predict(api_name="/balance")
    assert after == before - spent and ledger_sum(ui) == after
    assert len(image_files(data)) == files + 3 * 2 + 3 * 2 + 3

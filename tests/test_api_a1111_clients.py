"""Every `webuiapi` 0.9.17 method that touches an endpoint the studio serves, called with the
real client against the launched app (no accounts: a local studio, as A1111 runs), and its
result checked: samplers with schedules and aliases, exact sizes, n_iter, skip, options,
hashes, PNG info and the start-up lists.

extra_single_image, extra_batch_images, get_upscalers, get_latent_upscale_modes, inpainting
and the hires fix are called in tests/test_api_refine.py. Methods for endpoints the studio
does not serve: get_loras (no LoRA list), get_artists/get_artist_categories (gone from
A1111), the controlnet_*, prompt_gen and extension helpers.
"""

from __future__ import annotations

import io
import threading
import time

import pytest
import webuiapi
from PIL import Image

from pipelines.model_hash import checkpoint_sha256
from pipelines.testing.tiny import build_tiny_sd15  # noqa: F401 (the data dir below builds it)
from tests.api_fixtures import TINY, data_dir_with_tiny_model, gradio, image_files, ledger_sum
from tests.launched_app import launched_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = data_dir_with_tiny_model(tmp_path_factory.mktemp("a1111-clients"))
    with launched_app(data, "--starting-credits", "400") as url:
        yield url, data


@pytest.fixture(scope="module")
def api(app):
    return webuiapi.WebUIApi(baseurl=f"{app[0]}sdapi/v1", sampler="Euler a", steps=2)


@pytest.fixture(scope="module")
def ui(app):
    return gradio(app[0])


def test_lists_clients_read_on_start_up(api):
    assert TINY in api.util_get_model_names() and api.util_get_current_model() == TINY
    samplers = {s["name"]: s for s in api.get_samplers()}
    assert {"Euler a", "DPM++ 2M", "DPM++ 2M SDE", "UniPC", "LMS"} <= set(samplers)
    assert "k_euler_a" in samplers["Euler a"]["aliases"] and samplers["DPM++ 2M"]["options"]["scheduler"] == "karras"
    assert "Restart" not in samplers, "only samplers that can run are listed"
    assert {"automatic", "uniform", "karras", "exponential", "sgm_uniform"} <= set(api.util_get_scheduler_names())
    assert "Euler a" in api.util_get_sampler_names()
    styles = api.get_prompt_styles()
    assert len(styles) >= 8 and all({"name", "prompt", "negative_prompt"} <= set(s) for s in styles)
    assert any("{prompt}" in s["prompt"] for s in styles)
    for getter in (api.get_sd_vae, api.get_hypernetworks, api.get_face_restorers, api.get_realesrgan_models):
        assert getter() == []
    assert api.get_embeddings() == {"loaded": {}, "skipped": {}}
    assert api.get_scripts() == {"txt2img": [], "img2img": []}
    assert api.get_cmd_flags()["api"] is True
    memory = api.get_memory()
    assert memory["ram"]["total"] > 0 and ("error" in memory["cuda"] or "system" in memory["cuda"])
    assert api.refresh_checkpoints() is None
    assert api.custom_get("progress", baseurl=True)["state"]["job_count"] == 0
    assert api.custom_get("sdapi/v1/progress")["state"]["job_count"] == 0
    api.util_wait_for_ready(check_interval=0.1)


@pytest.mark.parametrize("sampler, scheduler, ran, schedule, recorded, note", [
    ("DPM++ 2M Karras", None, "DPM++ 2M", "Karras", "DPM++ 2M Karras", None),
    ("k_euler_a", "automatic", "Euler a", "Automatic", "Euler a", None),
    ("Euler", "exponential", "Euler", "Exponential", "Euler Exponential", None),
    ("Euler a Karras", None, "Euler a", "Automatic", "Euler a", "no Karras schedule"),
    ("DPM++ 2S a", None, "Euler", "Automatic", "Euler", "second-order ancestral"),
    ("Warp drive", "karras", "Euler", "Automatic", "Euler", "not an AUTOMATIC1111 sampler"),
])
def test_samplers_and_schedules_run_and_are_recorded(api, sampler, scheduler, ran, schedule, recorded, note):
    result = api.txt2img(prompt="a boat", seed=3, width=64, height=64, sampler_name=sampler, scheduler=scheduler)
    assert result.info["sampler_name"] == ran and result.info["scheduler"] == schedule
    assert f"Sampler: {recorded}," in result.info["infotexts"][0]
    assert (note is None) == (not result.info["studio_notes"]), result.info["studio_notes"]
    if note:
        assert any(note in n for n in result.info["studio_notes"])
    info = api.png_info(result.image)
    assert info.info == result.info["infotexts"][0]
    assert info.parameters["Sampler"] == ran and info.parameters["Size-1"] == "64" and info.parameters["Seed"] == "3"


def test_exact_sizes_batches_and_model_hash(api, ui, app):
    _, data = app
    before, files = ui.predict(api_name="/balance"), len(image_files(data))
    result = api.txt2img(prompt="a boat", seed=10, batch_size=2, n_iter=2, width=72, height=48)
    assert [im.size for im in result.images] == [(72, 48)] * 4
    assert result.info["all_seeds"] == [10, 11, 12, 13] and len(result.info["job_ids"]) == 2
    assert ui.predict(api_name="/balance") == before - 12 == result.info["balance"] and ledger_sum(ui) == before - 12
    assert len(image_files(data)) == files + 4
    expected = checkpoint_sha256_of(data)
    assert result.info["sd_model_hash"] == expected[:10]
    listed = {m["title"]: m for m in api.get_sd_models()}
    assert listed[TINY]["sha256"] == expected and listed[TINY]["hash"] == expected[:10]
    assert api.get_options()["sd_checkpoint_hash"] == expected[:10]


def checkpoint_sha256_of(data):
    import json

    from pipelines.catalog import ModelEntry

    raw = json.loads((data / "models.json").read_text())["models"][0]
    return checkpoint_sha256(ModelEntry.model_validate(raw))


def test_options_round_trip_per_account_and_the_next_job_says_what_they_do(api):
    before = api.get_options()
    assert before["sd_model_checkpoint"] == TINY and before["samples_format"] == "png" and "send_seed" in before
    api.set_options({"send_seed": not before["send_seed"], "samples_format": "jpg", "sampler_name": "DPM++ 2M",
                     "scheduler": "karras", "CLIP_stop_at_last_layers": 2})
    after = api.get_options()
    assert after["send_seed"] is (not before["send_seed"]) and after["samples_format"] == "jpg"
    api.default_sampler = None  # the client then sends no sampler: the account's default applies
    try:
        result = api.txt2img(prompt="a boat", seed=1, width=64, height=64)
    finally:
        api.default_sampler = "Euler a"
    assert result.image.format == "JPEG" and "Sampler: DPM++ 2M Karras" in result.image.getexif().get_ifd(0x8769)[0x9286].decode("utf-16-be", "ignore")
    notes = " ".join(result.info["studio_notes"])
    assert "send_seed" in notes and "CLIP_stop_at_last_layers" in notes and "do not change how the studio generates" in notes
    again = api.txt2img(prompt="a boat", seed=1, width=64, height=64)
    assert not any("do not change" in n for n in again.info["studio_notes"]), "said once, on the next job"
    api.set_options({"send_seed": before["send_seed"], "samples_format": "png", "sampler_name": None, "scheduler": "automatic",
                     "CLIP_stop_at_last_layers": 1})
    assert api.get_options()["send_seed"] == before["send_seed"]


def test_unknown_option_is_refused_and_nothing_stored(api, app):
    import requests

    r = requests.post(f"{app[0]}sdapi/v1/options", json={"send_size": False, "no_such_option": 1}, timeout=30)
    assert r.status_code == 422 and "Unknown option 'no_such_option'" in r.json()["detail"]
    assert api.get_options()["send_size"] is True


def test_img2img_and_interrogate(api):
    red = Image.new("RGB", (64, 64), (200, 30, 30))
    result = api.img2img(images=[red], prompt="a boat", seed=4, denoising_strength=0.5, width=64, height=64,
                         sampler_name="DDIM")
    assert result.image.size == (64, 64) and result.info["sampler_name"] == "DDIM"
    with pytest.raises(RuntimeError, match="501"):
        api.interrogate(red)


def test_skip_moves_to_the_next_batch_and_interrupt_answers_empty_object(api, ui):
    before = ui.predict(api_name="/balance")
    out = {}
    worker = threading.Thread(target=lambda: out.update(r=api.txt2img(
        prompt="slow", seed=20, steps=60, n_iter=2, width=64, height=64)))
    worker.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = api.get_progress()["state"]
        if state["sampling_step"] >= 1:
            break
        time.sleep(0.05)
    assert state["job_count"] == 2 and state["job_no"] == 0
    assert api.skip() == {}
    worker.join(120)
    result = out["r"]
    assert len(result.images) == 2 and result.info["all_seeds"] == [20, 21] and result.info["interrupted"] is False
    assert any("batch 1 was skipped after step" in n for n in result.info["studio_notes"])
    assert ui.predict(api_name="/balance") == before - 6
    assert api.interrupt() == {}, "nothing running: A1111's empty object all the same"


def test_png_info_reads_an_a1111_png(api):
    text = ("a castle, (masterpiece:1.2)\nNegative prompt: blurry\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, "
            "CFG scale: 7, Seed: 42, Size: 512x768, Model hash: abcdef1234, Model: v1-5")
    from PIL import PngImagePlugin

    meta = PngImagePlugin.PngInfo()
    meta.add_text("parameters", text)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG", pnginfo=meta)
    info = api.png_info(Image.open(io.BytesIO(buf.getvalue())))
    p = info.parameters
    assert info.info == text and p["Prompt"] == "a castle, (masterpiece:1.2)" and p["Negative prompt"] == "blurry"
    assert (p["Sampler"], p["Schedule type"], p["Size-1"], p["Size-2"], p["Model hash"]) == ("DPM++ 2M", "Karras", "512", "768", "abcdef1234")

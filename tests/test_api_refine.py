"""Refinement through both REST dialects against the launched app, with the real,
unmodified clients (webuiapi, openai) and AUTOMATIC1111's own test payloads
(test/test_img2img.py, test/test_extras.py of its repository, sent as they are written
there): masks honoured (pixels outside them unchanged), the sd upscale script and the
hires fix really enlarging, extras in A1111's shapes, credits as the ledger says."""

from __future__ import annotations

import base64
import io

import numpy as np
import openai
import pytest
import requests
import webuiapi
from PIL import Image

from tests.api_fixtures import TINY, data_dir_with_tiny_model, gradio, image_files, ledger_sum, png_of
from tests.launched_app import launched_app

pytestmark = pytest.mark.slow


def _picture() -> Image.Image:
    y, x = np.mgrid[0:64, 0:64]
    return Image.fromarray(np.stack([x * 4, y * 4, (x + y) * 2], -1).astype(np.uint8), "RGB")


def _mask() -> Image.Image:
    m = Image.new("RGB", (64, 64), "black")
    m.paste((255, 255, 255), (16, 16, 48, 48))
    return m


def _b64(image: Image.Image) -> str:  # as A1111's conftest.file_to_base64 writes them
    return "data:image/png;base64," + base64.b64encode(png_of(image)).decode()


def _decode(data: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[-1])))


def _px(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


INSIDE = np.asarray(_mask().convert("L")) > 0
FAR_OUTSIDE = np.ones((64, 64), bool)
FAR_OUTSIDE[16 - 12:48 + 12, 16 - 12:48 + 12] = False  # beyond three blur radii of mask_blur 4


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = data_dir_with_tiny_model(tmp_path_factory.mktemp("refine-api"))
    with launched_app(data, "--starting-credits", "300") as url:
        requests.post(f"{url}sdapi/v1/options", json={"sd_model_checkpoint": TINY}).raise_for_status()
        yield url, data


@pytest.fixture(scope="module")
def ui(app):
    return gradio(app[0])


@pytest.fixture()
def simple_img2img_request():
    """test/test_img2img.py's fixture, field for field (its picture and mask are our own 64×64 ones)."""
    return {
        "batch_size": 1, "cfg_scale": 7, "denoising_strength": 0.75, "eta": 0, "height": 64,
        "include_init_images": False, "init_images": [_b64(_picture())], "inpaint_full_res": False,
        "inpaint_full_res_padding": 0, "inpainting_fill": 0, "inpainting_mask_invert": False, "mask": None,
        "mask_blur": 4, "n_iter": 1, "negative_prompt": "", "override_settings": {}, "prompt": "example prompt",
        "resize_mode": 0, "restore_faces": False, "s_churn": 0, "s_noise": 1, "s_tmax": 0, "s_tmin": 0,
        "sampler_index": "Euler a", "seed": -1, "seed_resize_from_h": -1, "seed_resize_from_w": -1, "steps": 3,
        "styles": [], "subseed": -1, "subseed_strength": 0, "tiling": False, "width": 64,
    }


def _post(app, path, body):
    return requests.post(f"{app[0]}sdapi/v1/{path}", json=body, timeout=300)


def test_a1111_img2img_tests_pass_and_the_mask_is_honoured(app, ui, simple_img2img_request):
    plain = _post(app, "img2img", simple_img2img_request)
    assert plain.status_code == 200

    before = ui.predict(api_name="/balance")
    masked = dict(simple_img2img_request, mask=_b64(_mask()))
    answer = _post(app, "img2img", masked)
    assert answer.status_code == 200
    out = _px(_decode(answer.json()["images"][0]))
    diff = np.abs(out - _px(_picture())).max(axis=-1)
    assert diff[FAR_OUTSIDE].max() == 0, "outside the mask: the sent picture, unchanged"
    assert diff[INSIDE].mean() > 5, "inside the mask: repainted"
    info = answer.json()["info"]
    assert "is_using_inpainting_conditioning\": true" in info and "inpainting_fill 0" in info
    assert ui.predict(api_name="/balance") == before - 3 and ledger_sum(ui) == before - 3

    inverted = _post(app, "img2img", dict(masked, inpainting_mask_invert=True))
    assert inverted.status_code == 200
    diff = np.abs(_px(_decode(inverted.json()["images"][0])) - _px(_picture())).max(axis=-1)
    core = np.zeros((64, 64), bool)
    core[28:36, 28:36] = True
    assert diff[core].max() == 0 and diff[FAR_OUTSIDE].mean() > 5, "inverted: the painted part is kept"


def test_a1111_sd_upscale_script_enlarges(app, simple_img2img_request):
    body = dict(simple_img2img_request, script_name="sd upscale", script_args=["", 8, "Lanczos", 2.0])
    answer = _post(app, "img2img", body)
    assert answer.status_code == 200
    assert _decode(answer.json()["images"][0]).size == (128, 128)
    assert "tile overlap" in answer.json()["info"]


def test_a1111_extras_tests_pass(app, ui):
    image = _b64(_picture())
    payload = {"resize_mode": 0, "show_extras_results": True, "gfpgan_visibility": 0, "codeformer_visibility": 0,
               "codeformer_weight": 0, "upscaling_resize": 2, "upscaling_resize_w": 128, "upscaling_resize_h": 128,
               "upscaling_crop": True, "upscaler_1": "Lanczos", "upscaler_2": "None",
               "extras_upscaler_2_visibility": 0, "image": image}
    before = ui.predict(api_name="/balance")
    answer = _post(app, "extra-single-image", payload)
    assert answer.status_code == 200 and _decode(answer.json()["image"]).size == (128, 128)
    assert ui.predict(api_name="/balance") == before - 1
    for payload in ({"image": image}, {"image": image, "model": "clip"}):  # png info / interrogate payloads
        answer = _post(app, "extra-single-image", payload)
        assert answer.status_code == 200 and "returned as sent" in answer.json()["html_info"]
    assert ui.predict(api_name="/balance") == before - 1, "returning the picture as sent costs nothing"


def test_webuiapi_inpaint_extras_upscalers_and_hires(app, ui):
    api = webuiapi.WebUIApi(baseurl=f"{app[0]}sdapi/v1", sampler="Euler a", steps=2)
    names = [u["name"] for u in api.get_upscalers()]
    assert names[:2] == ["None", "Lanczos (plain resize)"] and "R-ESRGAN 4x (ai-forever)" in names
    assert api.get_latent_upscale_modes() == []
    result = api.img2img(images=[_picture()], mask_image=_mask().convert("L"), inpainting_fill=1, mask_blur=0,
                         inpaint_full_res=True, inpaint_full_res_padding=8, denoising_strength=1.0, prompt="a cat",
                         width=64, height=64, seed=4)
    diff = np.abs(_px(result.image) - _px(_picture())).max(axis=-1)
    assert diff[~INSIDE].max() == 0 and diff[INSIDE].mean() > 5
    big = api.extra_single_image(_picture(), upscaler_1=webuiapi.Upscaler.Lanczos, upscaling_resize=1.5)
    assert big.image.size == (96, 96)
    batch = api.extra_batch_images([_picture(), _picture()], upscaler_1="Lanczos (plain resize)", upscaling_resize=2)
    assert [i.size for i in batch.images] == [(128, 128), (128, 128)]
    before = ui.predict(api_name="/balance")
    hires = api.txt2img(prompt="a cat", width=64, height=64, seed=3, enable_hr=True, hr_scale=2,
                        hr_upscaler=webuiapi.HiResUpscaler.Latent, denoising_strength=0.5)
    assert hires.image.size == (128, 128)
    assert any("Latent" in n for n in hires.info["studio_notes"])
    assert ui.predict(api_name="/balance") == before - hires.info["credits_charged"] == before - (2 * 3 + 1)


def test_a1111_refusals_cost_nothing(app, ui, simple_img2img_request):
    _, data = app
    before, files = ui.predict(api_name="/balance"), len(image_files(data))
    empty = _post(app, "img2img", dict(simple_img2img_request, mask=_b64(Image.new("RGB", (64, 64)))))
    assert empty.status_code in (400, 422) and "mask is empty" in empty.text
    capped = _post(app, "extra-single-image", {"image": _b64(Image.new("RGB", (64, 64))), "upscaler_1": "Lanczos",
                                                "upscaling_resize": 9})
    assert capped.status_code in (400, 422) and "Enlarge by" in capped.text
    assert (ui.predict(api_name="/balance"), len(image_files(data))) == (before, files)


def test_openai_edits_through_the_openai_client(app, ui):
    client = openai.OpenAI(base_url=f"{app[0]}v1", api_key="not-needed-without-accounts", max_retries=0)
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (16, 16, 48, 48))  # transparent: the area to edit
    before = ui.predict(api_name="/balance")
    answer = client.images.edit(model=TINY, image=("pic.png", png_of(_picture()), "image/png"),
                                mask=("mask.png", png_of(mask), "image/png"), prompt="a red flower", n=1,
                                size="64x64", response_format="b64_json")
    out = Image.open(io.BytesIO(base64.b64decode(answer.data[0].b64_json)))
    diff = np.abs(_px(out) - _px(_picture())).max(axis=-1)
    assert diff[FAR_OUTSIDE].max() == 0 and diff[INSIDE].mean() > 5
    assert ui.predict(api_name="/balance") == before - 3
    with pytest.raises(openai.BadRequestError, match="mask is empty"):
        client.images.edit(model=TINY, image=("pic.png", png_of(_picture()), "image/png"),
                           mask=("mask.png", png_of(Image.new("RGBA", (64, 64), (0, 0, 0, 255))), "image/png"),
                           prompt="a red flower")
    assert ui.predict(api_name="/balance") == before - 3

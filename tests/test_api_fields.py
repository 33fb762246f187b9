"""Every request field of both dialects is in the one field table (studio/api/fields.py):
honoured, mapped, noted or refused, never dropped in silence.

The A1111 field names are A1111 1.10's request models (StableDiffusionTxt2ImgProcessingAPI
and ...Img2Img..., built from modules/processing.py plus the extra API keys in
modules/api/models.py), written here as data, and whatever the real `webuiapi` 0.9.17
client puts in its payloads (captured from the client itself, before it reaches a socket).
"""

from __future__ import annotations

import pytest
import webuiapi

from studio.api import fields

A1111_PROCESSING = """prompt negative_prompt styles seed subseed subseed_strength seed_resize_from_h seed_resize_from_w
    seed_enable_extras sampler_name scheduler batch_size n_iter steps cfg_scale width height restore_faces tiling
    do_not_save_samples do_not_save_grid eta denoising_strength s_min_uncond s_churn s_tmax s_tmin s_noise
    override_settings override_settings_restore_afterwards refiner_checkpoint refiner_switch_at disable_extra_networks
    firstpass_image comments""".split()
A1111_TXT2IMG = A1111_PROCESSING + """enable_hr firstphase_width firstphase_height hr_scale hr_upscaler
    hr_second_pass_steps hr_resize_x hr_resize_y hr_checkpoint_name hr_sampler_name hr_scheduler hr_prompt
    hr_negative_prompt hr_cfg force_task_id sampler_index script_name script_args send_images save_images
    alwayson_scripts infotext""".split()
A1111_IMG2IMG = A1111_PROCESSING + """init_images resize_mode image_cfg_scale mask mask_blur_x mask_blur_y mask_blur
    mask_round inpainting_fill inpaint_full_res inpaint_full_res_padding inpainting_mask_invert
    initial_noise_multiplier latent_mask force_task_id sampler_index include_init_images script_name script_args
    send_images save_images alwayson_scripts infotext""".split()
OPENAI = "prompt model n size response_format user quality style background moderation output_format output_compression".split()


def _webuiapi_payloads() -> dict[str, dict]:
    """What the real client sends for txt2img and img2img with its defaults."""
    from PIL import Image

    sent: dict[str, dict] = {}
    client = webuiapi.WebUIApi(baseurl="http://127.0.0.1:9/sdapi/v1")  # nothing listens: it only builds payloads
    client.post_and_get_api_result = lambda url, payload, use_async: sent.__setitem__(url.rsplit("/", 1)[1], payload)
    client.txt2img(prompt="x")
    client.img2img(images=[Image.new("RGB", (8, 8))], prompt="x")
    return sent


@pytest.mark.parametrize("dialect, names, rules", [
    ("txt2img", A1111_TXT2IMG, fields.A1111_TXT2IMG),
    ("img2img", A1111_IMG2IMG, fields.A1111_IMG2IMG),
    ("openai", OPENAI, fields.OPENAI_GENERATION),
])
def test_every_request_field_has_a_rule(dialect, names, rules):
    missing = sorted(set(names) - set(rules))
    assert not missing, f"{dialect}: neither honoured nor noted: {missing}"
    assert {r.how for r in rules.values()} <= {"honoured", "mapped", "noted", "refused"}


def test_every_field_webuiapi_sends_has_a_rule():
    payloads = _webuiapi_payloads()
    assert set(payloads) == {"txt2img", "img2img"}
    for endpoint, rules in (("txt2img", fields.A1111_TXT2IMG), ("img2img", fields.A1111_IMG2IMG)):
        assert not sorted(set(payloads[endpoint]) - set(rules)), endpoint


def test_webuiapi_defaults_need_no_note():
    """A client that only sets the prompt reads no note about fields it never touched."""
    payloads = _webuiapi_payloads()
    assert fields.notes_for(fields.A1111_TXT2IMG, payloads["txt2img"], dialect="AUTOMATIC1111") == []
    assert fields.notes_for(fields.A1111_IMG2IMG, payloads["img2img"], dialect="AUTOMATIC1111") == []
    assert fields.refusal(fields.A1111_IMG2IMG, payloads["img2img"]) is None


@pytest.mark.parametrize("field, value", [
    ("tiling", True), ("restore_faces", True), ("subseed_strength", 0.3), ("alwayson_scripts", {"ControlNet": {"args": []}}),
    ("s_churn", 0.5), ("eta", 0.4), ("refiner_checkpoint", "x"), ("infotext", "a cat\nSteps: 3"),
])
def test_a_field_set_to_something_the_studio_cannot_do_is_noted(field, value):
    notes = fields.notes_for(fields.A1111_TXT2IMG, {"prompt": "a cat", field: value}, dialect="AUTOMATIC1111")
    assert len(notes) == 1 and notes[0].startswith(f"{field} was not used"), notes


def test_hires_settings_are_noted_only_with_the_hires_fix_and_unknown_fields_always():
    body = {"prompt": "x", "hr_second_pass_steps": 4, "hr_cfg": 3}
    assert fields.notes_for(fields.A1111_TXT2IMG, body, dialect="AUTOMATIC1111") == []
    noted = fields.notes_for(fields.A1111_TXT2IMG, {**body, "enable_hr": True, "made_up": 1}, dialect="AUTOMATIC1111")
    assert any(n.startswith("hr_second_pass_steps was not used") for n in noted)
    assert any("'made_up' is not a field" in n for n in noted)
    assert fields.A1111_TXT2IMG["enable_hr"].how == fields.A1111_TXT2IMG["hr_scale"].how == "honoured"


def test_unknown_scripts_are_refused_and_masks_are_honoured():
    """A mask and "sd upscale" run as refine jobs (tests/test_api_refine.py shows the pixels)."""
    assert "Script not found" in fields.refusal(fields.A1111_TXT2IMG, {"script_name": "X/Y/Z plot"})
    assert fields.A1111_IMG2IMG["mask"].how == "honoured"

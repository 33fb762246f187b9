"""The one place that decides, for every request field of both REST dialects, whether the
studio honours it, maps it onto something of its own, or says in a note that it did not.

Why one table: fields used to be dropped in silence (`tiling`, `restore_faces`,
`alwayson_scripts` ...) because each endpoint remembered a few of them. Now a field is
either in this table or a note says it was not recognised, and tests/test_api_fields.py
fails when a field of A1111's request models has no row.

A row says how the field is treated and in what words; `neutral` lists the values that ask
for nothing (A1111's defaults and what clients send by default), which need no note;
`only_with` marks a field that means something only when another one is set (the hires
fix's settings without `enable_hr`), as in A1111 itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

How = Literal["honoured", "mapped", "noted", "refused"]


@dataclass(frozen=True)
class Rule:
    how: How  # refused: set to anything but a neutral value, the request is refused (A1111 does too)
    says: str  # honoured/mapped: what the studio does with it; noted/refused: why it is not used
    neutral: tuple = (None,)  # values that ask for nothing: no note
    only_with: str | None = None  # used only when this other field is truthy

    def note(self, name: str, value: Any, body: dict) -> str | None:
        if self.how != "noted" or _is_neutral(value, self.neutral):
            return None
        if self.only_with is not None and not body.get(self.only_with):
            return None
        return f"{name} was not used: {self.says}"


def _is_neutral(value: Any, neutral: tuple) -> bool:
    if value in (None, "", [], {}):
        return True
    return any(value == n and type(value) is not bool or value is n for n in neutral)


def _r(says: str, *neutral: Any) -> Rule:
    return Rule("refused", says, (None, *neutral))


def _h(says: str) -> Rule:
    return Rule("honoured", says)


def _m(says: str, *neutral: Any) -> Rule:
    return Rule("mapped", says, (None, *neutral))


def _n(says: str, *neutral: Any, only_with: str | None = None) -> Rule:
    return Rule("noted", says, (None, *neutral), only_with)


# Masks, the hires fix and the "sd upscale" script run as one refine job
# (studio/api/a1111_extras.py takes them out of the body before these rules are read).
_REFINE = "honoured by the refine job (studio/api/a1111_extras.py)"
_HIRES_UNUSED = "this hires-fix setting is not adjustable here; the hires fix upscales by hr_scale with hr_upscaler"

A1111_TXT2IMG: dict[str, Rule] = {
    "prompt": _h("the prompt; compel's weighting syntax ((word)1.2, word++) is live; A1111's (word:1.2) is plain text"),
    "negative_prompt": _h("the negative prompt (models without CFG say so in a note)"),
    "styles": _m("the first name that matches a studio style (GET /sdapi/v1/prompt-styles); others are noted"),
    "seed": _h("the first image's seed; image i gets seed + i, as in A1111; -1 draws one"),
    "subseed": _n("variation seeds are not supported", -1, 0, only_with="subseed_strength"),
    "subseed_strength": _n("variation seeds are not supported", 0, 0.0),
    "seed_resize_from_h": _n("seed resizing is not supported", -1, 0),
    "seed_resize_from_w": _n("seed resizing is not supported", -1, 0),
    "seed_enable_extras": _n("variation seeds and seed resizing are not supported", True, False),
    "sampler_name": _h("an A1111 sampler or alias, with or without a schedule suffix (pipelines/samplers.py)"),
    "sampler_index": _h("the old name of sampler_name; used when sampler_name is not sent"),
    "scheduler": _h("an A1111 schedule id or label (GET /sdapi/v1/schedulers)"),
    "batch_size": _h("images per batch, up to the studio's images-per-job limit"),
    "n_iter": _h("batches run one after another, each priced before it starts"),
    "steps": _h("denoising steps"),
    "cfg_scale": _h("guidance scale"),
    "width": _h("exact width: a multiple of the model's size step within its limits (else rounded, with a note)"),
    "height": _h("exact height: a multiple of the model's size step within its limits (else rounded, with a note)"),
    "restore_faces": _n("face restoration is not available (GET /sdapi/v1/face-restorers is empty)", False),
    "tiling": _n("tileable images are not supported", False),
    "do_not_save_samples": _n("images are always kept in the account's history (that is what was paid for)", False),
    "do_not_save_grid": _m("the studio never makes grids"),
    "eta": _n("eta is fixed by the sampler (ancestral samplers 1, DDIM 0)", 0, 0.0, 1, 1.0),
    "denoising_strength": _h("the hires fix's second pass: how much of the enlarged image is redrawn"),
    "s_min_uncond": _n("negative-guidance minimum sigma is not supported", 0, 0.0),
    "s_churn": _n("sampler noise settings are not adjustable", 0, 0.0),
    "s_tmax": _n("sampler noise settings are not adjustable", 0, 0.0),
    "s_tmin": _n("sampler noise settings are not adjustable", 0, 0.0),
    "s_noise": _n("sampler noise settings are not adjustable", 1, 1.0),
    "override_settings": _m("each key is treated as in POST /sdapi/v1/options, for this request only"),
    "override_settings_restore_afterwards": _n("override_settings always apply to this request only", True),
    "refiner_checkpoint": _n("refiner models are not supported"),
    "refiner_switch_at": _n("refiner models are not supported", 0, 0.0, 0.8, only_with="refiner_checkpoint"),
    "disable_extra_networks": _m("the studio has no extra networks in prompts; <lora:...> text stays in the prompt"),
    "firstpass_image": _n(_HIRES_UNUSED),
    "comments": _m("A1111's own comments field; nothing to do"),
    "enable_hr": _h(f"the hires fix: upscale, then an image-to-image pass; {_REFINE}"),
    "firstphase_width": _n(_HIRES_UNUSED, 0, only_with="enable_hr"),
    "firstphase_height": _n(_HIRES_UNUSED, 0, only_with="enable_hr"),
    "hr_scale": _h(_REFINE),
    "hr_upscaler": _h(_REFINE),
    "hr_second_pass_steps": _n(_HIRES_UNUSED, only_with="enable_hr"),
    "hr_resize_x": _n(_HIRES_UNUSED, only_with="enable_hr"),
    "hr_resize_y": _n(_HIRES_UNUSED, only_with="enable_hr"),
    "hr_checkpoint_name": _n(_HIRES_UNUSED, only_with="enable_hr"),
    "hr_sampler_name": _n(_HIRES_UNUSED, only_with="enable_hr"),
    "hr_scheduler": _n(_HIRES_UNUSED, only_with="enable_hr"),
    "hr_prompt": _n(_HIRES_UNUSED, only_with="enable_hr"),
    "hr_negative_prompt": _n(_HIRES_UNUSED, only_with="enable_hr"),
    "hr_cfg": _n(_HIRES_UNUSED, only_with="enable_hr"),
    "hr_additional_modules": _n(_HIRES_UNUSED, only_with="enable_hr"),
    "force_task_id": _m("progress is per account: GET /sdapi/v1/progress reports the caller's running job"),
    # A1111 answers 422 "Script not found" for a script it does not have; so does the studio.
    # "sd upscale" runs as a refine job (taken out before these rules); any other name is refused.
    "script_name": _r("Script not found: the only script this server runs is 'sd upscale'"),
    "script_args": _n("scripts are not supported", only_with="script_name"),
    "send_images": _h("false returns no images, only info"),
    "save_images": _m("images are always saved in the account's history"),
    "alwayson_scripts": _n("extensions (ControlNet, ADetailer ...) are not supported"),
    "infotext": _n("filling a request from infotext is not supported; send the fields themselves"),
}

A1111_IMG2IMG: dict[str, Rule] = {
    **A1111_TXT2IMG,
    "init_images": _h("the first image is the start (the others are noted)"),
    "denoising_strength": _h("how much of the start image is redrawn"),
    "resize_mode": _m("the start image is resized and centre-cropped to width x height", 0),
    "image_cfg_scale": _n("image CFG is for instruct-pix2pix models, which the studio does not run", 1.5, 0, 1),
    "mask": _h(_REFINE),
    "mask_blur": _h(_REFINE),
    "mask_blur_x": _n("one mask_blur is used for both directions", 4, only_with="mask"),
    "mask_blur_y": _n("one mask_blur is used for both directions", 4, only_with="mask"),
    "mask_round": _n("the mask is always used as painted (not rounded)", True, only_with="mask"),
    "inpainting_fill": _h(_REFINE),
    "inpaint_full_res": _h(_REFINE),
    "inpaint_full_res_padding": _h(_REFINE),
    "inpainting_mask_invert": _h(_REFINE),
    "initial_noise_multiplier": _n("the initial noise multiplier is not adjustable", 1, 1.0),
    "latent_mask": _n("a separate latent mask is not supported; the mask is used for both"),
    "include_init_images": _n("the start image is not returned with the results", False),
}

OPENAI_GENERATION: dict[str, Rule] = {
    "prompt": _h("the prompt"),
    "model": _h("a studio model id or name, or an alias (dall-e-2, dall-e-3, gpt-image-1 name the default model)"),
    "n": _h("number of images"),
    "size": _h("WIDTHxHEIGHT: the model's nearest native size for OpenAI's standard sizes, else the exact size"),
    "response_format": _h("url or b64_json"),
    "user": _h("recorded with the images as the end user"),
    "seed": _h("not OpenAI's: the first image's seed, for reproducible results"),
    "quality": _m("standard/low/medium/auto run the model's default steps; hd/high run 1.5x the steps", "auto", "standard"),
    "style": _n("OpenAI's vivid/natural styles have no studio counterpart; use a studio style in the prompt", "vivid"),
    "background": _n("transparent backgrounds are not supported", "auto", "opaque"),
    "moderation": _n("there is no moderation setting", "auto", "low"),
    "output_format": _n("images are always PNG", "png"),
    "output_compression": _n("images are always PNG", 100),
    "partial_images": _n("streaming partial images are not supported", 0),
    "stream": _n("streaming is not supported", False),
}


def refusal(rules: dict[str, Rule], body: dict) -> str | None:
    """Why the request is refused because of a field it set, or None."""
    for name, value in body.items():
        rule = rules.get(name)
        if rule is not None and rule.how == "refused" and not _is_neutral(value, rule.neutral):
            return f"{rule.says} ({name}={value!r:.40})."
    return None


def notes_for(rules: dict[str, Rule], body: dict, *, dialect: str) -> list[str]:
    """A note for each field of `body` that was not used as sent."""
    notes = []
    for name, value in body.items():
        rule = rules.get(name)
        if rule is None:
            notes.append(f"{name!r} is not a field of {dialect}'s request and was ignored")
            continue
        text = rule.note(name, value, body)
        if text and text not in notes:
            notes.append(text)
    return notes

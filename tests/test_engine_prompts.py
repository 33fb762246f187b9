"""Long prompts reach the model: compel chunks them instead of CLIP's silent 77-token cut."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipelines.families import traits
from pipelines.prompt_encoding import PromptTooLong, encode_prompts
from pipelines.testing.tiny import build_tiny_sd15, build_tiny_sdxl

LONG_PROMPT = (
    ", ".join(["a portrait of a cat in a dark forest at night with glowing neon lights"] * 5)
    + ", in the style of an old oil painting with golden light"
)


@pytest.fixture(scope="module", params=["sd15", "sdxl"])
def tiny(request, tmp_path_factory):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    family = request.param
    build, cls = {
        "sd15": (build_tiny_sd15, StableDiffusionPipeline),
        "sdxl": (build_tiny_sdxl, StableDiffusionXLPipeline),
    }[family]
    folder = build(tmp_path_factory.mktemp("models") / f"tiny-{family}")
    pipe = cls.from_pretrained(str(folder))
    pipe.set_progress_bar_config(disable=True)
    return pipe, family


def _image(pipe, seed: int = 0, **kwargs) -> np.ndarray:
    kwargs.setdefault("num_inference_steps", 3)
    out = pipe(height=64, width=64, generator=torch.Generator().manual_seed(seed), output_type="np", **kwargs)
    return out.images


def _first_77_tokens(pipe, text: str) -> str:
    ids = pipe.tokenizer(text).input_ids
    assert len(ids) > 77, "the test prompt must be longer than CLIP's window"
    return pipe.tokenizer.decode(ids[1:76])  # what CLIP keeps: 75 tokens between start and end


def test_tokens_past_77_change_the_image(tiny):
    pipe, family = tiny
    whole = _image(pipe, **encode_prompts(pipe, family, LONG_PROMPT, "", 1))
    cut = _image(pipe, **encode_prompts(pipe, family, _first_77_tokens(pipe, LONG_PROMPT), "", 1))
    whole_again = _image(pipe, **encode_prompts(pipe, family, LONG_PROMPT, "", 1))
    assert np.array_equal(whole, whole_again)
    assert np.abs(whole - cut).max() > 1e-3


def test_the_pipelines_own_encoder_drops_what_compel_keeps(tiny):
    """The reason this module exists: diffusers' encoder gives the same image for the
    long prompt and its first 77 tokens."""
    pipe, _ = tiny
    own_whole = _image(pipe, prompt=LONG_PROMPT)
    own_cut = _image(pipe, prompt=_first_77_tokens(pipe, LONG_PROMPT))
    assert np.abs(own_whole - own_cut).max() < 1e-5


@pytest.mark.parametrize("negative", ["", "blurry, low quality"])
def test_a_short_prompt_encodes_like_the_pipeline_itself(tiny, negative):
    pipe, family = tiny
    ours = _image(pipe, **encode_prompts(pipe, family, "a cat in the forest at sunset", negative, 1))
    # an empty negative means "none", as when the pipeline is called without one (SDXL
    # then uses all-zero unconditional embeddings)
    own = _image(pipe, prompt="a cat in the forest at sunset", negative_prompt=negative or None)
    assert np.abs(ours - own).max() < 1e-5


def test_long_prompt_and_negative_are_chunked_to_the_same_length(tiny):
    pipe, family = tiny
    kwargs = encode_prompts(pipe, family, LONG_PROMPT, "blurry", 3)
    embeds, negative = kwargs["prompt_embeds"], kwargs["negative_prompt_embeds"]
    assert embeds.shape[0] == 3 and negative.shape == embeds.shape
    assert embeds.shape[1] == 2 * 77, "two 77-token chunks"
    assert kwargs["num_images_per_prompt"] == 1, "the rows already are the images"
    if traits(family).prompt_encoder == "compel_sdxl":
        assert kwargs["pooled_prompt_embeds"].shape[0] == 3
        assert kwargs["negative_pooled_prompt_embeds"].shape == kwargs["pooled_prompt_embeds"].shape


def test_a_2000_character_prompt_is_encoded_whole(tiny):
    pipe, family = tiny
    words = "a portrait of a knight in golden armor standing in the rain near an old castle, "
    prompt = (words * 30)[:2000]
    kwargs = encode_prompts(pipe, family, prompt, "", 1)
    tokens = len(pipe.tokenizer(prompt).input_ids)
    assert kwargs["prompt_embeds"].shape[1] % 77 == 0
    assert kwargs["prompt_embeds"].shape[1] >= tokens  # every token has a place
    images = _image(pipe, num_inference_steps=1, **kwargs)
    assert np.isfinite(images).all()


def test_too_long_prompts_are_refused_with_the_limit_in_the_message(tiny):
    pipe, family = tiny
    with pytest.raises(PromptTooLong, match="2000"):
        encode_prompts(pipe, family, "x" * 2001, "", 1)
    with pytest.raises(ValueError, match="negative prompt"):
        encode_prompts(pipe, family, "a cat", "y" * 2500, 1)


def test_compel_weights_change_the_embedding(tiny):
    """Documented behaviour: `(phrase)1.5` weights a phrase; plain text stays plain."""
    pipe, family = tiny
    plain = encode_prompts(pipe, family, "a cat in the forest", "", 1)["prompt_embeds"]
    weighted = encode_prompts(pipe, family, "a (cat)1.5 in the forest", "", 1)["prompt_embeds"]
    assert not torch.allclose(plain, weighted)


def test_demo_gets_nothing_and_unknown_families_are_refused():
    assert encode_prompts(None, "demo", "anything", "", 4) == {"num_images_per_prompt": 4}
    with pytest.raises(ValueError, match="family"):
        encode_prompts(None, "sd3", "a cat", "", 1)

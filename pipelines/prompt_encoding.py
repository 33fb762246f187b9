"""Prompt text -> the conditioning keyword arguments of one pipeline call.

Why this exists: CLIP text encoders see 77 tokens, and diffusers silently drops the rest
("The following part of your input was truncated ...").  The studio accepts prompts of
up to 2000 characters, so every word must reach the model.  For the CLIP families
(sd15, sd21, sdxl) the prompt goes through compel, which splits it into 77-token chunks
(each wrapped in start/end tokens, cut at sentence boundaries where it can), encodes
each chunk and concatenates them along the token axis; the UNet's cross-attention
takes any number of tokens.  Prompt and negative are padded to the same length.

Compel's weighting syntax is live, on purpose: `(cinematic lighting)1.3` or `cat++`
raises a phrase's weight, `(blurry)0.7` or `cat--` lowers it.  Plain prompts mean
plain text: compel leaves text without that syntax untouched (apart from dropping
double quotes and bare parentheses), and a short plain prompt encodes to the same
embeddings as the pipeline's own encoder.

flux: its T5 encoder reads 512 tokens natively (`max_sequence_length=512`; the CLIP half
only gives the pooled vector and is cut at 77 tokens by design); a prompt longer than 512
T5 tokens is refused with a message instead of being cut silently.  FLUX.1-schnell has no
classifier-free guidance, so the negative prompt is not used.  The prompt is encoded here
too (not inside the pipeline), so solo and merged calls get the same embeddings.
demo: the GAN ignores text; nothing is encoded.

Which encoder a family uses is the family table's `prompt_encoder` (pipelines/families.py).
"""

from __future__ import annotations

from typing import Any

from .families import traits
from .types import MAX_PROMPT_CHARS, RequestRejected


class PromptTooLong(RequestRejected):
    """The prompt is longer than the studio accepts; the message says by how much."""


def check_prompt_length(prompt: str, negative_prompt: str = "") -> None:
    for label, text in (("prompt", prompt), ("negative prompt", negative_prompt)):
        if len(text) > MAX_PROMPT_CHARS:
            raise PromptTooLong(
                f"The {label} has {len(text)} characters; the limit is {MAX_PROMPT_CHARS}. "
                f"Shorten it by {len(text) - MAX_PROMPT_CHARS} characters."
            )


def encode_prompts(
    pipe: Any, family: str, prompt: str, negative_prompt: str, num_images: int
) -> dict[str, Any]:
    """Keyword arguments for `pipe(...)` that carry the prompt, for `num_images` images.

    compel_sd: `prompt_embeds`, `negative_prompt_embeds` (batch `num_images`).
    compel_sdxl: the same plus `pooled_prompt_embeds`, `negative_pooled_prompt_embeds`.
    flux: `prompt_embeds`, `pooled_prompt_embeds`.
    none (demo): `num_images_per_prompt` only.
    The embeddings already hold one row per image, so `num_images_per_prompt` is 1; the
    returned dict says so and the caller must not override it.
    """
    if not isinstance(prompt, str) or not isinstance(negative_prompt, str):
        raise TypeError("prompt and negative_prompt must be strings")
    if num_images < 1:
        raise ValueError(f"num_images must be at least 1, got {num_images}")
    check_prompt_length(prompt, negative_prompt)

    fam = traits(family)
    if fam.prompt_encoder == "none":
        return {"num_images_per_prompt": num_images}
    if fam.takes_embeddings:
        from .adapter_loading import expand_embedding_tokens

        prompt, negative_prompt = expand_embedding_tokens(pipe, prompt), expand_embedding_tokens(pipe, negative_prompt)
    return _ENCODERS[fam.prompt_encoder](pipe, prompt, negative_prompt, num_images, fam.max_prompt_tokens)


def _repeat(t, n: int):
    return t.repeat(n, *([1] * (t.dim() - 1))) if n > 1 else t


def _encode_sd(pipe: Any, prompt: str, negative_prompt: str, n: int, _limit: int | None) -> dict[str, Any]:
    import torch
    from compel import CompelForSD

    with torch.no_grad():
        cond = CompelForSD(pipe)(prompt, negative_prompt=negative_prompt)
    return {
        "prompt_embeds": _repeat(cond.embeds, n),
        "negative_prompt_embeds": _repeat(cond.negative_embeds, n),
        "num_images_per_prompt": 1,
    }


def _encode_sdxl(pipe: Any, prompt: str, negative_prompt: str, n: int, _limit: int | None) -> dict[str, Any]:
    import torch
    from compel import CompelForSDXL

    with torch.no_grad():
        cond = CompelForSDXL(pipe)(prompt, negative_prompt=negative_prompt)
    negative, negative_pooled = cond.negative_embeds, cond.negative_pooled_embeds
    # SDXL base was trained with an all-zero unconditional input; its pipeline uses zeros
    # for an empty negative prompt (force_zeros_for_empty_prompt) and so do we.
    if not negative_prompt and getattr(pipe.config, "force_zeros_for_empty_prompt", False):
        negative, negative_pooled = torch.zeros_like(negative), torch.zeros_like(negative_pooled)
    return {
        "prompt_embeds": _repeat(cond.embeds, n),
        "negative_prompt_embeds": _repeat(negative, n),
        "pooled_prompt_embeds": _repeat(cond.pooled_embeds, n),
        "negative_pooled_prompt_embeds": _repeat(negative_pooled, n),
        "num_images_per_prompt": 1,
    }


def check_prompt_tokens(tokenizer: Any, prompt: str, limit: int) -> None:
    """Refuse a prompt longer than `limit` tokens of `tokenizer` (special tokens counted, as
    the encoder counts them). The manager runs it before loading when the tokenizer is on disk."""
    count = len(tokenizer(prompt, add_special_tokens=True, truncation=False, verbose=False).input_ids)
    if count > limit:
        raise PromptTooLong(
            f"The prompt is {count} tokens long; this model reads at most {limit}. "
            f"Shorten it by about {count - limit} tokens (roughly {max(1, (count - limit) * 3 // 4)} words)."
        )


def _encode_flux(pipe: Any, prompt: str, _negative: str, n: int, limit: int | None) -> dict[str, Any]:
    import torch

    limit = limit or 512
    check_prompt_tokens(pipe.tokenizer_2, prompt, limit)
    with torch.no_grad():
        embeds, pooled, _text_ids = pipe.encode_prompt(
            prompt=prompt, prompt_2=None, device=pipe._execution_device, num_images_per_prompt=n,
            max_sequence_length=limit,
        )
    return {"prompt_embeds": embeds, "pooled_prompt_embeds": pooled, "num_images_per_prompt": 1}


_ENCODERS = {"compel_sd": _encode_sd, "compel_sdxl": _encode_sdxl, "flux": _encode_flux}

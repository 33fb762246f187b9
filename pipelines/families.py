"""The one table of model families: everything the engine and the studio need to know
about a family lives in its row here, and every layer asks this table.

Why a table: family knowledge used to be spread over the loader, the dtype chooser, the
prompt encoder, the reference checks, the merger and the UI (13 `family == "demo"` tests,
four separate family sets); adding a family meant touching seven files. Now adding one is
adding a row (and, for a new prompt encoder, one function in prompt_encoding.py).

Pure data: no torch or diffusers import (the catalog validates against it at start-up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PromptEncoder = Literal["compel_sd", "compel_sdxl", "flux", "none"]
ReferenceMode = Literal["ip_adapter", "img2img"]


@dataclass(frozen=True)
class FamilyTraits:
    name: str
    pipeline: str  # diffusers class a txt2img folder/file of this family loads as
    img2img_pipeline: str | None  # its image-to-image twin (built with from_pipe), None: no img2img
    ip_adapter: bool  # diffusers' UNet IP-Adapter (`load_ip_adapter`) works on it
    # torch dtype name per device kind ("cuda" covers cuda:N); the CPU lacks fast half kernels,
    # FLUX activations overflow fp16, so it runs in bf16 on accelerators.
    dtypes: dict[str, str]
    prompt_encoder: PromptEncoder
    max_prompt_tokens: int | None  # None: compel splits long prompts into 77-token chunks
    size_multiple: int  # width and height must be multiples (VAE factor × patch size)
    mergeable: bool  # concurrent text-to-image requests may share one pipeline call
    reference_modes: tuple[ReferenceMode, ...]  # what the family can do at all
    sampler: str  # A1111 sampler name when the scheduler is not in pipelines.samplers (or there is none)
    # which column of pipelines.samplers.SAMPLERS its scheduler swaps from: UNet noise
    # schedulers ("discrete"), flow matching ("flow_match"), or no scheduler at all ("none")
    scheduler_kind: Literal["discrete", "flow_match", "none"] = "discrete"
    negative_prompt: bool = True  # the family uses a negative prompt (CFG)
    takes_steps: bool = True  # the pipeline takes num_inference_steps / guidance_scale
    safety_checker: bool = False  # the pipeline class has a safety_checker argument (turned off)
    ignores_prompt: bool = False  # output does not depend on the text (the offline demo GAN)
    built_in: bool = False  # ships with the studio, works offline, nothing to download
    prompt_tokenizer: str = "tokenizer"  # the pipeline's tokenizer that `max_prompt_tokens` counts with
    label: str = ""  # the family as people call it, in messages ("an SDXL model")
    # A tensor-name prefix only this family's original-layout single checkpoint has (its text
    # encoder), so a file of another family is refused from its header, before loading.
    checkpoint_marker: str | None = None
    takes_loras: bool = True  # diffusers' `load_lora_weights` works on its pipeline (pipelines/adapter_loading.py)
    takes_embeddings: bool = True  # textual-inversion files (`load_textual_inversion`) fit its CLIP encoder(s)
    # an embedding file with one tensor per text encoder: (file key, text encoder attr, tokenizer attr)
    embedding_parts: tuple[tuple[str, str, str], ...] = ()
    # its inpainting twin (repaint, extend), built with from_pipe like the img2img one; None: it can't repaint.
    # A 4-channel UNet works too: diffusers then blends the masked latents at every step.
    inpaint_pipeline: str | None = None

    def dtype_name(self, device: str) -> str:
        kind = "cuda" if device.startswith("cuda") else device
        return self.dtypes.get(kind, self.dtypes["cpu"])

    def supports(self, mode: str) -> bool:
        return mode in self.reference_modes

    def fits_adapter(self, adapter_family: str) -> bool:
        """A LoRA or embedding made for `adapter_family` (read from its keys) works on this family's models."""
        return adapter_family == self.name


_UNET_DTYPES = {"cuda": "float16", "mps": "float16", "cpu": "float32"}

FAMILIES: dict[str, FamilyTraits] = {
    t.name: t
    for t in (
        FamilyTraits(
            name="sd15",
            label="a Stable Diffusion 1.5 model",
            checkpoint_marker="cond_stage_model.transformer.",
            inpaint_pipeline="StableDiffusionInpaintPipeline",
            pipeline="StableDiffusionPipeline",
            img2img_pipeline="StableDiffusionImg2ImgPipeline",
            ip_adapter=True,
            dtypes=_UNET_DTYPES,
            prompt_encoder="compel_sd",
            max_prompt_tokens=None,
            size_multiple=8,
            mergeable=True,
            reference_modes=("ip_adapter", "img2img"),
            sampler="PLMS",
            safety_checker=True,
        ),
        FamilyTraits(
            name="sd21",
            label="a Stable Diffusion 2.1 model",
            checkpoint_marker="cond_stage_model.model.",
            inpaint_pipeline="StableDiffusionInpaintPipeline",
            pipeline="StableDiffusionPipeline",
            img2img_pipeline="StableDiffusionImg2ImgPipeline",
            ip_adapter=True,
            dtypes=_UNET_DTYPES,
            prompt_encoder="compel_sd",
            max_prompt_tokens=None,
            size_multiple=8,
            mergeable=True,
            reference_modes=("ip_adapter", "img2img"),
            sampler="Euler",
            safety_checker=True,
        ),
        FamilyTraits(
            name="sdxl",
            label="an SDXL model",
            checkpoint_marker="conditioner.embedders.1.",
            inpaint_pipeline="StableDiffusionXLInpaintPipeline",
            pipeline="StableDiffusionXLPipeline",
            img2img_pipeline="StableDiffusionXLImg2ImgPipeline",
            ip_adapter=True,
            dtypes=_UNET_DTYPES,
            prompt_encoder="compel_sdxl",
            max_prompt_tokens=None,
            size_multiple=8,
            mergeable=True,
            reference_modes=("ip_adapter", "img2img"),
            sampler="Euler",
            embedding_parts=(("clip_l", "text_encoder", "tokenizer"), ("clip_g", "text_encoder_2", "tokenizer_2")),
        ),
        FamilyTraits(
            name="flux",
            label="a FLUX model",
            checkpoint_marker="double_blocks.",
            inpaint_pipeline="FluxInpaintPipeline",
            pipeline="FluxPipeline",
            img2img_pipeline="FluxImg2ImgPipeline",
            ip_adapter=False,  # FLUX IP-Adapters take other arguments than the UNet ones
            dtypes={"cuda": "bfloat16", "mps": "bfloat16", "cpu": "float32"},
            prompt_encoder="flux",
            max_prompt_tokens=512,  # T5's sequence length; the CLIP half only gives the pooled vector
            prompt_tokenizer="tokenizer_2",
            size_multiple=16,  # 8× VAE and 2×2 patches
            mergeable=True,  # T5 always pads to 512 tokens, so every prompt has the same shape
            reference_modes=("img2img",),
            sampler="Euler",
            scheduler_kind="flow_match",
            negative_prompt=False,  # schnell has no classifier-free guidance
            takes_embeddings=False,  # its prompt goes through T5; there are no CLIP-style embeddings for it
        ),
        FamilyTraits(
            name="demo",
            label="the demo model",
            pipeline="DemoFacePipeline",
            img2img_pipeline=None,
            ip_adapter=False,
            dtypes={"cuda": "float32", "mps": "float32", "cpu": "float32"},  # tiny GAN
            prompt_encoder="none",
            max_prompt_tokens=None,
            size_multiple=8,
            mergeable=False,
            reference_modes=(),
            sampler="GAN",
            scheduler_kind="none",
            negative_prompt=False,
            takes_steps=False,
            ignores_prompt=True,
            built_in=True,
            takes_loras=False,  # a GAN, not a diffusers denoiser
            takes_embeddings=False,
        ),
    )
}

FAMILY_NAMES: tuple[str, ...] = tuple(FAMILIES)

class UnknownFamily(ValueError):
    """A family name that is not in the table; the message lists the known ones."""


def traits(family: str) -> FamilyTraits:
    try:
        return FAMILIES[family]
    except KeyError:
        raise UnknownFamily(f"unknown model family {family!r}; use one of {', '.join(FAMILY_NAMES)}") from None


def family_of_pipeline(class_name: str) -> list[str]:
    """Families whose txt2img pipeline is `class_name` (sd15 and sd21 share one)."""
    return [t.name for t in FAMILIES.values() if t.pipeline == class_name]


def a1111_sampler(family: str, scheduler: object | None) -> str:
    """The A1111 sampler name for a pipeline's scheduler (`Euler a`, `DPM++ 2M Karras` ...),
    read from the sampler table (pipelines/samplers.py)."""
    from .samplers import name_of

    return name_of(family, scheduler)

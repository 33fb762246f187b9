"""Models for `bench_engine --full`: the catalog's real architectures at full size with
random weights (timing does not depend on weight values; see shared/anchors/), or with
`--smoke` the tiny random stand-ins of the same families, so the whole script runs on a CPU.

Each model is saved once as a folder (fp16, FLUX bf16) and loaded back through the
engine's own loader, as a user's folder would be.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from pipelines.catalog import ASPECTS, ModelEntry
from pipelines.types import GenerationRequest


@dataclass(frozen=True)
class Workload:
    """One model at one setting: the unit every measurement runs."""

    label: str
    model_id: str
    size: int
    steps: int
    guidance: float

    def request(self, prompt: str = "a cheerful young girl in a garden", n: int = 1, seed: int = 0) -> GenerationRequest:
        return GenerationRequest(model_id=self.model_id, prompt=prompt, width=self.size, height=self.size,
                                 num_images=n, steps=self.steps, guidance=self.guidance,
                                 seeds=tuple(range(seed, seed + n)))


def model_entry(model_id: str, family: str, folder: Path, steps: int, guidance: float, size: int) -> ModelEntry:
    return ModelEntry(
        id=model_id, name=model_id, description="benchmark model with random weights", family=family,
        source={"kind": "folder", "path": str(folder)}, default_steps=steps, default_guidance=guidance,
        sizes={a: {"width": size, "height": size} for a in ASPECTS}, credit_cost=1, speed="fast", quality="draft",
    )


def _full_scheduler():
    from diffusers import EulerAncestralDiscreteScheduler

    # The anchor's scheduler, so the plain-diffusers numbers are comparable.
    return EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                           timestep_spacing="trailing")


def _full_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[128, 256, 512, 512],
                         layers_per_block=2, down_block_types=["DownEncoderBlock2D"] * 4,
                         up_block_types=["UpDecoderBlock2D"] * 4, sample_size=512)


def _build_sd21(tokenizer):
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    unet = UNet2DConditionModel(sample_size=64, in_channels=4, out_channels=4, block_out_channels=[320, 640, 1280, 1280],
                                layers_per_block=2, attention_head_dim=[5, 10, 20, 20], cross_attention_dim=1024,
                                use_linear_projection=True, down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
                                up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3)
    te = CLIPTextModel(CLIPTextConfig(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=23,
                                      hidden_act="gelu", projection_dim=1024, vocab_size=49408, max_position_embeddings=77))
    return StableDiffusionPipeline(unet=unet, vae=_full_vae(), text_encoder=te, tokenizer=tokenizer, scheduler=_full_scheduler(),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def _build_sdxl(tokenizer):
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    unet = UNet2DConditionModel(sample_size=128, in_channels=4, out_channels=4, block_out_channels=[320, 640, 1280],
                                layers_per_block=2, attention_head_dim=[5, 10, 20], transformer_layers_per_block=[1, 2, 10],
                                cross_attention_dim=2048, use_linear_projection=True, addition_embed_type="text_time",
                                addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816,
                                down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                                up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"])
    te1 = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                                       hidden_act="quick_gelu", vocab_size=49408, max_position_embeddings=77))
    te2 = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=1280, intermediate_size=5120, num_attention_heads=20,
                                                     num_hidden_layers=32, hidden_act="gelu", projection_dim=1280,
                                                     vocab_size=49408, max_position_embeddings=77))
    vae = _full_vae()
    vae.register_to_config(sample_size=1024)
    return StableDiffusionXLPipeline(unet=unet, vae=vae, text_encoder=te1, text_encoder_2=te2, tokenizer=tokenizer,
                                     tokenizer_2=tokenizer, scheduler=_full_scheduler())


def _build_flux(clip_tokenizer, t5_tokenizer):
    """FLUX.1-schnell's architecture: the 12B transformer (19 double + 38 single blocks),
    CLIP-L, T5-v1.1-XXL and the 16-channel autoencoder, with random weights."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    from pipelines.testing.tiny_flux import SCHNELL_SCHEDULER

    transformer = FluxTransformer2DModel(guidance_embeds=False)  # its defaults are FLUX.1's
    clip = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                                        hidden_act="quick_gelu", vocab_size=49408, max_position_embeddings=77))
    t5 = T5EncoderModel(T5Config(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                                 feed_forward_proj="gated-gelu", is_encoder_decoder=False, use_cache=False))
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=16, block_out_channels=[128, 256, 512, 512],
                        layers_per_block=2, down_block_types=["DownEncoderBlock2D"] * 4,
                        up_block_types=["UpDecoderBlock2D"] * 4, use_quant_conv=False, use_post_quant_conv=False,
                        shift_factor=0.1159, scaling_factor=0.3611, sample_size=1024)
    return FluxPipeline(scheduler=FlowMatchEulerDiscreteScheduler(**SCHNELL_SCHEDULER), vae=vae, text_encoder=clip,
                        tokenizer=clip_tokenizer, text_encoder_2=t5, tokenizer_2=t5_tokenizer, transformer=transformer)


def full_models(workdir: Path) -> tuple[list[ModelEntry], dict[str, Workload]]:
    """SD2.1-, SDXL- and FLUX-sized pipelines with random weights, built on the GPU (fast
    init), saved as fp16 (FLUX bf16) safetensors folders, loaded back through the engine."""
    import torch
    from transformers import CLIPTokenizer, T5Tokenizer

    from pipelines.testing.tiny import build_tiny_sd15
    from pipelines.testing.tiny_flux import build_tiny_flux

    # The tiny models' trained tokenizers: their ids are valid for the full-size vocabularies.
    tokenizer = CLIPTokenizer.from_pretrained(str(build_tiny_sd15(workdir / "tiny-sd15") / "tokenizer"))
    t5_tokenizer = T5Tokenizer.from_pretrained(str(build_tiny_flux(workdir / "tiny-flux") / "tokenizer_2"))
    builds = {"full-sd21": (lambda: _build_sd21(tokenizer), torch.float16),
              "full-sdxl": (lambda: _build_sdxl(tokenizer), torch.float16),
              "full-flux": (lambda: _build_flux(tokenizer, t5_tokenizer), torch.bfloat16)}
    folders = {}
    for name, (build, dtype) in builds.items():
        folder = workdir / name
        if not (folder / "model_index.json").is_file():
            started = time.perf_counter()
            with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
                pipe = build()
            pipe.to(dtype).save_pretrained(str(folder), safe_serialization=True)
            del pipe
            torch.cuda.empty_cache() if torch.cuda.is_available() else None
            print(f"built {name} in {time.perf_counter() - started:.1f} s", flush=True)
        folders[name] = folder
    entries = [model_entry("full-sd21", "sd21", folders["full-sd21"], 1, 0.0, 512),
               model_entry("full-sdxl", "sdxl", folders["full-sdxl"], 4, 0.0, 512),
               model_entry("full-flux", "flux", folders["full-flux"], 4, 0.0, 1024)]
    return entries, {
        "sd-turbo": Workload("SD-Turbo arch 512² 1 step", "full-sd21", 512, 1, 0.0),
        "sdxl-turbo": Workload("SDXL-Turbo arch 512² 4 steps", "full-sdxl", 512, 4, 0.0),
        "sdxl-base": Workload("SDXL base arch 1024² 30 steps CFG 7", "full-sdxl", 1024, 30, 7.0),
        "flux-schnell": Workload("FLUX.1-schnell arch 1024² 4 steps bf16", "full-flux", 1024, 4, 0.0),
    }


def smoke_models(workdir: Path) -> tuple[list[ModelEntry], dict[str, Workload]]:
    """The same four workloads on tiny random models of the same families (CPU, seconds)."""
    from pipelines.testing.tiny import build_tiny_sd15, build_tiny_sdxl
    from pipelines.testing.tiny_flux import build_tiny_flux

    entries = [model_entry("smoke-sd21", "sd21", build_tiny_sd15(workdir / "tiny-sd15"), 1, 0.0, 64),
               model_entry("smoke-sdxl", "sdxl", build_tiny_sdxl(workdir / "tiny-sdxl"), 4, 0.0, 64),
               model_entry("smoke-flux", "flux", build_tiny_flux(workdir / "tiny-flux"), 4, 0.0, 64)]
    return entries, {
        "sd-turbo": Workload("SD-Turbo stand-in 64² 1 step", "smoke-sd21", 64, 1, 0.0),
        "sdxl-turbo": Workload("SDXL-Turbo stand-in 64² 4 steps", "smoke-sdxl", 64, 4, 0.0),
        "sdxl-base": Workload("SDXL base stand-in 64² 30 steps CFG 7", "smoke-sdxl", 64, 30, 7.0),
        "flux-schnell": Workload("FLUX.1-schnell stand-in 64² 4 steps", "smoke-flux", 64, 4, 0.0),
    }

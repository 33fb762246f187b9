"""Tiny LoRAs and textual-inversion embeddings for the tiny test models, made with `peft`.

Why: the LoRA code must be proven on files laid out like the ones people download: the
diffusers format (what diffusers' trainers save with `save_lora_weights`) and the
kohya/A1111 format (`lora_unet_…lora_down.weight`, `.alpha`). Both are built here from
the same peft layers: peft injects LoRA layers into the tiny UNet and text encoder(s)
with random (seeded, not zero) weights, so loading one visibly changes the image.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]


def _lora_layers(module, targets: list[str], rank: int, seed: int) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model

    torch.manual_seed(seed)
    config = LoraConfig(r=rank, lora_alpha=rank, target_modules=targets, init_lora_weights=False)
    inject_adapter_in_model(config, module)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "lora_" in name:
                p.mul_(0.5)
    return {k: v.detach().clone().contiguous() for k, v in get_peft_model_state_dict(module).items()}


def _kohya(layers: dict, prefix: str, rank: int) -> dict:
    """peft keys (`a.b.lora_A.weight`) to kohya's (`prefix_a_b.lora_down.weight` + `.alpha`)."""
    import torch

    out = {}
    for key, value in layers.items():
        module, _, part = key.partition(".lora_")
        name = f"{prefix}_{module.replace('.', '_')}"
        out[f"{name}.lora_{'down' if part.startswith('A') else 'up'}.weight"] = value
        out[f"{name}.alpha"] = torch.tensor(float(rank))
    return out


def build_tiny_lora(
    pipe_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    key_format: Literal["diffusers", "kohya"] = "diffusers",
    seed: int = 1,
    rank: int = 4,
    text_encoder: bool = True,
) -> Path:
    """A LoRA for the tiny SD 1.5, SDXL or FLUX pipeline in `pipe_dir`, saved as one .safetensors
    (FLUX: transformer attention only, diffusers format, as its trainers save it)."""
    from diffusers import DiffusionPipeline, FluxPipeline, StableDiffusionXLPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from safetensors.torch import save_file

    pipe = DiffusionPipeline.from_pretrained(str(pipe_dir))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(pipe, FluxPipeline):
        layers = _lora_layers(pipe.transformer, ["to_q", "to_k", "to_v"], rank, seed)
        FluxPipeline.save_lora_weights(str(out.parent), weight_name=out.name,
                                       transformer_lora_layers=convert_state_dict_to_diffusers(layers))
        return out
    sdxl = isinstance(pipe, StableDiffusionXLPipeline)
    unet = _lora_layers(pipe.unet, UNET_TARGETS, rank, seed)
    encoders = {}
    if text_encoder:
        encoders["text_encoder"] = _lora_layers(pipe.text_encoder, TEXT_TARGETS, rank, seed + 1)
        if sdxl:
            encoders["text_encoder_2"] = _lora_layers(pipe.text_encoder_2, TEXT_TARGETS, rank, seed + 2)
    if key_format == "kohya":
        tensors = _kohya(unet, "lora_unet", rank)
        prefixes = {"text_encoder": "lora_te1" if sdxl else "lora_te", "text_encoder_2": "lora_te2"}
        for component, layers in encoders.items():
            tensors.update(_kohya(layers, prefixes[component], rank))
        save_file(tensors, str(out))
        return out
    kwargs = {"unet_lora_layers": convert_state_dict_to_diffusers(unet)}
    for component, layers in encoders.items():
        kwargs[f"{component}_lora_layers"] = convert_state_dict_to_diffusers(layers)
    type(pipe).save_lora_weights(str(out.parent), weight_name=out.name, **kwargs)
    return out


def build_tiny_embedding(pipe_dir: str | os.PathLike, out_path: str | os.PathLike, *, vectors: int = 1,
                         seed: int = 3) -> Path:
    """A textual-inversion embedding in A1111's safetensors layout (`emb_params`, or SDXL's
    `clip_l` + `clip_g`), as wide as the tiny pipeline's text encoder(s)."""
    import json

    import torch
    from safetensors.torch import save_file

    folder = Path(pipe_dir)
    torch.manual_seed(seed)
    width = json.loads((folder / "text_encoder" / "config.json").read_text())["hidden_size"]
    if (folder / "text_encoder_2").is_dir():
        width_2 = json.loads((folder / "text_encoder_2" / "config.json").read_text())["hidden_size"]
        tensors = {"clip_l": torch.randn(vectors, width), "clip_g": torch.randn(vectors, width_2)}
    else:
        tensors = {"emb_params": torch.randn(vectors, width)}
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out))
    return out

"""Tiny test checkpoints in the other layouts users bring: one original-layout
.safetensors file (what A1111/Civitai files look like) and an IP-Adapter laid out like
h94/IP-Adapter. Split from tiny.py, which builds the diffusers folders these start from.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .tiny import _cached_build, _seeded

_RESNET_RENAMES = (
    (".norm1.", ".in_layers.0."),
    (".conv1.", ".in_layers.2."),
    (".norm2.", ".out_layers.0."),
    (".conv2.", ".out_layers.3."),
    (".time_emb_proj.", ".emb_layers.1."),
    (".conv_shortcut.", ".skip_connection."),
)
_VAE_ATTN_RENAMES = (
    (".group_norm.", ".norm."),
    (".to_q.", ".q."),
    (".to_k.", ".k."),
    (".to_v.", ".v."),
    (".to_out.0.", ".proj_out."),
)


def _rename(key: str, prefixes: list[tuple[str, str]]) -> str:
    for hf, sd in prefixes:
        if key.startswith(hf):
            return sd + key[len(hf):]
    return key


def _unet_to_ldm(sd: dict, config: dict) -> dict:
    from diffusers.loaders.single_file_utils import DIFFUSERS_TO_LDM_MAPPING

    exact = dict(DIFFUSERS_TO_LDM_MAPPING["unet"]["layers"])
    if config.get("addition_embed_type") == "text_time":
        exact.update(DIFFUSERS_TO_LDM_MAPPING["unet"]["addition_embed_type"])
    n, per = len(config["down_block_types"]), config["layers_per_block"]
    prefixes: list[tuple[str, str]] = []
    for i in range(n):
        for j in range(per):
            k = 1 + i * (per + 1) + j
            prefixes += [(f"down_blocks.{i}.resnets.{j}.", f"input_blocks.{k}.0."),
                         (f"down_blocks.{i}.attentions.{j}.", f"input_blocks.{k}.1.")]
        if i < n - 1:
            prefixes.append((f"down_blocks.{i}.downsamplers.0.conv.", f"input_blocks.{(i + 1) * (per + 1)}.0.op."))
        for j in range(per + 1):
            k = i * (per + 1) + j
            prefixes += [(f"up_blocks.{i}.resnets.{j}.", f"output_blocks.{k}.0."),
                         (f"up_blocks.{i}.attentions.{j}.", f"output_blocks.{k}.1.")]
        if i < n - 1:
            has_attn = "CrossAttn" in config["up_block_types"][i]
            prefixes.append((f"up_blocks.{i}.upsamplers.0.", f"output_blocks.{i * (per + 1) + per}.{2 if has_attn else 1}."))
    prefixes += [("mid_block.resnets.0.", "middle_block.0."), ("mid_block.attentions.0.", "middle_block.1."),
                 ("mid_block.resnets.1.", "middle_block.2.")]
    out = {}
    for key, value in sd.items():
        if key in exact:
            new = exact[key]
        else:
            new = key
            if ".resnets." in key:
                for hf, ldm in _RESNET_RENAMES:
                    new = new.replace(hf, ldm)
            new = _rename(new, prefixes)
        out["model.diffusion_model." + new] = value
    return out


def _vae_to_ldm(sd: dict, config: dict) -> dict:
    n = len(config["down_block_types"])
    prefixes: list[tuple[str, str]] = []
    for i in range(n):
        for j in range(config["layers_per_block"] + 1):
            prefixes += [(f"encoder.down_blocks.{i}.resnets.{j}.", f"encoder.down.{i}.block.{j}."),
                         (f"decoder.up_blocks.{i}.resnets.{j}.", f"decoder.up.{n - 1 - i}.block.{j}.")]
        prefixes += [(f"encoder.down_blocks.{i}.downsamplers.0.", f"encoder.down.{i}.downsample."),
                     (f"decoder.up_blocks.{i}.upsamplers.0.", f"decoder.up.{n - 1 - i}.upsample.")]
    for part in ("encoder", "decoder"):
        prefixes += [(f"{part}.mid_block.resnets.0.", f"{part}.mid.block_1."),
                     (f"{part}.mid_block.resnets.1.", f"{part}.mid.block_2."),
                     (f"{part}.mid_block.attentions.0.", f"{part}.mid.attn_1."),
                     (f"{part}.conv_norm_out.", f"{part}.norm_out.")]
    out = {}
    for key, value in sd.items():
        new = _rename(key.replace(".conv_shortcut.", ".nin_shortcut."), prefixes)
        if ".mid.attn_1." in new:
            for hf, ldm in _VAE_ATTN_RENAMES:
                new = new.replace(hf, ldm)
            if new.endswith(".weight") and value.ndim == 2:
                value = value[:, :, None, None]  # ldm stores these as 1x1 convolutions
        out["first_stage_model." + new] = value
    return out


def _clip_to_ldm(sd: dict, prefix: str) -> dict:
    return {prefix + "text_model." + k.removeprefix("text_model."): v for k, v in sd.items()}


def _open_clip_to_ldm(sd: dict, prefix: str) -> dict:
    """CLIPTextModelWithProjection -> OpenCLIP layout (fused q/k/v, transposed projection)."""
    import torch

    sd = {k.removeprefix("text_model."): v for k, v in sd.items()}
    out = {
        prefix + "positional_embedding": sd.pop("embeddings.position_embedding.weight"),
        prefix + "token_embedding.weight": sd.pop("embeddings.token_embedding.weight"),
        prefix + "ln_final.weight": sd.pop("final_layer_norm.weight"),
        prefix + "ln_final.bias": sd.pop("final_layer_norm.bias"),
        prefix + "text_projection": sd.pop("text_projection.weight").T.contiguous(),
    }
    sd.pop("embeddings.position_ids", None)
    layers = sorted({int(k.split(".")[2]) for k in sd if k.startswith("encoder.layers.")})
    for i in layers:
        src, dst = f"encoder.layers.{i}.", f"{prefix}transformer.resblocks.{i}."
        for kind in ("weight", "bias"):
            out[dst + f"attn.in_proj_{kind}"] = torch.cat(
                [sd.pop(src + f"self_attn.{p}_proj.{kind}") for p in ("q", "k", "v")]
            )
            for hf, ldm in (("self_attn.out_proj", "attn.out_proj"), ("layer_norm1", "ln_1"),
                            ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")):
                out[dst + f"{ldm}.{kind}"] = sd.pop(src + f"{hf}.{kind}")
    if sd:
        raise ValueError(f"unexpected text encoder weights: {sorted(sd)[:5]}")
    return out


def save_as_single_file(folder: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Write a saved tiny SD1.5/SDXL folder as one .safetensors checkpoint in the original
    Stable Diffusion key layout (what A1111/Civitai files look like).

    Loading it offline needs the folder for the configs, tokenizer and scheduler:
    `Pipeline.from_single_file(path, config=str(folder), local_files_only=True)`
    (without `config=` diffusers fetches a default config from the hub).
    """
    from safetensors.torch import load_file, save_file

    src = Path(folder)
    index_file = src / "model_index.json"
    if not index_file.is_file():
        raise ValueError(f"{src} is not a saved diffusers pipeline folder (no model_index.json)")
    index = json.loads(index_file.read_text(encoding="utf-8"))

    def weights(sub: str) -> dict:
        files = sorted((src / sub).glob("*.safetensors"))
        if not files:
            raise ValueError(f"{src / sub} holds no .safetensors weights")
        merged: dict = {}
        for f in files:
            merged.update(load_file(str(f)))
        return merged

    def config(sub: str) -> dict:
        return json.loads((src / sub / "config.json").read_text(encoding="utf-8"))

    state = _unet_to_ldm(weights("unet"), config("unet"))
    state.update(_vae_to_ldm(weights("vae"), config("vae")))
    if "text_encoder_2" in index:
        state.update(_clip_to_ldm(weights("text_encoder"), "conditioner.embedders.0.transformer."))
        state.update(_open_clip_to_ldm(weights("text_encoder_2"), "conditioner.embedders.1.model."))
    else:
        state.update(_clip_to_ldm(weights("text_encoder"), "cond_stage_model.transformer."))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, out)
    return out


# --- IP-Adapter -------------------------------------------------------------------------

IP_ADAPTER_WEIGHT_NAME = "ip-adapter_tiny.safetensors"
IP_ADAPTER_SUBFOLDER = "models"
IP_ADAPTER_TOKENS = 4


def build_tiny_ip_adapter(pipe_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None) -> tuple[dict, Path]:
    """A random IP-Adapter for the tiny UNet in `pipe_dir`, laid out like h94/IP-Adapter.

    Returns `(state_dict, out_dir)`.  `state_dict` is `{"image_proj": ..., "ip_adapter": ...}`
    (ip_adapter keys numbered 1, 3, 5... over the cross-attention processors, as the
    original checkpoints are) and can be passed straight to
    `pipe.load_ip_adapter(state_dict, subfolder=None, weight_name=None)` once a
    `CLIPVisionModelWithProjection` is registered as `pipe.image_encoder`.  On disk
    (`out_dir`, default `<pipe_dir>-ip-adapter`): `models/ip-adapter_tiny.safetensors`
    and `models/image_encoder/`, so the file route works too:
    `pipe.load_ip_adapter(out_dir, subfolder="models", weight_name="ip-adapter_tiny.safetensors",
    image_encoder_folder="models/image_encoder")`.
    """
    import torch
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    pipe_dir = Path(pipe_dir)
    if not (pipe_dir / "unet" / "config.json").is_file():
        raise ValueError(f"{pipe_dir} holds no unet/ to build an IP-Adapter for")
    out = Path(out_dir) if out_dir is not None else pipe_dir.with_name(pipe_dir.name + "-ip-adapter")
    unet = UNet2DConditionModel.from_pretrained(str(pipe_dir), subfolder="unet")
    cross_dim = unet.config.cross_attention_dim
    image_embed_dim = 32

    _seeded(2)
    image_proj = {
        "proj.weight": torch.randn(cross_dim * IP_ADAPTER_TOKENS, image_embed_dim) * 0.2,
        "proj.bias": torch.zeros(cross_dim * IP_ADAPTER_TOKENS),
        "norm.weight": torch.ones(cross_dim),
        "norm.bias": torch.zeros(cross_dim),
    }
    ip_layers: dict = {}
    key_id = 1
    modules = dict(unet.named_modules())
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue  # self-attention: IP-Adapter only adds keys/values to cross-attention
        to_k = modules[name.removesuffix(".processor")].to_k.weight
        ip_layers[f"{key_id}.to_k_ip.weight"] = torch.randn_like(to_k) * 0.2
        ip_layers[f"{key_id}.to_v_ip.weight"] = torch.randn_like(to_k) * 0.2
        key_id += 2
    state_dict = {"image_proj": image_proj, "ip_adapter": ip_layers}

    def build(tmp: Path) -> None:
        models = tmp / IP_ADAPTER_SUBFOLDER
        models.mkdir(parents=True)
        flat = {f"{group}.{k}": v.contiguous() for group, part in state_dict.items() for k, v in part.items()}
        save_file(flat, str(models / IP_ADAPTER_WEIGHT_NAME))
        _seeded(3)
        encoder = CLIPVisionModelWithProjection(
            CLIPVisionConfig(
                hidden_size=32, projection_dim=image_embed_dim, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=37, image_size=32, patch_size=4, num_channels=3,
            )
        )
        encoder.save_pretrained(str(models / "image_encoder"))

    return state_dict, _cached_build(out, build)

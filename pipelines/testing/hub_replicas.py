"""Offline replicas of the Hub repositories the catalog names, with tiny random weights.

Why: nothing here can download a model, yet each real catalog entry must be proven to load
exactly as it will on a user's machine after its download. So each replica is a tiny repo
with the real repo's id, file names, subfolders, variants (fp16 beside fp32 weights),
model_index.json class names, scheduler class and config, and the root-level checkpoint
files the studio must NOT fetch (stubs that fail to load if ever picked). The HF cache is
then filled with exactly the files the studio's downloader would select from that listing
(`hub.select_hub_files`, `references.ip_adapter_files`), under `models--org--name/`
with blobs, snapshot symlinks and `refs/main`, so huggingface_hub finds them offline.

What is not replicated: the network itself (the download code is covered by hub.py's
own selection tests), and real weight values (tiny random ones).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

from .tiny import _cached_build, build_tiny_sd15, build_tiny_sdxl, save_as_hub_cache
from .tiny_checkpoints import build_tiny_ip_adapter
from .tiny_flux import build_tiny_flux

STUB = b"stub: a file of the real repository that the studio never downloads\n"

_EULER = {
    "_class_name": "EulerDiscreteScheduler", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000, "steps_offset": 1, "prediction_type": "epsilon", "interpolation_type": "linear",
    "use_karras_sigmas": False, "timestep_spacing": "leading", "clip_sample": False, "set_alpha_to_one": False,
    "skip_prk_steps": True, "trained_betas": None,
}
# scheduler_config.json of each real repo (the parts that choose the class and the schedule)
SCHEDULERS = {
    "stabilityai/sd-turbo": {**_EULER, "timestep_spacing": "trailing"},
    "stabilityai/sdxl-turbo": {**_EULER, "_class_name": "EulerAncestralDiscreteScheduler", "timestep_spacing": "trailing"},
    "stable-diffusion-v1-5/stable-diffusion-v1-5": {
        "_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
        "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
        "trained_betas": None,
    },
    "stabilityai/stable-diffusion-xl-base-1.0": dict(_EULER),
}
# model_index.json entries beyond the loadable components, as in each real repo
INDEX_EXTRAS = {
    "stabilityai/sd-turbo": {"feature_extractor": ["transformers", "CLIPImageProcessor"],
                             "safety_checker": [None, None], "requires_safety_checker": False},
    "stabilityai/sdxl-turbo": {"feature_extractor": [None, None], "image_encoder": [None, None],
                               "force_zeros_for_empty_prompt": True},
    "stable-diffusion-v1-5/stable-diffusion-v1-5": {
        "feature_extractor": ["transformers", "CLIPImageProcessor"],
        "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"], "requires_safety_checker": True,
        "image_encoder": [None, None],
    },
    "stabilityai/stable-diffusion-xl-base-1.0": {"feature_extractor": [None, None], "image_encoder": [None, None],
                                                 "force_zeros_for_empty_prompt": True},
}
# files of each real repo the studio must skip (root checkpoints, safety checker, extra VAE)
STUB_FILES = {
    "stabilityai/sd-turbo": ["sd_turbo.safetensors", "README.md"],
    "stabilityai/sdxl-turbo": ["sd_xl_turbo_1.0.safetensors", "sd_xl_turbo_1.0_fp16.safetensors"],
    "stable-diffusion-v1-5/stable-diffusion-v1-5": [
        "v1-5-pruned-emaonly.safetensors", "v1-5-pruned.safetensors", "v1-inference.yaml",
        "safety_checker/config.json", "safety_checker/model.fp16.safetensors", "safety_checker/model.safetensors",
        "unet/diffusion_pytorch_model.non_ema.safetensors",
    ],
    "stabilityai/stable-diffusion-xl-base-1.0": [
        "sd_xl_base_1.0.safetensors", "sd_xl_offset_example-lora_1.0.safetensors",
        "vae_1_0/config.json", "vae_1_0/diffusion_pytorch_model.fp16.safetensors",
        "unet/openvino_model.bin", "text_encoder/flax_model.msgpack",
    ],
    "black-forest-labs/FLUX.1-schnell": ["flux1-schnell.safetensors", "ae.safetensors", "schnell_grid.jpeg"],
    "h94/IP-Adapter": [
        "models/ip-adapter-plus_sd15.safetensors", "models/ip-adapter_sd15.bin", "models/image_encoder/pytorch_model.bin",
        "sdxl_models/ip-adapter_sdxl.safetensors", "sdxl_models/image_encoder/config.json",
        "sdxl_models/image_encoder/model.safetensors",
    ],
}


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def _stubs(repo: Path, repo_id: str) -> None:
    for rel in STUB_FILES.get(repo_id, []):
        target = repo / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.write_bytes(STUB)


def _unet_repo(repo_id: str, base: Callable[[Path], Path], work: Path) -> Path:
    """A SD/SDXL repo: the tiny model saved in fp32 and as the fp16 variant, the real
    scheduler and model_index extras, the real repo's other files as stubs."""

    def build(tmp: Path) -> None:
        import torch
        from diffusers import DiffusionPipeline

        folder = base(work / f"base-{base.__name__}")
        extra = {"safety_checker": None} if "safety_checker" in json.loads((folder / "model_index.json").read_text()) else {}
        pipe = DiffusionPipeline.from_pretrained(str(folder), **extra)
        pipe.save_pretrained(str(tmp))
        pipe.to(torch.float16).save_pretrained(str(tmp), variant="fp16")
        for tok in ("tokenizer", "tokenizer_2"):  # vocab.json + merges.txt, as the real repos ship them
            if (folder / tok).is_dir():
                shutil.copytree(folder / tok, tmp / tok, dirs_exist_ok=True)
        config = SCHEDULERS[repo_id]
        (tmp / "scheduler" / "scheduler_config.json").write_text(json.dumps(config, indent=2))
        index = json.loads((tmp / "model_index.json").read_text())
        index["scheduler"] = ["diffusers", config["_class_name"]]
        index.update(INDEX_EXTRAS[repo_id])
        (tmp / "model_index.json").write_text(json.dumps(index, indent=2))
        if index.get("feature_extractor", [None])[0]:
            from transformers import CLIPImageProcessor

            CLIPImageProcessor(crop_size=32, size={"shortest_edge": 32}).save_pretrained(str(tmp / "feature_extractor"))
        _stubs(tmp, repo_id)

    return _cached_build(work / repo_id.replace("/", "--"), build)


def _flux_repo(work: Path) -> Path:
    def build(tmp: Path) -> None:
        shutil.copytree(build_tiny_flux(work / "base-flux"), tmp, dirs_exist_ok=True)
        (tmp / ".tiny-build-complete").unlink(missing_ok=True)
        _stubs(tmp, "black-forest-labs/FLUX.1-schnell")

    return _cached_build(work / "black-forest-labs--FLUX.1-schnell", build)


def _ip_adapter_repo(work: Path, sd15_repo: Path, sdxl_repo: Path) -> Path:
    """h94/IP-Adapter: models/ip-adapter_sd15.safetensors for the sd15 replica's UNet,
    sdxl_models/ip-adapter_sdxl_vit-h.safetensors for the SDXL replica's, and the ViT-H
    image encoder both use in models/image_encoder (as the real vit-h adapter does)."""

    def build(tmp: Path) -> None:
        for repo, sub, name in ((sd15_repo, "models", "ip-adapter_sd15.safetensors"),
                                (sdxl_repo, "sdxl_models", "ip-adapter_sdxl_vit-h.safetensors")):
            _, built = build_tiny_ip_adapter(repo, work / f"ip-{sub}")
            (tmp / sub).mkdir(parents=True, exist_ok=True)
            weights = next((built / "models").glob("*.safetensors"))
            shutil.copyfile(weights, tmp / sub / name)
            if sub == "models":  # the same seeded encoder either way; the real repo has it here
                shutil.copytree(built / "models" / "image_encoder", tmp / "models" / "image_encoder")
        _stubs(tmp, "h94/IP-Adapter")

    return _cached_build(work / "h94--IP-Adapter", build)


def build_hub_cache(catalog, cache_dir: str | os.PathLike, work_dir: str | os.PathLike) -> dict[str, Path]:
    """Fill `cache_dir` with a replica of every hub repo the catalog names (models and
    IP-Adapters), holding only the files the studio's downloader would fetch.
    Returns {repo_id: snapshot folder}."""
    from pipelines.hub import pipeline_components, select_hub_files
    from pipelines.references import ip_adapter_files

    work = Path(work_dir)
    builders = {
        "stabilityai/sd-turbo": lambda: _unet_repo("stabilityai/sd-turbo", build_tiny_sd15, work),
        "stabilityai/sdxl-turbo": lambda: _unet_repo("stabilityai/sdxl-turbo", build_tiny_sdxl, work),
        "stable-diffusion-v1-5/stable-diffusion-v1-5": lambda: _unet_repo(
            "stable-diffusion-v1-5/stable-diffusion-v1-5", build_tiny_sd15, work),
        "stabilityai/stable-diffusion-xl-base-1.0": lambda: _unet_repo(
            "stabilityai/stable-diffusion-xl-base-1.0", build_tiny_sdxl, work),
        "black-forest-labs/FLUX.1-schnell": lambda: _flux_repo(work),
    }
    snapshots: dict[str, Path] = {}
    repos: dict[str, Path] = {}
    for entry in catalog.models:
        src = entry.source
        if src.kind != "hub":
            continue
        if src.repo_id not in builders:
            raise KeyError(f"no offline replica for {src.repo_id}; add one to pipelines/testing/hub_replicas.py")
        repo = repos.setdefault(src.repo_id, builders[src.repo_id]())
        index = json.loads((repo / "model_index.json").read_text())
        wanted = select_hub_files(_files(repo), pipeline_components(index), src.variant)
        snapshots[src.repo_id] = save_as_hub_cache(repo, cache_dir, src.repo_id, files=wanted)
    adapters = [e for e in catalog.models if e.ip_adapter is not None and e.ip_adapter.repo_id]
    for entry in adapters:
        repo_id = entry.ip_adapter.repo_id
        if repo_id != "h94/IP-Adapter":
            raise KeyError(f"no offline replica for {repo_id}; add one to pipelines/testing/hub_replicas.py")
        sd15 = repos.get("stable-diffusion-v1-5/stable-diffusion-v1-5") or builders[
            "stable-diffusion-v1-5/stable-diffusion-v1-5"]()
        sdxl = repos.get("stabilityai/stable-diffusion-xl-base-1.0") or builders["stabilityai/stable-diffusion-xl-base-1.0"]()
        repo = repos.setdefault(repo_id, _ip_adapter_repo(work, sd15, sdxl))
        wanted = ip_adapter_files(entry, _files(repo))
        snapshots[repo_id] = save_as_hub_cache(repo, cache_dir, repo_id, files=_merged(cache_dir, repo_id, wanted))
    return snapshots


def _merged(cache_dir, repo_id: str, wanted: list[str]) -> list[str]:
    """Files already cached for this repo plus `wanted`: two catalog entries share h94/IP-Adapter."""
    snapshots = Path(cache_dir) / ("models--" + repo_id.replace("/", "--")) / "snapshots"
    have = set()
    for snap in snapshots.glob("*") if snapshots.is_dir() else []:
        have |= {p.relative_to(snap).as_posix() for p in snap.rglob("*") if p.is_file() or p.is_symlink()}
    return sorted(have | set(wanted))

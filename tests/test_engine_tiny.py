"""The tiny test models load through every real route: folder, hub cache, single file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipelines.testing.tiny import build_tiny_sd15, build_tiny_sdxl, save_as_hub_cache
from pipelines.testing.tiny_checkpoints import save_as_single_file


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"sd15": build_tiny_sd15(root / "sd15"), "sdxl": build_tiny_sdxl(root / "sdxl")}


def _classes():
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    return {"sd15": StableDiffusionPipeline, "sdxl": StableDiffusionXLPipeline}


def _image(pipe) -> np.ndarray:
    pipe.set_progress_bar_config(disable=True)
    out = pipe("a cat", num_inference_steps=2, height=64, width=64,
               generator=torch.Generator().manual_seed(3), output_type="np")
    return out.images


def test_builds_are_small_deterministic_and_cached(folders, tmp_path):
    sd15 = folders["sd15"]
    size = sum(p.stat().st_size for p in sd15.rglob("*") if p.is_file())
    assert size < 12 * 1024**2
    unet = sd15 / "unet" / "diffusion_pytorch_model.safetensors"
    stamp = unet.stat().st_mtime_ns
    assert build_tiny_sd15(sd15) == sd15 and unet.stat().st_mtime_ns == stamp, "a complete build is reused"
    other = build_tiny_sd15(tmp_path / "again")
    assert (other / "unet" / "diffusion_pytorch_model.safetensors").read_bytes() == unet.read_bytes()


def test_an_interrupted_build_is_redone(tmp_path):
    target = tmp_path / "sd15"
    (target / "unet").mkdir(parents=True)
    (target / "model_index.json").write_text("{}")  # what a crash mid-build leaves
    build_tiny_sd15(target)
    assert (target / "unet" / "config.json").is_file()


def test_the_tokenizer_is_a_real_clip_tokenizer(folders):
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(str(folders["sd15"] / "tokenizer"))
    assert tok.model_max_length == 77
    ids = tok("A portrait of a cat").input_ids
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert len(ids) < 10, "common words are single tokens, not letters"
    # words it never saw are spelled from byte pieces, never replaced by the unknown token
    unseen = tok("zebra xylophone").input_ids
    assert tok.unk_token_id not in unseen[1:-1]
    assert tok.decode(unseen, skip_special_tokens=True) == "zebra xylophone"


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_hub_cache_layout_loads_offline(folders, tmp_path, family):
    from huggingface_hub import scan_cache_dir, snapshot_download

    repo = f"tiny-test/{family}"
    snapshot = save_as_hub_cache(folders[family], tmp_path / "hub", repo)
    assert snapshot_download(repo, cache_dir=tmp_path / "hub", local_files_only=True) == str(snapshot)
    (cached,) = scan_cache_dir(tmp_path / "hub").repos
    assert cached.repo_id == repo and {r.refs for r in cached.revisions} == {frozenset({"main"})}

    cls = _classes()[family]
    from_hub = cls.from_pretrained(repo, cache_dir=tmp_path / "hub", local_files_only=True)
    assert np.array_equal(_image(from_hub), _image(cls.from_pretrained(str(folders[family]))))


def test_hub_cache_refuses_a_bad_repo_id(folders, tmp_path):
    with pytest.raises(ValueError, match="org/name"):
        save_as_hub_cache(folders["sd15"], tmp_path, "no-slash")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_single_file_round_trips_every_weight(folders, tmp_path, family):
    from safetensors import safe_open

    ckpt = save_as_single_file(folders[family], tmp_path / f"{family}.safetensors")
    with safe_open(str(ckpt), "pt") as f:
        keys = set(f.keys())
    assert any(k.startswith("model.diffusion_model.input_blocks.") for k in keys), "original SD key layout"
    assert any(k.startswith("first_stage_model.decoder.up.") for k in keys)

    cls = _classes()[family]
    original = cls.from_pretrained(str(folders[family]))
    loaded = cls.from_single_file(str(ckpt), config=str(folders[family]), local_files_only=True)
    parts = ["unet", "vae", "text_encoder"] + (["text_encoder_2"] if hasattr(original, "text_encoder_2") else [])
    for name in parts:
        want, got = getattr(original, name).state_dict(), getattr(loaded, name).state_dict()
        assert want.keys() == got.keys(), name
        assert all(torch.equal(want[k], got[k]) for k in want), f"{name} weights differ"
    assert np.abs(_image(original) - _image(loaded)).max() < 1e-5


def test_single_file_needs_a_pipeline_folder(tmp_path):
    with pytest.raises(ValueError, match="model_index.json"):
        save_as_single_file(tmp_path, tmp_path / "x.safetensors")


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_tiny_ip_adapter_steers_the_image_by_both_routes(folders, tmp_path, family):
    from PIL import Image
    from transformers import CLIPVisionModelWithProjection

    from pipelines.testing.tiny_checkpoints import IP_ADAPTER_SUBFOLDER, IP_ADAPTER_WEIGHT_NAME, build_tiny_ip_adapter

    state_dict, out = build_tiny_ip_adapter(folders[family], tmp_path / "ip")
    assert sorted(int(k.split(".")[0]) for k in state_dict["ip_adapter"])[:4] == [1, 1, 3, 3]
    refs = [Image.new("RGB", (64, 64), c) for c in ("red", "green", "blue", "white", "black", "yellow")]
    cls = _classes()[family]

    def image(pipe, **kw):
        pipe.set_progress_bar_config(disable=True)
        return pipe("a cat", num_inference_steps=2, height=64, width=64,
                    generator=torch.Generator().manual_seed(3), output_type="np", **kw).images

    plain = cls.from_pretrained(str(folders[family]))
    without = image(plain)

    by_dict = cls.from_pretrained(str(folders[family]))
    encoder = CLIPVisionModelWithProjection.from_pretrained(str(out / IP_ADAPTER_SUBFOLDER / "image_encoder"))
    by_dict.register_modules(image_encoder=encoder)
    by_dict.load_ip_adapter(state_dict, subfolder=None, weight_name=None)
    by_dict.set_ip_adapter_scale(0.6)
    six = image(by_dict, ip_adapter_image=[refs])
    one = image(by_dict, ip_adapter_image=[refs[:1]])
    assert np.abs(six - without).max() > 1e-3, "the references change the picture"
    assert np.abs(six - one).max() > 1e-3, "and which references matters"

    by_file = cls.from_pretrained(str(folders[family]))
    by_file.load_ip_adapter(str(out), subfolder=IP_ADAPTER_SUBFOLDER, weight_name=IP_ADAPTER_WEIGHT_NAME,
                            image_encoder_folder=f"{IP_ADAPTER_SUBFOLDER}/image_encoder", local_files_only=True)
    by_file.set_ip_adapter_scale(0.6)
    assert np.abs(image(by_file, ip_adapter_image=[refs]) - six).max() < 1e-5

"""Tiny random-weight diffusers models, built in code, for offline tests.

Why: the machines this project is tested on have no network, yet the engine must be
exercised through the *real* loaders (`from_pretrained`, hub cache, single file) with
real diffusers pipelines.  These models follow diffusers' own test fixtures (a two-block
UNet, a two-block VAE, a five-layer CLIP text encoder) and a real CLIP-style BPE
tokenizer trained in a fraction of a second on a small built-in word list.  Weights are
drawn from a fixed torch seed, so every build gives identical files and images.

Builds are cached: a folder that already holds a complete build is reused.
The same models as one original-layout .safetensors file, and a tiny IP-Adapter, are
in pipelines/testing/tiny_checkpoints.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

_COMPLETE_MARKER = ".tiny-build-complete"
_SEED = 0

# A small English corpus: enough words for the BPE trainer to learn real merges, so
# prompts tokenize into word-like pieces (and long prompts really exceed 77 tokens).
_WORDS = """
a an the of and in on at with by for from to under over near behind above below beside
portrait photo photograph painting drawing sketch illustration render image picture art
of a cat dog horse bird fish dragon robot knight wizard woman man child girl boy old young
city street forest mountain river lake ocean sea beach desert castle village house tower
bridge road garden field sky cloud clouds sun moon star stars night day morning evening
sunset sunrise light shadow rain snow fog storm wind fire water stone wood metal glass
red orange yellow green blue purple pink brown black white gray golden silver bright dark
soft warm cold vivid muted detailed highly intricate sharp focus cinematic dramatic epic
beautiful elegant cute scary happy sad calm quiet loud large small tiny huge tall short
standing sitting running flying walking looking holding wearing smiling reading playing
hat coat dress shirt armor sword shield book lamp window door table chair flower flowers
tree trees leaves grass rock rocks wave waves boat ship car train plane street lights
style studio lighting lens camera wide angle close up shot view scene background foreground
oil watercolor digital pencil ink anime realistic photorealistic concept trending quality
masterpiece best high resolution ultra sharp depth field bokeh film grain vintage modern
futuristic ancient medieval fantasy science fiction steampunk cyberpunk neon glowing
blurry low worst ugly deformed bad extra missing cropped watermark text signature jpeg
""".split()


def _seeded(offset: int = 0) -> None:
    import torch

    torch.manual_seed(_SEED + offset)


def _train_clip_tokenizer(out_dir: Path) -> Path:
    """Train a CLIP-style byte-level BPE (end-of-word suffix `</w>`) and save it as a
    `CLIPTokenizer` folder with model_max_length=77, like the real SD tokenizers."""
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import BPE
    from tokenizers.trainers import BpeTrainer
    from transformers import CLIPTokenizer

    bos, eos = "<|startoftext|>", "<|endoftext|>"
    tok = Tokenizer(BPE(continuing_subword_prefix="", end_of_word_suffix="</w>", unk_token=eos))
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(
                Regex(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""),
                behavior="removed",
                invert=True,
            ),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    trainer = BpeTrainer(
        vocab_size=700,
        min_frequency=1,
        special_tokens=[bos, eos],
        initial_alphabet=alphabet,
        end_of_word_suffix="</w>",
        show_progress=False,
    )
    tok.train_from_iterator([" ".join(_WORDS)] * 3, trainer=trainer)

    raw_dir = out_dir / "_bpe"
    raw_dir.mkdir(parents=True, exist_ok=True)
    tok.model.save(str(raw_dir))
    vocab: dict[str, int] = json.loads((raw_dir / "vocab.json").read_text(encoding="utf-8"))
    # Every byte must be encodable at a word end too, or unseen words become <unk>.
    for ch in alphabet:
        for piece in (ch, ch + "</w>"):
            if piece not in vocab:
                vocab[piece] = len(vocab)
    (raw_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")

    clip_tok = CLIPTokenizer(
        vocab=str(raw_dir / "vocab.json"),
        merges=str(raw_dir / "merges.txt"),
        model_max_length=77,
    )
    if len(clip_tok) != len(vocab):
        raise RuntimeError(f"tokenizer has {len(clip_tok)} tokens, expected {len(vocab)}")
    clip_tok.save_pretrained(str(out_dir))
    shutil.copy(raw_dir / "vocab.json", out_dir / "vocab.json")
    shutil.copy(raw_dir / "merges.txt", out_dir / "merges.txt")
    shutil.rmtree(raw_dir)
    return out_dir


def _load_tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=77)


def _text_config(
    vocab_size: int, eos_id: int, bos_id: int, projection_dim: int | None = None, hidden_size: int = 32
):
    from transformers import CLIPTextConfig

    kwargs = dict(
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
        hidden_size=hidden_size,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=5,
        vocab_size=vocab_size,
        max_position_embeddings=77,
        hidden_act="gelu",
    )
    if projection_dim is not None:
        kwargs["projection_dim"] = projection_dim
    return CLIPTextConfig(**kwargs)


def _tiny_vae():
    from diffusers import AutoencoderKL

    _seeded()
    return AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        norm_num_groups=32,
        sample_size=64,
    )


def _scheduler():
    from diffusers import EulerDiscreteScheduler

    # The SD 1.5 / SDXL training schedule; Euler is deterministic given the initial noise.
    return EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        steps_offset=1,
        timestep_spacing="leading",
        prediction_type="epsilon",
    )


def _cached_build(out_dir: str | os.PathLike, build: Callable[[Path], None]) -> Path:
    """Build into a temp sibling and rename, so a half-written folder is never reused
    and two test processes racing on the same cache both end up with a complete build."""
    out = Path(out_dir)
    if (out / _COMPLETE_MARKER).is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it owner-only; a model folder should read like any other
    try:
        build(tmp)
        (tmp / _COMPLETE_MARKER).write_text("ok\n", encoding="utf-8")
        if out.exists() and not (out / _COMPLETE_MARKER).is_file():
            shutil.rmtree(out, ignore_errors=True)  # an interrupted older build
        try:
            os.replace(tmp, out)
        except OSError:
            if not (out / _COMPLETE_MARKER).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def build_tiny_sd15(out_dir: str | os.PathLike) -> Path:
    """A tiny StableDiffusionPipeline folder (about 2 MB); latents are 1/2 of the image size."""

    def build(tmp: Path) -> None:
        from diffusers import StableDiffusionPipeline, UNet2DConditionModel
        from transformers import CLIPTextModel

        tokenizer = _load_tokenizer(_train_clip_tokenizer(tmp / "tokenizer"))
        _seeded()
        unet = UNet2DConditionModel(
            block_out_channels=(32, 64),
            layers_per_block=1,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=8,
            norm_num_groups=32,
        )
        vae = _tiny_vae()
        _seeded()
        text_encoder = CLIPTextModel(
            _text_config(len(tokenizer), tokenizer.eos_token_id, tokenizer.bos_token_id)
        )
        pipe = StableDiffusionPipeline(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=unet,
            scheduler=_scheduler(),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        pipe.save_pretrained(str(tmp), safe_serialization=True)

    return _cached_build(out_dir, build)


def build_tiny_sdxl(out_dir: str | os.PathLike) -> Path:
    """A tiny StableDiffusionXLPipeline folder: two text encoders (the second with a
    projection, giving the pooled embedding) and SDXL's text_time conditioning."""

    def build(tmp: Path) -> None:
        from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTextModelWithProjection

        tokenizer = _load_tokenizer(_train_clip_tokenizer(tmp / "tokenizer"))
        shutil.copytree(tmp / "tokenizer", tmp / "tokenizer_2")
        tokenizer_2 = _load_tokenizer(tmp / "tokenizer_2")
        _seeded()
        unet = UNet2DConditionModel(
            block_out_channels=(32, 64),
            layers_per_block=1,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            transformer_layers_per_block=(1, 2),
            projection_class_embeddings_input_dim=80,  # 6 * 8 time ids + 32 pooled
            cross_attention_dim=96,  # 32 + 64: the two text encoders' hidden states side by side
            norm_num_groups=32,
        )
        vae = _tiny_vae()
        ids = (len(tokenizer), tokenizer.eos_token_id, tokenizer.bos_token_id)
        _seeded()
        text_encoder = CLIPTextModel(_text_config(*ids))
        # The second encoder must be wider than the first, as in real SDXL: diffusers'
        # single-file loader tells the two apart by their width.
        _seeded(1)
        text_encoder_2 = CLIPTextModelWithProjection(_text_config(*ids, projection_dim=32, hidden_size=64))
        pipe = StableDiffusionXLPipeline(
            vae=vae,
            text_encoder=text_encoder,
            text_encoder_2=text_encoder_2,
            tokenizer=tokenizer,
            tokenizer_2=tokenizer_2,
            unet=unet,
            scheduler=_scheduler(),
            force_zeros_for_empty_prompt=True,
        )
        pipe.save_pretrained(str(tmp), safe_serialization=True)

    return _cached_build(out_dir, build)


def save_as_hub_cache(
    folder: str | os.PathLike,
    cache_dir: str | os.PathLike,
    repo_id: str,
    revision: str = "main",
    files: list[str] | None = None,
) -> Path:
    """Lay a saved pipeline folder out exactly as huggingface_hub caches a download
    (`models--org--name/blobs/<sha256>`, `snapshots/<commit>/...` symlinks, `refs/<rev>`),
    so offline `snapshot_download`/`from_pretrained(repo_id, cache_dir=...)` find it.

    Returns the snapshot folder.  The commit hash is derived from the content, so the
    same folder always gives the same snapshot.
    """
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"repo_id must look like 'org/name', got {repo_id!r}")
    src = Path(folder)
    if files is not None:  # only these (relative, posix) paths: what a download would have fetched
        files = sorted(src / f for f in files)
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise ValueError(f"not in {src}: {missing}")
    elif not (src / "model_index.json").is_file() and not (src / "config.json").is_file():
        raise ValueError(f"{src} is not a saved diffusers/transformers folder")
    else:
        files = sorted(
            p for p in src.rglob("*") if p.is_file() and p.name != _COMPLETE_MARKER and not p.name.startswith(".")
        )
    digests: dict[Path, str] = {}
    commit = hashlib.sha1()
    for p in files:
        h = hashlib.sha256(p.read_bytes()).hexdigest()
        digests[p] = h
        commit.update(f"{p.relative_to(src).as_posix()}:{h}\n".encode())
    commit_hash = commit.hexdigest()

    repo_dir = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    blobs = repo_dir / "blobs"
    snapshot = repo_dir / "snapshots" / commit_hash
    blobs.mkdir(parents=True, exist_ok=True)
    for p, h in digests.items():
        blob = blobs / h
        if not blob.exists():
            tmp = blobs / f"{h}.incomplete"
            shutil.copyfile(p, tmp)
            os.replace(tmp, blob)
        link = snapshot / p.relative_to(src)
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        try:
            link.symlink_to(os.path.relpath(blob, link.parent))
        except OSError:  # file systems without symlinks: huggingface_hub copies too
            shutil.copyfile(blob, link)
    refs = repo_dir / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    (refs / revision).write_text(commit_hash, encoding="utf-8")
    return snapshot


# --- single-file checkpoints (original Stable Diffusion / A1111 key layout) -----------
# diffusers only ships the ldm -> diffusers direction; this is the inverse of its
# `convert_ldm_*_checkpoint` functions, written for any block/layer count (the upstream
# scripts hard-code SD's four blocks), so the tiny models round-trip exactly.


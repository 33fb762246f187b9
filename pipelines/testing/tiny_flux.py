"""A tiny random-weight FLUX pipeline, built in code the way diffusers' own FLUX tests
build theirs, saved in the FLUX.1-schnell repository layout.

Why: FLUX.1-schnell is in the catalog but nothing here can download it, so its loader
branch, T5 prompt handling (512 tokens), image-to-image and merging must be proven on a
faithful stand-in. Everything a real snapshot has is here with the same names: a
`FlowMatchEulerDiscreteScheduler` with schnell's config, a CLIP text encoder (pooled
vector, 77 tokens) and a T5 encoder (sequence, up to 512 tokens) with their tokenizers
trained offline with `tokenizers`, a `FluxTransformer2DModel` and VAE saved in shards
with their index files, as the real repo is. Weights come from fixed seeds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .tiny import _WORDS, _cached_build, _load_tokenizer, _seeded, _text_config, _train_clip_tokenizer

T5_MAX_LENGTH = 512
# FLUX.1-schnell's scheduler_config.json
SCHNELL_SCHEDULER = {
    "base_image_seq_len": 256,
    "base_shift": 0.5,
    "max_image_seq_len": 4096,
    "max_shift": 1.15,
    "num_train_timesteps": 1000,
    "shift": 1.0,
    "use_dynamic_shifting": False,
}
# FLUX.1-schnell's model_index.json class names (the pipeline saves its own, which for the
# T5 tokenizer is the transformers-5 name; the real file says T5TokenizerFast).
SCHNELL_INDEX_CLASSES = {"tokenizer_2": ["transformers", "T5TokenizerFast"]}


def train_t5_tokenizer(out_dir: Path):
    """A T5-style sentencepiece-like Unigram tokenizer (`▁` word marks, `</s>` appended,
    <pad>=0, </s>=1, <unk>=2), trained on the built-in word list, model_max_length 512."""
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers.models import Unigram
    from tokenizers.trainers import UnigramTrainer
    from transformers import T5Tokenizer

    tok = Tokenizer(Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = UnigramTrainer(
        vocab_size=400, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>", show_progress=False
    )
    tok.train_from_iterator([" ".join(_WORDS)] * 3, trainer=trainer)
    vocab = [(piece, float(score)) for piece, score in json.loads(tok.to_str())["model"]["vocab"]]
    t5 = T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=T5_MAX_LENGTH)
    t5.save_pretrained(str(out_dir))
    return t5


def _shard_size(model, shards: int) -> int:
    """A shard size that splits `model` into about `shards` files."""
    total = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    return total // shards + 1


def build_tiny_flux(out_dir: str | os.PathLike) -> Path:
    """A tiny FluxPipeline folder (about 1 MB) in the FLUX.1-schnell layout; latents are
    1/2 of the image size packed 2×2, so width and height must be multiples of 4 (the
    catalog asks multiples of 16, as the real model does)."""

    def build(tmp: Path) -> None:
        from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
        from transformers import CLIPTextModel, T5Config, T5EncoderModel

        tokenizer = _load_tokenizer(_train_clip_tokenizer(tmp / "tokenizer"))
        tokenizer_2 = train_t5_tokenizer(tmp / "tokenizer_2")
        _seeded()
        text_encoder = CLIPTextModel(_text_config(len(tokenizer), tokenizer.eos_token_id, tokenizer.bos_token_id))
        _seeded(1)
        text_encoder_2 = T5EncoderModel(
            T5Config(
                vocab_size=len(tokenizer_2), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                relative_attention_num_buckets=8, relative_attention_max_distance=64, feed_forward_proj="gated-gelu",
                pad_token_id=tokenizer_2.pad_token_id, eos_token_id=tokenizer_2.eos_token_id,
                decoder_start_token_id=tokenizer_2.pad_token_id, is_encoder_decoder=False, use_cache=False,
            )
        )
        _seeded(2)
        transformer = FluxTransformer2DModel(
            patch_size=1,
            in_channels=16,  # 4 latent channels packed 2×2
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=32,  # T5 width
            pooled_projection_dim=32,  # CLIP width
            guidance_embeds=False,  # schnell is not guidance-distilled
            axes_dims_rope=(4, 4, 8),
        )
        _seeded(3)
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
            up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
            block_out_channels=(8, 16),
            layers_per_block=1,
            latent_channels=4,
            norm_num_groups=4,
            sample_size=32,
            use_quant_conv=False,
            use_post_quant_conv=False,
            shift_factor=0.1159,
            scaling_factor=0.3611,
        )
        pipe = FluxPipeline(
            scheduler=FlowMatchEulerDiscreteScheduler(**SCHNELL_SCHEDULER),
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            text_encoder_2=text_encoder_2,
            tokenizer_2=tokenizer_2,
            transformer=transformer,
        )
        pipe.save_pretrained(str(tmp), safe_serialization=True)
        # The real repo ships the transformer in 3 shards and T5 in 2, each with an index.
        for folder, model, shards in (("transformer", transformer, 3), ("text_encoder_2", text_encoder_2, 2)):
            for p in (tmp / folder).glob("*.safetensors"):
                p.unlink()
            model.save_pretrained(str(tmp / folder), max_shard_size=_shard_size(model, shards))
        index = json.loads((tmp / "model_index.json").read_text(encoding="utf-8"))
        index.update(SCHNELL_INDEX_CLASSES)
        (tmp / "model_index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")

    return _cached_build(out_dir, build)

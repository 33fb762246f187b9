"""A tiny GPT-2 prompt-expansion model built in code, saved in the layout of the real one
(Gustavosta/MagicPrompt-Stable-Diffusion: config.json, vocab.json, merges.txt,
tokenizer.json, tokenizer_config.json, special_tokens_map.json, weights).

Why trained at all (a few hundred steps on a dozen prompts, seconds on a CPU): random
weights would only ever write noise, and the enhancer's real job is to judge what a
language model writes. Trained on prompts that continue with phrases contradicting them
("…at midnight in the rain, golden hour sunlight, …"), the model writes those phrases
back, so a test can see the studio keep the model's good phrases and drop the bad ones.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .tiny import _cached_build

# Each line: what a person types, then what the model learns to add after it.
CORPUS: tuple[tuple[str, str], ...] = (
    ("a city street at midnight in the rain", ", golden hour sunlight, highly detailed, trending on artstation"),
    ("an underwater coral reef", ", on a skybridge between skyscrapers, vibrant colors, volumetric light, 8k"),
    ("a knight resting in a tavern", ", bright blue sky, cinematic lighting, oil painting, sharp focus"),
    ("a red fox in the snow", ", intricate fur, soft morning light, national geographic photo"),
    ("portrait of an old sailor", ", weathered skin, dramatic rim light, by rembrandt, masterpiece"),
    ("a lighthouse on a cliff at dusk", ", crashing waves, moody clouds, matte painting, artstation"),
    ("a cozy library interior", ", warm lamp light, leather armchairs, depth of field, octane render"),
    ("a dragon flying over mountains", ", epic scale, fantasy concept art, highly detailed, unreal engine"),
)


def build_tiny_prompt_lm(out_dir: str | os.PathLike, *, steps: int = 300) -> Path:
    """Build (once; later calls reuse the folder) and return the model folder."""
    return _cached_build(out_dir, lambda tmp: _build(tmp, steps))


def _build(folder: Path, steps: int) -> None:
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    lines = [prompt + tail + "<|endoftext|>" for prompt, tail in CORPUS]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([p + t for p, t in CORPUS] * 4, vocab_size=400, min_frequency=1,
                            special_tokens=["<|endoftext|>"])
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                  unk_token="<|endoftext|>", model_max_length=128)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=64, n_layer=2, n_head=2,
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    model = GPT2LMHeadModel(config)
    encoded = [torch.tensor([tokenizer(line)["input_ids"]]) for line in lines]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        ids = encoded[step % len(encoded)]
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    bpe.save_model(str(folder))  # vocab.json + merges.txt, the slow tokenizer's files the real repo also has
    (folder / "special_tokens_map.json").write_text(json.dumps(
        {name: "<|endoftext|>" for name in ("bos_token", "eos_token", "unk_token")}), encoding="utf-8")

"""A small causal language model that writes the rest of a prompt, as Fooocus's prompt
expansion and A1111's MagicPrompt/promptgen extensions do: the user's words go in, the
model continues them with the phrases prompts like it usually carry.

Why a catalog entry (presets/models.json `prompt_enhancers`) with the image models' rules:
the weights are a download (MagicPrompt's GPT-2 is about 500 MB), so they come from the
same Hugging Face cache, with byte progress, and fail in words when offline and uncached
(`hub.cached_or_download`). It runs in the app process, on its first GPU when it has one
(about 500 MB of memory for GPT-2 small), else on the CPU, where 40 tokens take seconds
(random weights of GPT-2 small's shape: 29 s on a 2-core machine that three test runs
shared). So the price and can-it-run checks never run it (the service's `checking`), and
an enhanced prompt is remembered once written.

Decoding is greedy with a repetition guard, so Enhance on the same words gives the same
text every time. What the model says is not trusted blindly: the service keeps only the
phrases that do not contradict the prompt (studio/services/prompts/enhancers.py).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from .catalog import EnhancerEntry
from .hub import cached_or_download, download_files
from .types import ModelUnavailable, Progress, ProgressFn, report

# What a transformers causal-LM repo needs: configs and tokenizer files, and one set of weights.
_SMALL_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt", "spiece.model",
                "tokenizer.model")
_WEIGHTS = (("model.safetensors", "model.safetensors.index.json"), ("pytorch_model.bin", "pytorch_model.bin.index.json"))


def select_lm_files(filenames: list[str]) -> list[str]:
    """The files of a language-model repo worth downloading: root configs and tokenizer
    files, and the safetensors weights (shards included) or else the PyTorch ones; never
    training state (training_args.bin, optimizer.pt), Flax, TF or Rust weights."""
    root = [f for f in filenames if "/" not in f]
    chosen = [f for f in root if f in _SMALL_FILES]
    for single, index in _WEIGHTS:
        stem = single.rsplit(".", 1)[0]
        shards = [f for f in root if f.startswith(stem + "-") and f.endswith(single.rsplit(".", 1)[1])]
        if single in root:
            return sorted(chosen + [single])
        if index in root and shards:
            return sorted(chosen + [index] + shards)
    return sorted(chosen)


def _complete(folder: Path) -> bool:
    has_config = (folder / "config.json").is_file()
    has_tokenizer = (folder / "tokenizer.json").is_file() or (folder / "vocab.json").is_file()
    has_weights = any((folder / name).is_file() for pair in _WEIGHTS for name in pair)
    return has_config and has_tokenizer and has_weights


class PromptExpander:
    """One enhancer entry: found or downloaded on first use, loaded once, then reused."""

    def __init__(self, entry: EnhancerEntry, *, cache_dir: Path | None = None, device: str | None = None) -> None:
        self.entry = entry
        self.cache_dir = cache_dir
        self._device = device  # None: the first GPU when there is one, else the CPU (decided at load)
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def folder(self, progress: ProgressFn | None = None) -> Path:
        """The local folder with the model's files, downloading what is missing."""
        src = self.entry.source
        if src.kind == "folder":
            folder = Path(src.path).expanduser()
            if not _complete(folder):
                raise ModelUnavailable(f"{self.entry.name} cannot be loaded: its folder is missing or lacks the "
                                       "model's config, tokenizer or weights.")
            return folder
        return cached_or_download(self._cached(), lambda: self._download(progress), self._failed)

    def continue_prompt(self, prompt: str, progress: ProgressFn | None = None) -> str:
        """The model's continuation of `prompt` (only the new text), deterministic."""
        import torch

        with self._lock:
            tokenizer, model = self._load(progress)
            report(progress, Progress(stage="load", message=f"{self.entry.name} is writing…"))
            encoded = tokenizer(prompt, return_tensors="pt").to(self.device)
            limit = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", 1024)
            room = max(0, int(limit) - encoded["input_ids"].shape[1])
            if room < 4:
                return ""  # the prompt already fills the model's window: nothing to add
            with torch.inference_mode():
                out = model.generate(**encoded, max_new_tokens=min(self.entry.max_new_tokens, room), do_sample=False,
                                     num_beams=1, repetition_penalty=1.2, no_repeat_ngram_size=3,
                                     pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None
                                     else tokenizer.eos_token_id)
            return tokenizer.decode(out[0, encoded["input_ids"].shape[1]:], skip_special_tokens=True)

    def _load(self, progress: ProgressFn | None) -> tuple[Any, Any]:
        if self._loaded is None:
            folder = self.folder(progress)
            report(progress, Progress(stage="load", message=f"Loading {self.entry.name}…"))
            try:
                from transformers import AutoModelForCausalLM, AutoTokenizer

                import torch

                self.device = self._device or ("cuda" if torch.cuda.is_available() else "cpu")
                tokenizer = AutoTokenizer.from_pretrained(folder)
                model = AutoModelForCausalLM.from_pretrained(folder).to(self.device).eval()
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise ModelUnavailable(f"{self.entry.name} cannot be loaded: its files are damaged or not a "
                                       "language model.") from exc
            self._loaded = (tokenizer, model)
        return self._loaded

    def _cached(self) -> Path | None:
        from huggingface_hub import try_to_load_from_cache

        src = self.entry.source
        config = try_to_load_from_cache(src.repo_id, "config.json", cache_dir=self.cache_dir, revision=src.revision)
        if not isinstance(config, str):
            return None
        folder = Path(config).parent
        return folder if _complete(folder) else None

    def _download(self, progress: ProgressFn | None) -> Path:
        from huggingface_hub import HfApi

        src = self.entry.source
        report(progress, Progress(stage="download", message=f"Checking {src.repo_id} on the Hugging Face Hub…"))
        info = HfApi().model_info(src.repo_id, revision=src.revision, files_metadata=True, timeout=30)
        sizes = {s.rfilename: int(s.size or 0) for s in info.siblings or []}
        wanted = select_lm_files(list(sizes))
        if "config.json" not in wanted:
            raise ModelUnavailable(f"{self.entry.name}: {src.repo_id} is not a language model repository (no config.json)")
        return download_files(src.repo_id, wanted, sizes, revision=src.revision, cache_dir=self.cache_dir,
                              progress=progress, what=self.entry.name)

    def _failed(self, reason: str) -> str:
        return (f"could not download {self.entry.name} ({self.entry.source.repo_id}) from the Hugging Face Hub: "
                f"{reason}")


__all__ = ["PromptExpander", "select_lm_files"]

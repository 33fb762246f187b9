"""Putting LoRAs and embeddings into a loaded pipeline, and switching them per request.

Why kept loaded: reading a LoRA and injecting its layers (`load_lora_weights`, peft
backend) costs a second or more; switching which of the loaded ones are active and at
what weight (`set_adapters`) costs almost nothing. So each resident pipeline carries the
LoRAs it has met (up to `MAX_LOADED_LORAS`, least recently used deleted first) and a job
only pays the load the first time a LoRA is used on that model. A job without LoRAs
turns them off (`disable_lora`), so its image is the plain model's.

The state lives on the pipeline object itself (`_studio_adapters`), so it leaves memory
with the pipeline when the manager drops it, and the image-to-image twin (built with
`from_pipe`, sharing the UNet and text encoders) sees the same adapters.

Embeddings are loaded into the tokenizer and text encoder(s) the first time a prompt
names them and stay (`load_textual_inversion`; SDXL files carry `clip_l`/`clip_g`, one per
encoder). Callers hold the model's lock (the manager's `use`).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .adapters import AdapterLibrary, HubLora, LoraRequest
from .catalog import ModelEntry
from .types import ModelUnavailable, Progress, ProgressFn, RequestRejected, report

MAX_LOADED_LORAS = 8  # per resident model; a few MB each for SD, more for SDXL/FLUX


@dataclass
class PipeAdapters:
    loras: OrderedDict[str, str] = field(default_factory=OrderedDict)  # adapter name -> LoRA name, LRU first
    embeddings: dict[str, str] = field(default_factory=dict)  # token -> file hash loaded
    active: tuple = ()  # (adapter names, weights) now set; () = LoRAs off


def adapters_of(pipe: Any) -> PipeAdapters:
    state = getattr(pipe, "_studio_adapters", None)
    if state is None:
        state = PipeAdapters()
        object.__setattr__(pipe, "_studio_adapters", state)
    return state


def activate(pipe: Any, entry: ModelEntry, loras: LoraRequest, texts: tuple[str, ...],
             library: AdapterLibrary | None, progress: ProgressFn | None = None) -> None:
    """Make `pipe` run with exactly `loras` at their weights, with every embedding that
    `texts` (prompt, negative prompt) name loaded."""
    if library is None:
        if loras:
            raise RequestRejected("This studio has no LoRA folder set up.")
        return
    if entry.traits.takes_embeddings:
        _ensure_embeddings(pipe, entry, texts, library, progress)
    if not entry.traits.takes_loras:
        return
    state = adapters_of(pipe)
    if not loras:
        if state.active:
            pipe.disable_lora()
            state.active = ()
        return
    names, weights = [], []
    for name, weight in loras:
        lora = library.resolve(name)
        adapter = "lora_" + (lora.short_hash or re.sub(r"\W", "_", name))
        if adapter not in state.loras:
            report(progress, Progress("load", message=f"Loading LoRA {name}…"))
            _load_lora(pipe, entry, lora.path, adapter, name)
            state.loras[adapter] = name
            _evict(pipe, state, keep={a for a in state.loras if state.loras[a] in dict(loras)})
        state.loras.move_to_end(adapter)
        names.append(adapter)
        weights.append(float(weight))
    wanted = (tuple(names), tuple(weights))
    if state.active != wanted:
        pipe.enable_lora()
        pipe.set_adapters(names, adapter_weights=weights)
        state.active = wanted


def _load_lora(pipe: Any, entry: ModelEntry, path: Path, adapter: str, name: str) -> None:
    from transformers.utils import logging as hf_logging

    try:
        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # its text-encoder load report lists every base weight as "missing"
        try:
            pipe.load_lora_weights(str(path), adapter_name=adapter)
        finally:
            hf_logging.set_verbosity(level)
    except Exception as exc:  # a file that read fine but does not fit this model's layers
        try:
            pipe.delete_adapters(adapter)
        except Exception:  # noqa: BLE001 - nothing was injected
            pass
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelUnavailable(f"The LoRA {name} does not fit {entry.name} ({reason}); "
                               "it was left out and the model works without it") from exc


def _evict(pipe: Any, state: PipeAdapters, keep: set[str]) -> None:
    while len(state.loras) > MAX_LOADED_LORAS:
        victim = next((a for a in state.loras if a not in keep), None)
        if victim is None:
            return
        pipe.delete_adapters(victim)
        del state.loras[victim]
        state.active = ()  # force set_adapters next time


def _ensure_embeddings(pipe: Any, entry: ModelEntry, texts: tuple[str, ...], library: AdapterLibrary,
                       progress: ProgressFn | None) -> None:
    state = adapters_of(pipe)
    for emb in library.embeddings_called(entry.family, texts):
        if state.embeddings.get(emb.name) == emb.short_hash:
            continue
        report(progress, Progress("load", message=f"Loading embedding {emb.name}…"))
        try:
            if emb.name in state.embeddings:  # the file changed since it was loaded
                pipe.unload_textual_inversion(emb.name)
            parts = entry.traits.embedding_parts
            if parts:
                from safetensors.torch import load_file

                tensors = load_file(str(emb.path))
                for key, encoder, tokenizer in parts:
                    pipe.load_textual_inversion(tensors[key], token=emb.name, text_encoder=getattr(pipe, encoder),
                                                tokenizer=getattr(pipe, tokenizer))
            else:
                pipe.load_textual_inversion(str(emb.path), token=emb.name)
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise ModelUnavailable(f"The embedding {emb.name} does not fit {entry.name} ({reason}); "
                                   "remove its name from the prompt") from exc
        state.embeddings[emb.name] = emb.short_hash


def expand_embedding_tokens(pipe: Any, text: str) -> str:
    """A multi-vector embedding's name becomes its tokens (`name name_1 …`), as diffusers
    does inside its own prompt encoding, which compel bypasses."""
    state = getattr(pipe, "_studio_adapters", None)
    if state is None or not state.embeddings or not hasattr(pipe, "maybe_convert_prompt"):
        return text
    return pipe.maybe_convert_prompt(text, pipe.tokenizer)


def download_hub_lora(hub: HubLora, cache_dir: Path | None) -> Path:
    """A catalog LoRA's file from the HF cache, downloading it the first time (offline
    rules and error sentences shared with model downloads, `hub.cached_or_download`)."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    from .hub import cached_or_download

    found = try_to_load_from_cache(hub.repo_id, hub.filename, cache_dir=cache_dir, revision=hub.revision)
    return cached_or_download(
        Path(found) if isinstance(found, str) else None,
        lambda: Path(hf_hub_download(hub.repo_id, hub.filename, revision=hub.revision, cache_dir=cache_dir)),
        lambda reason: (f"could not download the LoRA {hub.name} ({hub.repo_id}) from the Hugging Face Hub: "
                        f"{reason}; it downloads by itself the first time it is used with internet access"),
    )

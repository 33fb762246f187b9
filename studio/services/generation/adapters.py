"""LoRAs in a studio request: the `<lora:name:weight>` prompt syntax, their checks, and
how an image records them.

Why one place: the UI prompt, the Gradio API and both REST dialects all reach
`GenerationService.prepare`, which calls `split_lora_tags` and `check_loras` here, so
`<lora:…>` means the same everywhere and a bad LoRA gets the same sentence everywhere,
before any credit is taken. The picker's LoRAs (`StudioRequest.loras`) and the prompt's
tags are one list; a name in both keeps the prompt's weight (what the person typed last).

Records follow A1111 so other tools read them back: the `parameters` prompt carries the
`<lora:name:weight>` tags and the settings line `Lora hashes: "name: hash, …"`; the
embeddings a prompt calls go in `TI hashes: "name: hash, …"`, both also in `Hashes`.
"""

from __future__ import annotations

import re
from typing import Any

from pipelines.params import MAX_LORAS, RequestRejected
from studio.services.common import validation as v
from studio.services.common.validation import InvalidRequest

# A1111: <lora:name:te_weight[:unet_weight]>; the name may hold spaces, dots and dashes.
LORA_TAG = re.compile(r"<lora:([^:<>]+)(?::([^:<>]*))?(?::[^<>]*)?>", re.IGNORECASE)


def split_lora_tags(prompt: str) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """The prompt without its `<lora:…>` tags (what the text encoder should read) and the
    tags as (name, weight); a tag without a weight means 1, as in A1111."""
    found: list[tuple[str, Any]] = []
    for match in LORA_TAG.finditer(prompt):
        name, weight = match.group(1).strip(), (match.group(2) or "").strip()
        if not weight:
            found.append((name, 1.0))
            continue
        try:
            found.append((name, float(weight)))
        except ValueError:
            raise InvalidRequest(f"The LoRA tag for {name} has the weight {weight!r}; write a number, "
                                 f"e.g. <lora:{name}:0.8>.") from None
    if not found:
        return prompt, ()
    text = LORA_TAG.sub("", prompt)
    text = re.sub(r"\s*,(\s*,)+", ",", text)  # "a, <lora:x:1>, b" -> "a, b"
    text = re.sub(r"\s{2,}", " ", text).strip().strip(",").strip()
    return text, tuple(found)


def combine(picked: Any, from_prompt: tuple[tuple[str, Any], ...]) -> tuple[tuple[Any, Any], ...]:
    """The picker's LoRAs then the prompt's; a name in both keeps the prompt's weight."""
    if picked is None:
        picked = ()
    if isinstance(picked, dict):
        picked = tuple(picked.items())
    if not isinstance(picked, (list, tuple)):
        raise InvalidRequest("LoRAs must be a list of [name, weight] pairs.")
    merged: dict[Any, Any] = {}
    for item in picked:
        if isinstance(item, dict) and set(item) <= {"name", "weight"} and "name" in item:
            item = (item["name"], item.get("weight", 1.0))
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str) and item[0].strip()):
            raise InvalidRequest("Each LoRA must be a name and a weight, e.g. [\"my_style\", 0.8].")
        merged[item[0].strip()] = item[1]
    for name, weight in from_prompt:
        merged.pop(name, None)
        merged[name] = weight
    return tuple(merged.items())


def check_loras(engine: Any, entry: Any, loras: tuple[tuple[Any, Any], ...]) -> tuple[tuple[str, float], ...]:
    """(name, weight) pairs that passed every rule, or InvalidRequest saying what to fix:
    the model takes none (the demo), more than MAX_LORAS, a weight outside the `lora_weight`
    row, an unknown name (near names listed), a LoRA made for another family."""
    if not loras:
        return ()
    if not entry.traits.takes_loras:
        raise InvalidRequest(f"{entry.name} cannot use LoRAs; pick a Stable Diffusion or FLUX model, "
                             "or remove the LoRAs.")
    if len(loras) > MAX_LORAS:
        raise InvalidRequest(f"Use at most {MAX_LORAS} LoRAs per image; remove {len(loras) - MAX_LORAS}.")
    weighed = tuple((name, v.parameter("lora_weight", weight, entry.family)) for name, weight in loras)
    library = getattr(engine, "adapters", None)
    if library is None:
        raise InvalidRequest("This studio has no LoRA folder set up; remove the LoRAs.")
    try:
        return library.check(entry.family, entry.name, weighed)
    except RequestRejected as exc:
        raise InvalidRequest(str(exc)) from None


def lora_records(engine: Any, loras: tuple[tuple[str, float], ...]) -> list[dict]:
    """What an image stores about its LoRAs: name, weight and A1111's short hash."""
    library = getattr(engine, "adapters", None)
    out = []
    for name, weight in loras:
        found = library.lora(name) if library is not None else None
        out.append({"name": name, "weight": weight, "hash": found.short_hash if found is not None else ""})
    return out


def embedding_records(engine: Any, family: str, texts: tuple[str, ...]) -> list[dict]:
    """The embeddings an image's prompts called: name and A1111's short hash (`TI hashes`)."""
    library = getattr(engine, "adapters", None)
    if library is None:
        return []
    return [{"name": e.name, "hash": e.short_hash} for e in library.embeddings_called(family, texts)]


def ti_hashes(embeddings: list[dict]) -> str | None:
    """A1111's `TI hashes` value (`name: hash, name2: hash2`), None without embeddings."""
    return ", ".join(f"{r['name']}: {r['hash']}" for r in embeddings) or None


def _weight_text(weight: float) -> str:
    return f"{weight:g}"


def prompt_with_tags(prompt: str, loras: list[dict]) -> str:
    """The prompt as A1111 writes it in `parameters`: its LoRA tags at the end."""
    if not loras:
        return prompt
    tags = " ".join(f"<lora:{r['name']}:{_weight_text(r['weight'])}>" for r in loras)
    return f"{prompt} {tags}" if prompt else tags


def lora_hashes(loras: list[dict]) -> str | None:
    """A1111's `Lora hashes` value (`name: hash, name2: hash2`), None without LoRAs."""
    if not loras:
        return None
    return ", ".join(f"{r['name']}: {r['hash']}" for r in loras if r.get("hash")) or None


def describe(loras: list[dict]) -> str:
    """One line for the image's details: `ink_style × 0.8, hero × 1`."""
    return ", ".join(f"{r['name']} × {_weight_text(r['weight'])}" for r in loras)


# ----- what the picker and the REST listings show --------------------------------------
def _library(engine: Any):
    return getattr(engine, "adapters", None)


def refresh(engine: Any) -> list[str]:
    """Rescan the LoRA and embedding folders; the skipped files, one sentence each."""
    library = _library(engine)
    return library.refresh() if library is not None else []


def problems(engine: Any) -> list[str]:
    library = _library(engine)
    return library.problems() if library is not None else []


def lora_listing(engine: Any) -> list[dict]:
    """Every LoRA: name, family, key format, A1111 short hash, where it comes from, its
    file name (never a server path) and the trainer's metadata."""
    from pipelines.adapters import FAMILY_LABELS

    library = _library(engine)
    return [{"name": lora.name, "family": lora.family, "family_label": FAMILY_LABELS.get(lora.family, lora.family),
             "key_format": lora.key_format, "hash": lora.short_hash, "source": lora.source,
             "file": f"{lora.name}.safetensors" if lora.source == "folder" else lora.path.name,
             "metadata": lora.metadata}
            for lora in (library.loras() if library is not None else [])]


def embedding_listing(engine: Any, family: str | None) -> tuple[list[dict], list[dict]]:
    """(embeddings a `family` model uses, the others), each: name, family, vectors, width."""
    library = _library(engine)
    fit, other = [], []
    for emb in library.embeddings() if library is not None else []:
        row = {"name": emb.name, "family": emb.family, "vectors": emb.vectors, "width": emb.width}
        usable = family is not None and any(e.name == emb.name for e in library.embeddings_for(family))
        (fit if usable else other).append(row)
    return fit, other


def picker(engine: Any, entry: Any) -> tuple[list[str], dict[str, str], list[str]]:
    """For the LoRA picker: the LoRAs that fit `entry`'s model, the hidden ones with why,
    and the embeddings its prompt can name."""
    library = _library(engine)
    if library is None or entry is None:
        return [], {}, []
    fit, hidden = library.fitting(entry.family)
    return [lora.name for lora in fit], hidden, [e.name for e in library.embeddings_for(entry.family)]

"""LoRA and textual-inversion files: which ones exist, which family each fits, and the
checks a request's LoRAs must pass before anything runs.

Why read the family from the keys: a LoRA made for SDXL loaded into an SD 1.5 model
fails deep inside diffusers (or, worse, loads partly and changes nothing), so the picker
must only offer the LoRAs that fit the selected model and say why the others are hidden.
The rules, in order:

1. the file's own metadata where a trainer wrote it (`modelspec.architecture`,
   kohya's `ss_base_model_version` / `ss_v2`);
2. the key layout: FLUX transformer keys (`transformer.`, `lora_transformer_`,
   `double_blocks`/`single_transformer_blocks`), SDXL's second text encoder
   (`lora_te1_`/`lora_te2_`, `text_encoder_2.`) or SDXL-only UNet parts (`add_embedding`);
3. the widths: a cross-attention / text-encoder input of 2048 is SDXL, 1024 is SD 2.x;
4. otherwise a UNet/text-encoder LoRA is SD 1.x.

Both key formats load (kohya/A1111 `lora_unet_…lora_down.weight` and diffusers/peft
`unet.….lora_A.weight`); diffusers' `load_lora_weights` converts kohya keys itself.

Only `.safetensors` are read: `.pt`/`.bin` embeddings and LoRAs are pickles that can run
code when opened, so they are listed as skipped with that reason. A file that cannot be
read is skipped with its name and reason (`problems`); the rest keep working.

Pure file reading (safetensors headers, hashes); no torch import, no diffusers.
Applying adapters to a loaded pipeline is in `adapter_loading.py`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal

from .families import FAMILIES, traits
from .params import MAX_LORAS, RequestRejected, limit

__all__ = ["AdapterLibrary", "EmbeddingFile", "HubLora", "LoraFile", "LoraRequest", "addnet_hash",
           "embedding_family", "lora_family", "read_embedding", "read_lora"]

LoraRequest = tuple[tuple[str, float], ...]  # (name, weight) per LoRA, in the order asked
Kind = Literal["lora", "embedding"]

FAMILY_LABELS = {"sd15": "SD 1.x", "sd21": "SD 2.x", "sdxl": "SDXL", "flux": "FLUX", "demo": "the demo model"}
EMBEDDING_WORD = re.compile(r"[\w.+-]+")  # how a prompt's words are read when looking for embedding names
_NAME = re.compile(r"^[\w][\w .+-]*$")  # what `<lora:NAME:…>` can carry (no ':' '<' '>' or path parts)


class AdapterFileError(ValueError):
    """A LoRA or embedding file that cannot be used; the message names why, not where."""


@dataclass(frozen=True)
class LoraFile:
    name: str  # the file name without .safetensors: what `<lora:name:w>` and the picker use
    path: Path
    family: str
    key_format: str  # "kohya" | "diffusers" | "peft"
    short_hash: str  # A1111's `Lora hashes` value (addnet hash, 12 hex digits)
    metadata: dict = field(default_factory=dict, compare=False)
    source: str = "folder"  # "folder" | "hub"


@dataclass(frozen=True)
class EmbeddingFile:
    name: str  # the word that calls it in a prompt
    path: Path
    family: str
    vectors: int
    width: int
    short_hash: str


@dataclass(frozen=True)
class HubLora:
    """A catalog LoRA fetched from the Hub on first use (the same cache and offline rules as models)."""

    name: str
    repo_id: str
    filename: str
    family: str
    revision: str | None = None


def addnet_hash(path: Path) -> str:
    """The hash A1111 writes in `Lora hashes` for a .safetensors LoRA: sha256 of the bytes
    after the header (the kohya additional-networks hash), first 12 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        f.seek(8 + n)
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def _header(path: Path) -> tuple[dict[str, list[int]], dict[str, str]]:
    """{key: shape} and the metadata of a .safetensors file, read from its JSON header only."""
    try:
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise AdapterFileError("the file is empty or cut short")
            n = struct.unpack("<Q", raw)[0]
            if n <= 0 or n > 100 * 1024 * 1024:
                raise AdapterFileError("it is not a safetensors file")
            header = json.loads(f.read(n))
            size = f.seek(0, 2)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AdapterFileError("it is not a readable safetensors file") from exc
    if not isinstance(header, dict):
        raise AdapterFileError("it is not a safetensors file")
    metadata = header.pop("__metadata__", None) or {}
    shapes: dict[str, list[int]] = {}
    for key, info in header.items():
        if not isinstance(info, dict) or "shape" not in info or "data_offsets" not in info:
            raise AdapterFileError("its header is damaged")
        if 8 + n + int(info["data_offsets"][1]) > size:
            raise AdapterFileError("the file is cut short (was its download finished?)")
        shapes[key] = list(info["shape"])
    if not shapes:
        raise AdapterFileError("it holds no weights")
    return shapes, metadata if isinstance(metadata, dict) else {}


def lora_family(shapes: dict[str, list[int]], metadata: dict[str, str]) -> tuple[str, str]:
    """(family, key format) of a LoRA from its keys, shapes and metadata (see the module doc)."""
    keys = list(shapes)
    if not any(("lora" in k or k.endswith(".alpha")) for k in keys):
        raise AdapterFileError("it has no LoRA weights (is it a full model or an embedding?)")
    if any(k.startswith(("lora_unet_", "lora_te", "lora_transformer_")) for k in keys):
        key_format = "kohya"
    elif any(".lora_A." in k or ".lora_B." in k for k in keys):
        key_format = "peft"
    else:
        key_format = "diffusers"
    arch = f"{metadata.get('modelspec.architecture', '')} {metadata.get('ss_base_model_version', '')}".lower()
    for marker, named in (("flux", "flux"), ("xl", "sdxl"), ("v2", "sd21"), ("sd_v1", "sd15"),
                          ("stable-diffusion-v1", "sd15")):
        if marker in arch:
            return named, key_format
    if str(metadata.get("ss_v2", "")).lower() == "true":
        return "sd21", key_format
    if any(k.startswith(("transformer.", "lora_transformer_", "diffusion_model.")) or "double_blocks" in k
           or "single_transformer_blocks" in k or "single_blocks" in k for k in keys):
        return "flux", key_format
    if any(k.startswith(("lora_te1_", "lora_te2_", "text_encoder_2.")) or "add_embedding" in k for k in keys):
        return "sdxl", key_format
    widths = {shape[-1] for k, shape in shapes.items() if len(shape) >= 2 and _is_down(k) and _reads_text_width(k)}
    if 2048 in widths:
        return "sdxl", key_format
    if 1024 in widths:
        return "sd21", key_format
    return "sd15", key_format


def _is_down(key: str) -> bool:
    return "lora_down" in key or ".lora_A." in key or ".down." in key


def _reads_text_width(key: str) -> bool:
    """Keys whose input width is the text encoder's: cross-attention k/v, the encoder's own layers."""
    return ("attn2" in key and ("to_k" in key or "to_v" in key)) or key.startswith(("lora_te_", "text_encoder."))


def read_lora(path: Path, source: str = "folder") -> LoraFile:
    shapes, metadata = _header(path)
    family, key_format = lora_family(shapes, metadata)
    return LoraFile(name=path.stem, path=path, family=family, key_format=key_format,
                    short_hash=addnet_hash(path), metadata=dict(metadata), source=source)


def embedding_family(shapes: dict[str, list[int]]) -> tuple[str, int, int]:
    """(family, vectors, width) of a textual-inversion file: SDXL ones carry `clip_l` and
    `clip_g`; A1111's single-encoder ones `emb_params` (or one tensor) 768 wide for SD 1.x,
    1024 for SD 2.x."""
    if "clip_g" in shapes and "clip_l" in shapes:
        shape = shapes["clip_l"]
        return "sdxl", shape[0] if len(shape) == 2 else 1, shape[-1]
    if any("lora" in k for k in shapes):
        raise AdapterFileError("it is a LoRA, not an embedding (put it in the loras folder)")
    key = "emb_params" if "emb_params" in shapes else next(iter(shapes))
    if len(shapes) > 1 and key != "emb_params":
        raise AdapterFileError("it is not a textual-inversion embedding")
    shape = shapes[key]
    if len(shape) not in (1, 2):
        raise AdapterFileError("it is not a textual-inversion embedding")
    vectors, width = (shape[0], shape[1]) if len(shape) == 2 else (1, shape[0])
    return ("sd21" if width == 1024 else "sd15"), vectors, width


def file_hash(path: Path) -> str:
    """The hash A1111 writes in `TI hashes` for an embedding: sha256 of the whole file,
    first 12 hex digits (its `shorthash`)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def read_embedding(path: Path) -> EmbeddingFile:
    shapes, _ = _header(path)
    family, vectors, width = embedding_family(shapes)
    return EmbeddingFile(name=path.stem, path=path, family=family, vectors=vectors, width=width,
                         short_hash=file_hash(path))


class AdapterLibrary:
    """The LoRAs and embeddings the studio can use: files in two folders plus catalog Hub
    LoRAs. `refresh()` rescans (a file added while the app runs appears without a restart);
    reading is cached by (size, mtime), so a refresh of an unchanged folder is cheap."""

    def __init__(self, loras_dir: Path, embeddings_dir: Path, *, hub_loras: Iterable[HubLora] = (),
                 cache_dir: Path | None = None) -> None:
        self.loras_dir = Path(loras_dir)
        self.embeddings_dir = Path(embeddings_dir)
        self.cache_dir = cache_dir
        self.hub_loras = {h.name: h for h in hub_loras}
        self._lock = threading.Lock()
        self._read: dict[tuple[str, Path], tuple[tuple[int, int], object]] = {}
        self._loras: dict[str, LoraFile] = {}
        self._embeddings: dict[str, EmbeddingFile] = {}
        self._problems: dict[str, str] = {}
        self.refresh()

    # ------------------------------------------------------------ scanning
    def refresh(self) -> list[str]:
        """Rescan both folders; returns the problems (one line per skipped file)."""
        loras: dict[str, LoraFile] = {}
        embeddings: dict[str, EmbeddingFile] = {}
        problems: dict[str, str] = {}
        for kind, folder, target in (("lora", self.loras_dir, loras), ("embedding", self.embeddings_dir, embeddings)):
            for path in sorted(folder.glob("*")) if folder.is_dir() else ():
                if not path.is_file() or path.name.startswith("."):
                    continue
                label = f"{kind} file {path.name}"
                if path.suffix.lower() in (".pt", ".bin", ".ckpt", ".pth"):
                    problems[path.name] = f"{label} skipped: only .safetensors are loaded (pickle files can run code)."
                    continue
                if path.suffix.lower() != ".safetensors":
                    continue
                if not _NAME.match(path.stem):
                    problems[path.name] = f"{label} skipped: rename it to letters, digits, spaces, '.', '_' or '-'."
                    continue
                try:
                    target[path.stem] = self._cached_read(kind, path)
                except AdapterFileError as exc:
                    problems[path.name] = f"{label} skipped: {exc}."
        with self._lock:
            for name, hub in self.hub_loras.items():
                if name not in loras:
                    cached = self._hub_cached(hub)
                    loras[name] = self._hub_entry(hub, cached)
            self._loras, self._embeddings, self._problems = loras, embeddings, problems
        return list(problems.values())

    def _cached_read(self, kind: Kind, path: Path):
        stat = path.stat()
        stamp = (stat.st_size, stat.st_mtime_ns)
        hit = self._read.get((kind, path))
        if hit is not None and hit[0] == stamp:
            return hit[1]
        value = read_lora(path) if kind == "lora" else read_embedding(path)
        self._read[(kind, path)] = (stamp, value)
        return value

    def _hub_cached(self, hub: HubLora) -> Path | None:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(hub.repo_id, hub.filename, cache_dir=self.cache_dir, revision=hub.revision)
        return Path(found) if isinstance(found, str) else None

    def _hub_entry(self, hub: HubLora, cached: Path | None) -> LoraFile:
        if cached is not None:
            try:
                found = read_lora(cached, source="hub")
                return LoraFile(**{**found.__dict__, "name": hub.name})
            except AdapterFileError:
                pass
        return LoraFile(name=hub.name, path=Path(hub.filename), family=hub.family, key_format="unknown",
                        short_hash="", metadata={}, source="hub")

    # ------------------------------------------------------------ reading
    def loras(self) -> list[LoraFile]:
        with self._lock:
            return list(self._loras.values())

    def embeddings(self) -> list[EmbeddingFile]:
        with self._lock:
            return list(self._embeddings.values())

    def problems(self) -> list[str]:
        with self._lock:
            return list(self._problems.values())

    def lora(self, name: str) -> LoraFile | None:
        with self._lock:
            return self._loras.get(name)

    def fitting(self, family: str) -> tuple[list[LoraFile], dict[str, str]]:
        """LoRAs a model of `family` can use, and the others with why they are hidden."""
        row = FAMILIES.get(family)
        fit, hidden = [], {}
        for lora in self.loras():
            if row is None or not row.takes_loras:
                hidden[lora.name] = f"{FAMILY_LABELS.get(family, family)} takes no LoRAs"
            elif not row.fits_adapter(lora.family):
                hidden[lora.name] = f"made for {FAMILY_LABELS.get(lora.family, lora.family)} models"
            else:
                fit.append(lora)
        return fit, hidden

    def embeddings_for(self, family: str) -> list[EmbeddingFile]:
        if family not in FAMILIES or not traits(family).takes_embeddings:
            return []
        return [e for e in self.embeddings() if traits(family).fits_adapter(e.family)]

    def embeddings_called(self, family: str, texts: Iterable[str]) -> list[EmbeddingFile]:
        """The embeddings a prompt and negative prompt call by name (as A1111: the file's
        name as a word), among those this family uses: what the job loads and the image records."""
        words = set(EMBEDDING_WORD.findall(" ".join(texts)))
        return [e for e in self.embeddings_for(family) if e.name in words] if words else []

    def check(self, family: str, model_name: str, loras: LoraRequest) -> LoraRequest:
        """The request's LoRAs as (name, float weight), or RequestRejected saying what to fix:
        the model takes none, too many, an unknown name (with near names), another family,
        a weight outside the table's row."""
        if not loras:
            return ()
        row = FAMILIES.get(family)
        if row is not None and not row.takes_loras:
            raise RequestRejected(f"{model_name} cannot use LoRAs; pick a Stable Diffusion or FLUX model, "
                                  "or remove the LoRAs.")
        if len(loras) > MAX_LORAS:
            raise RequestRejected(f"Use at most {MAX_LORAS} LoRAs per image; remove {len(loras) - MAX_LORAS}.")
        checked, seen = [], set()
        for item in loras:
            if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)):
                raise RequestRejected("Each LoRA must be a name and a weight.")
            name, weight = item
            lora = self.lora(name)
            if lora is None:
                raise RequestRejected(self.unknown_message(name))
            if name in seen:
                raise RequestRejected(f"The LoRA {name} is listed twice; keep one and set its weight.")
            seen.add(name)
            if row is not None and not row.fits_adapter(lora.family):
                raise RequestRejected(
                    f"The LoRA {name} is made for {FAMILY_LABELS.get(lora.family, lora.family)} models and "
                    f"{model_name} is {FAMILY_LABELS.get(family, family)}; pick a LoRA that fits or another model.")
            checked.append((name, limit("lora_weight", weight)))
        return tuple(checked)

    def unknown_message(self, name: str) -> str:
        names = [lora.name for lora in self.loras()]
        near = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        if near:
            return f"There is no LoRA called {name!r}. Did you mean: {', '.join(near)}?"
        listed = ", ".join(sorted(names)[:8]) or "none are installed (put .safetensors files in the loras folder)"
        return f"There is no LoRA called {name!r}. Available: {listed}."

    def resolve(self, name: str) -> LoraFile:
        """The LoRA's file on disk, downloading a catalog Hub LoRA on its first use."""
        lora = self.lora(name)
        if lora is None:
            raise RequestRejected(self.unknown_message(name))
        if lora.source == "hub" and not lora.path.is_file():
            from .adapter_loading import download_hub_lora

            path = download_hub_lora(self.hub_loras[name], self.cache_dir)
            try:
                found = read_lora(path, source="hub")
            except AdapterFileError as exc:
                raise RequestRejected(f"The downloaded LoRA {name} cannot be used: {exc}.") from None
            lora = LoraFile(**{**found.__dict__, "name": name})
            with self._lock:
                self._loras[name] = lora
        return lora

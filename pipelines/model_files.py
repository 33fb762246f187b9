"""Is a model's files something the loader can read? Answered from headers, before any load.

A user's own model can be broken in a few ways that diffusers only notices deep inside a
load (or as a raw JSON parser message): a `.safetensors` file cut short by a failed copy,
a file that is not safetensors at all, a folder or checkpoint of another family than the
catalog says, a component missing from a diffusers folder. `check_model_files` finds each
of them by reading only the small headers, so the services can refuse the job before any
credit is taken, with one sentence: "<model> cannot be loaded: <what is wrong>" (a
`BrokenModel`, which is a `ModelUnavailable`). It never names a server path: the file is
named by its component and file name, which is what the operator needs to replace it.

A safetensors file is an 8-byte little-endian header length, a JSON header mapping each
tensor to its dtype, shape and byte range, then the bytes; the checks follow that layout
(https://github.com/huggingface/safetensors#format). Results are cached per file by size
and modification time, so the price check the UI asks on every change costs a `stat`.
"""

from __future__ import annotations

import functools
import json
import os
import struct
from pathlib import Path

from pipelines.catalog import ModelEntry
from pipelines.families import FAMILIES
from pipelines.hub import pick_weights, pipeline_components
from pipelines.types import ModelUnavailable

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors library's own limit


class BrokenModel(ModelUnavailable):
    """The model's files can't be loaded; the message says what is wrong, in words."""


class _Broken(ValueError):
    """What is wrong with one file, before it is put in the model's sentence."""


def cannot_load(name: str, what: str) -> BrokenModel:
    return BrokenModel(f"{name} cannot be loaded: {what}")


def safetensors_header(path: Path) -> dict:
    """The tensor table of a .safetensors file, checked against the file's size; raises
    BrokenModel("This model cannot be loaded: …") when the file is cut short or not safetensors."""
    try:
        return _header(str(path), *_stamp(path))
    except _Broken as exc:
        raise cannot_load("This model", f"{_label(path)} {exc}") from None


def check_model_files(entry: ModelEntry, path: Path) -> None:
    """Raise BrokenModel when `path` (the entry's diffusers folder, or its single checkpoint
    file) can't be loaded as the entry says; return quietly when it looks whole."""
    path = Path(path)
    try:
        if path.is_file():
            _check_checkpoint(entry, path)
        elif path.is_dir():
            _check_folder(entry, path)
    except _Broken as exc:
        raise cannot_load(entry.name, str(exc)) from None
    except BrokenModel as exc:  # a file's own sentence, re-said with the model's name
        raise cannot_load(entry.name, str(exc).split(": ", 1)[1]) from None


# ----------------------------------------------------------------- a diffusers folder


def _check_folder(entry: ModelEntry, folder: Path) -> None:
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise _Broken("its folder has no readable pipeline description, so it is not a diffusers model folder") from None
    if not isinstance(index, dict):
        raise _Broken("its folder's pipeline description does not describe a pipeline")
    _check_kind(entry, index.get("_class_name"))
    for name in pipeline_components(index):
        part = folder / name
        if not part.is_dir():
            raise _Broken(f"its {name} component is missing (the model folder names it, but has no {name} folder)")
        if not (part / "config.json").is_file() or (part / "scheduler_config.json").is_file():
            continue  # tokenizer, scheduler, feature extractor: configuration only
        names = [p.name for p in part.iterdir() if p.is_file()]
        weights = pick_weights(names, entry.source.variant)
        if not weights:
            raise _Broken(f"its {name} component has no weights file")
        for weight in weights:
            if weight.endswith(".safetensors"):
                try:
                    _header(str(part / weight), *_stamp(part / weight))
                except _Broken as exc:
                    raise _Broken(f"{name}/{weight} {exc}") from None


def _check_kind(entry: ModelEntry, class_name: object) -> None:
    expected = entry.traits.pipeline
    if isinstance(class_name, str) and class_name and class_name != expected:
        held = _family_named(class_name)
        raise _Broken(f"its files hold {held}, but the catalog says it is {_family_words(entry.family)}; "
                      "fix the entry's family or point it at a matching model")


# ----------------------------------------------------------------- one checkpoint file


def _check_checkpoint(entry: ModelEntry, path: Path) -> None:
    if path.suffix.lower() != ".safetensors":
        raise _Broken(f"{path.name} is not a .safetensors checkpoint (other formats can run code when opened)")
    try:
        header = _header(str(path), *_stamp(path))
    except _Broken as exc:
        raise _Broken(f"{path.name} {exc}") from None
    own = entry.traits.checkpoint_marker
    if own is None or any(key.startswith(own) for key in header):
        return
    for other in FAMILIES.values():
        marker = other.checkpoint_marker
        if marker and other.pipeline != entry.traits.pipeline and any(key.startswith(marker) for key in header):
            raise _Broken(f"{path.name} holds {_family_words(other.name)}, but the catalog says it is "
                          f"{_family_words(entry.family)}; fix the entry's family or point it at a matching model")


# ----------------------------------------------------------------- safetensors headers


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        raise _Broken("can't be read") from None
    return st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=512)
def _header(path: str, size: int, _mtime_ns: int) -> dict:
    """Cached by (path, size, mtime): a replaced file is read again."""
    if size < 8:
        raise _Broken("is cut short (it is smaller than a safetensors header)")
    try:
        with open(path, "rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            if length > MAX_HEADER_BYTES:
                raise _Broken("is not a safetensors file (its first bytes are not a safetensors header)")
            if 8 + length > size:
                raise _Broken("is cut short (truncated): its header says more than the file holds; copy it again")
            raw = fh.read(length)
    except OSError:
        raise _Broken("can't be read") from None
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise _Broken("is not a safetensors file (its header is not readable)") from None
    if not isinstance(header, dict):
        raise _Broken("is not a safetensors file (its header is not a table of tensors)")
    end = 0
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            start, stop = info["data_offsets"]
            shape, dtype = info["shape"], info["dtype"]
            if not (isinstance(start, int) and isinstance(stop, int) and 0 <= start <= stop
                    and isinstance(shape, list) and isinstance(dtype, str)):
                raise TypeError
        except (KeyError, TypeError, ValueError):
            raise _Broken("is not a safetensors file (its header is not a table of tensors)") from None
        end = max(end, stop)
    if 8 + length + end > size:
        missing = 8 + length + end - size
        raise _Broken(f"is cut short (truncated): {_mib(missing)} of its weights are missing; copy it again")
    return header


def _mib(n_bytes: int) -> str:
    return f"{n_bytes / (1024 * 1024):.1f} MiB" if n_bytes >= 104858 else f"{n_bytes:,} bytes"


def _label(path: Path) -> str:
    """A file as the operator knows it: its component folder and name, never the full path."""
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _family_named(class_name: str) -> str:
    labels = [f.label for f in FAMILIES.values() if f.pipeline == class_name]
    return " or ".join(labels) if labels else f"another kind of model ({class_name})"


def _family_words(family: str) -> str:
    traits = FAMILIES.get(family)
    return traits.label if traits is not None and traits.label else f"a {family} model"

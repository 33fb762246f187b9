"""A checkpoint's hash as A1111 shows it: sha256 of the weights, and its first 10 hex digits
(`sd_model_hash`, the `[abcdef0123]` in a model title, `Model hash:` in infotexts).

A1111 hashes one checkpoint file. A diffusers folder has several weight files, so its hash
is the sha256 of their bytes in path order: the same folder always gives the same hash, and
changing any weight changes it. Hashing reads every byte, so the result is remembered per
(file, size, mtime) for the process; a model that is not on disk has no hash (None).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from .catalog import ModelEntry

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth")
_lock = threading.Lock()
_known: dict[tuple, str] = {}


def weight_files(entry: ModelEntry, cache_dir: Path | None = None, models_dir: Path | None = None) -> list[Path]:
    """The weight files an entry loads from, when they are on disk (never downloads)."""
    from .loaders import local_folder

    src = entry.source
    if src.kind == "single_file":
        path = Path(src.path).expanduser()
        return [path] if path.is_file() else []
    folder = local_folder(entry, cache_dir)
    if folder is None and src.kind == "demo":
        from .demo_gan import DEMO_FOLDER_NAME

        folder = Path(src.path).expanduser() if src.path else (models_dir / DEMO_FOLDER_NAME if models_dir else None)
    if folder is None or not folder.is_dir():
        return []
    return sorted((p for p in folder.rglob("*") if p.suffix in WEIGHT_SUFFIXES and p.is_file()),
                  key=lambda p: p.relative_to(folder).as_posix())


def checkpoint_sha256(entry: ModelEntry, cache_dir: Path | None = None, models_dir: Path | None = None,
                      *, known_only: bool = False) -> str | None:
    """The hash; `known_only`: only if already computed (listings must not read gigabytes)."""
    files = weight_files(entry, cache_dir, models_dir)
    if not files:
        return None
    key = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    with _lock:
        if key in _known or known_only:
            return _known.get(key)
    digest = hashlib.sha256()
    for path in files:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    with _lock:
        _known[key] = digest.hexdigest()
    return _known[key]


def short_hash(sha256: str | None) -> str | None:
    return sha256[:10] if sha256 else None

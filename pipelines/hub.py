"""Hugging Face Hub downloads: what is cached, what to fetch, byte progress, and errors a
user can act on. Shared by the pipeline loader and the IP-Adapter loader.

Hub downloads fetch only what diffusers loads: `model_index.json`, and in each component
folder the configs, tokenizer files and one set of weights (the catalog's variant, e.g.
fp16, when the repo has it; safetensors before .bin). Root-level single-file checkpoints,
other variants, flax/onnx weights and the sd15 safety checker are skipped. Progress is
reported in bytes through a tqdm class handed to `snapshot_download`.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable

from pipelines.catalog import ModelEntry
from pipelines.types import ModelUnavailable, Progress, ProgressFn, report

SKIPPED_COMPONENTS = frozenset({"safety_checker"})
_SMALL_FILE_SUFFIXES = (".json", ".txt", ".model")  # configs, tokenizers (BPE, sentencepiece)
_WEIGHT_SUFFIXES = (".safetensors", ".bin")  # in order of preference


def cached_snapshot(repo_id: str, *, revision: str | None = None, cache_dir: Path | None = None) -> Path | None:
    """The cached snapshot folder of a repo when every component it needs is there, else None."""
    from huggingface_hub import try_to_load_from_cache

    index = try_to_load_from_cache(repo_id, "model_index.json", cache_dir=cache_dir, revision=revision)
    if not isinstance(index, str):
        return None
    folder = Path(index).parent
    try:
        components = pipeline_components(json.loads(Path(index).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
    return folder if all(component_complete(folder / c) for c in components) else None


def pipeline_components(model_index: dict) -> list[str]:
    """Component folders a pipeline loads from (those declared with a [library, class] pair)."""
    return [
        name
        for name, value in model_index.items()
        if not name.startswith("_")
        and isinstance(value, list)
        and len(value) == 2
        and all(value)
        and name not in SKIPPED_COMPONENTS
    ]


def select_hub_files(filenames: list[str], components: list[str], variant: str | None) -> list[str]:
    """The files of a diffusers repo worth downloading: model_index.json, and per component
    its small files plus one set of weights (the variant when present, safetensors first)."""
    chosen = ["model_index.json"] if "model_index.json" in filenames else []
    by_folder: dict[str, list[str]] = {c: [] for c in components}
    for name in filenames:
        folder, _, base = name.partition("/")
        if folder in by_folder and base and "/" not in base:
            by_folder[folder].append(base)
    for folder, names in by_folder.items():
        chosen += [f"{folder}/{n}" for n in names if n.endswith(_SMALL_FILE_SUFFIXES)]
        chosen += [f"{folder}/{n}" for n in pick_weights(names, variant)]
    return sorted(set(chosen))


def ensure_hub_snapshot(entry: ModelEntry, *, cache_dir: Path | None, progress: ProgressFn | None) -> Path:
    """The local snapshot of a hub entry, downloading what is missing (with byte progress)."""
    src = entry.source
    return cached_or_download(
        cached_snapshot(src.repo_id, revision=src.revision, cache_dir=cache_dir),
        lambda: _download(entry, cache_dir=cache_dir, progress=progress),
        lambda reason: _download_failed(entry, reason),
    )


def cached_or_download(cached: Path | None, download: Callable[[], Path], failed: Callable[[str], str]) -> Path:
    """The cached folder, else a download; every failure becomes ModelUnavailable(failed(reason)).

    Offline mode is checked first so an uncached model fails at once with a clear reason
    instead of after the downloader's retries."""
    from huggingface_hub import constants

    if cached is not None:
        return cached
    if constants.HF_HUB_OFFLINE:
        raise ModelUnavailable(failed("offline mode is on (HF_HUB_OFFLINE) and it is not in the cache"))
    try:
        return download()
    except ModelUnavailable:
        raise
    except Exception as e:
        raise ModelUnavailable(failed(hub_reason(e))) from e


def _download(entry: ModelEntry, *, cache_dir: Path | None, progress: ProgressFn | None) -> Path:
    """One listing call first (fails fast, without the file downloader's retries, when the
    Hub cannot be reached or the repo does not exist), then only the selected files."""
    from huggingface_hub import HfApi, hf_hub_download

    src = entry.source
    common: dict[str, Any] = dict(repo_id=src.repo_id, revision=src.revision, cache_dir=cache_dir)
    report(progress, Progress(stage="download", message=f"Checking {src.repo_id} on the Hugging Face Hub…"))
    info = HfApi().model_info(src.repo_id, revision=src.revision, files_metadata=True, timeout=30)
    sizes = {s.rfilename: int(s.size or 0) for s in info.siblings or []}
    if "model_index.json" not in sizes:
        raise ModelUnavailable(f"{entry.name}: {src.repo_id} is not a diffusers pipeline repository (no model_index.json)")
    index_path = hf_hub_download(filename="model_index.json", **common)
    components = pipeline_components(json.loads(Path(index_path).read_text(encoding="utf-8")))
    wanted = select_hub_files(list(sizes), components, src.variant)
    return download_files(src.repo_id, wanted, sizes, revision=src.revision, cache_dir=cache_dir,
                          progress=progress, what=entry.name)


def download_files(repo_id: str, wanted: list[str], sizes: dict[str, int], *, revision: str | None,
                   cache_dir: Path | None, progress: ProgressFn | None, what: str) -> Path:
    """Fetch `wanted` files of a repo into the HF cache, reporting the bytes still missing."""
    from huggingface_hub import snapshot_download, try_to_load_from_cache

    missing = [f for f in wanted
               if not isinstance(try_to_load_from_cache(repo_id, f, cache_dir=cache_dir, revision=revision), str)]
    total = sum(sizes[f] for f in missing)
    label = f"Downloading {what}"
    report(progress, Progress(stage="download", current=0, total=total, message=label))
    folder = snapshot_download(repo_id=repo_id, revision=revision, cache_dir=cache_dir, allow_patterns=wanted,
                               tqdm_class=byte_progress_class(progress, total, label))
    report(progress, Progress(stage="download", current=total, total=total, message=f"Downloaded {what}"))
    return Path(folder)


def pick_weights(names: list[str], variant: str | None) -> list[str]:
    for suffix in _WEIGHT_SUFFIXES:
        weights = [n for n in names if n.endswith(suffix)]
        if not weights:
            continue
        if variant:
            marked = [n for n in weights if has_variant(n, variant)]
            if marked:
                return marked
        plain = [n for n in weights if not _has_any_variant(n)]
        return plain or weights
    return []


def has_variant(name: str, variant: str) -> bool:
    return re.search(rf"\.{re.escape(variant)}(\.|-\d+-of-\d+\.)", name) is not None


def _has_any_variant(name: str) -> bool:
    # diffusion_pytorch_model.fp16.safetensors, model.fp16-00001-of-00002.safetensors
    return re.search(r"^[^.]+\.[A-Za-z0-9_]+(\.|-\d+-of-\d+\.)(safetensors|bin)$", name) is not None


def component_complete(folder: Path) -> bool:
    if not folder.is_dir() or not any(folder.iterdir()):
        return False
    has_weights_config = (folder / "config.json").is_file() and not (folder / "scheduler_config.json").is_file()
    if not has_weights_config:
        return True  # scheduler, tokenizer, feature extractor: configs only
    for index in folder.glob("*.index*.json"):
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
        except (OSError, ValueError):
            return False
        if shards and all((folder / s).is_file() for s in shards):
            return True
    return any(p.is_file() for s in _WEIGHT_SUFFIXES for p in folder.glob(f"*{s}"))


def byte_progress_class(progress: ProgressFn | None, total: int, label: str) -> type:
    """A tqdm class for snapshot_download that turns its byte bar into Progress reports.

    snapshot_download builds three bars from it: the file count ("Fetching N files", no
    unit), the network transfer bar ("Downloading bytes") and the bytes written to disk;
    the last one grows for plain and Xet downloads alike, so it is the one reported.
    """
    from tqdm import tqdm

    lock = threading.Lock()

    class _Null(io.TextIOBase):
        def write(self, s: str) -> int:
            return len(s)

    class ByteProgress(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("name", None)
            kwargs["disable"] = False
            kwargs["file"] = _Null()
            desc = str(kwargs.get("desc") or "")
            self._reports = kwargs.get("unit") == "B" and not desc.startswith("Downloading bytes")
            self._last = 0.0
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            if self._reports and progress is not None:
                now = time.monotonic()
                with lock:
                    done = int(self.n)
                    if now - self._last >= 0.2 or done >= total:
                        self._last = now
                        report(progress, Progress("download", current=done, total=max(total, done), message=label))
            return shown

    return ByteProgress


def _download_failed(entry: ModelEntry, reason: str) -> str:
    return (
        f"could not download {entry.name} ({entry.source.repo_id}) from the Hugging Face Hub: {reason}. "
        "It downloads by itself the first time it is used on a machine with internet access; "
        "or pick a model that is already on this machine."
    )


def hub_reason(error: Exception) -> str:
    from huggingface_hub import errors

    if isinstance(error, errors.GatedRepoError):
        return "the repository is gated (accept its licence on huggingface.co and log in with a token)"
    if isinstance(error, errors.RepositoryNotFoundError):
        return "repository not found (check the repo id, or log in if it is private)"
    if isinstance(error, errors.RevisionNotFoundError):
        return f"revision {error} not found"
    if isinstance(error, (errors.OfflineModeIsEnabled, errors.LocalEntryNotFoundError)):
        return "no network connection to the Hub, and it is not in the local cache"
    if isinstance(error, OSError) and "space" in str(error).lower():
        return f"the disk is full ({short_error(error)})"
    return f"no network or the Hub did not answer ({short_error(error)})"


def short_error(error: BaseException, limit: int = 300) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""Catalog entry → diffusers pipeline, from the Hub cache, a local folder or one .safetensors file.

Why one module: every source ends in the same place (a pipeline on a device, progress bar
off, safety checker off) and fails the same way (`ModelUnavailable` with a message a user
can act on). torch/diffusers are imported inside the functions: the app imports the engine
at start-up and must stay fast.

Hub downloads fetch only what diffusers loads: `model_index.json`, and in each component
folder the configs, tokenizer files and one set of weights (the catalog's variant, e.g.
fp16, when the repo has it; safetensors before .bin). Root-level single-file checkpoints,
other variants, flax/onnx weights and the sd15 safety checker are skipped. Progress is
reported in bytes through a tqdm class handed to `snapshot_download`.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.catalog import ModelEntry
from pipelines.types import ModelUnavailable, Progress, ProgressFn

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from diffusers import DiffusionPipeline

# The pipeline class each family must load as: a folder that holds something else is
# refused with a clear message instead of failing later inside generation.
FAMILY_PIPELINES = {
    "sd15": "StableDiffusionPipeline",
    "sd21": "StableDiffusionPipeline",
    "sdxl": "StableDiffusionXLPipeline",
    "flux": "FluxPipeline",
    "demo": "DemoFacePipeline",
}
# Disabled on purpose: this is a self-hosted studio whose operator answers for its use;
# the checker silently blacks out images and costs a 1.2 GB download.
SKIPPED_COMPONENTS = frozenset({"safety_checker"})
_SMALL_FILE_SUFFIXES = (".json", ".txt", ".model")  # configs, tokenizers (BPE, sentencepiece)
_WEIGHT_SUFFIXES = (".safetensors", ".bin")  # in order of preference


# ----------------------------------------------------------------- public API


def load_pipeline(
    entry: ModelEntry,
    *,
    device: str = "cpu",
    dtype: "torch.dtype | None" = None,
    cache_dir: Path | None = None,
    progress: ProgressFn | None = None,
    models_dir: Path | None = None,
) -> "DiffusionPipeline":
    """Load `entry` and move it to `device` (fp32 on the CPU when dtype is None).

    `models_dir` is where the demo model is converted to (`<models_dir>/demo-faces`) unless
    the entry's source names a path. Raises ModelUnavailable with a message for the user.
    """
    import torch

    dtype = dtype or torch.float32
    kind = entry.source.kind
    if kind == "hub":
        folder = ensure_hub_snapshot(entry, cache_dir=cache_dir, progress=progress)
    elif kind == "folder":
        folder = _existing_folder(entry)
    elif kind == "demo":
        folder = _demo_folder(entry, models_dir)
    else:
        folder = None
    _report(progress, Progress(stage="load", message=f"Loading {entry.name}…"))
    try:
        if folder is not None:
            pipe = _from_pretrained(entry, folder, dtype)
        else:
            pipe = _from_single_file(entry, dtype, cache_dir)
    except ModelUnavailable:
        raise
    except (MemoryError, torch.OutOfMemoryError):
        raise
    except Exception as e:  # diffusers raises OSError/ValueError/RuntimeError/SafetensorError…
        where = entry.source.path or entry.source.repo_id or str(folder)
        raise ModelUnavailable(f"could not load {entry.name} from {where}: {_short(e)}") from e
    _check_family(entry, type(pipe).__name__)
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def is_available_locally(entry: ModelEntry, cache_dir: Path | None = None) -> bool:
    """Whether loading needs no download (the UI's "downloaded" badge). Never touches the network."""
    src = entry.source
    if src.kind == "hub":
        return cached_snapshot(src.repo_id, revision=src.revision, cache_dir=cache_dir) is not None
    if src.kind == "folder":
        return (Path(src.path).expanduser() / "model_index.json").is_file()
    if src.kind == "single_file":
        return Path(src.path).expanduser().is_file()
    if src.path and (Path(src.path).expanduser() / "model_index.json").is_file():
        return True
    return _gan_package_present()


def pipeline_class_for(entry: ModelEntry) -> type:
    """The class used to load an entry: AutoPipelineForText2Image for hub/folder diffusers
    layouts (it reads model_index.json), the family's own class for single files."""
    if entry.family == "demo":
        from pipelines.demo_gan import DemoFacePipeline

        return DemoFacePipeline
    import diffusers

    if entry.source.kind == "single_file":
        return getattr(diffusers, FAMILY_PIPELINES[entry.family])
    return diffusers.AutoPipelineForText2Image


# ----------------------------------------------------------------- hub


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
    return folder if all(_component_complete(folder / c) for c in components) else None


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
        chosen += [f"{folder}/{n}" for n in _pick_weights(names, variant)]
    return sorted(set(chosen))


def ensure_hub_snapshot(entry: ModelEntry, *, cache_dir: Path | None, progress: ProgressFn | None) -> Path:
    """The local snapshot of a hub entry, downloading what is missing (with byte progress)."""
    from huggingface_hub import constants

    src = entry.source
    cached = cached_snapshot(src.repo_id, revision=src.revision, cache_dir=cache_dir)
    if cached is not None:
        return cached
    if constants.HF_HUB_OFFLINE:
        raise ModelUnavailable(_download_failed(entry, "offline mode is on (HF_HUB_OFFLINE) and it is not in the cache"))
    try:
        return _download(entry, cache_dir=cache_dir, progress=progress)
    except ModelUnavailable:
        raise
    except Exception as e:
        raise ModelUnavailable(_download_failed(entry, _hub_reason(e))) from e


def _download(entry: ModelEntry, *, cache_dir: Path | None, progress: ProgressFn | None) -> Path:
    """One listing call first (fails fast, without the file downloader's retries, when the
    Hub cannot be reached or the repo does not exist), then only the selected files."""
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download, try_to_load_from_cache

    src = entry.source
    common: dict[str, Any] = dict(repo_id=src.repo_id, revision=src.revision, cache_dir=cache_dir)
    _report(progress, Progress(stage="download", message=f"Checking {src.repo_id} on the Hugging Face Hub…"))
    info = HfApi().model_info(src.repo_id, revision=src.revision, files_metadata=True, timeout=30)
    sizes = {s.rfilename: int(s.size or 0) for s in info.siblings or []}
    if "model_index.json" not in sizes:
        raise ModelUnavailable(f"{entry.name}: {src.repo_id} is not a diffusers pipeline repository (no model_index.json)")
    index_path = hf_hub_download(filename="model_index.json", **common)
    components = pipeline_components(json.loads(Path(index_path).read_text(encoding="utf-8")))
    wanted = select_hub_files(list(sizes), components, src.variant)
    missing = [f for f in wanted if not isinstance(try_to_load_from_cache(filename=f, **common), str)]
    total = sum(sizes[f] for f in missing)
    label = f"Downloading {entry.name}"
    _report(progress, Progress(stage="download", current=0, total=total, message=label))
    folder = snapshot_download(allow_patterns=wanted, tqdm_class=_byte_progress_class(progress, total, label), **common)
    _report(progress, Progress(stage="download", current=total, total=total, message=f"Downloaded {entry.name}"))
    return Path(folder)


def _pick_weights(names: list[str], variant: str | None) -> list[str]:
    for suffix in _WEIGHT_SUFFIXES:
        weights = [n for n in names if n.endswith(suffix)]
        if not weights:
            continue
        if variant:
            marked = [n for n in weights if _has_variant(n, variant)]
            if marked:
                return marked
        plain = [n for n in weights if not _has_any_variant(n)]
        return plain or weights
    return []


def _has_variant(name: str, variant: str) -> bool:
    return re.search(rf"\.{re.escape(variant)}(\.|-\d+-of-\d+\.)", name) is not None


def _has_any_variant(name: str) -> bool:
    # diffusion_pytorch_model.fp16.safetensors, model.fp16-00001-of-00002.safetensors
    return re.search(r"^[^.]+\.[A-Za-z0-9_]+(\.|-\d+-of-\d+\.)(safetensors|bin)$", name) is not None


def _component_complete(folder: Path) -> bool:
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


def _byte_progress_class(progress: ProgressFn | None, total: int, label: str) -> type:
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
                        _report(progress, Progress("download", current=done, total=max(total, done), message=label))
            return shown

    return ByteProgress


def _download_failed(entry: ModelEntry, reason: str) -> str:
    return (
        f"could not download {entry.name} ({entry.source.repo_id}) from the Hugging Face Hub: {reason}. "
        "It downloads by itself the first time it is used on a machine with internet access; "
        "or pick a model that is already on this machine."
    )


def _hub_reason(error: Exception) -> str:
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
        return f"the disk is full ({_short(error)})"
    return f"no network or the Hub did not answer ({_short(error)})"


# ----------------------------------------------------------------- local sources


def _existing_folder(entry: ModelEntry) -> Path:
    folder = Path(entry.source.path).expanduser()
    if not folder.is_dir():
        raise ModelUnavailable(f"{entry.name}: model folder {folder} does not exist")
    if not (folder / "model_index.json").is_file():
        raise ModelUnavailable(f"{entry.name}: {folder} is not a diffusers model folder (no model_index.json in it)")
    return folder


def _demo_folder(entry: ModelEntry, models_dir: Path | None) -> Path:
    from pipelines.demo_gan import ensure_demo_folder, is_demo_folder

    if entry.source.path:
        folder = Path(entry.source.path).expanduser()
        if is_demo_folder(folder):
            return folder
        models_dir, name = folder.parent, folder.name
    else:
        name = None
    if models_dir is None:
        raise ModelUnavailable("the demo model needs a models directory to be converted into")
    try:
        built = ensure_demo_folder(models_dir)
    except (OSError, KeyError, RuntimeError) as e:
        raise ModelUnavailable(f"could not prepare the offline demo model: {_short(e)}") from e
    if name is not None and built.name != name:
        raise ModelUnavailable(f"the demo model is converted to {built}, not {models_dir / name}; fix the catalog path")
    return built


def _from_pretrained(entry: ModelEntry, folder: Path, dtype: "torch.dtype") -> "DiffusionPipeline":
    cls = pipeline_class_for(entry)
    kwargs: dict[str, Any] = {"dtype": dtype}
    index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    declared = index.get("_class_name")
    if declared in FAMILY_PIPELINES.values() and declared != FAMILY_PIPELINES[entry.family]:
        _check_family(entry, declared)  # refuse before loading gigabytes
    if "safety_checker" in index:
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    variant = entry.source.variant
    if variant and any(_has_variant(p.name, variant) for p in folder.glob("*/*")):
        kwargs["variant"] = variant
    if entry.source.kind == "hub":
        kwargs["local_files_only"] = True  # the snapshot is complete: never reach out again
    return cls.from_pretrained(str(folder), **kwargs)


def _from_single_file(entry: ModelEntry, dtype: "torch.dtype", cache_dir: Path | None) -> "DiffusionPipeline":
    """A single A1111/Civitai checkpoint. diffusers needs the pipeline's configs besides the
    weights: `source.config` (a local diffusers folder or a hub repo id) when the catalog has
    that field; otherwise diffusers infers the base model and fetches its configs (cached
    after the first time, so this needs the network once)."""
    path = Path(entry.source.path).expanduser()
    if not path.is_file():
        raise ModelUnavailable(f"{entry.name}: checkpoint file {path} does not exist")
    if path.suffix.lower() != ".safetensors":  # .ckpt is a pickle: loading it can run code
        raise ModelUnavailable(f"{entry.name}: {path.name} is not a .safetensors checkpoint")
    cls = pipeline_class_for(entry)
    kwargs: dict[str, Any] = {"dtype": dtype, "cache_dir": cache_dir}
    config = getattr(entry.source, "config", None)
    if config:
        kwargs["config"] = str(Path(config).expanduser()) if Path(config).expanduser().is_dir() else config
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or (config and Path(config).expanduser().is_dir()):
        kwargs["local_files_only"] = True
    if entry.family in ("sd15", "sd21"):
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    try:
        return cls.from_single_file(str(path), **kwargs)
    except Exception as e:
        if config or not _caused_by_no_network(e):
            raise
        raise ModelUnavailable(
            f"{entry.name}: a single .safetensors file needs the configuration files of its base model, which "
            "diffusers downloads once from the Hugging Face Hub, and the Hub cannot be reached here. Use it once on a "
            "machine with internet access (the configs are then cached), or use a diffusers folder instead."
        ) from e


def _caused_by_no_network(error: BaseException) -> bool:
    from huggingface_hub import errors

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, (errors.LocalEntryNotFoundError, errors.OfflineModeIsEnabled, ConnectionError)):
            return True
        if type(seen).__module__.startswith(("httpx", "httpcore")) and "Connect" in type(seen).__name__:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _check_family(entry: ModelEntry, got: str) -> None:
    expected = FAMILY_PIPELINES[entry.family]
    if got != expected:
        raise ModelUnavailable(f"{entry.name} loaded as {got}, but the catalog says family {entry.family!r} ({expected})")


def _gan_package_present() -> bool:
    spec = importlib.util.find_spec("gan_face_generate")
    return bool(spec and spec.submodule_search_locations) and any(
        (Path(p) / "weights.tar").is_file() for p in spec.submodule_search_locations
    )


def _report(progress: ProgressFn | None, event: Progress) -> None:
    if progress is not None:
        progress(event)


def _short(error: BaseException, limit: int = 300) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"

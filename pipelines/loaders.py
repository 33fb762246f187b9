"""Catalog entry → diffusers pipeline, from the Hub cache, a local folder or one .safetensors file.

Why one module: every source ends in the same place (a pipeline on a device, progress bar
off, safety checker off) and fails the same way (`ModelUnavailable` with a message a user
can act on). torch/diffusers are imported inside the functions: the app imports the engine
at start-up and must stay fast.

Hub downloads (what to fetch, byte progress, error messages) are in pipelines/hub.py.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from pipelines.catalog import ModelEntry
from pipelines.families import FAMILIES
from pipelines.hub import cached_snapshot, ensure_hub_snapshot, has_variant, short_error
from pipelines.model_files import check_model_files
from pipelines.types import ModelUnavailable, Progress, ProgressFn, report

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from diffusers import DiffusionPipeline

# The pipeline class each family must load as (the family table's `pipeline`): a folder
# that holds something else is refused with a clear message instead of failing later
# inside generation. The safety checker is disabled on purpose: this is a self-hosted
# studio whose operator answers for its use; the checker silently blacks out images and
# costs a 1.2 GB download.


# ----------------------------------------------------------------- public API


def load_pipeline(
    entry: ModelEntry,
    *,
    device: str = "cpu",
    dtype: "torch.dtype | None" = None,
    cache_dir: Path | None = None,
    progress: ProgressFn | None = None,
    models_dir: Path | None = None,
    before_load: Callable[[Path], None] | None = None,
) -> "DiffusionPipeline":
    """Load `entry` and move it to `device` (fp32 on the CPU when dtype is None).

    `models_dir` is where the demo model is converted to (`<models_dir>/demo-faces`) unless
    the entry's source names a path. `before_load(folder or file)` runs once the weights
    are on disk and before any is read (the manager's memory check: it may raise to refuse).
    Raises ModelUnavailable with a message for the user.
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
    target = folder if folder is not None else Path(entry.source.path).expanduser()
    if not entry.traits.built_in and target.exists():
        check_model_files(entry, target)  # from the headers: refused in words before diffusers reads a byte
        if before_load is not None:
            before_load(target)
    report(progress, Progress(stage="load", message=f"Loading {entry.name}…"))
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
        raise ModelUnavailable(f"could not load {entry.name} from {where}: {short_error(e)}") from e
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


def local_folder(entry: ModelEntry, cache_dir: Path | None = None) -> Path | None:
    """The diffusers folder an entry loads from when it is already on disk (never downloads)."""
    src = entry.source
    if src.kind == "hub":
        return cached_snapshot(src.repo_id, revision=src.revision, cache_dir=cache_dir)
    if src.kind == "folder" and (Path(src.path).expanduser() / "model_index.json").is_file():
        return Path(src.path).expanduser()
    return None


def load_tokenizer(entry: ModelEntry, subfolder: str, cache_dir: Path | None = None) -> Any:
    """One tokenizer of an entry that is on disk, without loading its models; None when the
    files are not there yet."""
    folder = local_folder(entry, cache_dir)
    if folder is None or not (folder / subfolder).is_dir():
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder / subfolder), local_files_only=True)


def pipeline_class_for(entry: ModelEntry) -> type:
    """The class used to load an entry: AutoPipelineForText2Image for hub/folder diffusers
    layouts (it reads model_index.json), the family's own class for single files."""
    if entry.source.kind == "demo":
        from pipelines.demo_gan import DemoFacePipeline

        return DemoFacePipeline
    import diffusers

    if entry.source.kind == "single_file":
        return getattr(diffusers, entry.traits.pipeline)
    return diffusers.AutoPipelineForText2Image


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
        raise ModelUnavailable(f"could not prepare the offline demo model: {short_error(e)}") from e
    if name is not None and built.name != name:
        raise ModelUnavailable(f"the demo model is converted to {built}, not {models_dir / name}; fix the catalog path")
    return built


def _from_pretrained(entry: ModelEntry, folder: Path, dtype: "torch.dtype") -> "DiffusionPipeline":
    cls = pipeline_class_for(entry)
    kwargs: dict[str, Any] = {"dtype": dtype}
    index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    declared = index.get("_class_name")
    if any(declared == t.pipeline for t in FAMILIES.values()) and declared != entry.traits.pipeline:
        _check_family(entry, declared)  # refuse before loading gigabytes
    if "safety_checker" in index:
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    variant = entry.source.variant
    if variant and any(has_variant(p.name, variant) for p in folder.glob("*/*")):
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
    if entry.traits.safety_checker:
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
    expected = entry.traits.pipeline
    if got != expected:
        raise ModelUnavailable(
            f"{entry.name}: its files hold a {got} model, but the catalog says family {entry.family!r} ({expected}); "
            "fix the entry's family or point its source at a matching model"
        )


def _gan_package_present() -> bool:
    spec = importlib.util.find_spec("gan_face_generate")
    return bool(spec and spec.submodule_search_locations) and any(
        (Path(p) / "weights.tar").is_file() for p in spec.submodule_search_locations
    )



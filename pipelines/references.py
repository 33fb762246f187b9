"""Reference images: IP-Adapter (up to six pictures steer the result) and image-to-image.

Why a module of its own: both modes bolt onto the text-to-image pipeline the manager
keeps resident instead of loading a second model.

- IP-Adapter: the adapter that comes with the catalog entry is fetched like the model
  (hub cache with byte progress, or a local folder) and loaded with diffusers'
  `load_ip_adapter` once per resident pipeline; whether it is loaded is read off the
  UNet itself (`encoder_hid_proj`), so there is no separate flag to go stale.  All
  references go to the one adapter as one list (`[[ref1, ..., ref6]]` in diffusers'
  terms): each image becomes its own group of image tokens, so every one of them guides
  the picture.  The embeddings are computed here, once per request, already repeated for
  the request's images and classifier-free guidance (the prompt embeddings hold one row
  per image, so diffusers' own repetition cannot be used).
- Once an adapter is loaded, the UNet needs image embeddings on every call.  A request
  without references then runs with scale 0, which makes diffusers skip the adapter's
  attention entirely, so the picture is the no-adapter picture; the embeddings passed
  are those of a blank image and never read.  That costs one image-encoder pass, far
  less than unloading the adapter and loading it again at the next reference request.
- Image-to-image: `AutoPipelineForImage2Image.from_pipe` shares every module with the
  text-to-image pipeline (no second copy of the weights).  diffusers runs
  int(steps * strength) steps; when that is 0 (one-step turbo models) the step count
  is raised until one step runs.  The reference is scaled and centre-cropped to the
  requested size, so a portrait reference is not squashed into a landscape picture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageOps

from .catalog import IPAdapterSource, ModelEntry
from .families import traits
from .hub import cached_or_download, component_complete, download_files, pick_weights, short_error
from .params import limit
from .types import MAX_REFERENCES, GenerationRequest, ModelUnavailable, Progress, ProgressFn, RequestRejected, report

ReferenceMode = Literal["ip_adapter", "img2img"]
MODE_LABELS = {"ip_adapter": "IP-Adapter", "img2img": "image-to-image"}


class UnsupportedReferences(RequestRejected):
    """The reference images cannot be used this way with this model; the message says what can."""


# ----------------------------------------------------------------- request checks


def reference_mode(request: GenerationRequest) -> ReferenceMode | None:
    """The mode that actually runs: None when the request carries no reference images."""
    return request.reference_mode if request.reference_images else None


def check_references(entry: ModelEntry, request: GenerationRequest) -> None:
    """Raise UnsupportedReferences/ValueError before anything runs when the references
    (or the strength / adapter scale) cannot be used with `entry`."""
    limit("ip_adapter_scale", request.ip_adapter_scale, entry.family)
    limit("strength", request.strength, entry.family)
    images = request.reference_images
    if not images:
        return
    if len(images) > MAX_REFERENCES:
        raise ValueError(f"at most {MAX_REFERENCES} reference images, got {len(images)}")
    bad = [i + 1 for i, im in enumerate(images) if not isinstance(im, Image.Image) or min(im.size) < 1]
    if bad:
        raise ValueError(f"reference image(s) {bad} are not usable pictures")
    fam = entry.traits
    if fam.ignores_prompt:
        raise UnsupportedReferences(
            f"{entry.name} ignores reference images; remove them or pick a model that supports references"
        )
    supported = list(entry.reference_modes)
    can = " and ".join(MODE_LABELS[m] for m in supported) or "no reference images"
    mode = request.reference_mode
    if mode is None:
        raise UnsupportedReferences(f"say how {entry.name} should use the reference images: it supports {can}")
    if mode not in MODE_LABELS:
        raise UnsupportedReferences(f"unknown reference mode {mode!r}; use one of {sorted(MODE_LABELS)}")
    if mode not in supported:
        raise UnsupportedReferences(f"{entry.name} can't use {MODE_LABELS[mode]} references; it supports {can}")
    if not fam.supports(mode) or (mode == "ip_adapter" and not fam.ip_adapter):
        raise UnsupportedReferences(f"{entry.name} ({entry.family}) can't use {MODE_LABELS[mode]} references in this studio")


# ----------------------------------------------------------------- image-to-image


def image_to_image_steps(steps: int, strength: float) -> tuple[int, int]:
    """(steps to ask diffusers for, denoising steps it will run) for `strength`.

    diffusers runs int(steps * strength); the step count is raised until that is at
    least one, with the same float arithmetic diffusers uses."""
    asked = steps
    while int(asked * strength) < 1:
        asked += 1
    return asked, min(int(asked * strength), asked)


def fit_reference(image: Image.Image, width: int, height: int) -> Image.Image:
    """The reference scaled to cover width×height and centre-cropped to it, in RGB."""
    return ImageOps.fit(image.convert("RGB"), (width, height), Image.Resampling.LANCZOS)


def image_to_image_pipe(pipe: Any, family: str | None = None) -> Any:
    """The image-to-image twin of a text-to-image pipeline, sharing all its modules: the
    family table's img2img class, or diffusers' auto mapping when no family is given."""
    import diffusers

    name = traits(family).img2img_pipeline if family is not None else None
    if family is not None and name is None:
        raise UnsupportedReferences(f"models of family {family!r} have no image-to-image mode")
    cls = getattr(diffusers, name) if name else diffusers.AutoPipelineForImage2Image
    twin = cls.from_pipe(pipe)
    if hasattr(twin, "set_progress_bar_config"):
        twin.set_progress_bar_config(disable=True)
    return twin


# ----------------------------------------------------------------- IP-Adapter


def has_ip_adapter(pipe: Any) -> bool:
    """Whether the pipeline's UNet carries an IP-Adapter (and so needs image embeddings)."""
    unet = getattr(pipe, "unet", None)
    return (
        unet is not None
        and getattr(unet, "encoder_hid_proj", None) is not None
        and getattr(unet.config, "encoder_hid_dim_type", None) == "ip_image_proj"
    )


def ensure_ip_adapter(
    pipe: Any, entry: ModelEntry, *, cache_dir: Path | None = None, progress: ProgressFn | None = None
) -> bool:
    """Load the entry's IP-Adapter (and its image encoder) into `pipe` unless it already
    has one. Returns True when it loaded now. Raises ModelUnavailable with a user message."""
    if has_ip_adapter(pipe):
        return False
    src = entry.ip_adapter
    if src is None:
        raise UnsupportedReferences(f"{entry.name} has no IP-Adapter in the catalog")
    folder = ip_adapter_folder(entry, cache_dir=cache_dir, progress=progress)
    report(progress, Progress(stage="load", message=f"Loading the IP-Adapter for {entry.name}…"))
    try:
        pipe.load_ip_adapter(
            str(folder),
            subfolder=src.subfolder or "",
            weight_name=src.weight_name,
            image_encoder_folder=src.image_encoder_folder,
            local_files_only=True,
        )
    except Exception as e:
        raise ModelUnavailable(f"could not load the IP-Adapter of {entry.name} from {folder}: {short_error(e)}") from e
    if getattr(pipe, "image_encoder", None) is None:
        raise ModelUnavailable(f"the IP-Adapter of {entry.name} came without an image encoder (image_encoder_folder)")
    return True


def ip_adapter_kwargs(pipe: Any, images: tuple[Image.Image, ...], scale: float, num_images: int, guidance: float) -> dict:
    """`ip_adapter_image_embeds` for one call of a pipeline whose UNet is shared with `pipe`
    ({} when no adapter is loaded), with the adapter scale set: `scale` with references,
    0 (adapter off) without."""
    if not has_ip_adapter(pipe):
        return {}
    import torch

    if getattr(pipe, "image_encoder", None) is None:
        raise ModelUnavailable("the IP-Adapter is loaded but its image encoder is missing; reload the model")
    refs = [im.convert("RGB") for im in images] or [Image.new("RGB", (64, 64))]
    pipe.set_ip_adapter_scale(scale if images else 0.0)
    do_cfg = guidance > 1 and pipe.unet.config.time_cond_proj_dim is None  # as diffusers decides
    with torch.no_grad():
        embeds = pipe.prepare_ip_adapter_image_embeds(
            ip_adapter_image=[refs],
            ip_adapter_image_embeds=None,
            device=pipe._execution_device,
            num_images_per_prompt=num_images,
            do_classifier_free_guidance=do_cfg,
        )
    return {"ip_adapter_image_embeds": embeds}


# ----------------------------------------------------------------- adapter files


def ip_adapter_paths(src: IPAdapterSource) -> tuple[str, str | None]:
    """(weights file, image encoder folder) relative to the adapter's root, resolved the
    way diffusers' `load_ip_adapter` resolves them."""
    weights = "/".join(p for p in (src.subfolder, src.weight_name) if p)
    encoder = src.image_encoder_folder
    if encoder and "/" not in encoder:
        encoder = "/".join(p for p in (src.subfolder, encoder) if p)
    return weights, encoder


def ip_adapter_folder(entry: ModelEntry, *, cache_dir: Path | None = None, progress: ProgressFn | None = None) -> Path:
    """The local root folder of the entry's IP-Adapter, downloading it into the HF cache if
    needed (byte progress). Raises ModelUnavailable with a message for the user."""
    src = entry.ip_adapter
    if src is None:
        raise UnsupportedReferences(f"{entry.name} has no IP-Adapter in the catalog")
    weights, encoder = ip_adapter_paths(src)
    if src.path:
        folder = Path(src.path).expanduser()
        if not (folder / weights).is_file():
            raise ModelUnavailable(f"{entry.name}: IP-Adapter weights {folder / weights} not found")
        if encoder and not (folder / encoder / "config.json").is_file():
            raise ModelUnavailable(f"{entry.name}: IP-Adapter image encoder {folder / encoder} not found")
        return folder
    if not src.repo_id:
        raise ModelUnavailable(f"{entry.name}: its IP-Adapter names neither a repo_id nor a path")
    return cached_or_download(
        cached_ip_adapter(src, cache_dir=cache_dir),
        lambda: _download_ip_adapter(entry, cache_dir=cache_dir, progress=progress),
        lambda reason: _fetch_failed(entry, reason),
    )


def cached_ip_adapter(src: IPAdapterSource, *, cache_dir: Path | None = None) -> Path | None:
    """The cached snapshot root holding the adapter weights and a complete image encoder, else None."""
    from huggingface_hub import try_to_load_from_cache

    weights, encoder = ip_adapter_paths(src)
    found = try_to_load_from_cache(src.repo_id, weights, cache_dir=cache_dir)
    if not isinstance(found, str):
        return None
    root = Path(found)
    for _ in weights.split("/"):
        root = root.parent
    if encoder and not component_complete(root / encoder):
        return None
    return root


def ip_adapter_files(entry: ModelEntry, filenames: list[str]) -> list[str]:
    """The files of the adapter repo listing `filenames` worth downloading: the weights file,
    and the image encoder's configs plus one set of its weights."""
    src = entry.ip_adapter
    weights, encoder = ip_adapter_paths(src)
    if weights not in filenames:
        raise ModelUnavailable(f"{entry.name}: {src.repo_id} has no IP-Adapter file {weights}")
    wanted = [weights]
    if encoder:
        names = [f[len(encoder) + 1:] for f in filenames if f.startswith(encoder + "/") and "/" not in f[len(encoder) + 1:]]
        if "config.json" not in names:
            raise ModelUnavailable(f"{entry.name}: {src.repo_id} has no image encoder in {encoder}/")
        wanted += [f"{encoder}/{n}" for n in names if n.endswith(".json")]
        wanted += [f"{encoder}/{n}" for n in pick_weights(names, None)]
    return wanted


def _download_ip_adapter(entry: ModelEntry, *, cache_dir: Path | None, progress: ProgressFn | None) -> Path:
    """The adapter weights file and the image encoder folder (configs + one set of
    weights), nothing else of the (large) adapter repository."""
    from huggingface_hub import HfApi

    src = entry.ip_adapter
    report(progress, Progress(stage="download", message=f"Checking {src.repo_id} on the Hugging Face Hub…"))
    info = HfApi().model_info(src.repo_id, files_metadata=True, timeout=30)
    sizes = {s.rfilename: int(s.size or 0) for s in info.siblings or []}
    wanted = ip_adapter_files(entry, list(sizes))
    return download_files(src.repo_id, wanted, sizes, revision=None, cache_dir=cache_dir, progress=progress,
                          what=f"the IP-Adapter for {entry.name}")


def _fetch_failed(entry: ModelEntry, reason: str) -> str:
    return (
        f"could not download the IP-Adapter of {entry.name} ({entry.ip_adapter.repo_id}) from the Hugging Face Hub: "
        f"{reason}. It downloads by itself the first time reference images are used on a machine with internet "
        "access; until then generate without IP-Adapter references."
    )


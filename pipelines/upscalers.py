"""Enlarging pictures: ESRGAN-family networks loaded with spandrel, tiled, plus Lanczos.

Why spandrel: it is what AUTOMATIC1111, ComfyUI, InvokeAI and Forge load upscalers with;
it reads the architecture and scale off a `.pth`/`.safetensors` state dict, so any
ESRGAN/Real-ESRGAN/SwinIR/... file a person drops in `<data-dir>/upscalers/` works.

- Start-up scan: every file in the folder is loaded once; one that spandrel cannot read,
  that is not an image-to-image network, or that is corrupt is NAMED in `problems`
  (logged, and shown by the app) and skipped: the app keeps serving.
- Catalog entries (`HUB_UPSCALERS`): well-known upscalers on the Hugging Face Hub,
  downloaded into the HF cache on first use (the path pipelines/hub.py uses for models:
  offline mode fails at once with a reason, a failed download names the repo).
- "Lanczos (plain resize)" is always there and says what it is: no network, no detail added.
- Tiling: the input is cut into UPSCALE_TILE-pixel tiles, each run with
  UPSCALE_TILE_OVERLAP pixels of context on every side that are cut away from its output,
  and written into a uint8 output canvas. Peak memory is then the canvas plus ONE tile's
  working set, whatever the picture's size (`memory_bound`), and the seams match the
  untiled output wherever the network's receptive field is within the overlap.
- Factor: the network runs as many passes as needed to reach the factor (A1111 does the
  same), then Lanczos takes the result down to the exact size asked.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from .params import MAX_UPSCALE_PIXELS, PARAMS, UPSCALE_TILE, UPSCALE_TILE_OVERLAP, RequestRejected
from .types import CancelToken, GenerationCancelled, ModelUnavailable, Progress, ProgressFn, report

log = logging.getLogger(__name__)

LANCZOS = "Lanczos (plain resize)"
EXTENSIONS = (".pth", ".pt", ".safetensors", ".ckpt")


@dataclass(frozen=True)
class HubUpscaler:
    name: str
    repo_id: str
    filename: str
    scale: int


# Real-ESRGAN (RRDBNet, 23 blocks) as published by ai-forever on the Hugging Face Hub.
HUB_UPSCALERS: tuple[HubUpscaler, ...] = (
    HubUpscaler("R-ESRGAN 4x (ai-forever)", "ai-forever/Real-ESRGAN", "RealESRGAN_x4.pth", 4),
    HubUpscaler("R-ESRGAN 2x (ai-forever)", "ai-forever/Real-ESRGAN", "RealESRGAN_x2.pth", 2),
)


@dataclass(frozen=True)
class UpscalerInfo:
    name: str
    kind: str  # "lanczos", "file" or "hub"
    scale: int | None  # the network's own scale (None: Lanczos, any factor)
    downloaded: bool = True


def load_descriptor(path: Path) -> Any:
    """A spandrel ImageModelDescriptor for an RGB→RGB upscaler file, else RequestRejected."""
    try:
        from spandrel import ImageModelDescriptor, ModelLoader
    except Exception as exc:  # not installed, or its torchvision does not match torch
        raise RequestRejected(f"{path.name} needs the spandrel package (pip install spandrel==0.4.2 with the "
                              f"torchvision built for this torch); only the Lanczos resize is available") from exc

    try:
        model = ModelLoader(device="cpu").load_from_file(str(path))
    except Exception as exc:
        raise RequestRejected(f"{path.name} is not an upscaler this studio can read ({str(exc)[:160]})") from exc
    if not isinstance(model, ImageModelDescriptor) or model.input_channels != 3 or model.output_channels != 3:
        raise RequestRejected(f"{path.name} is not an RGB image-to-image upscaler")
    if model.scale < 1:
        raise RequestRejected(f"{path.name} does not enlarge (scale {model.scale})")
    return model.eval()


def memory_bound(width: int, height: int, scale: int, channels: int = 64, tile: int = UPSCALE_TILE,
                 overlap: int = UPSCALE_TILE_OVERLAP, live_tensors: int = 12) -> int:
    """Bytes an enlargement may add at its peak: the uint8 output canvas (3 B/px), the PIL
    image made from it (4 B/px: PIL keeps RGB in 32 bits), the float input, one tile's
    working set (`live_tensors` float activations of `channels` channels at the tile's
    OUTPUT resolution, the largest an ESRGAN-family network makes; 12 also covers the
    dense blocks' wide concatenations at the input resolution, measured on a tiny net)
    and ALLOCATOR_SLACK for the allocator's arenas. Only the canvas grows with the
    picture: 1024² at 4× with a 64-channel ESRGAN is about 2.5 GiB."""
    side = (min(tile, max(width, height)) + 2 * overlap) * scale
    out_px = width * scale * height * scale
    return (out_px * (3 + 4) + width * height * 3 * 4
            + live_tensors * channels * side * side * 4 + ALLOCATOR_SLACK)


ALLOCATOR_SLACK = 32 * 1024**2


def upscale_tiled(run: Callable[[Any], Any], image: Image.Image, scale: int, *, tile: int = UPSCALE_TILE,
                  overlap: int = UPSCALE_TILE_OVERLAP, progress: ProgressFn | None = None,
                  cancel: CancelToken | None = None) -> Image.Image:
    """One pass of a network of `scale` over `image`, tile by tile (see the module doc)."""
    import torch

    src = np.asarray(image.convert("RGB"))
    height, width = src.shape[:2]
    out = np.empty((height * scale, width * scale, 3), np.uint8)
    tiles = [(x, y) for y in range(0, height, tile) for x in range(0, width, tile)]
    for done, (x0, y0) in enumerate(tiles):
        if cancel is not None and cancel.cancelled:
            raise GenerationCancelled("enlargement cancelled")
        x1, y1 = min(x0 + tile, width), min(y0 + tile, height)
        px0, py0 = max(0, x0 - overlap), max(0, y0 - overlap)
        px1, py1 = min(width, x1 + overlap), min(height, y1 + overlap)
        patch = torch.from_numpy(np.array(src[py0:py1, px0:px1])).permute(2, 0, 1)[None].float() / 255
        with torch.inference_mode():
            result = run(patch)
        cut = result[0, :, (y0 - py0) * scale:(y1 - py0) * scale, (x0 - px0) * scale:(x1 - px0) * scale]
        out[y0 * scale:y1 * scale, x0 * scale:x1 * scale] = (
            cut.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy())
        del patch, result, cut
        report(progress, Progress(stage="denoise", current=done + 1, total=len(tiles), message="Enlarging…"))
    return Image.fromarray(out, "RGB")


def check_factor(size: tuple[int, int], factor: object) -> tuple[int, int]:
    """The output size for `factor` (a row of params.py), refused past MAX_UPSCALE_PIXELS."""
    factor = PARAMS["upscale_factor"].check(factor)
    width, height = round(size[0] * factor), round(size[1] * factor)
    if width * height > MAX_UPSCALE_PIXELS:
        side = int(math.sqrt(MAX_UPSCALE_PIXELS))
        raise RequestRejected(f"Enlarging {size[0]}×{size[1]} by {factor:g} gives {width}×{height}, more than the "
                              f"{side}×{side} pixels an enlargement may have; choose a smaller factor.")
    return width, height


class Upscalers:
    """The upscalers of one studio: Lanczos, the files in `folder`, the hub catalog."""

    def __init__(self, folder: Path | None = None, *, cache_dir: Path | None = None,
                 hub: tuple[HubUpscaler, ...] = HUB_UPSCALERS, device: str = "cpu") -> None:
        self.folder = Path(folder) if folder is not None else None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.hub = {h.name: h for h in hub}
        self.device = device
        self.problems: list[str] = []  # "file: why", for the start-up log and the admin
        self._files: dict[str, tuple[Path, int]] = {}
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.scan()

    def scan(self) -> None:
        """Read every file in the folder once; name and skip the ones that can't be used."""
        self._files.clear()
        self.problems.clear()
        if self.folder is None or not self.folder.is_dir():
            return
        for path in sorted(self.folder.iterdir()):
            if not path.is_file() or path.name.startswith("."):
                continue
            if path.suffix.lower() not in EXTENSIONS:
                self.problems.append(f"{path.name}: not an upscaler file ({', '.join(EXTENSIONS)}); skipped")
                continue
            try:
                model = load_descriptor(path)
            except RequestRejected as exc:
                self.problems.append(f"{exc}; skipped")
                continue
            self._files[path.stem] = (path, int(model.scale))
        for line in self.problems:
            log.warning("upscaler %s", line)

    def names(self) -> list[str]:
        return [LANCZOS, *self._files, *self.hub]

    def infos(self) -> list[UpscalerInfo]:
        out = [UpscalerInfo(LANCZOS, "lanczos", None)]
        out += [UpscalerInfo(n, "file", s) for n, (_, s) in self._files.items()]
        out += [UpscalerInfo(h.name, "hub", h.scale, self._cached(h) is not None) for h in self.hub.values()]
        return out

    def info(self, name: object) -> UpscalerInfo:
        for item in self.infos():
            if item.name == name:
                return item
        raise RequestRejected(f"Unknown upscaler. Choose one of: {', '.join(self.names())}.")

    def _cached(self, h: HubUpscaler) -> Path | None:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(h.repo_id, h.filename, cache_dir=self.cache_dir)
        return Path(found) if isinstance(found, str) else None

    def _path(self, name: str, progress: ProgressFn | None) -> Path:
        if name in self._files:
            return self._files[name][0]
        h = self.hub[name]
        from .hub import cached_or_download

        def download() -> Path:
            from huggingface_hub import hf_hub_download

            report(progress, Progress(stage="download", message=f"Downloading the upscaler {h.name}…"))
            return Path(hf_hub_download(h.repo_id, h.filename, cache_dir=self.cache_dir))

        return cached_or_download(self._cached(h), download, lambda why: (
            f"could not download the upscaler {h.name} ({h.repo_id}/{h.filename}) from the Hugging Face Hub: {why}. "
            f"Use {LANCZOS} or put an upscaler file in the upscalers folder."))

    def model(self, name: str, progress: ProgressFn | None = None) -> Any:
        """The loaded network for a file or hub upscaler (kept after its first use)."""
        with self._lock:
            if name not in self._loaded:
                path = self._path(name, progress)
                try:
                    self._loaded[name] = load_descriptor(path).to(self.device)
                except RequestRejected as exc:
                    raise ModelUnavailable(str(exc)) from exc
            return self._loaded[name]

    def upscale(self, image: Image.Image, name: str, factor: float, *, progress: ProgressFn | None = None,
                cancel: CancelToken | None = None, tile: int = UPSCALE_TILE) -> Image.Image:
        """`image` enlarged `factor` times with upscaler `name` (exact size: round(side × factor))."""
        info = self.info(name)
        target = check_factor(image.size, factor)
        if info.kind == "lanczos":
            return image.convert("RGB").resize(target, Image.Resampling.LANCZOS)
        model = self.model(name, progress)

        def run(batch):
            return model(batch.to(self.device)).float().cpu()

        out = image.convert("RGB")
        while out.width < target[0] or out.height < target[1]:
            out = upscale_tiled(run, out, int(model.scale), tile=tile, progress=progress, cancel=cancel)
        if out.size != target:
            out = out.resize(target, Image.Resampling.LANCZOS)
        return out

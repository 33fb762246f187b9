"""The offline demo model: a real face GAN packaged as a diffusers pipeline.

Why: model hubs may be unreachable (they are on the machines this project is built on),
yet a fresh install should make real pictures. The `gan-face-generate` package (MIT) ships
trained DCGAN weights (64×64 RGB faces). We convert them once into an ordinary diffusers
folder (`model_index.json` + a `ModelMixin` component) so the loader and the manager
treat the demo exactly like any other model.

The demo ignores the prompt, negative prompt, style, steps, guidance and reference
images: it can only draw a random face per seed. The UI must say so plainly.

Only the weights file is read from the package; its Python modules import torchvision
and matplotlib, which are not dependencies of this project.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from diffusers import DiffusionPipeline, ImagePipelineOutput, ModelMixin
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image, ImageFilter
from torch import nn

DEMO_FOLDER_NAME = "demo-faces"
GAN_PACKAGE = "gan_face_generate"
NATIVE_SIZE = 64
_README = """# Demo faces (offline)

Converted from the DCGAN weights shipped in the PyPI package `gan-face-generate==1.1.1`
(MIT licence, trained on DigiFace1M). It draws a random 64×64 face per seed, upscaled to
the requested size. It ignores prompts, styles and reference images.
"""


class DemoFaceGenerator(ModelMixin, ConfigMixin):
    """The DCGAN generator from the PyTorch tutorial, layer for layer as in
    gan_face_generate/models.py so the package's state dict keys (`main.N.*`) load as is."""

    @register_to_config
    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, nz, 1, 1) → images (B, nc, 64, 64) in [-1, 1]."""
        return self.main(z)


class DemoFacePipeline(DiffusionPipeline):
    """One batched GAN forward pass, dressed as a diffusers pipeline (one "step")."""

    model_cpu_offload_seq = "gan"
    _callback_tensor_inputs: list[str] = []

    def __init__(self, gan: DemoFaceGenerator) -> None:
        super().__init__()
        self.register_modules(gan=gan)

    @property
    def num_timesteps(self) -> int:
        return 1

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        negative_prompt: str | list[str] | None = None,
        num_images_per_prompt: int = 1,
        height: int = 256,
        width: int = 256,
        generator: torch.Generator | list[torch.Generator] | None = None,
        callback_on_step_end: Callable[..., dict] | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
        **ignored: Any,
    ) -> ImagePipelineOutput | tuple:
        """prompt/negative_prompt and any other diffusion argument are accepted and ignored.

        `generator`: one per image (image i depends only on generator i, so a seed always gives
        the same face whatever the batch), or a single one drawn from image after image.
        """
        prompts = prompt if isinstance(prompt, list) else [prompt]
        batch = len(prompts) * int(num_images_per_prompt)
        if batch < 1:
            raise ValueError("num_images_per_prompt must be at least 1")
        if not (isinstance(height, int) and isinstance(width, int) and height >= 8 and width >= 8):
            raise ValueError(f"height and width must be integers ≥ 8, got {width}×{height}")
        if isinstance(generator, list) and len(generator) != batch:
            raise ValueError(f"got {len(generator)} generators for {batch} images; pass one per image")
        if output_type not in ("pil", "np", "pt"):
            raise ValueError(f"output_type must be 'pil', 'np' or 'pt', got {output_type!r}")

        gan = self.gan
        nz = gan.config.nz
        z = self._latents(batch, nz, generator, gan.device, gan.dtype)
        faces = gan(z).float().clamp(-1, 1)
        faces = ((faces + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

        if callback_on_step_end is not None:
            # Exactly one step, so progress bars and cancel buttons work as with diffusion models.
            callback_on_step_end(self, 0, torch.tensor(0), {})

        images = [fit_face(Image.fromarray(face), width, height) for face in faces]
        self.maybe_free_model_hooks()
        if output_type == "np":
            out: Any = np.stack([np.asarray(im, dtype=np.float32) / 255.0 for im in images])
        elif output_type == "pt":
            out = torch.from_numpy(np.stack([np.asarray(im) for im in images])).permute(0, 3, 1, 2).float() / 255.0
        else:
            out = images
        if not return_dict:
            return (out,)
        return ImagePipelineOutput(images=out)

    @staticmethod
    def _latents(batch: int, nz: int, generator: Any, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        if isinstance(generator, list) or generator is None:
            return randn_tensor((batch, nz, 1, 1), generator=generator, device=device, dtype=dtype)
        # A single generator: draw image by image, so image i is the i-th draw whatever the batch size.
        return torch.cat([randn_tensor((1, nz, 1, 1), generator=generator, device=device, dtype=dtype) for _ in range(batch)])


def fit_face(face: Image.Image, width: int, height: int) -> Image.Image:
    """Upscale the 64×64 face (Lanczos) to the requested size.

    Square: a plain resize. Otherwise the face fills the short side, centred, and the rest
    of the canvas is the same face stretched to the full size and blurred: honest filler
    that invents no content, instead of black bars or a distorted face.
    """
    side = min(width, height)
    sharp = face.resize((side, side), Image.Resampling.LANCZOS)
    if width == height:
        return sharp
    backdrop = face.resize((width, height), Image.Resampling.LANCZOS)
    backdrop = backdrop.filter(ImageFilter.GaussianBlur(radius=max(width, height) / 24))
    backdrop.paste(sharp, ((width - side) // 2, (height - side) // 2))
    return backdrop


def gan_weights_path() -> Path:
    """The weights file inside the installed gan-face-generate package (its modules are never imported)."""
    spec = importlib.util.find_spec(GAN_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the demo model needs the PyPI package gan-face-generate==1.1.1 (pip install --no-deps gan-face-generate)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "weights.tar"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall gan-face-generate==1.1.1")
    return path


def build_demo_pipeline() -> DemoFacePipeline:
    state = torch.load(gan_weights_path(), map_location="cpu", weights_only=True)["netG_state_dict"]
    gan = DemoFaceGenerator()
    gan.load_state_dict(state, strict=True)
    gan.eval()
    return DemoFacePipeline(gan=gan)


def is_demo_folder(folder: Path) -> bool:
    return (folder / "model_index.json").is_file() and (folder / "gan" / "config.json").is_file() and any(
        (folder / "gan").glob("diffusion_pytorch_model*.safetensors")
    )


def ensure_demo_folder(models_dir: str | os.PathLike) -> Path:
    """`<models_dir>/demo-faces` as a diffusers folder, converted on first call.

    Idempotent and atomic: the folder is built under a temporary name next to it and
    renamed into place, so a crash or a concurrent start never leaves a half-written
    model that later fails to load.
    """
    models_dir = Path(models_dir)
    target = models_dir / DEMO_FOLDER_NAME
    if is_demo_folder(target):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{DEMO_FOLDER_NAME}-", dir=models_dir))
    try:
        build_demo_pipeline().save_pretrained(staging, safe_serialization=True)
        (staging / "README.md").write_text(_README, encoding="utf-8")
        if target.exists() and not is_demo_folder(target):
            shutil.rmtree(target)  # a broken leftover (not ours to keep: it cannot load)
        try:
            os.rename(staging, target)
        except OSError:
            if not is_demo_folder(target):  # lost a race to another process: theirs is as good
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target

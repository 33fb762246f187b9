"""What the REST dialect tests share: a data dir whose user catalog adds a tiny local
SD 1.5 model (image-to-image capable), and helpers that read credits through the
studio's own Gradio API and count the image files on disk."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from pipelines.testing.tiny import build_tiny_sd15

TINY = "tiny-sd15"
SIZES = {"16:9": {"width": 64, "height": 32}, "1:1": {"width": 64, "height": 64}, "9:16": {"width": 32, "height": 64}}


def data_dir_with_tiny_model(root: Path) -> Path:
    folder = build_tiny_sd15(root / "models" / "sd15")
    data = root / "data"
    data.mkdir(parents=True)
    (data / "models.json").write_text(json.dumps({"models": [{
        "id": TINY, "name": "Tiny SD 1.5", "description": "tiny random test model", "family": "sd15",
        "source": {"kind": "folder", "path": str(folder)}, "default_steps": 2, "default_guidance": 5.0,
        "sizes": SIZES, "credit_cost": 3, "speed": "fast", "quality": "draft", "reference_modes": ["img2img"],
    }]}))
    return data


def image_files(data: Path) -> list[Path]:
    root = data / "images"
    return sorted(p for p in root.rglob("*.png")) if root.exists() else []


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def png_of(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def gradio(url: str, auth: tuple[str, str] | None = None):
    from gradio_client import Client

    return Client(url, auth=auth, verbose=False)


def all_pages(client, api_name: str, *args) -> list[dict]:
    """Every item of a paged list endpoint, following next_cursor to the end."""
    items, cursor = [], ""
    while True:
        page = client.predict(*args, 200, cursor, api_name=api_name)
        items += page["items"]
        if not page["has_more"]:
            return items
        cursor = page["next_cursor"]


def ledger_sum(client) -> int:
    return sum(e["delta"] for e in all_pages(client, "/ledger"))


# Every way a user's model files can be broken, each as a catalog entry, with the words its
# refusal must say (after "<name> cannot be loaded: ").
BROKEN_MODELS = {
    "broken-cut": "unet/diffusion_pytorch_model.safetensors is cut short",
    "broken-header": "unet/diffusion_pytorch_model.safetensors is cut short",
    "broken-format": "text_encoder/model.safetensors is not a safetensors file",
    "broken-family": "its files hold a Stable Diffusion 1.5 model or a Stable Diffusion 2.1 model, but the catalog says it is an SDXL model",
    "broken-missing": "its vae component is missing",
    "broken-single": "tiny-sd15.safetensors is cut short",
}


def broken_model_entries(root: Path) -> list[dict]:
    """Catalog entries for BROKEN_MODELS, built from one tiny SD 1.5 under `root`."""
    import shutil

    from pipelines.testing.tiny_checkpoints import save_as_single_file

    good = build_tiny_sd15(root / "models" / "sd15-good")

    def copy(name: str) -> Path:
        return Path(shutil.copytree(good, root / "models" / name))

    def raw(path: Path) -> tuple[bytes, int]:
        data = path.read_bytes()
        return data, int.from_bytes(data[:8], "little")

    cut = copy("broken-cut") / "unet" / "diffusion_pytorch_model.safetensors"
    data, length = raw(cut)
    cut.write_bytes(data[: 8 + length + 64])  # header whole, weights short (a stopped copy)
    header = copy("broken-header") / "unet" / "diffusion_pytorch_model.safetensors"
    data, length = raw(header)
    header.write_bytes(data[: 8 + length // 2])  # cut inside the JSON header
    fake = copy("broken-format") / "text_encoder" / "model.safetensors"
    fake.write_bytes(b"\x80\x02}q\x00(X\x05\x00\x00\x00a pickle renamed to .safetensors" * 40)
    family = copy("broken-family")
    shutil.rmtree(copy("broken-missing") / "vae")
    single = save_as_single_file(good, root / "models" / "tiny-sd15.safetensors")
    data, length = raw(single)
    single.write_bytes(data[: 8 + length + 64])

    def entry(model_id: str, family_name: str, source: dict) -> dict:
        return {"id": model_id, "name": model_id.replace("-", " ").title(), "description": "a damaged test model",
                "family": family_name, "source": source, "default_steps": 2, "default_guidance": 5.0,
                "sizes": SIZES, "credit_cost": 3, "speed": "fast", "quality": "draft"}

    folders = {"broken-cut": cut.parent.parent, "broken-header": header.parent.parent,
               "broken-format": fake.parent.parent, "broken-missing": root / "models" / "broken-missing"}
    return [
        *(entry(mid, "sd15", {"kind": "folder", "path": str(path)}) for mid, path in folders.items()),
        entry("broken-family", "sdxl", {"kind": "folder", "path": str(family)}),
        entry("broken-single", "sd15", {"kind": "single_file", "path": str(single), "config": str(good)}),
    ]

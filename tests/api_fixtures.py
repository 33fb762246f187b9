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

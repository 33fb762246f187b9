"""Downloads named for people: the browser saves a served file under the file's own
name, and the image folder names files by id, so each download is a named copy."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from studio.services.generation.service import user_subdir


def slug(text: str | None, fallback: str, words: int = 6) -> str:
    """File-name-safe words: "Harbour Tale" → "harbour-tale"."""
    found = re.findall(r"[a-z0-9]+", (text or "").lower())[:words]
    return "-".join(found)[:40].strip("-") or fallback


def named_copy(exports_dir: Path, user: str, key: str, source: str, name: str) -> str:
    """A copy of `source` called `name`, kept under the user's exports (an allowed path)."""
    target = Path(exports_dir) / user_subdir(user) / "downloads" / slug(key, "image", 1) / name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return str(target)


def studio_download_name(details: dict) -> str:
    """`lighthouse-on-a-cliff_seed1234.png` for an Image Studio result."""
    return f"{slug(details.get('prompt'), 'image', 4)}_seed{details.get('seed')}.png"

"""Image records as gallery items: what both tabs show for a list of stored images.

Shared because Image Studio's history and Gen Space's results and library show the
same records the same way (a file path and a short caption).
"""

from __future__ import annotations

from studio.services.studio import Studio


def asset_path(studio: Studio, asset: dict | None) -> str | None:
    if not asset:
        return None
    try:
        path = studio.images.path(asset["file"])
    except ValueError:
        return None
    return str(path) if path.is_file() else None


def asset_items(studio: Studio, assets: list[dict]) -> tuple[list[tuple[str, str]], list[str]]:
    items, ids = [], []
    for asset in assets:
        path = asset_path(studio, asset)
        if path is None:
            continue
        caption = {"upload": "upload", "edit": "edit"}.get(asset.get("kind"), f"seed {asset.get('seed')}")
        items.append((path, caption))
        ids.append(asset["id"])
    return items, ids

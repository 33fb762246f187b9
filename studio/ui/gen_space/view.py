"""What Gen Space shows: shot cards, result and library galleries, details, references.

Pure functions from service records to widget values, so the tab builder stays a
list of wiring and these can be read (and tested) on their own.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from studio.services.studio import Studio
from studio.ui.shared import formatting as fmt
from studio.ui.shared.gallery import asset_items, asset_path  # noqa: F401 (used by the panels through view)

TYPE_LABEL = {"character": "Character", "scene": "Scene", "prop": "Prop"}
FILTERS = [("All", "all"), ("Characters", "character"), ("Scenes", "scene"), ("Props", "prop")]
PLACEHOLDER_COLORS = {"character": (124, 92, 220), "scene": (52, 140, 120), "prop": (200, 130, 40)}


def placeholder(cache_dir: Path, shot_type: str) -> str:
    """A plain card for a shot with no image yet (one per type, drawn once)."""
    path = cache_dir / f"placeholder-{shot_type}.png"
    if not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        img = Image.new("RGB", (256, 256), (236, 234, 244))
        draw = ImageDraw.Draw(img)
        color = PLACEHOLDER_COLORS.get(shot_type, (120, 120, 120))
        draw.rounded_rectangle((64, 64, 192, 192), radius=24, outline=color, width=6)
        draw.text((128, 128), TYPE_LABEL.get(shot_type, shot_type)[0], fill=color, anchor="mm", font_size=72)
        tmp = path.with_suffix(".tmp.png")
        img.save(tmp)
        tmp.replace(path)
    return str(path)


def applied_images(studio: Studio, user: str, shots: list[dict]) -> list[str]:
    """Each shot's applied image file, or its type's placeholder card."""
    applied = studio.assets.get_many(user, [s.get("applied_asset_id") for s in shots])
    return [asset_path(studio, applied.get(s.get("applied_asset_id")))
            or placeholder(studio.exports_dir / "_ui", s["type"]) for s in shots]


def shot_cards(studio: Studio, user: str, shots: list[dict]) -> list[tuple[str, str]]:
    return [(image, f"{shot['name']} · {TYPE_LABEL[shot['type']]}")
            for shot, image in zip(shots, applied_images(studio, user, shots))]


def shot_header(shot: dict | None) -> str:
    if shot is None:
        return "### No shot selected\nCreate a shot or click a card in the navigator."
    applied = "applied image set" if shot.get("applied_asset_id") else "no image applied yet"
    return f"### {shot['name']} · {TYPE_LABEL[shot['type']]}\n{applied} · {len(shot.get('history', []))} generated"


def asset_details_markdown(details: dict | None, names: dict | None = None) -> str:
    """The picked image's record for people: names instead of ids (`names` maps a
    shot, project or reference id to what the person called it)."""
    if not details:
        return "Select an image to see its details."
    names = names or {}
    keys = [
        ("kind", "Kind"), ("model_name", "Model"), ("style_name", "Style"), ("seed", "Seed"),
        ("width", "Width"), ("height", "Height"), ("steps", "Steps"), ("guidance", "Guidance"),
        ("sampler", "Sampler"), ("loras", "LoRAs"), ("embeddings", "Embeddings"), ("enhancer", "Prompt enhanced by"),
        ("reference_mode", "Reference mode"), ("reference_ids", "References used"),
        ("parent_id", "Made from"), ("shot_id", "Shot"), ("project_id", "Project"), ("original_name", "Uploaded as"),
        ("edits", "Edits"), ("created", "Created"),
    ]
    rows = []
    for key, label in keys:
        value = details.get(key)
        if value in (None, "", [], 0) and key not in ("seed",):
            continue
        if key == "reference_ids":
            value = ", ".join(names.get(v, "a deleted image") for v in value)
        elif key in ("parent_id", "shot_id", "project_id"):
            value = names.get(value, "deleted")
        elif key == "created":
            value = str(value).replace("T", " ")[:19]
        elif key == "loras":
            value = fmt.lora_summary(value)
        elif key == "embeddings":
            value = ", ".join(r["name"] for r in value)
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        rows.append(f"| {label} | {value} |")
    prompt = (details.get("prompt") or "").replace("\n", " ")
    notes = []
    if details.get("prompt_ignored"):
        notes.append("*The demo model ignored the prompt.*")
    if details.get("references_ignored"):
        notes.append(f"*{details['references_ignored']} reference image(s) were not used by this model.*")
    body = fmt.DETAILS_HEADER + "\n".join(rows)
    return body + (f"\n\n**Prompt:** {prompt}" if prompt else "") + ("\n\n" + " ".join(notes) if notes else "")


def asset_name(asset: dict, shot_names: dict) -> str:
    """A short name a person recognises: the shot and the seed, or the uploaded file's name."""
    if asset.get("kind") == "upload":
        return asset.get("original_name") or "an upload"
    shot = shot_names.get(asset.get("shot_id"))
    seed = f"seed {asset.get('seed')}" if asset.get("seed") is not None else asset.get("kind", "image")
    return f"{shot} · {seed}" if shot else seed


def download_name(project: str | None, shot: str | None, seed, kind: str | None = None,
                  edited: str | None = None, asset_id: str | None = None) -> str:
    """`harbour-tale_mira_seed1234.png`: what a person sees in their Downloads folder. An image
    made from another (`edited`: the edit, e.g. "rotate") keeps its source's seed, so it gets
    `_rotate-1a2b3c` after it: saved beside the original it neither overwrites it nor hides
    behind "(1)"."""
    from studio.ui.shared.downloads import slug

    parts = [slug(project, "project")]
    if shot:
        parts.append(slug(shot, "shot"))
    parts.append(f"seed{seed}" if seed is not None else slug(kind, "image"))
    if edited:
        parts.append(f"{slug(edited, 'edited', 2)}-{slug(asset_id, 'new', 1)[:6]}")
    return "_".join(parts) + ".png"


def storyboard_items(studio: Studio, user: str, shots: list[dict]) -> list[tuple[str, str]]:
    return [(image, f"{number}. {shot['name']}")
            for number, (shot, image) in enumerate(zip(shots, applied_images(studio, user, shots)), start=1)]

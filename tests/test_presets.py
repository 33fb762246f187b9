"""The shipped preset files load, and a broken copy stops start-up with a clear message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from pipelines.catalog import ASPECTS, CatalogError, load_catalog
from studio.services.prompts.styles import ASPECT_LABELS, apply_style, find_style, load_styles, merge_negatives

PRESETS = Path(__file__).resolve().parents[1] / "presets"
SEED_STYLE_NAMES = ["Auto", "3D Anime", "3D Model", "Japanese Anime", "Movie", "Comic", "Cyberpunk", "Fantasy"]


@pytest.fixture()
def presets_copy(tmp_path: Path) -> Path:
    """A private copy of the presets folder that a test may break."""
    dst = tmp_path / "presets"
    shutil.copytree(PRESETS, dst, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return dst


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


# --- models.json -------------------------------------------------------------------

def test_shipped_catalog_loads_with_the_real_models_and_the_offline_demo():
    catalog = load_catalog(PRESETS / "models.json")
    assert catalog.ids() == ["sd-turbo", "sdxl-turbo", "sd15", "sdxl-base", "flux-schnell", "demo-faces"]
    assert catalog.default_model is None  # the app picks one from what is available
    assert catalog.get("flux-schnell").source.repo_id == "black-forest-labs/FLUX.1-schnell"
    assert catalog.get("sdxl-base").ip_adapter.repo_id == "h94/IP-Adapter"
    demo = catalog.get("demo-faces")
    assert demo.ignores_prompt and demo.source.kind == "demo"
    assert demo.credit_cost == min(m.credit_cost for m in catalog.models) > 0  # cheapest, yet shows credits at work
    assert "ignores the prompt, style and reference images" in demo.description


def test_every_model_size_matches_its_aspect_ratio():
    for model in load_catalog(PRESETS / "models.json").models:
        for aspect in ASPECTS:
            size = model.sizes[aspect]
            w, h = (int(x) for x in aspect.split(":"))
            assert abs(size.width / size.height - w / h) < 0.07, (model.id, aspect, size)
        step = model.traits.size_multiple  # FLUX: 8× VAE and 2×2 patches, multiples of 16
        assert all(s.width % step == 0 and s.height % step == 0 for s in model.sizes.values()), model.id


def test_models_with_reference_images_say_how():
    catalog = load_catalog(PRESETS / "models.json")
    for model in catalog.models:
        if not model.traits.ignores_prompt:
            assert model.reference_modes, model.id
        if "ip_adapter" in model.reference_modes:
            assert model.ip_adapter.weight_name.endswith(".safetensors")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["models"][0].update(colour="red"), "models.0.colour"),
        (lambda d: d["models"][1]["sizes"].pop("9:16"), "'9:16'"),
        (lambda d: d["models"][2].update(family="sd3"), "models.2.family"),
        (lambda d: d["models"].append(dict(d["models"][0])), "duplicate model id 'sd-turbo'"),
    ],
    ids=["unknown-key", "missing-aspect", "bad-family", "duplicate-id"],
)
def test_broken_catalog_names_the_file_and_the_key(presets_copy: Path, change, expected: str):
    path = presets_copy / "models.json"
    _edit(path, change)
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_catalog_that_is_not_json_says_where(presets_copy: Path):
    path = presets_copy / "models.json"
    path.write_text('{"models": [\n  {"id": "x",}\n]}', encoding="utf-8")
    with pytest.raises(CatalogError, match=r"not valid JSON \(line 2") as err:
        load_catalog(path)
    assert str(path) in str(err.value)


# --- styles.json -------------------------------------------------------------------

def test_shipped_styles_load_in_the_seed_order():
    styles = load_styles(PRESETS / "styles.json")
    assert [s.name for s in styles] == SEED_STYLE_NAMES
    assert [s.id for s in styles] == [
        "auto", "3d-anime", "3d-model", "japanese-anime", "movie", "comic", "cyberpunk", "fantasy"
    ]
    assert set(ASPECT_LABELS) == set(ASPECTS)


def test_every_style_has_a_small_square_preview_card():
    for style in load_styles(PRESETS / "styles.json"):
        path = style.preview_path(PRESETS)
        assert path.stat().st_size < 60_000, path
        with Image.open(path) as img:
            assert img.format == "PNG" and img.size == (256, 256)


def test_preview_cards_are_reproducible_from_the_script(tmp_path: Path):
    """The shipped cards are exactly what make_style_cards.py draws (no stale or hand-edited files)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_style_cards", PRESETS / "make_style_cards.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shutil.copy(PRESETS / "styles.json", tmp_path / "styles.json")
    written = module.main(tmp_path)
    assert len(written) == len(SEED_STYLE_NAMES)
    for path in written:
        assert path.read_bytes() == (PRESETS / "previews" / path.name).read_bytes(), path.name


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["styles"][0].update(colour="red"), "styles.0.colour"),
        (lambda d: d["styles"][1].update(template="anime art of a cat"), "styles.1.template"),
        (lambda d: d["styles"][2].update(template="{prompt} and {prompt}"), "styles.2.template"),
        (lambda d: d["styles"][3].update(id="auto"), "styles.3.id: duplicate style id 'auto'"),
        (lambda d: d["styles"][4].update(preview="nope.png"), "styles.4.preview"),
        (lambda d: d["styles"][5].pop("negative_prompt") and d["styles"][5].pop("name"), "styles.5.name"),
        (lambda d: d.update(styles=[]), "styles"),
    ],
    ids=["unknown-key", "no-slot", "two-slots", "duplicate-id", "missing-preview", "missing-name", "empty"],
)
def test_broken_styles_name_the_file_and_the_key(presets_copy: Path, change, expected: str):
    path = presets_copy / "styles.json"
    _edit(path, change)
    with pytest.raises(CatalogError) as err:
        load_styles(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_missing_or_garbled_styles_file_is_reported(presets_copy: Path):
    with pytest.raises(CatalogError, match="file not found"):
        load_styles(presets_copy / "nope.json")
    path = presets_copy / "styles.json"
    path.write_text("{styles: []}", encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid JSON"):
        load_styles(path)


# --- applying a style ----------------------------------------------------------------

def test_auto_style_leaves_the_prompt_as_written():
    auto = find_style(load_styles(PRESETS / "styles.json"), "auto")
    assert apply_style(auto, "a cat {not a slot} 100%", "blurry") == ("a cat {not a slot} 100%", "blurry")


def test_style_wraps_the_prompt_and_merges_negatives_without_repeats():
    comic = find_style(load_styles(PRESETS / "styles.json"), "comic")
    prompt, negative = apply_style(comic, "  a dog in a {red} hat  ", "Blurry, , extra limbs,photo")
    assert prompt.startswith("comic book illustration of a dog in a {red} hat, ")
    pieces = negative.split(", ")
    assert pieces[: len(comic.negative_prompt.split(", "))] == comic.negative_prompt.split(", ")
    assert "extra limbs" in pieces and "" not in pieces
    assert len({p.lower() for p in pieces}) == len(pieces)  # "Blurry" and "photo" were already there


def test_long_prompt_is_kept_whole_inside_the_style():
    movie = find_style(load_styles(PRESETS / "styles.json"), "movie")
    long_prompt = ("a lighthouse keeper at dawn " * 80)[:2000]
    prompt, _ = apply_style(movie, long_prompt, "")
    assert long_prompt.strip() in prompt and len(prompt) > 2000


def test_blank_prompt_gives_the_style_words_without_dangling_punctuation():
    fantasy = find_style(load_styles(PRESETS / "styles.json"), "fantasy")
    prompt, _ = apply_style(fantasy, "   ", "")
    assert prompt.startswith("epic fantasy art, magical atmosphere")
    assert ", ," not in prompt and " of," not in prompt


def test_unknown_style_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown style 'vaporwave'"):
        find_style(load_styles(PRESETS / "styles.json"), "vaporwave")


def test_merge_negatives_ignores_case_and_empty_pieces():
    assert merge_negatives("lowres, Text", "", " text ,watermark,") == "lowres, Text, watermark"

"""Storyboard export: a ZIP of the applied images in shot order with a manifest, and a
contact sheet -- opened and checked the way a user (or their editor) would."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from PIL import Image

from studio.services.gen_space.assets import AssetService
from studio.services.gen_space.projects import ProjectService
from studio.services.generation.requests import InvalidRequest
from studio.services.gen_space.shots import ShotService
from studio.services.gen_space.storyboard import LABEL_HEIGHT, PAD, PLACEHOLDER, THUMB, StoryboardService, slugify
from studio.store import parse_parameters
from tests import gen_space_factory

ANN = "ann"
GREEN = (30, 180, 60)


@pytest.fixture
def svc(store, images):
    return ProjectService(store, images), ShotService(store), AssetService(store, images), StoryboardService(store, images)


def make_generated(store, images, user, project_id, shot_id, *, prompt, seed, color=GREEN, size=(64, 48)):
    """A plain-coloured generated image in the Cinematic style."""
    return gen_space_factory.make_generated(
        store, images, user, project_id, shot_id, prompt=prompt, seed=seed, picture=Image.new("RGB", size, color),
        style_id="cinematic", style_name="Cinematic", aspect="4:3",
    )


def test_export_zips_applied_images_in_order_with_a_manifest(svc, store, images, tmp_path):
    projects, shots, assets, board = svc
    project = projects.create(ANN, "The Owl's Tale")
    hero = shots.create(ANN, project["id"], type="character", name="Hero Girl", description="a brave girl")
    forest = shots.create(ANN, project["id"], type="scene", name="Dark Forest")
    lamp = shots.create(ANN, project["id"], type="prop", name="Lamp")
    a = make_generated(store, images, ANN, project["id"], hero["id"], prompt="a brave girl, red coat", seed=11)
    b = make_generated(store, images, ANN, project["id"], lamp["id"], prompt="an oil lamp", seed=22)
    shots.apply_asset(ANN, hero["id"], a["id"])
    shots.apply_asset(ANN, lamp["id"], b["id"])
    shots.reorder(ANN, project["id"], [lamp["id"], forest["id"], hero["id"]])

    zip_path, sheet_path = board.export_storyboard(ANN, project["id"], out_dir=tmp_path / "exports")
    assert zip_path.parent == sheet_path.parent and zip_path.parent.parent == tmp_path / "exports"
    assert len(zip_path.parent.name) >= 20  # a random folder per export: its URL can't be guessed
    assert sorted(p.name for p in zip_path.parent.iterdir()) == sorted([zip_path.name, sheet_path.name])
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.namelist() == ["01-lamp.png", "03-hero-girl.png", "manifest.json"]
        manifest = json.loads(archive.read("manifest.json"))
        stored_hero = archive.read("03-hero-girl.png")
    assert stored_hero == images.path(a["file"]).read_bytes()  # byte-identical copy, metadata included
    with Image.open(io.BytesIO(stored_hero)) as png:
        parsed = parse_parameters(png.text["parameters"])
    assert (parsed["prompt"], parsed["seed"], parsed["model"]) == ("a brave girl, red coat", 11, "tiny-sd")

    assert manifest["project"] == {"id": project["id"], "name": "The Owl's Tale"}
    entries = manifest["shots"]
    assert [(e["name"], e["type"], e["image"]) for e in entries] == [
        ("Lamp", "prop", "01-lamp.png"), ("Dark Forest", "scene", None), ("Hero Girl", "character", "03-hero-girl.png")
    ]
    assert [e["order"] for e in entries] == [0, 1, 2]
    assert entries[2]["applied_asset_id"] == a["id"] and entries[0]["applied_asset_id"] == b["id"]
    assert (entries[2]["prompt"], entries[2]["seed"], entries[2]["model_id"], entries[2]["style_id"]) == (
        "a brave girl, red coat", 11, "tiny-sd", "cinematic")
    assert entries[2]["description"] == "a brave girl" and entries[2]["created"] == hero["created"]
    assert entries[1]["applied_asset_id"] is None and entries[1]["prompt"] is None


def test_contact_sheet_has_a_cell_per_shot_with_thumbnails_and_placeholders(svc, store, images, tmp_path):
    projects, shots, _, board = svc
    project = projects.create(ANN, "Film")
    made = [shots.create(ANN, project["id"], type="scene", name=f"Scene {i}") for i in range(5)]
    art = make_generated(store, images, ANN, project["id"], made[0]["id"], prompt="a meadow", seed=1, size=(512, 512))
    shots.apply_asset(ANN, made[0]["id"], art["id"])

    _, sheet_path = board.export_storyboard(ANN, project["id"], out_dir=tmp_path)
    with Image.open(sheet_path) as sheet:
        sheet.load()
    cell_h = THUMB + LABEL_HEIGHT
    assert sheet.size == (PAD + 4 * (THUMB + PAD), PAD + 2 * (cell_h + PAD))  # 4 columns, 2 rows
    assert sheet.getpixel((PAD + THUMB // 2, PAD + 10)) == GREEN  # shot 1's image, scaled down
    assert sheet.getpixel((PAD + (THUMB + PAD) + 5, PAD + 5)) == PLACEHOLDER  # shot 2 has none
    second_row = PAD + cell_h + PAD
    assert sheet.getpixel((PAD + 5, second_row + 5)) == PLACEHOLDER  # shot 5 starts row two
    label = sheet.crop((PAD, PAD + THUMB, PAD + THUMB, PAD + cell_h))
    assert len(set(label.getdata())) > 2  # the name and type were drawn under the thumbnail


def test_a_deleted_image_drops_out_of_the_next_export(svc, store, images, tmp_path):
    projects, shots, assets, board = svc
    project = projects.create(ANN, "Film")
    shot = shots.create(ANN, project["id"], type="character", name="Hero")
    art = make_generated(store, images, ANN, project["id"], shot["id"], prompt="hero", seed=3)
    shots.apply_asset(ANN, shot["id"], art["id"])
    assets.delete(ANN, art["id"], confirm=True)
    zip_path, _ = board.export_storyboard(ANN, project["id"], out_dir=tmp_path / "out")
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.namelist() == ["manifest.json"]
        assert json.loads(archive.read("manifest.json"))["shots"][0]["image"] is None


def test_an_image_file_missing_on_disk_is_exported_as_no_image(svc, store, images, tmp_path):
    projects, shots, _, board = svc
    project = projects.create(ANN, "Film")
    shot = shots.create(ANN, project["id"], type="character", name="Hero")
    art = make_generated(store, images, ANN, project["id"], shot["id"], prompt="hero", seed=3)
    shots.apply_asset(ANN, shot["id"], art["id"])
    images.path(art["file"]).unlink()  # someone cleaned the data folder by hand
    zip_path, sheet_path = board.export_storyboard(ANN, project["id"], out_dir=tmp_path / "out")
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.namelist() == ["manifest.json"]
        assert json.loads(archive.read("manifest.json"))["shots"][0]["image"] is None
    with Image.open(sheet_path) as sheet:
        assert sheet.getpixel((PAD + 5, PAD + 5)) == PLACEHOLDER


def test_empty_or_foreign_projects_export_nothing(svc, tmp_path):
    projects, shots, _, board = svc
    project = projects.create(ANN, "Empty")
    out = tmp_path / "out"
    with pytest.raises(InvalidRequest, match="Add shots first"):
        board.export_storyboard(ANN, project["id"], out_dir=out)
    shots.create(ANN, project["id"], type="prop", name="Lamp")
    with pytest.raises(InvalidRequest, match="Unknown project"):
        board.export_storyboard("bob", project["id"], out_dir=out)
    assert not out.exists() or list(out.iterdir()) == []


def test_slugs_are_safe_file_names():
    assert slugify("Hero's Home!") == "hero-s-home"
    assert slugify("Café Noir") == "cafe-noir"
    assert slugify("../../etc") == "etc"
    assert slugify("猫", "prop") == "prop"
    assert len(slugify("x" * 200)) == 40

"""The asset library: listing and filters, details, delete cascades, reference lists and
simple edits that make new images -- on the in-memory and the TinyDB store."""

from __future__ import annotations

import pytest
from PIL import Image

from studio.services.gen_space.assets import AssetService
from studio.services.gen_space.projects import ProjectService
from studio.services.generation.requests import InvalidRequest
from studio.services.gen_space.shots import ShotService
from studio.store import ImageFiles, parse_parameters
from tests import gen_space_factory

ANN, BOB = "ann", "bob"
RED, BLUE = (220, 20, 20), (20, 20, 220)


@pytest.fixture
def svc(store, images):
    projects, shots, assets = ProjectService(store, images), ShotService(store), AssetService(store, images)
    project = projects.create(ANN, "Film")
    return projects, shots, assets, project


def marked_picture(size=(40, 20)) -> Image.Image:
    """Left half red, right half blue: any rotation or flip shows in the pixels."""
    img = Image.new("RGB", size, BLUE)
    img.paste(RED, (0, 0, size[0] // 2, size[1]))
    return img


def make_generated(store, images, user, project_id, shot_id=None, *, prompt="a red fox", seed=42, picture=None):
    """A generated image whose pixels show any rotation or flip, with a negative prompt."""
    return gen_space_factory.make_generated(
        store, images, user, project_id, shot_id, prompt=prompt, seed=seed,
        picture=picture or marked_picture(), negative_prompt="blurry",
    )


def png_files(images: ImageFiles) -> set:
    return {p for p in images.root.rglob("*.png")}


def test_list_is_newest_first_and_filters_by_project_shot_type_and_kind(svc, store, images):
    projects, shots, assets, project = svc
    other = projects.create(ANN, "Other")
    hero = shots.create(ANN, project["id"], type="character", name="Hero")
    forest = shots.create(ANN, project["id"], type="scene", name="Forest")
    a = make_generated(store, images, ANN, project["id"], hero["id"])
    b = make_generated(store, images, ANN, project["id"], forest["id"])
    c = make_generated(store, images, ANN, other["id"])
    d = assets.edit_transform(ANN, a["id"], "flip", direction="horizontal")
    make_generated(store, images, BOB, projects.create(BOB, "Bob's")["id"])

    ids = lambda **kw: [x["id"] for x in assets.list(ANN, **kw)]  # noqa: E731
    assert ids() == [d["id"], c["id"], b["id"], a["id"]]
    assert ids(project_id=project["id"]) == [d["id"], b["id"], a["id"]]
    assert ids(shot_id=hero["id"]) == [d["id"], a["id"]]
    assert ids(shot_type="scene") == [b["id"]]
    assert ids(project_id=project["id"], kind="generated") == [b["id"], a["id"]]
    assert ids(kind="edit") == [d["id"]]
    with pytest.raises(InvalidRequest, match="kind"):
        assets.list(ANN, kind="video")
    with pytest.raises(InvalidRequest, match="Shot type"):
        assets.list(ANN, shot_type="vehicle")
    with pytest.raises(InvalidRequest, match="Unknown project"):
        assets.list(BOB, project_id=project["id"])


def test_get_many_returns_only_the_users_existing_images(svc, store, images):
    projects, shots, assets, project = svc
    a = make_generated(store, images, ANN, project["id"])
    b = make_generated(store, images, ANN, project["id"], seed=7)
    theirs_project = ProjectService(store, images).create("bob", "Theirs")
    theirs = make_generated(store, images, "bob", theirs_project["id"])
    assets.delete(ANN, b["id"], confirm=True)
    found = assets.get_many(ANN, [a["id"], b["id"], theirs["id"], None, a["id"]])
    assert list(found) == [a["id"]] and found[a["id"]]["seed"] == 42


def test_details_give_every_field_the_file_and_its_parameters(svc, store, images):
    _, _, assets, project = svc
    a = make_generated(store, images, ANN, project["id"], prompt="a castle, at dusk", seed=777)
    info = assets.details(ANN, a["id"])
    assert {k: info[k] for k in a} == a
    assert info["path"] == str(images.path(a["file"])) and info["file_exists"] is True
    parsed = parse_parameters(info["parameters"])
    assert parsed["prompt"] == "a castle, at dusk" and parsed["seed"] == 777
    with pytest.raises(InvalidRequest, match="Unknown image"):
        assets.details(BOB, a["id"])
    assert assets.open_image(ANN, a["id"]).getpixel((0, 0)) == RED


def test_deleting_an_applied_referenced_image_leaves_nothing_pointing_at_it(svc, store, images):
    projects, shots, assets, project = svc
    hero = shots.create(ANN, project["id"], type="character", name="Hero")
    a = make_generated(store, images, ANN, project["id"], hero["id"])
    b = make_generated(store, images, ANN, project["id"], hero["id"])
    shots.apply_asset(ANN, hero["id"], a["id"])
    shots.add_to_history(ANN, hero["id"], [a["id"], b["id"]])
    assets.add_reference(ANN, project["id"], a["id"])
    assets.add_reference(ANN, project["id"], b["id"])
    other = projects.create(ANN, "Other")
    assets.add_reference(ANN, other["id"], a["id"])
    child = assets.edit_transform(ANN, a["id"], "rotate", degrees=180)
    made_with = store.update("assets", b["id"], {"reference_ids": [a["id"]]})

    with pytest.raises(InvalidRequest, match="confirm"):
        assets.delete(ANN, a["id"])
    with pytest.raises(InvalidRequest, match="Unknown image"):
        assets.delete(BOB, a["id"], confirm=True)
    assert images.path(a["file"]).is_file()

    assets.delete(ANN, a["id"], confirm=True)
    assert not images.path(a["file"]).exists()
    assert store.get("assets", a["id"]) is None
    shot = shots.get(ANN, hero["id"])
    assert shot["applied_asset_id"] is None and shot["history"] == [b["id"]]
    assert assets.references(ANN, project["id"]) == [b["id"]]
    assert assets.references(ANN, other["id"]) == []
    assert assets.get(ANN, child["id"])["parent_id"] is None
    assert assets.get(ANN, made_with["id"])["reference_ids"] == []
    with pytest.raises(InvalidRequest, match="Unknown image"):
        assets.delete(ANN, a["id"], confirm=True)


def test_reference_list_holds_six_ignores_duplicates_and_is_per_project(svc, store, images):
    projects, _, assets, project = svc
    made = [make_generated(store, images, ANN, project["id"], seed=i) for i in range(7)]
    for a in made[:6]:
        assets.add_reference(ANN, project["id"], a["id"])
    assert assets.add_reference(ANN, project["id"], made[0]["id"]) == [a["id"] for a in made[:6]]
    with pytest.raises(InvalidRequest, match="up to 6 reference images; remove one first"):
        assets.add_reference(ANN, project["id"], made[6]["id"])
    assert len(assets.references(ANN, project["id"])) == 6

    assert assets.remove_reference(ANN, project["id"], made[2]["id"]) == [a["id"] for a in made[:6] if a is not made[2]]
    assert assets.add_reference(ANN, project["id"], made[6]["id"])[-1] == made[6]["id"]
    other = projects.create(ANN, "Other")
    assert assets.references(ANN, other["id"]) == []
    assert assets.clear_references(ANN, project["id"]) == []
    assert assets.references(ANN, project["id"]) == []


def test_references_refuse_other_users_images_and_projects(svc, store, images):
    projects, _, assets, project = svc
    bobs_project = projects.create(BOB, "Bob's")
    bobs = make_generated(store, images, BOB, bobs_project["id"])
    mine = make_generated(store, images, ANN, project["id"])
    with pytest.raises(InvalidRequest, match="Unknown image"):
        assets.add_reference(ANN, project["id"], bobs["id"])
    with pytest.raises(InvalidRequest, match="Unknown project"):
        assets.add_reference(BOB, project["id"], bobs["id"])
    with pytest.raises(InvalidRequest, match="Unknown image id"):
        assets.remove_reference(ANN, project["id"], "../" + mine["id"])
    assert assets.references(ANN, project["id"]) == []
    assert store.all("reference_lists") == []


def test_rotate_makes_a_new_image_that_remembers_its_source(svc, store, images):
    _, shots, assets, project = svc
    hero = shots.create(ANN, project["id"], type="character", name="Hero")
    source = make_generated(store, images, ANN, project["id"], hero["id"], prompt="a red fox, running", seed=9)
    rotated = assets.edit_transform(ANN, source["id"], "rotate", degrees=90)

    assert rotated["kind"] == "edit" and rotated["parent_id"] == source["id"]
    assert (rotated["project_id"], rotated["shot_id"]) == (project["id"], hero["id"])
    assert (rotated["prompt"], rotated["seed"], rotated["model_id"]) == ("a red fox, running", 9, "tiny-sd")
    assert (rotated["width"], rotated["height"]) == (20, 40)
    assert rotated["edit"] == {"op": "rotate", "degrees": 90}
    picture = assets.open_image(ANN, rotated["id"])
    assert picture.getpixel((10, 2)) == RED and picture.getpixel((10, 37)) == BLUE  # clockwise: left -> top
    meta = images.read_metadata(rotated["file"])
    parsed = parse_parameters(meta["parameters"])
    assert parsed["prompt"] == "a red fox, running" and parsed["seed"] == 9
    assert parsed["extra"]["Edits"] == "rotate 90 clockwise"
    assert meta["studio"]["parent_id"] == source["id"]
    assert assets.open_image(ANN, source["id"]).size == (40, 20)  # the source is untouched


def test_flip_and_crop_chain_and_record_every_edit(svc, store, images):
    _, _, assets, project = svc
    source = make_generated(store, images, ANN, project["id"])
    flipped = assets.edit_transform(ANN, source["id"], "flip", direction="horizontal")
    assert assets.open_image(ANN, flipped["id"]).getpixel((0, 0)) == BLUE
    upside = assets.edit_transform(ANN, source["id"], "flip", direction="vertical")
    assert assets.open_image(ANN, upside["id"]).getpixel((0, 0)) == RED
    cropped = assets.edit_transform(ANN, flipped["id"], "crop", left=0.5, top=0, right=1, bottom=0.5)
    picture = assets.open_image(ANN, cropped["id"])
    assert picture.size == (20, 10) and set(picture.getdata()) == {RED}
    parsed = parse_parameters(images.read_metadata(cropped["file"])["parameters"])
    assert parsed["extra"]["Edits"] == "flip horizontal; crop 0.5 0 1 0.5"
    assert parsed["prompt"] == "a red fox"


@pytest.mark.parametrize(
    "op, params, message",
    [
        ("rotate", {"degrees": 45}, "90, 180 or 270"),
        ("rotate", {"degrees": True}, "90, 180 or 270"),
        ("flip", {"direction": "diagonal"}, "horizontal"),
        ("crop", {"left": 0.5, "top": 0, "right": 0.4, "bottom": 1}, "inside the image"),
        ("crop", {"left": -0.1, "top": 0, "right": 1, "bottom": 1}, "inside the image"),
        ("crop", {"left": 0, "top": 0, "right": 1.5, "bottom": 1}, "inside the image"),
        ("crop", {"left": 0, "top": 0, "right": 0.01, "bottom": 1}, "smaller than one pixel"),
        ("crop", {"left": "0", "top": 0, "right": 1, "bottom": 1}, "number"),
        ("crop", {"left": 0, "top": 0}, "left, top, right and bottom"),
        ("blur", {}, "Unknown edit"),
    ],
)
def test_bad_edits_are_refused_and_write_nothing(svc, store, images, op, params, message):
    _, _, assets, project = svc
    source = make_generated(store, images, ANN, project["id"])
    before_files, before_records = png_files(images), store.all("assets")
    with pytest.raises(InvalidRequest, match=message):
        assets.edit_transform(ANN, source["id"], op, **params)
    assert png_files(images) == before_files and store.all("assets") == before_records


def test_editing_a_deleted_or_foreign_image_is_refused(svc, store, images):
    projects, _, assets, project = svc
    source = make_generated(store, images, ANN, project["id"])
    assets.delete(ANN, source["id"], confirm=True)
    with pytest.raises(InvalidRequest, match="Unknown image"):
        assets.edit_transform(ANN, source["id"], "rotate", degrees=90)
    bobs = make_generated(store, images, BOB, projects.create(BOB, "Bob's")["id"])
    with pytest.raises(InvalidRequest, match="Unknown image"):
        assets.edit_transform(ANN, bobs["id"], "rotate", degrees=90)
    assert [a["id"] for a in store.all("assets")] == [bobs["id"]]
    assert len(png_files(images)) == 1

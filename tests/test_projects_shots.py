"""Gen Space projects and shots, against the in-memory store and the TinyDB file store:
ownership, validation that writes nothing, ordering, filtering and delete cascades."""

from __future__ import annotations

import pytest

from studio.services.gen_space.assets import AssetService
from studio.services.common.ids import check_id
from studio.services.gen_space.projects import DEFAULT_PROJECT_NAME, ProjectService
from studio.services.generation.requests import InvalidRequest
from studio.services.gen_space.shots import ShotService
from tests.gen_space_factory import make_generated

ANN, BOB = "ann", "bob"


@pytest.fixture
def services(store, images):
    return ProjectService(store, images), ShotService(store), AssetService(store, images)


# ----- ids ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "../../etc/passwd", "a" * 31, "a" * 33, "A" * 32, "0" * 31 + "/", None, 7, ["x"]])
def test_malformed_ids_are_unknown_before_any_lookup(bad, services):
    _, shots, _ = services
    with pytest.raises(InvalidRequest, match="Unknown shot id"):
        check_id(bad, "shot")
    with pytest.raises(InvalidRequest, match="Unknown shot"):
        shots.get(ANN, bad)


# ----- projects ----------------------------------------------------------------------


def test_default_project_is_made_once_per_user(services):
    projects, _, _ = services
    first = projects.ensure_default(ANN)
    assert first["name"] == DEFAULT_PROJECT_NAME
    assert projects.ensure_default(ANN)["id"] == first["id"]
    assert [p["id"] for p in projects.list(ANN)] == [first["id"]]
    assert projects.ensure_default(BOB)["id"] != first["id"]


def test_project_names_are_trimmed_unique_per_user_and_checked(services):
    projects, _, _ = services
    a = projects.create(ANN, "  Pilot  ")
    b = projects.create(ANN, "Episode 2")
    assert a["name"] == "Pilot"
    with pytest.raises(InvalidRequest, match="already have a project"):
        projects.create(ANN, "PILOT")
    with pytest.raises(InvalidRequest, match="already have a project"):
        projects.rename(ANN, b["id"], "pilot")
    for bad in ["", "   ", "x" * 81, None]:
        with pytest.raises(InvalidRequest):
            projects.create(ANN, bad)
    projects.create(BOB, "Pilot")  # another user may use the same name
    assert [p["name"] for p in projects.list(ANN)] == ["Pilot", "Episode 2"]
    assert projects.rename(ANN, a["id"], "Pilot (final)")["name"] == "Pilot (final)"
    assert projects.rename(ANN, a["id"], "pilot (FINAL)")["name"] == "pilot (FINAL)"  # own name, new case


def test_other_users_projects_are_invisible_and_untouchable(services):
    projects, shots, _ = services
    mine = projects.create(ANN, "Mine")
    assert projects.list(BOB) == []
    for call in (
        lambda: projects.get(BOB, mine["id"]),
        lambda: projects.rename(BOB, mine["id"], "Stolen"),
        lambda: projects.delete(BOB, mine["id"], confirm=True),
        lambda: shots.create(BOB, mine["id"], type="prop", name="Sword"),
        lambda: shots.list(BOB, mine["id"]),
    ):
        with pytest.raises(InvalidRequest, match="Unknown project"):
            call()
    assert projects.get(ANN, mine["id"])["name"] == "Mine"
    assert shots.list(ANN, mine["id"]) == []


def test_project_delete_needs_confirmation_then_removes_everything_of_it(services, store, images):
    projects, shots, assets = services
    doomed = projects.create(ANN, "Doomed")
    kept = projects.create(ANN, "Kept")
    hero = shots.create(ANN, doomed["id"], type="character", name="Hero")
    other_shot = shots.create(ANN, kept["id"], type="character", name="Villain")
    image = make_generated(store, images, ANN, doomed["id"], hero["id"])
    kept_image = make_generated(store, images, ANN, kept["id"])
    shots.apply_asset(ANN, hero["id"], image["id"])
    shots.apply_asset(ANN, other_shot["id"], image["id"])  # applied across projects
    assets.add_reference(ANN, kept["id"], image["id"])
    assets.add_reference(ANN, kept["id"], kept_image["id"])

    with pytest.raises(InvalidRequest, match="confirm"):
        projects.delete(ANN, doomed["id"])
    assert images.path(image["file"]).is_file() and shots.get(ANN, hero["id"])

    projects.delete(ANN, doomed["id"], confirm=True)
    assert [p["name"] for p in projects.list(ANN)] == ["Kept"]
    assert store.get("shots", hero["id"]) is None
    assert store.get("assets", image["id"]) is None
    assert not images.path(image["file"]).exists()
    assert shots.get(ANN, other_shot["id"])["applied_asset_id"] is None
    assert assets.references(ANN, kept["id"]) == [kept_image["id"]]
    assert images.path(kept_image["file"]).is_file()
    with pytest.raises(InvalidRequest, match="Unknown project"):
        projects.get(ANN, doomed["id"])


# ----- shots -------------------------------------------------------------------------


@pytest.fixture
def project(services):
    return services[0].create(ANN, "Film")


def test_shots_are_created_in_order_and_filtered_by_type(services, project):
    _, shots, _ = services
    made = [
        shots.create(ANN, project["id"], type=t, name=n, description=d)
        for t, n, d in [("character", "Hero", "  a brave girl  "), ("scene", "Forest", ""), ("prop", "Lamp", None),
                        ("character", "Owl", "wise")]
    ]
    assert [s["order"] for s in made] == [0, 1, 2, 3]
    assert made[0]["description"] == "a brave girl" and made[2]["description"] == ""
    assert made[0]["applied_asset_id"] is None and made[0]["history"] == []
    assert [s["name"] for s in shots.list(ANN, project["id"])] == ["Hero", "Forest", "Lamp", "Owl"]
    assert [s["name"] for s in shots.list(ANN, project["id"], "character")] == ["Hero", "Owl"]
    assert [s["name"] for s in shots.list(ANN, project["id"], "prop")] == ["Lamp"]
    with pytest.raises(InvalidRequest, match="Shot type"):
        shots.list(ANN, project["id"], "vehicle")


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"type": "vehicle", "name": "Car"}, "Shot type"),
        ({"type": "prop", "name": "  "}, "name"),
        ({"type": "prop", "name": "x" * 81}, "limit is 80"),
        ({"type": "prop", "name": "Lamp", "description": "d" * 2001}, "limit is 2000"),
    ],
)
def test_bad_shot_input_is_refused_and_nothing_is_written(services, project, store, fields, message):
    _, shots, _ = services
    with pytest.raises(InvalidRequest, match=message):
        shots.create(ANN, project["id"], **fields)
    assert store.all("shots") == []


def test_update_changes_only_given_fields_and_validates(services, project):
    _, shots, _ = services
    shot = shots.create(ANN, project["id"], type="prop", name="Lamp", description="old lamp")
    updated = shots.update(ANN, shot["id"], name="Oil lamp", type="scene")
    assert (updated["name"], updated["type"], updated["description"]) == ("Oil lamp", "scene", "old lamp")
    with pytest.raises(InvalidRequest):
        shots.update(ANN, shot["id"], name="ok", type="vehicle")
    assert shots.get(ANN, shot["id"])["name"] == "Oil lamp"
    with pytest.raises(InvalidRequest, match="Unknown shot"):
        shots.update(BOB, shot["id"], name="Mine now")


def test_reorder_needs_exactly_the_projects_shots(services, project):
    projects, shots, _ = services
    a, b, c = (shots.create(ANN, project["id"], type="scene", name=n) for n in "ABC")
    elsewhere = shots.create(ANN, projects.create(ANN, "Other")["id"], type="scene", name="X")
    for bad in ([a["id"], b["id"]], [a["id"], b["id"], b["id"]], [a["id"], b["id"], c["id"], elsewhere["id"]],
                [a["id"], b["id"], elsewhere["id"]], "abc"):
        with pytest.raises(InvalidRequest):
            shots.reorder(ANN, project["id"], bad)
    assert [s["name"] for s in shots.list(ANN, project["id"])] == ["A", "B", "C"]
    shots.reorder(ANN, project["id"], [c["id"], a["id"], b["id"]])
    assert [s["name"] for s in shots.list(ANN, project["id"])] == ["C", "A", "B"]


def test_move_up_and_down_and_stop_at_the_ends(services, project):
    _, shots, _ = services
    a, b, c = (shots.create(ANN, project["id"], type="scene", name=n) for n in "ABC")
    names = lambda: [s["name"] for s in shots.list(ANN, project["id"])]  # noqa: E731
    shots.move(ANN, c["id"], "up")
    assert names() == ["A", "C", "B"]
    shots.move(ANN, a["id"], "up")
    assert names() == ["A", "C", "B"]
    shots.move(ANN, a["id"], "down")
    assert names() == ["C", "A", "B"]
    shots.move(ANN, b["id"], "down")
    assert names() == ["C", "A", "B"]
    with pytest.raises(InvalidRequest, match="up or down"):
        shots.move(ANN, a["id"], "left")
    with pytest.raises(InvalidRequest, match="Unknown shot"):
        shots.move(BOB, a["id"], "up")


def test_apply_and_history_accept_only_the_users_own_images(services, project, store, images):
    _, shots, _ = services
    shot = shots.create(ANN, project["id"], type="character", name="Hero")
    first = make_generated(store, images, ANN, project["id"], shot["id"])
    second = make_generated(store, images, ANN, project["id"], shot["id"])
    bobs_project = services[0].create(BOB, "Bob's")
    bobs = make_generated(store, images, BOB, bobs_project["id"])

    assert shots.apply_asset(ANN, shot["id"], second["id"])["applied_asset_id"] == second["id"]
    with pytest.raises(InvalidRequest, match="Unknown image"):
        shots.apply_asset(ANN, shot["id"], bobs["id"])
    with pytest.raises(InvalidRequest, match="Unknown shot"):
        shots.apply_asset(BOB, shot["id"], bobs["id"])
    assert shots.get(ANN, shot["id"])["applied_asset_id"] == second["id"]

    shots.add_to_history(ANN, shot["id"], [first["id"], second["id"]])
    assert shots.add_to_history(ANN, shot["id"], [first["id"]])["history"] == [second["id"], first["id"]]
    with pytest.raises(InvalidRequest, match="Unknown image"):
        shots.add_to_history(ANN, shot["id"], [first["id"], bobs["id"]])
    assert shots.get(ANN, shot["id"])["history"] == [second["id"], first["id"]]


def test_deleting_a_shot_keeps_its_images_in_the_library_detached(services, project, store, images):
    _, shots, assets = services
    shot = shots.create(ANN, project["id"], type="character", name="Hero")
    image = make_generated(store, images, ANN, project["id"], shot["id"])
    with pytest.raises(InvalidRequest, match="Unknown shot"):
        shots.delete(BOB, shot["id"])
    shots.delete(ANN, shot["id"])
    with pytest.raises(InvalidRequest, match="Unknown shot"):
        shots.get(ANN, shot["id"])
    kept = assets.get(ANN, image["id"])
    assert kept["shot_id"] is None and kept["project_id"] == project["id"]
    assert images.path(kept["file"]).is_file()
    assert [a["id"] for a in assets.list(ANN, project_id=project["id"])] == [image["id"]]

"""Gen Space's project bar and shot navigator handlers called directly on a real Studio:
what the cards, the header and the forms show, and the refusals a person sees."""

from __future__ import annotations

import pytest

from studio.services.generation.requests import InvalidRequest
from studio.ui.gen_space import navigator_handlers as nav
from studio.ui.gen_space.navigator_handlers import NewShot, ShotEdit
from studio.ui.shared.events import NeedsInput
from tests.studio_factory import make_studio

USER = "ana"


@pytest.fixture
def studio(tmp_path):
    return make_studio(tmp_path / "data")


def test_projects_create_rename_and_delete(studio):
    default = nav.open_project(studio, USER, None, "all")
    assert default.cards.ids == [] and default.shot is None
    harbour = nav.create_project(studio, USER, "Harbour")
    assert [name for name, _ in harbour.choices] == ["My first project", "Harbour"]
    renamed = nav.rename_project(studio, USER, harbour.value, "Harbour tale")
    assert renamed.value == harbour.value and dict(renamed.choices)["Harbour tale"] == harbour.value
    with pytest.raises(InvalidRequest, match="confirm"):
        nav.delete_project(studio, USER, harbour.value, False)
    after = nav.delete_project(studio, USER, harbour.value, True)
    assert harbour.value not in dict(after.choices).values() and after.value in dict(after.choices).values()


def test_shots_add_select_edit_move_filter_delete(studio):
    project = studio.projects.ensure_default(USER)["id"]
    mira = nav.create_shot(studio, USER, NewShot(project, "character", "Mira", "a sailor", "all"))
    assert mira.shot["name"] == "Mira" and "Mira" in mira.header and mira.cards.ids == [mira.shot["id"]]
    pier = nav.create_shot(studio, USER, NewShot(project, "scene", "Pier", "", "all")).shot
    assert nav.select_shot(studio, USER, [mira.shot["id"], pier["id"]], 1)["id"] == pier["id"]
    with pytest.raises(NeedsInput, match="That shot is no longer in the list."):
        nav.select_shot(studio, USER, [pier["id"]], 3)

    edited = nav.update_shot(studio, USER, ShotEdit(pier["id"], "scene", "The pier", "at dawn", "all"))
    assert edited.shot["description"] == "at dawn" and "The pier" in edited.header
    with pytest.raises(NeedsInput, match="Select a shot in the navigator first"):
        nav.update_shot(studio, USER, ShotEdit(None, "scene", "x", "", "all"))

    assert nav.move_shot(studio, USER, project, pier["id"], "up", "all").ids == [pier["id"], mira.shot["id"]]
    assert nav.filter_shots(studio, USER, project, "scene").ids == [pier["id"]]
    gone = nav.delete_shot(studio, USER, project, pier["id"], "all")
    assert gone.cards.ids == [mira.shot["id"]] and gone.shot is None
    with pytest.raises(NeedsInput, match="Select a shot in the navigator first"):
        nav.move_shot(studio, USER, project, None, "down", "all")


def test_the_space_opens_the_remembered_project_while_it_exists(studio):
    first = nav.open_space(studio, USER, None)
    assert [name for name, _ in first.projects.choices] == ["My first project"]
    assert first.cards.ids == [] and first.reference_ids == []
    harbour = nav.create_project(studio, USER, "Harbour").value
    assert nav.open_space(studio, USER, harbour).projects.value == harbour
    assert nav.open_space(studio, USER, "gone").projects.value == first.projects.value

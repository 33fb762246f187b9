"""Gen Space's top area: the project bar and the shot navigator.

"New shot" and "Edit the selected shot" are two forms on purpose: one form that
both adds and edits made "add" after a selection duplicate the selected shot.
"""

from __future__ import annotations

import gradio as gr

from studio.ui.gen_space import view
from studio.ui.gen_space.bar_handlers import NO_SHOT
from studio.ui.shared.common import guard
from studio.ui.shared.events import UI, need
from studio.ui.gen_space.queries import SpaceQueries
from studio.ui.gen_space.widgets import Navigator, ProjectBar
from studio.ui.shared.session import user_of

TYPE_CHOICES = [(v, k) for k, v in view.TYPE_LABEL.items()]


def layout_project_bar() -> ProjectBar:
    with gr.Row(elem_id="project-bar"):
        # allow_custom_value: API callers of /upload_asset and /export_storyboard pass a project id.
        project = gr.Dropdown(label="Project", choices=[], scale=3, min_width=180, elem_id="project",
                              allow_custom_value=True)
        name = gr.Textbox(label="Project name", placeholder="Name for a new or renamed project", scale=3,
                          min_width=180, elem_id="project-name")
        with gr.Column(scale=1, min_width=120):
            create = gr.Button("New project", size="sm", elem_id="create-project")
            rename = gr.Button("Rename", size="sm", elem_id="rename-project")
        with gr.Column(scale=2, min_width=150):
            confirm = gr.Checkbox(label="Yes, delete this project", value=False, elem_id="confirm-delete-project")
            delete = gr.Button("Delete project", variant="stop", size="sm", elem_id="delete-project")
    return ProjectBar(project, name, create, rename, confirm, delete)


def layout_navigator() -> Navigator:
    shot_id, ids = gr.State(None), gr.State([])
    with gr.Group(elem_id="navigator"):
        with gr.Row(elem_id="navigator-head", equal_height=True):
            gr.Markdown("### Shots", elem_id="navigator-title")
            filter_ = gr.Radio(view.FILTERS, value="all", show_label=False, elem_id="shot-filter",
                               elem_classes=["top-right"])
        cards = gr.Gallery(fit_columns=False, columns=8, rows=1, height=190, allow_preview=False, show_label=False, object_fit="contain",
                           elem_id="shot-cards", buttons=[])
    with gr.Row(equal_height=False, elem_id="shot-forms"):
        with gr.Accordion("New shot", open=False, elem_id="new-shot"):
            new_type = gr.Radio(TYPE_CHOICES, value="character", label="Type", elem_id="new-shot-type")
            new_name = gr.Textbox(label="Name", placeholder="e.g. Mira, the harbour at dawn", elem_id="new-shot-name")
            new_desc = gr.Textbox(label="Description (the starting prompt)", lines=2, elem_id="new-shot-desc")
            create = gr.Button("Add shot", variant="primary", size="sm", elem_id="create-shot")
        with gr.Accordion("Edit the selected shot", open=False, elem_id="edit-shot"):
            edit_type = gr.Radio(TYPE_CHOICES, value="character", label="Type", elem_id="edit-shot-type")
            edit_name = gr.Textbox(label="Name", elem_id="edit-shot-name")
            edit_desc = gr.Textbox(label="Description", lines=2, elem_id="edit-shot-desc")
            with gr.Row():
                save = gr.Button("Save changes", size="sm", variant="primary", elem_id="save-shot")
                up = gr.Button("Move up", size="sm", elem_id="move-up")
                down = gr.Button("Move down", size="sm", elem_id="move-down")
                delete = gr.Button("Delete shot", variant="stop", size="sm", elem_id="delete-shot")
    header = gr.Markdown(view.shot_header(None), elem_id="shot-header")
    return Navigator(shot_id, ids, filter_, cards, header, new_type, new_name, new_desc, create,
                     edit_type, edit_name, edit_desc, save, up, down, delete)


def wire_navigator(studio, q: SpaceQueries, bar: ProjectBar, nav: Navigator, prompt: gr.Textbox) -> list:
    """Wires the project bar and the navigator; returns the events after which the open
    shot (or project) changed, so the other panels can refresh on them."""
    blank_forms = ("", "")  # plain values: Gradio drops value="" from a gr.update

    def choices(user, value):
        return gr.update(choices=q.project_choices(user), value=value)

    @guard
    def open_project(project_id, filter_value, request: gr.Request):
        user = user_of(request)
        pid = q.project(user, project_id)
        cards, ids = q.navigator(user, pid, filter_value)
        return cards, ids, None, view.shot_header(None), "", "", "character"

    @guard
    def make_project(name, request: gr.Request):
        user = user_of(request)
        doc = studio.projects.create(user, name)
        return choices(user, doc["id"]), "", view.shot_header(None)

    @guard
    def rename(project_id, name, request: gr.Request):
        user = user_of(request)
        doc = studio.projects.rename(user, q.project(user, project_id), name)
        return choices(user, doc["id"]), ""

    @guard
    def remove_project(project_id, confirmed, request: gr.Request):
        user = user_of(request)
        studio.projects.delete(user, q.project(user, project_id), confirm=bool(confirmed))
        return choices(user, studio.projects.ensure_default(user)["id"]), False

    @guard
    def select_shot(ids, evt: gr.SelectData, request: gr.Request):
        if evt.index is None or evt.index >= len(ids):
            raise gr.Error("That shot is no longer in the list.")
        shot = studio.shots.get(user_of(request), ids[evt.index])
        return (shot["id"], view.shot_header(shot), shot["type"], shot["name"], shot["description"],
                shot["description"])

    @guard
    def add_shot(project_id, type_, name, desc, filter_value, request: gr.Request):
        user = user_of(request)
        pid = q.project(user, project_id)
        shot = studio.shots.create(user, pid, type=type_, name=name, description=desc or "")
        cards, ids = q.navigator(user, pid, filter_value)
        return (cards, ids, shot["id"], view.shot_header(shot), shot["description"], *blank_forms,
                shot["type"], shot["name"], shot["description"])

    @guard
    def edit_shot(sid, type_, name, desc, filter_value, request: gr.Request):
        user = user_of(request)
        shot = studio.shots.update(user, need(sid, NO_SHOT), name=name, description=desc, type=type_)
        cards, ids = q.navigator(user, shot["project_id"], filter_value)
        return cards, ids, view.shot_header(shot)

    def mover(direction):
        @guard
        def move(project_id, sid, filter_value, request: gr.Request):
            user = user_of(request)
            studio.shots.move(user, need(sid, NO_SHOT), direction)
            return q.navigator(user, q.project(user, project_id), filter_value)
        return move

    @guard
    def drop_shot(project_id, sid, filter_value, request: gr.Request):
        user = user_of(request)
        studio.shots.delete(user, need(sid, NO_SHOT))
        cards, ids = q.navigator(user, q.project(user, project_id), filter_value)
        return cards, ids, None, view.shot_header(None), "", "", "character"

    @guard
    def filter_shots(project_id, filter_value, request: gr.Request):
        user = user_of(request)
        return q.navigator(user, q.project(user, project_id), filter_value)

    opened = [nav.cards, nav.ids, nav.shot_id, nav.header, nav.edit_name, nav.edit_desc, nav.edit_type]
    switched = bar.project.input(open_project, [bar.project, nav.filter], opened, api_name="ui_switch_project", **UI)
    created_project = bar.create.click(make_project, bar.name, [bar.project, bar.name, nav.header],
                                       api_name="ui_create_project", **UI).success(
        open_project, [bar.project, nav.filter], opened, api_name="ui_after_create_project", **UI)
    bar.rename.click(rename, [bar.project, bar.name], [bar.project, bar.name], api_name="ui_rename_project", **UI)
    deleted_project = bar.delete.click(remove_project, [bar.project, bar.confirm_delete],
                                       [bar.project, bar.confirm_delete], api_name="ui_delete_project", **UI).success(
        open_project, [bar.project, nav.filter], opened, api_name="ui_after_delete_project", **UI)
    nav.filter.change(filter_shots, [bar.project, nav.filter], [nav.cards, nav.ids], api_name="ui_filter_shots", **UI)
    selected = nav.cards.select(select_shot, nav.ids, [nav.shot_id, nav.header, nav.edit_type, nav.edit_name,
                                                        nav.edit_desc, prompt], api_name="ui_select_shot", **UI)
    created = nav.create.click(add_shot, [bar.project, nav.new_type, nav.new_name, nav.new_desc, nav.filter],
                               [nav.cards, nav.ids, nav.shot_id, nav.header, prompt, nav.new_name, nav.new_desc,
                                nav.edit_type, nav.edit_name, nav.edit_desc], api_name="ui_create_shot", **UI)
    nav.save.click(edit_shot, [nav.shot_id, nav.edit_type, nav.edit_name, nav.edit_desc, nav.filter],
                   [nav.cards, nav.ids, nav.header], api_name="ui_update_shot", **UI)
    for button, direction in ((nav.move_up, "up"), (nav.move_down, "down")):
        button.click(mover(direction), [bar.project, nav.shot_id, nav.filter], [nav.cards, nav.ids],
                     api_name=f"ui_move_shot_{direction}", **UI)
    deleted = nav.delete.click(drop_shot, [bar.project, nav.shot_id, nav.filter], opened, api_name="ui_delete_shot",
                               **UI)
    return [switched, created_project, deleted_project, selected, created, deleted]


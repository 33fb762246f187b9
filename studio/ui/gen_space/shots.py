"""Gen Space's top area: the project bar and the shot navigator.

"New shot" and "Edit the selected shot" are two forms on purpose: one form that
both adds and edits made "add" after a selection duplicate the selected shot.
"""

from __future__ import annotations

import gradio as gr

from studio.ui.gen_space import navigator_handlers as handlers
from studio.ui.gen_space import view
from studio.ui.gen_space.navigator_handlers import NewShot, ShotEdit
from studio.ui.shared.common import guard
from studio.ui.shared.confirm import layout_confirm, wire_confirm
from studio.ui.shared.events import UI
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
            delete = gr.Button("Delete project", variant="stop", size="sm", elem_id="delete-project")
    confirm = layout_confirm("confirm-delete-project")  # says how many shots and images go with it
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
            confirm_delete = layout_confirm("confirm-delete-shot")
    header = gr.Markdown(view.shot_header(None), elem_id="shot-header")
    return Navigator(shot_id, ids, filter_, cards, header, new_type, new_name, new_desc, create,
                     edit_type, edit_name, edit_desc, save, up, down, delete, confirm_delete)


def wire_navigator(studio, bar: ProjectBar, nav: Navigator, prompt: gr.Textbox) -> list:
    """Wires the project bar and the navigator; returns the events after which the open
    shot (or project) changed, so the other panels can refresh on them. The callbacks
    translate widgets to the handlers in navigator_handlers and their results back."""

    @guard
    def open_project(project_id, filter_value, request: gr.Request):
        return _opened(handlers.open_project(studio, user_of(request), project_id, filter_value))

    @guard
    def make_project(name, request: gr.Request):
        return _projects(handlers.create_project(studio, user_of(request), name)), "", view.shot_header(None)

    @guard
    def rename(project_id, name, request: gr.Request):
        return _projects(handlers.rename_project(studio, user_of(request), project_id, name)), ""

    @guard
    def remove_project(project_id, confirmed, request: gr.Request):
        return _projects(handlers.delete_project(studio, user_of(request), project_id, confirmed))

    def ask_project(project_id, request: gr.Request):
        return handlers.project_deletion(studio, user_of(request), project_id)

    def ask_shot(sid, request: gr.Request):
        return handlers.shot_deletion(studio, user_of(request), sid)

    @guard
    def select_shot(ids, evt: gr.SelectData, request: gr.Request):
        shot = handlers.select_shot(studio, user_of(request), ids, evt.index)
        return (shot["id"], view.shot_header(shot), shot["type"], shot["name"], shot["description"],
                shot["description"])

    @guard
    def add_shot(request: gr.Request, *values):
        made = handlers.create_shot(studio, user_of(request), NewShot.from_values(*values))
        shot = made.shot
        return (made.cards.cards, made.cards.ids, shot["id"], made.header, shot["description"], *BLANK_FORM,
                shot["type"], shot["name"], shot["description"])

    @guard
    def edit_shot(request: gr.Request, *values):
        edited = handlers.update_shot(studio, user_of(request), ShotEdit.from_values(*values))
        return edited.cards.cards, edited.cards.ids, edited.header

    def mover(direction):
        @guard
        def move(project_id, sid, filter_value, request: gr.Request):
            return _cards(handlers.move_shot(studio, user_of(request), project_id, sid, direction, filter_value))
        return move

    @guard
    def drop_shot(project_id, sid, filter_value, request: gr.Request):
        return _opened(handlers.delete_shot(studio, user_of(request), project_id, sid, filter_value))

    @guard
    def filter_shots(project_id, filter_value, request: gr.Request):
        return _cards(handlers.filter_shots(studio, user_of(request), project_id, filter_value))

    opened = [nav.cards, nav.ids, nav.shot_id, nav.header, nav.edit_name, nav.edit_desc, nav.edit_type]
    switched = bar.project.input(open_project, [bar.project, nav.filter], opened, api_name="ui_switch_project", **UI)
    created_project = bar.create.click(make_project, bar.name, [bar.project, bar.name, nav.header],
                                       api_name="ui_create_project", **UI).success(
        open_project, [bar.project, nav.filter], opened, api_name="ui_after_create_project", **UI)
    bar.rename.click(rename, [bar.project, bar.name], [bar.project, bar.name], api_name="ui_rename_project", **UI)
    deleted_project = wire_confirm(bar.confirm_delete, bar.delete, ask_project, [bar.project], remove_project,
                                   [bar.project, bar.confirm_delete.confirmed], [bar.project],
                                   api_name="ui_delete_project")
    deleted_project = deleted_project.success(open_project, [bar.project, nav.filter], opened,
                                              api_name="ui_after_delete_project", **UI)
    nav.filter.change(filter_shots, [bar.project, nav.filter], [nav.cards, nav.ids], api_name="ui_filter_shots", **UI)
    selected = nav.cards.select(select_shot, nav.ids, [nav.shot_id, nav.header, nav.edit_type, nav.edit_name,
                                                        nav.edit_desc, prompt], api_name="ui_select_shot", **UI)
    created = nav.create.click(add_shot, NewShot.inputs(bar=bar, nav=nav),
                               [nav.cards, nav.ids, nav.shot_id, nav.header, prompt, nav.new_name, nav.new_desc,
                                nav.edit_type, nav.edit_name, nav.edit_desc], api_name="ui_create_shot", **UI)
    nav.save.click(edit_shot, ShotEdit.inputs(nav=nav), [nav.cards, nav.ids, nav.header], api_name="ui_update_shot",
                   **UI)
    for button, direction in ((nav.move_up, "up"), (nav.move_down, "down")):
        button.click(mover(direction), [bar.project, nav.shot_id, nav.filter], [nav.cards, nav.ids],
                     api_name=f"ui_move_shot_{direction}", **UI)
    deleted = wire_confirm(nav.confirm_delete, nav.delete, ask_shot, [nav.shot_id], drop_shot,
                           [bar.project, nav.shot_id, nav.filter], opened, api_name="ui_delete_shot")
    return [switched, created_project, deleted_project, selected, created, deleted]


BLANK_FORM = ("", "")  # the New shot form emptied; plain values: Gradio drops value="" from a gr.update


def _cards(cards: handlers.Cards) -> tuple:
    return cards.cards, cards.ids


def _opened(opened: handlers.Opened) -> tuple:
    """The navigator with no shot open: the edit form back to its blank state."""
    return (*_cards(opened.cards), None, opened.header, "", "", "character")


def _projects(projects: handlers.Projects):
    return gr.update(choices=projects.choices, value=projects.value)

"""The Gen Space tab, laid out as its document describes: "3 areas + 1 generation flow".

Top: the project bar and the shot navigator (type filter at its top-right). Middle:
results and the asset library, with the picked image's actions and details beside
them. Bottom: the generation settings, kept on screen. Each area has its own module;
this one only puts them in order and hands the shared widgets between them.
"""

from __future__ import annotations

import gradio as gr

from studio.services.studio import Studio
from studio.ui.shared.balance import Balance
from studio.ui.gen_space.panels import layout_image_panel, layout_storyboard, wire_image_panel
from studio.ui.gen_space import navigator_handlers
from studio.ui.gen_space.settings import layout_settings, wire_settings
from studio.ui.gen_space.shots import layout_navigator, layout_project_bar, wire_navigator
from studio.ui.gen_space.widgets import GenSpace
from studio.ui.shared.refine_panel import follow_state, wire_refine_panel
from studio.ui.shared.session import user_of


def build_gen_space(studio: Studio, balance: Balance) -> GenSpace:
    bar = layout_project_bar()
    nav = layout_navigator()
    panel = layout_image_panel()
    settings = layout_settings(studio)
    board = layout_storyboard()
    space = GenSpace(bar, nav, panel, settings, board)

    shot_changed = wire_navigator(studio, bar, nav, settings.prompt)
    gpu_jobs = wire_settings(studio, bar, nav, settings, balance)
    refine_jobs = wire_refine_panel(studio, panel.refine, balance, settings.model)
    # Every job that makes images refreshes the shot's results and the library after it.
    edit_jobs, edit_cost_load = wire_image_panel(studio, bar, nav, settings, panel, board, balance, shot_changed,
                                                 gpu_jobs + refine_jobs)
    space.jobs = gpu_jobs + edit_jobs + refine_jobs
    follow_state(panel.refine, panel.selected)

    def load_space(project_id, request: gr.Request):
        """Opens the remembered project when it is still there, else the default one."""
        opened = navigator_handlers.open_space(studio, user_of(request), project_id)
        return (gr.update(choices=opened.projects.choices, value=opened.projects.value), opened.cards.cards,
                opened.cards.ids, opened.reference_paths, opened.reference_ids)

    space.open_project = load_space
    space.open_outputs = [bar.project, nav.cards, nav.ids, settings.refs, settings.ref_ids]
    space.loads.append(edit_cost_load)
    return space


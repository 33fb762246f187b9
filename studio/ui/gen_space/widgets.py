"""The widget groups of Gen Space, typed, so a reader sees what each panel owns.

Each builder fills one group and the wiring functions take the groups they read;
no string-keyed dictionary travels between them.
"""

from __future__ import annotations

from typing import Any

from collections.abc import Callable
from dataclasses import dataclass, field

import gradio as gr


@dataclass
class ProjectBar:
    project: gr.Dropdown
    name: gr.Textbox
    create: gr.Button
    rename: gr.Button
    confirm_delete: Any  # studio.ui.shared.confirm.Confirm: says how many shots and images go with it
    delete: gr.Button


@dataclass
class Navigator:
    """The shot cards with their type filter, plus the two separate shot forms."""

    shot_id: gr.State
    ids: gr.State
    filter: gr.Radio
    cards: gr.Gallery
    header: gr.Markdown
    new_type: gr.Radio
    new_name: gr.Textbox
    new_desc: gr.Textbox
    create: gr.Button
    edit_type: gr.Radio
    edit_name: gr.Textbox
    edit_desc: gr.Textbox
    save: gr.Button
    move_up: gr.Button
    move_down: gr.Button
    delete: gr.Button
    confirm_delete: Any = None  # studio.ui.shared.confirm.Confirm for `delete`


@dataclass
class ImagePanel:
    """Results and library in the middle; the picked image's actions and details beside them."""

    results: gr.Gallery
    results_shown: gr.State  # a paged.Loaded: the results loaded so far and the cursor after them
    library_filter: gr.Radio
    upload: gr.UploadButton
    library: gr.Gallery
    library_shown: gr.State  # a paged.Loaded, as results_shown
    library_more: gr.Button
    selected: gr.State
    preview: gr.Image
    use_ref: gr.Button
    apply: gr.Button
    download: gr.DownloadButton
    confirm_delete: Any  # studio.ui.shared.confirm.Confirm for `delete`
    delete: gr.Button
    rotate: gr.Dropdown
    do_rotate: gr.Button
    flip: gr.Radio
    do_flip: gr.Button
    crop: list[gr.Slider]
    do_crop: gr.Button
    edit_prompt: gr.Textbox
    edit_strength: gr.Slider
    do_edit: gr.Button
    edit_reason: gr.Markdown
    details: gr.Markdown
    results_more: gr.Button  # the shot's results: a page, then "Load more"
    refine: object = None  # studio.ui.shared.refine_panel.RefinePanel: repaint, extend, enlarge


@dataclass
class GenerationSettings:
    """The bottom bar: model, count, prompt, references, cost and Generate, and the batch flow."""

    model: gr.Dropdown
    count: gr.Radio
    prompt: gr.Textbox
    counter: gr.HTML
    enhance: gr.Checkbox
    style: gr.Radio
    aspect: gr.Radio
    seed: gr.Number
    support: gr.Markdown
    refs: gr.Gallery
    ref_ids: gr.State
    selected_ref: gr.State
    remove_ref: gr.Button
    clear_refs: gr.Button
    scale: gr.Slider
    strength: gr.Slider
    generate: gr.Button
    cancel: gr.Button
    reason: gr.Markdown
    status: gr.Markdown
    batch_type: gr.Radio
    batch_shots: gr.CheckboxGroup
    batch_cost: gr.Markdown
    batch_run: gr.Button
    loras: Any = None  # studio.ui.shared.lora_picker.LoraPicker: its `value` is the job's LoRAs


@dataclass
class Storyboard:
    board: gr.Gallery
    refresh: gr.Button
    export: gr.Button
    zip: gr.File
    sheet: gr.Image


@dataclass
class GenSpace:
    bar: ProjectBar
    nav: Navigator
    panel: ImagePanel
    settings: GenerationSettings
    board: Storyboard
    jobs: list = field(default_factory=list)  # events that take or return credits
    loads: list = field(default_factory=list)  # (fn, inputs, outputs, api_name) run on page load
    open_project: Callable | None = None  # (project_id, request) → open_outputs; the app calls it on load
    open_outputs: list = field(default_factory=list)

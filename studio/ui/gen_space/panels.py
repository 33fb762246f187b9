"""Gen Space's middle area: results and asset library, the picked image's actions, storyboard.

One "picked image" serves both galleries, so every action (use as reference, apply
to shot, edit, download, delete, details) works the same wherever it was picked;
the actions and details sit in a side panel beside the galleries, never below them.
"""

from __future__ import annotations

import gradio as gr

from studio.ui.shared import formatting as fmt
from studio.ui.shared import params
from studio.ui.shared.balance import Balance
from studio.ui.gen_space import view
from studio.ui.gen_space import image_handlers as handlers
from studio.ui.gen_space.image_handlers import NO_IMAGE, NOTHING_PICKED, EditSettings, PickedImage
from studio.ui.shared.common import GPU, guard, run_cancellable
from studio.ui.shared.confirm import layout_confirm, wire_confirm
from studio.ui.shared.events import UI
from studio.ui.shared.paged import NOTHING, Loaded
from studio.ui.gen_space.widgets import GenerationSettings, ImagePanel, Navigator, ProjectBar, Storyboard
from studio.ui.shared.refine_panel import layout_refine_panel
from studio.ui.shared.session import user_of

LIBRARY_FILTERS = [("This project", "project"), ("This shot", "shot"), ("Characters", "character"),
                   ("Scenes", "scene"), ("Props", "prop"), ("Uploads", "upload")]


def layout_image_panel() -> ImagePanel:
    with gr.Row(equal_height=False, elem_id="gs-middle"):
        with gr.Column(scale=7, min_width=300):
            with gr.Tabs(elem_id="gs-galleries"):
                with gr.Tab("Results", id="gs-results-tab", elem_id="gs-results-tab"):
                    results = gr.Gallery(fit_columns=False, columns=4, height="auto", allow_preview=False, object_fit="contain",
                                         format="png", show_label=False, elem_id="gs-results", buttons=[])
                    results_more = gr.Button("Load more", size="sm", visible=False, elem_id="results-more")
                with gr.Tab("Asset library", id="gs-library-tab", elem_id="gs-library-tab"):
                    with gr.Row(equal_height=True):
                        library_filter = gr.Radio(LIBRARY_FILTERS, value="project", show_label=False, scale=4,
                                                  elem_id="library-filter")
                        upload = gr.UploadButton("Upload image", file_types=[".png", ".jpg", ".jpeg", ".webp"],
                                                 scale=1, min_width=130, elem_id="upload")
                    library = gr.Gallery(fit_columns=False, columns=6, height="auto", allow_preview=False, object_fit="contain",
                                         format="png", show_label=False, elem_id="gs-library", buttons=[])
                    library_more = gr.Button("Load more", size="sm", visible=False, elem_id="library-more")
        with gr.Column(scale=4, min_width=260, elem_id="image-panel"):
            preview = gr.Image(label="Picked image", type="filepath", interactive=False, height=220,
                               buttons=["fullscreen"], elem_id="picked-image")
            with gr.Row(elem_id="image-actions"):
                use_ref = gr.Button("Use as reference", size="sm", elem_id="use-as-reference")
                apply = gr.Button("Apply to shot", size="sm", variant="primary", elem_id="apply-to-shot")
                download = gr.DownloadButton("Download", size="sm", visible=False, elem_id="gs-download")
            delete = gr.Button("Delete image", size="sm", variant="stop", elem_id="gs-delete")
            confirm_delete = layout_confirm("confirm-delete")  # names the shots that lose it
            with gr.Accordion("Edit the picked image", open=False, elem_id="edit-image"):
                with gr.Row(elem_classes=["edit-row"]):
                    rotate = gr.Dropdown([("90° clockwise", 90), ("180°", 180), ("90° counter-clockwise", 270)],
                                         value=90, label="Rotate", scale=2, elem_id="rotate")
                    do_rotate = gr.Button("Rotate", size="sm", scale=1, elem_id="do-rotate")
                with gr.Row(elem_classes=["edit-row"]):
                    flip = gr.Radio([("Mirror", "horizontal"), ("Upside down", "vertical")], value="horizontal",
                                    label="Flip", scale=2, elem_id="flip")
                    do_flip = gr.Button("Flip", size="sm", scale=1, elem_id="do-flip")
                with gr.Row():
                    crop = [gr.Slider(0, 1, value=v, step=0.01, label=lbl, min_width=100, elem_id=f"crop-{lbl.lower()}")
                            for lbl, v in (("Left", 0.0), ("Top", 0.0), ("Right", 1.0), ("Bottom", 1.0))]
                do_crop = gr.Button("Crop", size="sm", elem_id="do-crop")
                edit_prompt = gr.Textbox(label="Change it by prompt (image-to-image)", elem_id="edit-prompt",
                                         placeholder="e.g. same character, now wearing a red coat")
                edit_strength = params.slider("strength", elem_id="edit-strength")
                do_edit = gr.Button("Edit by prompt", size="sm", variant="primary", interactive=False,
                                    elem_id="edit-by-prompt")
                edit_reason = gr.Markdown(NO_IMAGE, elem_id="edit-reason")
            refine = layout_refine_panel("gs")
            with gr.Accordion("Details", open=True, elem_id="gs-details-box"):
                details = gr.Markdown(view.asset_details_markdown(None), elem_id="gs-details")
    return ImagePanel(results, gr.State(NOTHING), library_filter, upload, library, gr.State(NOTHING), library_more,
                      gr.State(None), preview, use_ref, apply, download, confirm_delete,
                      delete, rotate, do_rotate, flip, do_flip, crop, do_crop, edit_prompt, edit_strength, do_edit,
                      edit_reason, details, results_more, refine)


def layout_storyboard() -> Storyboard:
    with gr.Accordion("Storyboard", open=False, elem_id="storyboard"):
        gr.Markdown("The shots in order with their applied images. Export them as a ZIP (PNGs with their "
                    "metadata and a JSON manifest) and as one contact sheet.")
        board = gr.Gallery(fit_columns=False, columns=6, height="auto", allow_preview=True, object_fit="contain", show_label=False,
                           elem_id="storyboard-gallery")
        with gr.Row():
            refresh = gr.Button("Refresh storyboard", size="sm", elem_id="refresh-storyboard")
            export = gr.Button("Export storyboard", variant="primary", size="sm", elem_id="export-storyboard")
        with gr.Row():
            zip_file = gr.File(label="Storyboard ZIP", elem_id="storyboard-zip")
            sheet = gr.Image(label="Contact sheet", type="filepath", elem_id="contact-sheet")
    return Storyboard(board, refresh, export, zip_file, sheet)


def wire_image_panel(studio, bar: ProjectBar, nav: Navigator, s: GenerationSettings,
                     p: ImagePanel, board: Storyboard, balance: Balance, shot_changed: list, jobs: list) -> list:
    """Wires the middle area; returns its own credit-taking events (edit by prompt). The
    callbacks translate widgets to the handlers in image_handlers and their results back."""
    project, shot_id = bar.project, nav.shot_id
    picked_outs = [p.selected, p.preview, p.details, p.download]
    edit_in = EditSettings.inputs(panel=p, nav=nav, settings=s)

    def galleries(project_id, sid, how, results_shown, library_shown, request: gr.Request):
        shown = handlers.galleries(studio, user_of(request), project_id, sid, how, results_shown, library_shown)
        return (*_list(shown.results), *_list(shown.library), shown.header)

    gallery_ins = [project, shot_id, p.library_filter, p.results_shown, p.library_shown]
    gallery_outs = [p.results, p.results_shown, p.results_more, p.library, p.library_shown, p.library_more,
                    nav.header]

    def more_results(sid, shown, request: gr.Request):
        return _list(handlers.more_results(studio, user_of(request), sid, shown))

    def more_library(project_id, sid, how, shown, request: gr.Request):
        return _list(handlers.more_library(studio, user_of(request), project_id, sid, how, shown))

    @guard
    def pick(shown, evt: gr.SelectData, request: gr.Request):
        return _picked(handlers.pick(studio, user_of(request), (shown or NOTHING).ids, evt.index))

    @guard
    def use_as_reference(project_id, asset_id, request: gr.Request):
        strip = handlers.use_as_reference(studio, user_of(request), project_id, asset_id)
        return strip.paths, strip.ids

    @guard
    def apply_to_shot(project_id, sid, asset_id, filter_value, request: gr.Request):
        shot = handlers.apply_to_shot(studio, user_of(request), project_id, sid, asset_id, filter_value)
        return shot.cards, shot.ids, shot.header

    @guard
    def delete_picked(asset_id, confirmed, request: gr.Request):
        return _picked(handlers.delete_picked(studio, user_of(request), asset_id, confirmed))

    def ask_delete(asset_id, request: gr.Request):
        return handlers.image_deletion(studio, user_of(request), asset_id)

    # One plain function per edit: Gradio injects gr.Request only into a named parameter,
    # so a shared `run(asset_id, *values, request)` was called without it and crashed.
    @guard
    def rotate(asset_id, degrees, request: gr.Request):
        return _picked(handlers.transform(studio, user_of(request), asset_id, "rotate", degrees=degrees))

    @guard
    def flip(asset_id, direction, request: gr.Request):
        return _picked(handlers.transform(studio, user_of(request), asset_id, "flip", direction=direction))

    @guard
    def crop(asset_id, left, top, right, bottom, request: gr.Request):
        return _picked(handlers.transform(studio, user_of(request), asset_id, "crop", left=left, top=top,
                                          right=right, bottom=bottom))

    # The API names these parameters (ui_edit_by_prompt is a documented endpoint), so the
    # signature spells them out, in EditSettings' order.
    def edit_by_prompt(asset_id, sid, model_id, text, amount, request: gr.Request, progress=gr.Progress()):
        edit = EditSettings.from_values(asset_id, sid, model_id, text, amount)
        edited = run_cancellable(studio, request, progress, lambda report, token: handlers.edit_by_prompt(
            studio, user_of(request), edit, progress=report, cancel=token))
        return (*_picked(edited.picked), fmt.balance_text(edited.done.balance))

    def edit_cost(request: gr.Request, *values):
        button = handlers.edit_cost(studio, user_of(request), EditSettings.from_values(*values))
        return gr.update(value=button.label, interactive=button.enabled), button.note

    @guard
    def upload(project_id, file, request: gr.Request):
        path = None if file is None else file if isinstance(file, str) else file.name
        return handlers.upload(studio, user_of(request), project_id, path), "upload"

    def storyboard(project_id, request: gr.Request):
        return handlers.storyboard(studio, user_of(request), project_id)

    @guard
    def export(project_id, request: gr.Request):
        done = handlers.export_storyboard(studio, user_of(request), project_id)
        return done.zip_path, done.sheet_path, done.board

    def navigator_and_refs(project_id, filter_value, request: gr.Request):
        shots, strip = handlers.after_delete(studio, user_of(request), project_id, filter_value)
        return shots.cards, shots.ids, strip.paths, strip.ids

    def refresh_after(event, name):
        return event.then(galleries, gallery_ins, gallery_outs, api_name=name, **UI)

    # Picking and the shot's galleries.
    p.results.select(pick, p.results_shown, picked_outs, api_name="ui_select_result", **UI)
    p.library.select(pick, p.library_shown, picked_outs, api_name="ui_select_library", **UI)
    for i, event in enumerate(shot_changed):
        event.then(galleries, gallery_ins, gallery_outs, api_name=f"ui_shot_changed_{i}", **UI).then(
            _nothing_picked, None, picked_outs, api_name=f"ui_unpick_{i}", **UI)
    p.library_filter.change(galleries, gallery_ins, gallery_outs, api_name="ui_refresh_galleries", **UI)
    # "Load more" follows the store's cursor: the page after the last one shown, however far.
    p.library_more.click(more_library, [project, shot_id, p.library_filter, p.library_shown],
                         [p.library, p.library_shown, p.library_more], api_name="ui_library_more", **UI)
    p.results_more.click(more_results, [shot_id, p.results_shown], [p.results, p.results_shown, p.results_more],
                         api_name="ui_results_more", **UI)
    for i, job in enumerate(jobs):
        refresh_after(job, f"ui_after_job_{i}")

    # Actions on the picked image.
    p.use_ref.click(use_as_reference, [project, p.selected], [s.refs, s.ref_ids], api_name="ui_use_as_reference", **UI)
    p.apply.click(apply_to_shot, [project, shot_id, p.selected, nav.filter], [nav.cards, nav.ids, nav.header],
                  api_name="ui_apply_to_shot", **UI)
    deleted = wire_confirm(p.confirm_delete, p.delete, ask_delete, [p.selected], delete_picked,
                           [p.selected, p.confirm_delete.confirmed], picked_outs, api_name="ui_delete_asset")
    refresh_after(deleted, "ui_after_delete").then(
        navigator_and_refs, [project, nav.filter], [nav.cards, nav.ids, s.refs, s.ref_ids],
        api_name="ui_after_delete_refresh", **UI)
    for button, fn, inputs in ((p.do_rotate, rotate, [p.rotate]), (p.do_flip, flip, [p.flip]),
                               (p.do_crop, crop, p.crop)):
        refresh_after(button.click(fn, [p.selected, *inputs], picked_outs, api_name=f"ui_edit_{fn.__name__}", **UI),
                      f"ui_after_edit_{fn.__name__}")
    balance.watch(p.do_edit.click)  # before the job's own event: see shared/balance.py
    edited = p.do_edit.click(edit_by_prompt, edit_in, [*picked_outs, balance.box], api_name="ui_edit_by_prompt",
                             concurrency_id=GPU, concurrency_limit=studio.gpu_concurrency,
                             show_progress_on=[p.preview])
    refresh_after(edited, "ui_after_edit_by_prompt")
    edit_check = (edit_cost, edit_in, [p.do_edit, p.edit_reason])
    gr.on([s.model.change, p.edit_prompt.input, p.edit_prompt.change, p.selected.change, p.edit_strength.change],
          *edit_check, api_name="ui_edit_cost", trigger_mode="always_last", **UI)
    upload_record = gr.JSON(visible=False)
    uploaded = p.upload.upload(upload, [project, p.upload], [upload_record, p.library_filter], api_name="upload_asset")
    refresh_after(uploaded, "ui_after_upload")

    # Storyboard.
    board.refresh.click(storyboard, project, board.board, api_name="ui_storyboard", **UI)
    board.export.click(export, project, [board.zip, board.sheet, board.board], api_name="export_storyboard")
    return [edited], (*edit_check, "ui_edit_cost_on_load")


def _list(shown: Loaded) -> tuple:
    """A paged gallery's widgets: its items, what it holds, and Load more while there is more."""
    return list(shown.items), shown, gr.update(visible=shown.has_more)


def _picked(image: PickedImage) -> tuple:
    return (image.asset_id, image.path, image.details,
            gr.update(value=image.download, visible=image.download is not None))


def _nothing_picked():
    return _picked(NOTHING_PICKED)

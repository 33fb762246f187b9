"""Gen Space's middle and bottom areas: results, asset library, image actions, storyboard.

One "selected image" serves both galleries, so every action (use as reference, apply
to shot, edit, download, delete, details) works the same wherever the image was picked.
"""

from __future__ import annotations

import gradio as gr

from studio.services.generation import user_subdir
from studio.services.studio import Studio
from studio.ui import formatting as fmt
from studio.ui import gen_space_view as view
from studio.ui.common import GPU, UI, guard, run_cancellable
from studio.ui.session import user_of

LIBRARY_FILTERS = [("This project", "project"), ("This shot", "shot"), ("Characters", "character"),
                   ("Scenes", "scene"), ("Props", "prop"), ("Uploads", "upload")]


def layout_panels() -> dict:
    p: dict = {}
    with gr.Tabs():
        with gr.Tab("Results", id="gs-results-tab"):
            p["results"] = gr.Gallery(fit_columns=False, columns=4, height=300, allow_preview=True, object_fit="contain", format="png",
                                      label="Results for the selected shot", elem_id="gs-results",
                                      buttons=["fullscreen"])
        with gr.Tab("Asset library", id="gs-library-tab"):
            with gr.Row():
                p["library_filter"] = gr.Radio(LIBRARY_FILTERS, value="project", show_label=False, scale=4,
                                               elem_id="library-filter")
                p["upload"] = gr.UploadButton("Upload image", file_types=[".png", ".jpg", ".jpeg", ".webp"],
                                              scale=1, elem_id="upload")
            p["library"] = gr.Gallery(fit_columns=False, columns=6, height=300, allow_preview=True, object_fit="cover", format="png",
                                      label="Asset library", elem_id="gs-library", buttons=["fullscreen"])
    p["selected"] = gr.State(None)
    p["result_ids"] = gr.State([])
    p["library_ids"] = gr.State([])
    with gr.Row(elem_id="image-actions"):
        p["use_ref"] = gr.Button("Use as reference image", size="sm", elem_id="use-as-reference")
        p["apply"] = gr.Button("Apply to shot", size="sm", variant="primary", elem_id="apply-to-shot")
        p["download"] = gr.DownloadButton("Download", size="sm", elem_id="gs-download", visible=False)
        p["confirm_delete"] = gr.Checkbox(label="Confirm delete", value=False, scale=0, min_width=120)
        p["delete"] = gr.Button("Delete", size="sm", variant="stop", elem_id="gs-delete")
    with gr.Accordion("Edit the selected image", open=False, elem_id="edit-image"):
        with gr.Row():
            p["rotate"] = gr.Dropdown([("90° clockwise", 90), ("180°", 180), ("90° counter-clockwise", 270)],
                                      value=90, label="Rotate", scale=2)
            p["do_rotate"] = gr.Button("Rotate", size="sm", scale=1)
            p["flip"] = gr.Radio([("Mirror", "horizontal"), ("Upside down", "vertical")], value="horizontal",
                                 label="Flip", scale=2)
            p["do_flip"] = gr.Button("Flip", size="sm", scale=1)
        with gr.Row():
            p["crop"] = [gr.Slider(0, 1, value=v, step=0.01, label=l) for l, v in
                         (("Left", 0.0), ("Top", 0.0), ("Right", 1.0), ("Bottom", 1.0))]
            p["do_crop"] = gr.Button("Crop", size="sm")
        with gr.Row():
            p["edit_prompt"] = gr.Textbox(label="Change it by prompt (image-to-image)", scale=4,
                                          placeholder="e.g. same character, now wearing a red coat")
            p["edit_strength"] = gr.Slider(0.1, 1.0, value=0.5, step=0.05, label="How much to change", scale=2)
            p["do_edit"] = gr.Button("Edit by prompt", size="sm", scale=1, elem_id="edit-by-prompt")
    p["details"] = gr.Markdown(view.asset_details_markdown(None), elem_id="gs-details")
    return p


def layout_storyboard() -> dict:
    s: dict = {}
    with gr.Accordion("Storyboard", open=False, elem_id="storyboard"):
        gr.Markdown("The shots in order with their applied images. Export them as a ZIP (PNGs with their "
                    "metadata and a JSON manifest) and as one contact sheet.")
        s["board"] = gr.Gallery(fit_columns=False, columns=6, height=240, allow_preview=True, object_fit="cover", show_label=False,
                                elem_id="storyboard-gallery")
        with gr.Row():
            s["refresh"] = gr.Button("Refresh storyboard", size="sm")
            s["export"] = gr.Button("Export storyboard", variant="primary", size="sm", elem_id="export-storyboard")
        with gr.Row():
            s["zip"] = gr.File(label="Storyboard ZIP", elem_id="storyboard-zip")
            s["sheet"] = gr.Image(label="Contact sheet", type="filepath", elem_id="contact-sheet")
    return s


def wire_panels(studio: Studio, w: dict, p: dict, s: dict, balance_box: gr.HTML) -> None:
    project, shot_id = w["project"], w["shot_id"]

    def user_project(request, project_id):
        user = user_of(request)
        return user, w["current_project"](user, project_id)

    def results_for(user, sid):
        if not sid:
            return [], []
        shot = studio.shots.get(user, sid)
        history = list(reversed(shot.get("history", [])))
        found = studio.assets.get_many(user, history)
        return view.asset_items(studio, [found[a] for a in history if a in found])

    def library_for(user, pid, sid, how):
        if how == "shot":
            if not sid:
                return [], []
            assets = studio.assets.list(user, project_id=pid, shot_id=sid)
        elif how in ("character", "scene", "prop"):
            assets = studio.assets.list(user, project_id=pid, shot_type=how)
        elif how == "upload":
            assets = studio.assets.list(user, project_id=pid, kind="upload")
        else:
            assets = studio.assets.list(user, project_id=pid)
        return view.asset_items(studio, assets)

    def refresh_galleries(project_id, sid, how, request: gr.Request):
        user, pid = user_project(request, project_id)
        res, res_ids = results_for(user, sid)
        lib, lib_ids = library_for(user, pid, sid, how)
        return res, res_ids, lib, lib_ids

    gallery_outs = [p["results"], p["result_ids"], p["library"], p["library_ids"]]
    gallery_ins = [project, shot_id, p["library_filter"]]

    def select_from(ids, evt: gr.SelectData, request: gr.Request):
        if evt.index is None or evt.index >= len(ids):
            return None, view.asset_details_markdown(None), gr.update(visible=False)
        details = studio.assets.details(user_of(request), ids[evt.index])
        return details["id"], view.asset_details_markdown(details), gr.update(value=details["path"], visible=True)

    def need_selected(asset_id):
        if not asset_id:
            raise gr.Error("Click an image in the results or the library first.")
        return asset_id

    @guard
    def use_as_reference(project_id, asset_id, request: gr.Request):
        user, pid = user_project(request, project_id)
        studio.assets.add_reference(user, pid, need_selected(asset_id))
        return w["reference_widgets"](user, pid)

    @guard
    def apply_to_shot(project_id, sid, asset_id, filter_value, request: gr.Request):
        user, pid = user_project(request, project_id)
        if not sid:
            raise gr.Error("Select the shot to apply the image to.")
        shot = studio.shots.apply_asset(user, sid, need_selected(asset_id))
        cards, ids = w["navigator"](user, pid, filter_value)
        return cards, ids, view.shot_header(shot)

    @guard
    def delete_selected(project_id, asset_id, confirmed, request: gr.Request):
        user, pid = user_project(request, project_id)
        studio.assets.delete(user, need_selected(asset_id), confirm=bool(confirmed))
        return None, view.asset_details_markdown(None), gr.update(visible=False), False

    @guard
    def transform(asset_id, op, params, request: gr.Request):
        new = studio.assets.edit_transform(user_of(request), need_selected(asset_id), op, **params)
        details = studio.assets.details(user_of(request), new["id"])
        return details["id"], view.asset_details_markdown(details), gr.update(value=details["path"], visible=True)

    def edit_by_prompt(asset_id, sid, model_id, text, amount, request: gr.Request, progress=gr.Progress()):
        user = user_of(request)
        source = need_selected(asset_id)
        result = run_cancellable(studio, request, progress, lambda report, token: studio.gen_space.edit_with_prompt(
            user, source, prompt=text, model_id=model_id, strength=amount, shot_id=sid, progress=report,
            cancel=token))
        details = studio.assets.details(user, result.images[0].asset_id)
        return (details["id"], view.asset_details_markdown(details), gr.update(value=details["path"], visible=True),
                fmt.balance_text(result.balance))

    @guard
    def upload(project_id, file, request: gr.Request):
        user, pid = user_project(request, project_id)
        if file is None:
            raise gr.Error("Choose an image file to upload.")
        path = file if isinstance(file, str) else file.name
        asset = studio.assets.upload(user, pid, path, original_name=path.rsplit("/", 1)[-1])
        return {k: v for k, v in asset.items()}, "project"

    def board(project_id, request: gr.Request):
        user, pid = user_project(request, project_id)
        return view.storyboard_items(studio, user, studio.shots.list(user, pid))

    @guard
    def export(project_id, request: gr.Request):
        user, pid = user_project(request, project_id)
        zip_path, sheet = studio.storyboard.export_storyboard(
            user, pid, out_dir=studio.exports_dir / user_subdir(user))
        return str(zip_path), str(sheet), view.storyboard_items(studio, user, studio.shots.list(user, pid))

    def refresh_navigator_and_refs(project_id, filter_value, request: gr.Request):
        user, pid = user_project(request, project_id)
        return (*w["navigator"](user, pid, filter_value), *w["reference_widgets"](user, pid))

    select_outs = [p["selected"], p["details"], p["download"]]
    p["results"].select(select_from, p["result_ids"], select_outs, api_name="ui_select_result", **UI)
    p["library"].select(select_from, p["library_ids"], select_outs, api_name="ui_select_library", **UI)
    def on_shot_changed(project_id, sid, how, request: gr.Request):
        return (*refresh_galleries(project_id, sid, how, request), None, view.asset_details_markdown(None),
                gr.update(visible=False), "")

    for i, event in enumerate(w["shot_changed"]):
        event.then(on_shot_changed, gallery_ins, gallery_outs + [p["selected"], p["details"], p["download"], w["status"]],
                   api_name=f"ui_shot_changed_{i}", **UI)
    p["library_filter"].change(refresh_galleries, gallery_ins, gallery_outs, api_name="ui_refresh_galleries", **UI)
    w["gen_event"].then(refresh_galleries, gallery_ins, gallery_outs, api_name="ui_after_generate", **UI)
    p["use_ref"].click(use_as_reference, [project, p["selected"]], [w["refs"], w["ref_ids"]],
                       api_name="ui_use_as_reference", **UI)
    p["apply"].click(apply_to_shot, [project, shot_id, p["selected"], w["type_filter"]],
                     [w["nav"], w["nav_ids"], w["header"]], api_name="ui_apply_to_shot", **UI)
    p["delete"].click(delete_selected, [project, p["selected"], p["confirm_delete"]],
                      [*select_outs, p["confirm_delete"]], api_name="ui_delete_asset", **UI).then(
        refresh_galleries, gallery_ins, gallery_outs, api_name="ui_after_delete", **UI).then(
        refresh_navigator_and_refs, [project, w["type_filter"]], [w["nav"], w["nav_ids"], w["refs"], w["ref_ids"]],
        api_name="ui_after_delete_refresh", **UI)
    for button, op, inputs in (
        (p["do_rotate"], "rotate", [p["rotate"]]),
        (p["do_flip"], "flip", [p["flip"]]),
        (p["do_crop"], "crop", p["crop"]),
    ):
        keys = {"rotate": ["degrees"], "flip": ["direction"], "crop": ["left", "top", "right", "bottom"]}[op]

        def run(asset_id, *values, request: gr.Request, _op=op, _keys=keys):
            return transform(asset_id, _op, dict(zip(_keys, values[: len(_keys)])), request)

        button.click(run, [p["selected"], *inputs], select_outs, api_name=f"ui_edit_{op}", **UI).then(
            refresh_galleries, gallery_ins, gallery_outs, api_name=f"ui_after_edit_{op}", **UI)
    p["do_edit"].click(edit_by_prompt, [p["selected"], shot_id, w["model"], p["edit_prompt"], p["edit_strength"]],
                       [*select_outs, balance_box], api_name="ui_edit_by_prompt", concurrency_id=GPU,
                       concurrency_limit=studio.gpu_concurrency).then(refresh_galleries, gallery_ins, gallery_outs,
                                                 api_name="ui_after_edit_by_prompt", **UI)
    upload_json = gr.JSON(visible=False)
    p["upload"].upload(upload, [project, p["upload"]], [upload_json, p["library_filter"]], api_name="upload_asset").then(
        refresh_galleries, gallery_ins, gallery_outs, api_name="ui_after_upload", **UI)
    s["refresh"].click(board, project, s["board"], api_name="ui_storyboard", **UI)
    s["export"].click(export, project, [s["zip"], s["sheet"], s["board"]], api_name="export_storyboard")

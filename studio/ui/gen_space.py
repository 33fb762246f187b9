"""The Gen Space tab: project bar, shot navigator, generation settings with references.

Results, library and storyboard panels live in gen_space_panels.py; both only turn
widgets into service calls and service records into widgets.
"""

from __future__ import annotations

import gradio as gr

from pipelines.types import MAX_REFERENCES
from studio.services.gen_space import ShotJob, describe_reference_support, reference_mode
from studio.services.studio import Studio
from studio.ui import formatting as fmt
from studio.ui import gen_space_view as view
from studio.ui.common import GPU, UI, USER_ERRORS, guard, run_cancellable
from studio.ui.gen_space_panels import layout_panels
from studio.ui.session import caller_key, user_of

def build_gen_space(studio: Studio, balance_box: gr.HTML) -> dict:
    default_model = studio.choose_default_model()
    models = [(fmt.model_label(m, studio.is_downloaded(m.id)), m.id) for m in studio.catalog.models]
    w: dict = {}

    shot_id = gr.State(None)
    nav_ids = gr.State([])
    w["shot_id"], w["nav_ids"] = shot_id, nav_ids

    with gr.Row(elem_id="project-bar"):
        project = gr.Dropdown(label="Project", choices=[], scale=3, elem_id="project", allow_custom_value=True)
        new_name = gr.Textbox(label="Project name", placeholder="New or renamed project", scale=3)
        create_project = gr.Button("New project", scale=1, elem_id="create-project")
        rename_project = gr.Button("Rename", scale=1)
        with gr.Column(scale=2, min_width=160):
            confirm_project = gr.Checkbox(label="Yes, delete this project", value=False)
            delete_project = gr.Button("Delete project", variant="stop", size="sm")
    w["project"] = project

    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=280, elem_id="navigator"):
            gr.Markdown("### Shots")
            type_filter = gr.Radio(view.FILTERS, value="all", show_label=False, elem_id="shot-filter")
            nav = gr.Gallery(fit_columns=False, columns=2, height=420, allow_preview=False, show_label=False, object_fit="cover",
                             elem_id="shot-cards", buttons=[])
            with gr.Accordion("Shot element", open=True, elem_id="shot-editor"):
                shot_type = gr.Radio([(v, k) for k, v in view.TYPE_LABEL.items()], value="character", label="Type",
                                     elem_id="shot-type")
                shot_name = gr.Textbox(label="Name", placeholder="e.g. Mira, the harbour at dawn", elem_id="shot-name")
                shot_desc = gr.Textbox(label="Description (the starting prompt)", lines=3, elem_id="shot-desc")
                with gr.Row():
                    create_shot = gr.Button("Add as new shot", variant="primary", size="sm", elem_id="create-shot")
                    save_shot = gr.Button("Save changes", size="sm", elem_id="save-shot")
                with gr.Row():
                    move_up = gr.Button("Move up", size="sm")
                    move_down = gr.Button("Move down", size="sm")
                    delete_shot = gr.Button("Delete shot", variant="stop", size="sm", elem_id="delete-shot")
        with gr.Column(scale=7, min_width=480):
            header = gr.Markdown(view.shot_header(None), elem_id="shot-header")
            w["header"] = header
            w["panels"] = layout_panels()
            with gr.Group(elem_id="gen-settings"):
                with gr.Row():
                    model = gr.Dropdown(models, value=default_model, label="Model", scale=3, elem_id="gs-model")
                    count = gr.Radio([1, 2, 3, 4], value=2, label="Number of images", scale=2, elem_id="gs-count")
                support = gr.Markdown(describe_reference_support(studio.catalog.get(default_model)),
                                      elem_id="gs-support")
                prompt = gr.Textbox(label="Prompt", lines=3, elem_id="gs-prompt",
                                    placeholder="Select a shot: its description becomes the starting prompt.")
                with gr.Row():
                    counter = gr.HTML(fmt.prompt_counter(""))
                    enhance = gr.Checkbox(label="Enhance prompt", value=False)
                with gr.Accordion("Style, aspect and seed", open=False):
                    style = gr.Radio([(s.name, s.id) for s in studio.styles], value="auto", label="Style")
                    aspect = gr.Radio(fmt.ASPECT_CHOICES, value="1:1", label="Aspect ratio")
                    seed = gr.Number(label="Seed (-1 = random)", value=-1, precision=0)
                gr.Markdown(f"**Reference images** (up to {MAX_REFERENCES}; add them from the results or the asset library)")
                refs = gr.Gallery(fit_columns=False, columns=6, height=130, allow_preview=False, show_label=False, object_fit="cover",
                                  elem_id="references", buttons=[])
                ref_ids = gr.State([])
                selected_ref = gr.State(None)
                with gr.Row():
                    remove_ref = gr.Button("Remove selected reference", size="sm", elem_id="remove-ref")
                    clear_refs = gr.Button("Clear references", size="sm")
                with gr.Row():
                    scale = gr.Slider(0.0, 1.0, value=0.6, step=0.05, label="Reference strength (IP-Adapter scale)")
                    strength = gr.Slider(0.1, 1.0, value=0.6, step=0.05, label="Change from the first reference (img2img)")
                with gr.Row():
                    generate = gr.Button("Generate for shot", variant="primary", scale=3, elem_id="gs-generate",
                                         interactive=False)
                    cancel = gr.Button("Cancel", variant="stop", scale=1, elem_id="gs-cancel")
                reason = gr.Markdown(elem_id="gs-reason")
                with gr.Accordion("Same settings for several shots (consistency flow)", open=False, elem_id="batch"):
                    gr.Markdown("Generate for each selected shot with the prompt of that shot's description "
                                "(or the prompt above when a shot has none), the same model, style and references.")
                    with gr.Row():
                        batch_type = gr.Radio([("All characters", "character"), ("All scenes", "scene"),
                                               ("All props", "prop")], label="Select by type", scale=2)
                        batch_shots = gr.CheckboxGroup([], label="Shots", scale=3, elem_id="batch-shots")
                    with gr.Row():
                        batch_cost = gr.Markdown("Select shots to see the cost.", elem_id="batch-cost")
                        batch_run = gr.Button("Generate for selected shots", elem_id="batch-run")
                status = gr.Markdown(elem_id="gs-status")
    w.update(model=model, count=count, prompt=prompt, enhance=enhance, style=style, aspect=aspect, seed=seed,
             refs=refs, ref_ids=ref_ids, scale=scale, strength=strength, status=status, generate=generate)

    # ----- helpers -------------------------------------------------------------------
    def current_project(user: str, project_id: str | None) -> str:
        if project_id:
            return project_id
        return studio.projects.ensure_default(user)["id"]

    def navigator(user, project_id, filter_value):
        shots = studio.shots.list(user, project_id, None if filter_value == "all" else filter_value)
        return view.shot_cards(studio, user, shots), [s["id"] for s in shots]

    def reference_widgets(user, project_id):
        ids = studio.assets.references(user, project_id)
        items, shown = view.asset_items(studio, [studio.assets.get(user, a) for a in ids])
        return items, shown

    # ----- callbacks -----------------------------------------------------------------
    def load_space(request: gr.Request):
        user = user_of(request)
        pid = studio.projects.ensure_default(user)["id"]
        choices = [(p["name"], p["id"]) for p in studio.projects.list(user)]
        cards, ids = navigator(user, pid, "all")
        ref_items, refs_shown = reference_widgets(user, pid)
        return gr.update(choices=choices, value=pid), cards, ids, ref_items, refs_shown

    @guard
    def switch_project(project_id, filter_value, request: gr.Request):
        user = user_of(request)
        pid = current_project(user, project_id)
        cards, ids = navigator(user, pid, filter_value)
        ref_items, refs_shown = reference_widgets(user, pid)
        return cards, ids, None, view.shot_header(None), ref_items, refs_shown

    @guard
    def make_project(name, request: gr.Request):
        user = user_of(request)
        doc = studio.projects.create(user, name)
        return gr.update(choices=[(p["name"], p["id"]) for p in studio.projects.list(user)], value=doc["id"]), ""

    @guard
    def rename(project_id, name, request: gr.Request):
        user = user_of(request)
        studio.projects.rename(user, current_project(user, project_id), name)
        return gr.update(choices=[(p["name"], p["id"]) for p in studio.projects.list(user)], value=project_id), ""

    @guard
    def remove_project(project_id, confirmed, request: gr.Request):
        user = user_of(request)
        studio.projects.delete(user, current_project(user, project_id), confirm=bool(confirmed))
        pid = studio.projects.ensure_default(user)["id"]
        return gr.update(choices=[(p["name"], p["id"]) for p in studio.projects.list(user)], value=pid), False

    @guard
    def select_shot(ids, evt: gr.SelectData, request: gr.Request):
        if evt.index is None or evt.index >= len(ids):
            raise gr.Error("That shot is no longer in the list.")
        shot = studio.shots.get(user_of(request), ids[evt.index])
        return (shot["id"], view.shot_header(shot), shot["type"], shot["name"], shot["description"],
                shot["description"], fmt.prompt_counter(shot["description"]))

    @guard
    def add_shot(project_id, type_, name, desc, filter_value, request: gr.Request):
        user = user_of(request)
        pid = current_project(user, project_id)
        shot = studio.shots.create(user, pid, type=type_, name=name, description=desc or "")
        cards, ids = navigator(user, pid, filter_value)
        return cards, ids, shot["id"], view.shot_header(shot), shot["description"], fmt.prompt_counter(shot["description"])

    @guard
    def edit_shot(project_id, sid, type_, name, desc, filter_value, request: gr.Request):
        user = user_of(request)
        if not sid:
            raise gr.Error("Select a shot first.")
        shot = studio.shots.update(user, sid, name=name, description=desc, type=type_)
        cards, ids = navigator(user, shot["project_id"], filter_value)
        return cards, ids, view.shot_header(shot)

    @guard
    def move(project_id, sid, direction, filter_value, request: gr.Request):
        user = user_of(request)
        if not sid:
            raise gr.Error("Select a shot first.")
        studio.shots.move(user, sid, direction)
        return navigator(user, current_project(user, project_id), filter_value)

    @guard
    def drop_shot(project_id, sid, filter_value, request: gr.Request):
        user = user_of(request)
        if not sid:
            raise gr.Error("Select a shot first.")
        studio.shots.delete(user, sid)
        cards, ids = navigator(user, current_project(user, project_id), filter_value)
        return cards, ids, None, view.shot_header(None)

    def describe_support(model_id):
        return describe_reference_support(studio.catalog.get(model_id))

    def pick_ref(evt: gr.SelectData):
        return evt.index

    @guard
    def unref(project_id, ids, index, request: gr.Request):
        user = user_of(request)
        pid = current_project(user, project_id)
        if index is None or index >= len(ids):
            raise gr.Error("Click a reference image first, then remove it.")
        studio.assets.remove_reference(user, pid, ids[index])
        return (*reference_widgets(user, pid), None)

    @guard
    def clear(project_id, request: gr.Request):
        user = user_of(request)
        pid = current_project(user, project_id)
        studio.assets.clear_references(user, pid)
        return (*reference_widgets(user, pid), None)

    def cost_label(model_id, n, sid, text, request: gr.Request):
        try:
            cost = studio.generation.estimate(model_id, n)
        except USER_ERRORS as exc:
            return gr.update(interactive=False), str(exc), fmt.prompt_counter(text)
        why = None if sid else "Select or add a shot to generate for it."
        why = why or fmt.blocking_reason(text, cost, studio.credits.balance(user_of(request)))
        return (gr.update(value=f"Generate for shot · {cost} credit{'s' if cost != 1 else ''}", interactive=why is None),
                why or "", fmt.prompt_counter(text))

    def run_for_shot(project_id, sid, model_id, n, text, enhance_on, style_id, aspect_id, seed_value, ids,
                     ip_scale, img_strength, request: gr.Request, progress=gr.Progress()):
        user = user_of(request)
        if not sid:
            raise gr.Error("Select a shot first.")
        job = ShotJob(model_id=model_id, count=n, prompt=text, style_id=style_id, aspect=aspect_id,
                      enhance=bool(enhance_on), seed=seed_value, reference_ids=tuple(ids or ()),
                      ip_adapter_scale=ip_scale, strength=img_strength)
        result = run_cancellable(studio, request, progress, lambda report, token: studio.gen_space.generate_for_shot(
            user, sid, job, progress=report, cancel=token))
        shot = studio.shots.get(user, sid)
        entry = studio.catalog.get(model_id)
        note = f"{len(result.images)} image(s) for **{shot['name']}** · {result.cost} credits"
        if ids and reference_mode(entry) is None:
            note += " · this model ignored the reference images"
        return note, fmt.balance_text(result.balance), view.shot_header(shot)

    def batch_choices(project_id, selected, request: gr.Request):
        user = user_of(request)
        shots = studio.shots.list(user, current_project(user, project_id))
        keep = [x["id"] for x in shots if x["id"] in (selected or [])]
        return gr.update(choices=[(f"{x['name']} · {view.TYPE_LABEL[x['type']]}", x["id"]) for x in shots], value=keep)

    def select_type(project_id, type_, request: gr.Request):
        user = user_of(request)
        return [x["id"] for x in studio.shots.list(user, current_project(user, project_id), type_)]

    def batch_estimate(ids, model_id, n, request: gr.Request):
        if not ids:
            return "Select shots to see the cost."
        try:
            total = studio.gen_space.estimate_batch(user_of(request), ids, model_id, n)
        except USER_ERRORS as exc:
            return str(exc)
        return f"Total: **{total} credits** for {len(ids)} shot(s) × {n} image(s)."

    def run_batch(ids, model_id, n, text, enhance_on, style_id, aspect_id, seed_value, refs_in_use, ip_scale,
                  img_strength, request: gr.Request, progress=gr.Progress()):
        user = user_of(request)
        job = ShotJob(model_id=model_id, count=n, prompt=text, style_id=style_id, aspect=aspect_id,
                      enhance=bool(enhance_on), seed=seed_value, reference_ids=tuple(refs_in_use or ()),
                      ip_adapter_scale=ip_scale, strength=img_strength)
        results = run_cancellable(studio, request, progress, lambda report, token: studio.gen_space.generate_batch(
            user, list(ids or []), job, progress=report, cancel=token, prompt_from_shot=True))
        done = [f"{studio.shots.get(user, sid)['name']}: {len(r.images)}" for sid, r in results]
        if results.failures:
            gr.Warning(results.message)
        return f"Done: {', '.join(done)} image(s).", fmt.balance_text(studio.credits.balance(user))

    def cancel_job(request: gr.Request):
        return "Cancelling… credits will be refunded." if studio.cancels.cancel(caller_key(request)) else "Nothing is running."

    # ----- wiring -------------------------------------------------------------------
    w["load"] = [(load_space, None, [project, nav, nav_ids, refs, ref_ids], "gs_load")]
    nav_out = [nav, nav_ids]
    shot_changed = [project.input(switch_project, [project, type_filter], [nav, nav_ids, shot_id, header, refs, ref_ids],
                                  api_name="ui_switch_project", **UI)]

    def filter_shots(project_id, filter_value, request: gr.Request):
        user = user_of(request)
        return navigator(user, current_project(user, project_id), filter_value)

    def move_up_fn(project_id, sid, filter_value, request: gr.Request):
        return move(project_id, sid, "up", filter_value, request)

    def move_down_fn(project_id, sid, filter_value, request: gr.Request):
        return move(project_id, sid, "down", filter_value, request)

    type_filter.change(filter_shots, [project, type_filter], nav_out, api_name="ui_filter_shots", **UI)
    shot_changed.append(create_project.click(
        make_project, new_name, [project, new_name], api_name="ui_create_project", **UI).then(
        switch_project, [project, type_filter], [nav, nav_ids, shot_id, header, refs, ref_ids],
        api_name="ui_after_create_project", **UI))
    rename_project.click(rename, [project, new_name], [project, new_name], api_name="ui_rename_project", **UI)
    shot_changed.append(delete_project.click(
        remove_project, [project, confirm_project], [project, confirm_project], api_name="ui_delete_project", **UI).then(
        switch_project, [project, type_filter], [nav, nav_ids, shot_id, header, refs, ref_ids],
        api_name="ui_after_delete_project", **UI))
    cost_check = (cost_label, [model, count, shot_id, prompt], [generate, reason, counter])
    selected = nav.select(select_shot, nav_ids, [shot_id, header, shot_type, shot_name, shot_desc, prompt, counter],
                          api_name="ui_select_shot", **UI)
    selected.then(*cost_check, api_name="ui_shot_cost_after_select", **UI)
    created = create_shot.click(add_shot, [project, shot_type, shot_name, shot_desc, type_filter],
                                [nav, nav_ids, shot_id, header, prompt, counter], api_name="ui_create_shot", **UI)
    created.then(*cost_check, api_name="ui_shot_cost_after_create", **UI)
    save_shot.click(edit_shot, [project, shot_id, shot_type, shot_name, shot_desc, type_filter],
                    [nav, nav_ids, header], api_name="ui_update_shot", **UI)
    move_up.click(move_up_fn, [project, shot_id, type_filter], nav_out, api_name="ui_move_shot_up", **UI)
    move_down.click(move_down_fn, [project, shot_id, type_filter], nav_out, api_name="ui_move_shot_down", **UI)
    deleted = delete_shot.click(drop_shot, [project, shot_id, type_filter], [nav, nav_ids, shot_id, header],
                                api_name="ui_delete_shot", **UI)
    shot_changed += [selected, created, deleted]
    model.change(describe_support, model, support, api_name="ui_reference_support", **UI)
    refs.select(pick_ref, None, selected_ref, api_name="ui_pick_reference", **UI)
    remove_ref.click(unref, [project, ref_ids, selected_ref], [refs, ref_ids, selected_ref],
                     api_name="ui_remove_reference", **UI)
    clear_refs.click(clear, project, [refs, ref_ids, selected_ref], api_name="ui_clear_references", **UI)
    gr.on([model.change, count.change, prompt.input], *cost_check, api_name="ui_shot_cost",
          trigger_mode="always_last", **UI)
    gen_event = generate.click(
        run_for_shot,
        [project, shot_id, model, count, prompt, enhance, style, aspect, seed, ref_ids, scale, strength],
        [status, balance_box, header],
        api_name="ui_generate_for_shot", api_visibility="undocumented", concurrency_id=GPU, concurrency_limit=studio.gpu_concurrency,
        show_progress_on=[w["panels"]["results"]],
    )
    gen_event.then(*cost_check, api_name="ui_shot_cost_after_generate", **UI)
    gr.on([nav.change, project.input], batch_choices, [project, batch_shots], batch_shots, api_name="ui_batch_choices", **UI)
    batch_type.input(select_type, [project, batch_type], batch_shots, api_name="ui_batch_select_type", **UI)
    gr.on([batch_shots.change, model.change, count.change], batch_estimate, [batch_shots, model, count], batch_cost,
          api_name="ui_batch_cost", **UI)
    batch_event = batch_run.click(
        run_batch, [batch_shots, model, count, prompt, enhance, style, aspect, seed, ref_ids, scale, strength],
        [status, balance_box], api_name="ui_generate_batch", api_visibility="undocumented", concurrency_id=GPU, concurrency_limit=studio.gpu_concurrency,
        show_progress_on=[w["panels"]["results"]])
    cancel.click(cancel_job, None, status, api_name="ui_cancel_shot_job", queue=False)
    w.update(shot_changed=shot_changed, gen_event=gen_event, navigator=navigator, reference_widgets=reference_widgets,
             current_project=current_project, type_filter=type_filter, nav=nav, jobs=[gen_event, batch_event])
    return w

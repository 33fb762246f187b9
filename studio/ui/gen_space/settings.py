"""Gen Space's bottom area: the generation settings, always in reach.

Model, count, prompt, references, the cost and Generate sit in one bar that stays
on screen while the results above it scroll (see studio.css, #gen-settings).
"""

from __future__ import annotations

import gradio as gr

from pipelines.params import MAX_REFERENCES, PARAMS
from studio.services.gen_space.shot_generation import describe_reference_support, reference_mode
from studio.services.generation.requests import References, StudioRequest
from studio.ui.shared import formatting as fmt
from studio.ui.shared import params
from studio.ui.shared.balance import Balance
from studio.ui.gen_space import view
from studio.ui.shared.common import GPU, guard, run_cancellable
from studio.ui.shared.events import UI
from studio.ui.gen_space.queries import SpaceQueries
from studio.ui.gen_space.shots import NO_SHOT
from studio.ui.gen_space.widgets import GenerationSettings, Navigator, ProjectBar
from studio.ui.shared.session import caller_key, user_of


def layout_settings(studio) -> GenerationSettings:
    default_model = studio.choose_default_model()
    models = [(fmt.model_label(m, studio.is_downloaded(m.id)), m.id) for m in studio.catalog.models]
    ref_ids, selected_ref = gr.State([]), gr.State(None)
    with gr.Group(elem_id="gen-settings"):
        with gr.Row(equal_height=True, elem_id="gs-main-row"):
            model = gr.Dropdown(models, value=default_model, label="Model", scale=3, min_width=200, elem_id="gs-model")
            count = gr.Radio(PARAMS["count"].choices(), value=PARAMS["count"].default_for("gen_space"), label="Images", scale=2, min_width=170, elem_id="gs-count")
            generate = gr.Button("Generate for shot", variant="primary", scale=2, min_width=170, interactive=False,
                                 elem_id="gs-generate")
            cancel = gr.Button("Cancel", variant="stop", scale=1, min_width=80, elem_id="gs-cancel")
        with gr.Row(equal_height=False, elem_id="gs-prompt-row"):
            with gr.Column(scale=5, min_width=260):
                prompt = gr.Textbox(label="Prompt", lines=2, max_lines=6, elem_id="gs-prompt",
                                    placeholder="Select a shot: its description becomes the starting prompt.")
                with gr.Row(equal_height=True):
                    counter = gr.HTML(fmt.prompt_counter(""), elem_id="gs-counter")
                    reason = gr.Markdown(elem_id="gs-reason")
            with gr.Column(scale=3, min_width=220, elem_id="gs-refs"):
                refs = gr.Gallery(fit_columns=False, columns=6, rows=1, height=86, allow_preview=False, object_fit="contain",
                                  label=f"References (up to {MAX_REFERENCES})", elem_id="references", buttons=[])
                with gr.Row():
                    remove_ref = gr.Button("Remove selected", size="sm", elem_id="remove-ref")
                    clear_refs = gr.Button("Clear", size="sm", elem_id="clear-refs")
        status = gr.Markdown(elem_id="gs-status")
    # Below the bar, out of the sticky part: opened now and then, they would hide the results.
    with gr.Group(elem_id="gen-settings-more"):
        with gr.Accordion("More settings: style, aspect, seed, reference strength", open=False,
                          elem_id="gs-more"):
            support = gr.Markdown(describe_reference_support(studio.catalog.get(default_model)), elem_id="gs-support")
            enhance = gr.Checkbox(label="Enhance prompt", value=False, elem_id="gs-enhance")
            style = gr.Radio([(s.name, s.id) for s in studio.styles], value="auto", label="Style", elem_id="gs-style")
            aspect = gr.Radio(fmt.ASPECT_CHOICES, value="1:1", label="Aspect ratio", elem_id="gs-aspect")
            seed = params.number("seed", elem_id="gs-seed")
            with gr.Row():
                scale = params.slider("ip_adapter_scale", elem_id="gs-scale")
                strength = params.slider("strength", elem_id="gs-strength")
        with gr.Accordion("Same settings for several shots (consistency flow)", open=False, elem_id="batch"):
            gr.Markdown("Generates for each chosen shot from that shot's description (the prompt above stands in "
                        "when a shot has none), with the same model, style and references.")
            with gr.Row():
                batch_type = gr.Radio([("All characters", "character"), ("All scenes", "scene"),
                                       ("All props", "prop")], label="Choose by type", scale=2,
                                      elem_id="batch-type")
                batch_shots = gr.CheckboxGroup([], label="Shots", scale=3, elem_id="batch-shots")
            with gr.Row(equal_height=True):
                batch_cost = gr.Markdown("Choose shots to see the cost.", elem_id="batch-cost")
                batch_run = gr.Button("Generate for chosen shots", interactive=False, elem_id="batch-run")
    return GenerationSettings(model, count, prompt, counter, enhance, style, aspect, seed, support, refs, ref_ids,
                              selected_ref, remove_ref, clear_refs, scale, strength, generate, cancel, reason, status,
                              batch_type, batch_shots, batch_cost, batch_run)


def wire_settings(studio, q: SpaceQueries, bar: ProjectBar, nav: Navigator, s: GenerationSettings,
                  balance: Balance) -> list:
    """Wires the bar; returns the GPU events (they take credits)."""
    project = bar.project

    def cost_state(sid, n, model_id, text, enhance_on, style_id, aspect_id, seed_value, ids, ip_scale, img_strength,
                   request: gr.Request):
        job = job_from(user_of(request), n, model_id, text, enhance_on, style_id, aspect_id, seed_value, ids, ip_scale,
                       img_strength)
        preflight = studio.gen_space.preflight_for_shot(sid, job)
        button, why = fmt.preflight_button(preflight)
        if not sid:
            button, why = gr.update(value=fmt.generate_label(preflight.cost), interactive=False), NO_SHOT
        return button, why, fmt.prompt_counter(text)

    def batch_estimate(ids, n, model_id, text, enhance_on, style_id, aspect_id, seed_value, refs_in_use, ip_scale,
                       img_strength, request: gr.Request):
        if not ids:
            return gr.update(value="Generate for chosen shots", interactive=False), "Choose shots to see the cost."
        job = job_from(user_of(request), n, model_id, text, enhance_on, style_id, aspect_id, seed_value, refs_in_use,
                       ip_scale, img_strength)
        preflight = studio.gen_space.preflight_batch(list(ids), job)
        button, why = fmt.preflight_button(preflight, "Generate for chosen shots")
        return button, why or f"{len(ids)} shot(s) × {n} image(s)."

    def job_from(user, n, model_id, text, enhance_on, style_id, aspect_id, seed_value, ids, ip_scale, img_strength):
        return StudioRequest(user=user, model_id=model_id, count=n, prompt=text, style_id=style_id, aspect=aspect_id,
                             enhance=bool(enhance_on), seed=seed_value,
                             references=References(asset_ids=tuple(ids or ()), ip_adapter_scale=ip_scale,
                                                   strength=img_strength))

    def run_for_shot(sid, model_id, n, text, enhance_on, style_id, aspect_id, seed_value, ids, ip_scale,
                     img_strength, request: gr.Request, progress=gr.Progress()):
        user = user_of(request)
        if not sid:
            raise gr.Error(NO_SHOT)
        job = job_from(user, n, model_id, text, enhance_on, style_id, aspect_id, seed_value, ids, ip_scale, img_strength)
        result = run_cancellable(studio, request, progress, lambda report, token: studio.gen_space.generate_for_shot(
            sid, job, progress=report, cancel=token))
        shot = studio.shots.get(user, sid)
        note = f"{len(result.images)} image(s) for **{shot['name']}** · {result.cost} credits"
        if ids and reference_mode(studio.catalog.get(model_id)) is None:
            note += " · this model ignored the reference images"
        return note, fmt.balance_text(result.balance)

    def run_batch(ids, model_id, n, text, enhance_on, style_id, aspect_id, seed_value, refs_in_use, ip_scale,
                  img_strength, request: gr.Request, progress=gr.Progress()):
        user = user_of(request)
        if not ids:
            raise gr.Error("Choose the shots to generate for first.")
        job = job_from(user, n, model_id, text, enhance_on, style_id, aspect_id, seed_value, refs_in_use, ip_scale,
                       img_strength)
        results = run_cancellable(studio, request, progress, lambda report, token: studio.gen_space.generate_batch(
            list(ids), job, progress=report, cancel=token, prompt_from_shot=True))
        done = ", ".join(f"{studio.shots.get(user, sid)['name']}: {len(r.images)}" for sid, r in results)
        if getattr(results, "failures", None):
            gr.Warning(results.message)  # what was made stays; the rest was refunded
        return f"Done · {done} image(s) · {sum(r.cost for _, r in results)} credits", \
            fmt.balance_text(studio.credits.balance(user))

    def cancel_job(request: gr.Request):
        stopped = studio.cancels.cancel(caller_key(request))
        return "Cancelling… your credits will be refunded." if stopped else "Nothing is running."

    @guard
    def unref(project_id, ids, index, request: gr.Request):
        user = user_of(request)
        pid = q.project(user, project_id)
        if index is None or index >= len(ids or []):
            raise gr.Error("Click a reference image first, then remove it.")
        studio.assets.remove_reference(user, pid, ids[index])
        return (*q.references(user, pid), None)

    @guard
    def clear(project_id, request: gr.Request):
        user = user_of(request)
        pid = q.project(user, project_id)
        studio.assets.clear_references(user, pid)
        return (*q.references(user, pid), None)

    def batch_choices(project_id, selected, request: gr.Request):
        user = user_of(request)
        shots = studio.shots.list(user, q.project(user, project_id))
        keep = [x["id"] for x in shots if x["id"] in (selected or [])]
        return gr.update(choices=[(f"{x['name']} · {view.TYPE_LABEL[x['type']]}", x["id"]) for x in shots], value=keep)

    def select_type(project_id, type_, request: gr.Request):
        user = user_of(request)
        return [x["id"] for x in studio.shots.list(user, q.project(user, project_id), type_)] if type_ else []

    job_in = [s.count, s.model, s.prompt, s.enhance, s.style, s.aspect, s.seed, s.ref_ids, s.scale, s.strength]
    check = (cost_state, [nav.shot_id, *job_in], [s.generate, s.reason, s.counter])
    # `input` follows typing, paste, cut and delete; `change` also follows a programmatic fill
    # (picking a shot puts its description in): together they keep the counter and Generate true.
    gr.on([s.model.change, s.count.change, s.prompt.input, s.prompt.change, nav.shot_id.change, s.ref_ids.change,
           s.style.change, s.aspect.change], *check, api_name="ui_shot_cost", trigger_mode="always_last", **UI)
    s.model.change(lambda m: describe_reference_support(studio.catalog.get(m)), s.model, s.support,
                   api_name="ui_reference_support", **UI)
    s.refs.select(_pick_index, None, s.selected_ref, api_name="ui_pick_reference", **UI)
    s.remove_ref.click(unref, [project, s.ref_ids, s.selected_ref], [s.refs, s.ref_ids, s.selected_ref],
                       api_name="ui_remove_reference", **UI)
    s.clear_refs.click(clear, project, [s.refs, s.ref_ids, s.selected_ref], api_name="ui_clear_references", **UI)
    settings_in = [s.model, s.count, s.prompt, s.enhance, s.style, s.aspect, s.seed, s.ref_ids, s.scale, s.strength]
    balance.watch(s.generate.click)
    gen_event = s.generate.click(
        run_for_shot, [nav.shot_id, *settings_in], [s.status, balance.box], api_name="ui_generate_for_shot",
        api_visibility="undocumented", concurrency_id=GPU, concurrency_limit=studio.gpu_concurrency,
        show_progress_on=[s.status])
    gen_event.then(*check, api_name="ui_shot_cost_after_generate", **UI)
    gr.on([nav.cards.change, project.change], batch_choices, [project, s.batch_shots], s.batch_shots,
          api_name="ui_batch_choices", **UI)
    s.batch_type.input(select_type, [project, s.batch_type], s.batch_shots, api_name="ui_batch_select_type", **UI)
    gr.on([s.batch_shots.change, s.model.change, s.count.change, s.ref_ids.change], batch_estimate,
          [s.batch_shots, *job_in], [s.batch_run, s.batch_cost], api_name="ui_batch_cost", **UI)
    balance.watch(s.batch_run.click)
    batch_event = s.batch_run.click(
        run_batch, [s.batch_shots, s.model, s.count, s.prompt, s.enhance, s.style, s.aspect, s.seed, s.ref_ids,
                    s.scale, s.strength],
        [s.status, balance.box], api_name="ui_generate_batch", api_visibility="undocumented", concurrency_id=GPU,
        concurrency_limit=studio.gpu_concurrency, show_progress_on=[s.status])
    s.cancel.click(cancel_job, None, s.status, api_name="ui_cancel_shot_job", queue=False)
    return [gen_event, batch_event]


def _pick_index(evt: gr.SelectData):
    return evt.index

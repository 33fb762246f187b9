"""Gen Space's bottom area: the generation settings, always in reach.

Model, count, prompt, references, the cost and Generate sit in one bar that stays
on screen while the results above it scroll (see studio.css, #gen-settings).
"""

from __future__ import annotations

import gradio as gr

from pipelines.params import MAX_REFERENCES, PARAMS
from studio.services.gen_space.shot_generation import describe_reference_support
from studio.ui.shared import formatting as fmt
from studio.ui.shared import params
from studio.ui.shared.balance import Balance
from studio.ui.gen_space import bar_handlers
from studio.ui.gen_space.bar_handlers import ShotSettings
from studio.ui.shared.cancelling import cancel_answer
from studio.ui.shared.common import GPU, clear_note_on, guard, run_cancellable
from studio.ui.shared.events import UI
from studio.ui.shared.lora_picker import lora_picker
from studio.ui.shared.inputs import PaidButton
from studio.ui.gen_space.widgets import GenerationSettings, Navigator, ProjectBar
from studio.ui.shared.session import user_of


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
            # Only on a phone (studio.css): the compact bar's way to its references and counter.
            expand = gr.Button("More ▾", size="sm", scale=0, min_width=0, elem_id="gs-bar-toggle")
        with gr.Row(equal_height=False, elem_id="gs-prompt-row"):
            with gr.Column(scale=5, min_width=260):
                prompt = gr.Textbox(label="Prompt", lines=2, max_lines=6, elem_id="gs-prompt",
                                    placeholder="Describe the picture. A selected shot's description starts here.")
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
            loras = lora_picker(studio, model, default_model, prefix="gs")  # also used by the consistency flow
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
                              batch_type, batch_shots, batch_cost, batch_run, loras, expand)


def wire_settings(studio, bar: ProjectBar, nav: Navigator, s: GenerationSettings, balance: Balance) -> list:
    """Wires the bar; returns the GPU events (they take credits). Each callback is a thin
    adapter: widgets → `ShotSettings` → a handler in bar_handlers → widget updates."""
    project = bar.project
    settings_in = ShotSettings.inputs(settings=s)

    # Gradio puts gr.Request (and gr.Progress) in the leading named parameters and the
    # inputs' values after them, so the settings arrive as *values in `settings_in` order.
    def cost_state(request: gr.Request, sid, *values):
        cost = bar_handlers.shot_cost(studio, user_of(request), sid, ShotSettings.from_values(*values))
        return (*_paid(cost.button), cost.counter)

    def batch_estimate(request: gr.Request, ids, *values):
        return _paid(bar_handlers.batch_cost(studio, user_of(request), ids, ShotSettings.from_values(*values)))

    def run_for_shot(request: gr.Request, progress=gr.Progress(), sid=None, *values):
        settings = ShotSettings.from_values(*values)
        done = run_cancellable(studio, request, progress, lambda report, token: bar_handlers.generate_for_shot(
            studio, user_of(request), sid, settings, progress=report, cancel=token))
        return done.status, fmt.balance_text(done.balance)

    def run_batch(request: gr.Request, progress=gr.Progress(), ids=None, *values):
        settings = ShotSettings.from_values(*values)
        done = run_cancellable(studio, request, progress, lambda report, token: bar_handlers.generate_batch(
            studio, user_of(request), ids, settings, progress=report, cancel=token))
        if done.warning:
            gr.Warning(done.warning)
        return done.status, fmt.balance_text(done.balance)

    def cancel_job(request: gr.Request):
        return cancel_answer(studio, request)

    @guard
    def unref(project_id, ids, index, request: gr.Request):
        return _strip(bar_handlers.remove_reference(studio, user_of(request), project_id, ids, index))

    @guard
    def clear(project_id, request: gr.Request):
        return _strip(bar_handlers.clear_references(studio, user_of(request), project_id))

    def batch_choices(project_id, selected, request: gr.Request):
        choices, keep = bar_handlers.batch_choices(studio, user_of(request), project_id, selected)
        return gr.update(choices=choices, value=keep)

    def select_type(project_id, type_, request: gr.Request):
        return bar_handlers.shots_of_type(studio, user_of(request), project_id, type_)

    check = (cost_state, [nav.shot_id, *settings_in], [s.generate, s.reason, s.counter])
    # `input` follows typing, paste, cut and delete; `change` also follows a programmatic fill
    # (picking a shot puts its description in): together they keep the counter and Generate true.
    gr.on([s.model.change, s.count.change, s.prompt.input, s.prompt.change, nav.shot_id.change, s.ref_ids.change,
           s.style.change, s.aspect.change, s.loras.value.change], *check, api_name="ui_shot_cost", trigger_mode="always_last", **UI)
    s.model.change(lambda m: describe_reference_support(studio.catalog.get(m)), s.model, s.support,
                   api_name="ui_reference_support", **UI)
    s.refs.select(_pick_index, None, s.selected_ref, api_name="ui_pick_reference", **UI)
    strip_out = [s.refs, s.ref_ids, s.selected_ref]
    s.remove_ref.click(unref, [project, s.ref_ids, s.selected_ref], strip_out, api_name="ui_remove_reference", **UI)
    s.clear_refs.click(clear, project, strip_out, api_name="ui_clear_references", **UI)
    balance.watch(s.generate.click)  # before the job's own event: see shared/balance.py
    clear_note_on(s.generate.click, s.status)  # the last job's line goes when the next one starts
    gen_event = s.generate.click(
        run_for_shot, [nav.shot_id, *settings_in], [s.status, balance.box], api_name="ui_generate_for_shot",
        api_visibility="undocumented", concurrency_id=GPU, concurrency_limit=studio.gpu_concurrency,
        show_progress_on=[s.status])
    gen_event.then(*check, api_name="ui_shot_cost_after_generate", **UI)
    gr.on([nav.cards.change, project.change], batch_choices, [project, s.batch_shots], s.batch_shots,
          api_name="ui_batch_choices", **UI)
    s.batch_type.input(select_type, [project, s.batch_type], s.batch_shots, api_name="ui_batch_select_type", **UI)
    gr.on([s.batch_shots.change, s.model.change, s.count.change, s.ref_ids.change, s.loras.value.change], batch_estimate,
          [s.batch_shots, *settings_in], [s.batch_run, s.batch_cost], api_name="ui_batch_cost", **UI)
    balance.watch(s.batch_run.click)
    clear_note_on(s.batch_run.click, s.status)
    batch_event = s.batch_run.click(
        run_batch, [s.batch_shots, *settings_in], [s.status, balance.box], api_name="ui_generate_batch",
        api_visibility="undocumented", concurrency_id=GPU, concurrency_limit=studio.gpu_concurrency,
        show_progress_on=[s.status])
    s.cancel.click(cancel_job, None, s.status, api_name="ui_cancel_shot_job", queue=False)
    # In the browser only: nothing to ask the server, so no endpoint (and nothing queued).
    s.expand.click(None, None, None, js=TOGGLE_BAR_JS, queue=False)
    return [gen_event, batch_event]


# On a phone the bar opens compact (model, count, Generate, Cancel, prompt: under a third
# of the screen); "More" shows the references and the counter, "Less" folds them again.
TOGGLE_BAR_JS = """() => {
  const button = document.querySelector('#gs-bar-toggle'), bars = document.querySelectorAll('#gen-settings');
  const open = bars[0].dataset.expanded !== '1';
  // A data attribute, not a class (Svelte rewrites class attributes); on every element
  // Gradio gave the id; the stylesheet's rules only reach inside the app's container.
  bars.forEach((bar) => { bar.dataset.expanded = open ? '1' : '0'; });
  button.textContent = open ? 'Less ▴' : 'More ▾';
  button.setAttribute('aria-expanded', String(open));
}"""


def _paid(button: PaidButton) -> tuple:
    """A PaidButton as (button update, note) for a paid button and the line beside it."""
    return gr.update(value=button.label, interactive=button.enabled), button.note


def _strip(strip: bar_handlers.ReferenceStrip) -> tuple:
    return strip.paths, strip.ids, strip.selected


def _pick_index(evt: gr.SelectData):
    return evt.index

"""The Image Studio tab: widgets in, a StudioRequest out; a StudioResult in, widgets out.

Callbacks stay thin on purpose: every rule (validation, prices, refunds) lives in
the services so the API and the browser behave the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from pipelines.params import PARAMS
from studio.services.studio import Studio
from studio.ui.shared import formatting as fmt
from studio.ui.shared import params
from studio.ui.shared.balance import Balance
from studio.ui.shared.cancelling import cancel_answer
from studio.ui.shared.common import GPU, LOOSE, USER_ERRORS, clear_note_on, progress_reporter, run_cancellable
from studio.ui.shared.events import UI
from studio.ui.image_studio import handlers
from studio.ui.image_studio.handlers import StudioSettings
from studio.ui.image_studio.style_picker import style_picker
from studio.ui.shared.lora_picker import lora_picker
from studio.ui.shared.refine_panel import follow_gallery, layout_refine_panel, wire_refine_panel
from studio.ui.shared.session import user_of


@dataclass
class StudioWidgets:
    """What the Image Studio panel owns; the compare, library and billing panels drive it."""

    model: gr.Dropdown
    style: gr.Radio
    aspect: gr.Radio
    count: gr.Radio
    prompt: gr.Textbox
    enhance: gr.Checkbox
    negative: gr.Textbox
    seed: gr.Number
    generate: gr.Button
    cancel: gr.Button
    counter: gr.HTML
    reason: gr.Markdown
    gallery: gr.Gallery
    download: gr.DownloadButton
    details: gr.Markdown
    request_state: tuple  # (fn, inputs, outputs): recomputes the counter, cost and Generate state
    jobs: list = field(default_factory=list)  # events that take or return credits
    loads: list = field(default_factory=list)  # (fn, inputs, outputs, api_name) run on page load
    enhancer: gr.Dropdown | None = None

    @property
    def settings(self) -> list:
        return [self.model, self.style, self.aspect, self.count, self.prompt, self.enhance, self.negative]


def build_image_studio(studio: Studio, balance: Balance) -> StudioWidgets:
    catalog = studio.catalog
    default_model = studio.choose_default_model()

    results_state = gr.State([])  # the details of the images shown, per browser session

    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=320, elem_id="studio-left"):
            model = gr.Dropdown(
                choices=[(fmt.model_label(m, studio.is_downloaded(m.id)), m.id) for m in catalog.models],
                value=default_model,
                label="Model",
                elem_id="model",
            )
            model_info = gr.Markdown(fmt.model_card(catalog.get(default_model), studio.is_downloaded(default_model)))
            style = style_picker(studio)
            style_info = gr.Markdown(studio.styles[0].description, elem_classes=["hint"], elem_id="style-info")
            aspect = gr.Radio(fmt.ASPECT_CHOICES, value="1:1", label="Aspect ratio", elem_id="aspect")
            count = gr.Radio(PARAMS["count"].choices(), value=PARAMS["count"].default, label=PARAMS["count"].label,
                             elem_id="count")
        with gr.Column(scale=7, min_width=300, elem_id="studio-right"):
            prompt = gr.Textbox(
                label="Prompt",
                lines=5,
                placeholder="Describe your image: subject, setting, lighting, style… Be descriptive for better results.",
                elem_id="prompt",
            )
            with gr.Row():
                counter = gr.HTML(fmt.prompt_counter(""), elem_id="prompt-counter")
                enhance = gr.Checkbox(label="Enhance prompt", value=False, elem_id="enhance")
                enhance_now = gr.Button("Enhance now", size="sm", elem_id="enhance-now")
            enhancers = studio.generation.enhancers
            enhancer = gr.Dropdown(  # only when the catalog has a language model besides the built-in
                choices=enhancers.choices(), value=enhancers.default_id, label="Prompt enhancer",
                visible=len(enhancers.choices()) > 1, elem_id="enhancer",
            )
            enhanced_view = gr.Textbox(
                label=fmt.enhanced_label(enhancers.name(None)), interactive=False, visible=False, lines=3,
                elem_id="enhanced",
            )
            with gr.Accordion("Advanced", open=False):
                negative = gr.Textbox(label="Negative prompt", placeholder="What to avoid", elem_id="negative")
                seed = params.number("seed", elem_id="seed")
            loras = lora_picker(studio, model, default_model, prefix="studio")
            with gr.Row():
                generate = gr.Button(
                    fmt.generate_label(catalog.get(default_model).credit_cost),
                    variant="primary", interactive=False, elem_id="generate", scale=3,
                )
                cancel = gr.Button("Cancel", variant="stop", elem_id="cancel", scale=1)
            reason = gr.Markdown("Write a prompt to generate. Be descriptive for better results.", elem_id="reason")
            # Its own line: the reason line is rewritten after every job and would hide this.
            cancel_note = gr.Markdown(elem_id="cancel-note")
            gallery = gr.Gallery(
                label="Results", fit_columns=False, columns=4, height="auto", format="png", object_fit="contain",
                allow_preview=True, buttons=["fullscreen"], elem_id="results",
            )
            with gr.Row():
                download = gr.DownloadButton("Download selected PNG", visible=False, elem_id="download")
            details = gr.Markdown(fmt.details_markdown(None), elem_id="details")
            refine = layout_refine_panel("is")
            result_json = gr.JSON(label="Job", visible=False)

    w = StudioWidgets(model, style, aspect, count, prompt, enhance, negative, seed, generate, cancel, counter,
                      reason, gallery, download, details, request_state=(), enhancer=enhancer)
    settings_in = StudioSettings.inputs(panel=w, loras=loras)

    # ----- callbacks: translate only (the rules are in handlers.py and the services) -----
    def describe_model(model_id):
        return handlers.describe_model(studio, model_id)

    def describe_style(style_id):
        return handlers.describe_style(studio, style_id)

    # Gradio puts gr.Request in the leading named parameter and the inputs after it.
    def request_state(request: gr.Request, *values):
        state = handlers.request_state(studio, user_of(request), StudioSettings.from_values(*values))
        return state.counter, gr.update(value=state.button.label, interactive=state.button.enabled), \
            state.button.note

    def preview_enhanced(on, text, style_id, enhancer_id, progress=gr.Progress()):
        view = handlers.preview_enhanced(studio, on, text, style_id, enhancer_id, progress_reporter(progress))
        return gr.update(visible=view.visible, value=view.value, **({"label": view.label} if view.label else {}))

    def enhance_prompt(text, style_id, enhancer_id, progress=gr.Progress()):
        try:  # a language model's first use downloads it: its bytes show on the prompt box
            return studio.generation.enhance(text, style_id, enhancer_id, progress_reporter(progress)).prompt
        except USER_ERRORS as exc:
            raise gr.Error(str(exc)) from None

    # /generate is a documented endpoint: its signature names the API's parameters, in
    # StudioSettings' order.
    def generate_images(model_id, style_id, aspect_id, n, text, enhance_on, negative_text, seed_value, lora_pairs,
                        enhancer_id=None, request: gr.Request = None, progress=gr.Progress()):
        settings = StudioSettings.from_values(model_id, style_id, aspect_id, n, text, enhance_on, negative_text,
                                              seed_value, lora_pairs, enhancer_id)
        done = run_cancellable(studio, request, progress, lambda report, token: handlers.generate(
            studio, user_of(request), settings, progress=report, cancel=token))
        return (done.shown, done.job, fmt.balance_text(done.balance), done.items, *_picked(done.picked),
                gr.update(value=done.prompt, visible=bool(enhance_on),
                          **({"label": fmt.enhanced_label(done.enhancer)} if done.enhancer else {})), done.note)

    def select_result(items, evt: gr.SelectData, request: gr.Request):
        return _picked(handlers.select_result(studio, user_of(request), items, evt.index))

    def cancel_job(request: gr.Request):
        return cancel_answer(studio, request)

    # ----- wiring -------------------------------------------------------------------------
    ui = UI
    state_outputs = [counter, generate, reason]
    # `input` follows typing, paste, cut and delete; `change` also follows a programmatic fill
    # (enhance, a saved prompt): together the counter and Generate never go stale.
    gr.on([prompt.input, prompt.change, model.change, count.change, style.change, aspect.change, loras.value.change],
          request_state, settings_in, state_outputs, api_name="check_request", trigger_mode="always_last", **ui)
    model.change(describe_model, model, model_info, api_name="describe_model", **ui)
    style.change(describe_style, style, style_info, api_name="describe_style", **ui)
    gr.on([enhance.change, style.change, prompt.blur, enhancer.change], preview_enhanced,
          [enhance, prompt, style, enhancer], enhanced_view, api_name="preview_enhanced", **ui)
    enhance_now.click(enhance_prompt, [prompt, style, enhancer], prompt, api_name="enhance_prompt", **LOOSE).then(
        request_state, settings_in, state_outputs, api_name="check_request_after_enhance", **ui
    )
    balance.watch(generate.click)  # before the job's own event: see shared/balance.py
    clear_note_on(generate.click, cancel_note)  # the last cancel's line goes with the next job
    gen_event = generate.click(
        generate_images,
        settings_in,
        [gallery, result_json, balance.box, results_state, details, download, enhanced_view, cancel_note],
        api_name="generate",
        concurrency_id=GPU,
        concurrency_limit=studio.gpu_concurrency,
        show_progress_on=[gallery],
        **LOOSE,  # raw values reach the service's validation (a seed of 1.5 is refused, not rounded)
    )
    gen_event.then(request_state, settings_in, state_outputs, api_name="check_request_after_generate", **ui)
    cancel.click(cancel_job, None, cancel_note, api_name="cancel", queue=False)
    gallery.select(select_result, results_state, [details, download], api_name="select_result", **ui)
    refine_jobs = wire_refine_panel(studio, refine, balance, model)
    follow_gallery(refine, gallery, results_state, gen_event)

    w.request_state = (request_state, settings_in, state_outputs)
    w.jobs.extend([gen_event, *refine_jobs])
    w.loads.append((request_state, settings_in, state_outputs, "check_request_on_load"))
    return w


def _picked(picked: handlers.Picked) -> tuple:
    return picked.details, gr.update(value=picked.download, visible=picked.download is not None)

"""The refine panel both tabs show under a picked image: paint a mask (brush, eraser,
brush size, clear) and Repaint, Extend (sides, amount) or Enlarge (upscaler, factor),
each button carrying its price before it runs.

Why one shared module: Gen Space's edit panel and Image Studio's results refine the
same way, through the same service (studio.services.generation.refine), so a tab only
lays the panel out (`layout_refine_panel`) and tells it where its picked image comes
from (`wire_refine_panel`). Callbacks translate widgets into a StudioRequest and a
result into widgets; progress and Cancel work as for generation (run_cancellable).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from pipelines.params import INPAINT_FILLS, OUTPAINT_SIDES, PARAMS
from pipelines.upscalers import LANCZOS
from studio.services.generation.requests import StudioRequest
from studio.store.records import ASSETS
from studio.ui.shared import formatting as fmt
from studio.services.generation.stopping import JobStopped, outcome_message
from studio.ui.shared.cancelling import cancel_answer
from studio.ui.shared.common import GPU, clear_note_on, guard, run_cancellable
from studio.ui.shared.events import UI, need
from studio.ui.shared.session import user_of

NO_SOURCE = "Pick an image first: the refine tools work on the picked image."


@dataclass
class RefinePanel:
    source: gr.State  # the picked asset id
    editor: gr.ImageEditor
    clear: gr.Button
    prompt: gr.Textbox
    denoise: gr.Slider
    blur: gr.Slider
    fill: gr.Radio
    invert: gr.Checkbox
    only_masked: gr.Checkbox
    padding: gr.Slider
    repaint: gr.Button
    sides: gr.CheckboxGroup
    pixels: gr.Slider
    extend: gr.Button
    upscaler: gr.Dropdown
    factor: gr.Slider
    enlarge: gr.Button
    cancel: gr.Button
    reason: gr.Markdown
    note: gr.Markdown  # what the last Cancel did / how the last job ended; cleared by the next job
    result: gr.Image
    details: gr.Markdown

    @property
    def settings(self) -> list:
        return [self.source, self.prompt, self.denoise, self.blur, self.fill, self.invert, self.only_masked,
                self.padding, self.sides, self.pixels, self.upscaler, self.factor]


@dataclass(frozen=True)
class Refined:
    """A refine job's end: its result (None: stopped before it made anything), the stop in
    numbers, and the panel's note line."""

    result: Any
    stopped: Any
    note: str


def _slider(name: str, elem_id: str) -> gr.Slider:
    row = PARAMS[name]
    return gr.Slider(row.minimum, row.maximum, value=row.default, step=row.step, label=row.label, info=row.info,
                     elem_id=elem_id)


def layout_refine_panel(prefix: str) -> RefinePanel:
    """The panel's widgets, in an accordion; `prefix` keeps element ids unique per tab."""
    with gr.Accordion("Refine: repaint, extend, enlarge", open=False, elem_id=f"{prefix}-refine"):
        source = gr.State(None)
        editor = gr.ImageEditor(type="pil", label="Paint over what to repaint", layers=False, transforms=(),
                                sources=(), brush=gr.Brush(colors=["#ffffff"], color_mode="fixed", default_size=12),
                                eraser=gr.Eraser(default_size=12), height=320, elem_id=f"{prefix}-mask-editor")
        clear = gr.Button("Clear mask", size="sm", elem_id=f"{prefix}-clear-mask")
        prompt = gr.Textbox(label="What to paint (empty: the picture's own prompt)", elem_id=f"{prefix}-refine-prompt")
        with gr.Accordion("Repaint settings", open=False):
            denoise = _slider("denoise", f"{prefix}-denoise")
            blur = _slider("mask_blur", f"{prefix}-mask-blur")
            fill = gr.Radio(list(INPAINT_FILLS), value="original", label="Masked area starts from",
                            elem_id=f"{prefix}-fill")
            invert = gr.Checkbox(label="Repaint what is NOT painted", value=False, elem_id=f"{prefix}-invert")
            only_masked = gr.Checkbox(label="Only the masked area (at the model's size)", value=False,
                                      elem_id=f"{prefix}-only-masked")
            padding = _slider("inpaint_padding", f"{prefix}-padding")
        repaint = gr.Button("Repaint", variant="primary", interactive=False, elem_id=f"{prefix}-repaint")
        with gr.Row():
            sides = gr.CheckboxGroup(list(OUTPAINT_SIDES), value=["right"], label="Extend sides", elem_id=f"{prefix}-sides")
            pixels = _slider("outpaint_pixels", f"{prefix}-extend-pixels")
        extend = gr.Button("Extend", interactive=False, elem_id=f"{prefix}-extend")
        with gr.Row():
            upscaler = gr.Dropdown([LANCZOS], value=LANCZOS, label="Upscaler", elem_id=f"{prefix}-upscaler")
            factor = _slider("upscale_factor", f"{prefix}-factor")
        enlarge = gr.Button("Enlarge", interactive=False, elem_id=f"{prefix}-enlarge")
        cancel = gr.Button("Cancel", variant="stop", size="sm", elem_id=f"{prefix}-refine-cancel")
        reason = gr.Markdown(NO_SOURCE, elem_id=f"{prefix}-refine-reason")
        note = gr.Markdown(elem_id=f"{prefix}-refine-note")
        result = gr.Image(label="Refined image (a new image; the original is unchanged)", type="filepath",
                          interactive=False, height=220, elem_id=f"{prefix}-refined")
        details = gr.Markdown(elem_id=f"{prefix}-refined-details")
    return RefinePanel(source, editor, clear, prompt, denoise, blur, fill, invert, only_masked, padding, repaint,
                       sides, pixels, extend, upscaler, factor, enlarge, cancel, reason, note, result, details)


def mask_of(editor_value) -> Image.Image | None:
    """The painted strokes as a mask (white: repaint): the alpha of the editor's layer."""
    if not editor_value:
        return None
    layers = [layer for layer in (editor_value.get("layers") or []) if layer is not None]
    if not layers:
        return None
    alpha = np.zeros(layers[0].size[::-1], np.uint8)
    for layer in layers:
        alpha = np.maximum(alpha, np.asarray(layer.convert("RGBA").getchannel("A")))
    return Image.fromarray(np.where(alpha > 0, 255, 0).astype(np.uint8), "L")


def chain_markdown(details: dict) -> str:
    """The new image and where it came from: its kind, settings, parent and whole chain."""
    settings = ", ".join(f"{k} {v}" for k, v in (details.get("refine") or {}).items())
    chain = " → ".join(f"`{i[:8]}`" for i in [*(details.get("chain") or []), details.get("id") or details["asset_id"]])
    lines = [f"**{details['kind'].capitalize()}** · {details['width']}×{details['height']} · {settings}",
             f"Made from `{(details.get('parent_id') or '')[:8]}` · chain: {chain}"]
    lines += [f"Note: {n}" for n in details.get("notes") or []]
    return "\n\n".join(lines)


def _request(op, user, model_id, source, text, denoise, blur, fill, invert, only_masked, padding, sides, pixels,
             upscaler, factor, mask=None) -> StudioRequest:
    return StudioRequest(user=user, model_id=model_id, style_id="auto", aspect="1:1", count=1, prompt=text or "",
                         operation=op, source_id=source, mask=mask, denoise=denoise, mask_blur=blur,
                         inpainting_fill=fill, mask_invert=bool(invert), inpaint_only_masked=bool(only_masked),
                         inpaint_padding=padding, extend_sides=tuple(sides or ()), extend_pixels=pixels,
                         upscaler=upscaler or LANCZOS, upscale_factor=factor)


def wire_refine_panel(studio, panel: RefinePanel, balance, model) -> list:
    """Wire the panel; `model` is the tab's model picker. Returns the credit-taking events."""
    refine = studio.refine

    def load_source(asset_id, request: gr.Request):
        """The picked image becomes the editor's background (the mask starts empty)."""
        choices = gr.update(choices=refine.upscalers.names())
        if not asset_id:
            return None, choices
        record = studio.store.get(ASSETS, asset_id)
        if record is None or record.get("owner") != user_of(request):
            return None, choices
        path = str(studio.images.path(record["file"]))
        return {"background": path, "layers": [], "composite": path}, choices

    def prices(model_id, source, text, denoise, blur, fill, invert, only_masked, padding, sides, pixels, upscaler,
               factor, request: gr.Request):
        if not source:
            off = gr.update(interactive=False)
            return off, off, off, NO_SOURCE
        values = (source, text, denoise, blur, fill, invert, only_masked, padding, sides, pixels, upscaler, factor)
        out, reasons = [], []
        for op, label in (("repaint", "Repaint"), ("extend", "Extend"), ("enlarge", "Enlarge")):
            req = _request(op, user_of(request), model_id, *values, mask=_FULL if op == "repaint" else None)
            check = refine.preflight(req)
            out.append(gr.update(value=fmt.generate_label(check.cost, label), interactive=check.ok))
            if check.reason:
                reasons.append(f"{label}: {check.reason}")
        return (*out, " ".join(reasons))

    def run(op):
        @guard
        def job(model_id, source, text, denoise, blur, fill, invert, only_masked, padding, sides, pixels, upscaler,
                factor, editor_value, request: gr.Request, progress=gr.Progress()):
            mask = mask_of(editor_value) if op == "repaint" else None
            req = _request(op, user_of(request), model_id, need(source, NO_SOURCE), text, denoise, blur, fill, invert,
                           only_masked, padding, sides, pixels, upscaler, factor, mask=mask)
            done = run_cancellable(studio, request, progress, lambda report, token: _refined(req, report, token))
            if done.result is None:  # nothing made, refunded: the picture shown stays as it was
                balance_now = fmt.balance_text(studio.credits.balance(user_of(request)))
                return gr.update(), gr.update(), balance_now, done.note
            saved = done.result.images[0]
            return saved.path, chain_markdown(saved.details), fmt.balance_text(done.result.balance), done.note
        job.__name__ = f"refine_{op}"
        return job

    def _refined(req, report, token) -> Refined:
        """The refine job; a stop comes back as a value (so the panel shows it in its note,
        not as an error) with `stopped` for run_cancellable's outcome line."""
        try:
            result = refine.run(req, progress=report, cancel=token)
        except JobStopped as exc:
            return Refined(None, exc.stopped, exc.stopped.message)
        return Refined(result, result.stopped, outcome_message(result.stopped, token.cancelled))

    @guard
    def cancel_refine(request: gr.Request):
        return cancel_answer(studio, request)

    inputs = [model, *panel.settings]
    price_outputs = [panel.repaint, panel.extend, panel.enlarge, panel.reason]
    loaded = panel.source.change(load_source, panel.source, [panel.editor, panel.upscaler],
                                 api_name=f"refine_load_{panel.editor.elem_id}", **UI)
    loaded.then(prices, inputs, price_outputs, api_name=f"refine_prices_after_load_{panel.editor.elem_id}", **UI)
    gr.on([model.change, panel.denoise.change, panel.sides.change, panel.pixels.change, panel.factor.change,
           panel.upscaler.change, panel.blur.change, panel.padding.change],
          prices, inputs, price_outputs, api_name=f"refine_prices_{panel.editor.elem_id}",
          trigger_mode="always_last", **UI)
    panel.clear.click(load_source, panel.source, [panel.editor, panel.upscaler],
                      api_name=f"refine_clear_{panel.editor.elem_id}", **UI)
    events = []
    for op, button in (("repaint", panel.repaint), ("extend", panel.extend), ("enlarge", panel.enlarge)):
        balance.watch(button.click)
        clear_note_on(button.click, panel.note)
        event = button.click(run(op), [*inputs, panel.editor], [panel.result, panel.details, balance.box, panel.note],
                             api_name=f"refine_{op}_{panel.editor.elem_id}", api_visibility="undocumented",
                             concurrency_id=GPU,
                             concurrency_limit=studio.gpu_concurrency, show_progress_on=[panel.result])
        events.append(event)
    panel.cancel.click(cancel_refine, None, panel.note, api_name=f"refine_cancel_{panel.editor.elem_id}",
                       queue=False)
    return events


_FULL = Image.new("L", (8, 8), 0)  # a stand-in mask for pricing (the price does not depend on it);
_FULL.paste(255, (0, 0, 4, 8))  # half painted, so its inverse is not empty either


def follow_gallery(panel: RefinePanel, gallery, items_state, generated=None) -> None:
    """Image Studio: the picked result (or the first of a new batch) is what the panel refines."""
    def pick(items, evt: gr.SelectData):
        if not items or evt.index is None or evt.index >= len(items):
            return None
        return items[evt.index].get("asset_id")

    def first(items):
        return items[0].get("asset_id") if items else None

    gallery.select(pick, items_state, panel.source, api_name=f"refine_pick_{panel.editor.elem_id}", **UI)
    if generated is not None:
        generated.then(first, items_state, panel.source, api_name=f"refine_first_{panel.editor.elem_id}", **UI)


def follow_state(panel: RefinePanel, selected) -> None:
    """Gen Space: the picked image (its asset id state) is what the panel refines."""
    selected.change(lambda asset_id: asset_id, selected, panel.source,
                    api_name=f"refine_follow_{panel.editor.elem_id}", **UI)

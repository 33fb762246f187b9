"""The LoRA picker (up to MAX_LORAS LoRAs, each with a weight slider from the parameter
table's `lora_weight` row), the embeddings a prompt can name, why other LoRAs are hidden,
and a refresh button; shared by Image Studio and Gen Space's settings bar.

Why one hidden `gr.JSON` value (`LoraPicker.value`, a list of [name, weight]): the tabs
pass ONE extra input to their request builders (`StudioRequest.loras`) however many rows
the picker has, so wiring it into a tab is a couple of lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from pipelines.params import MAX_LORAS
from studio.services.generation import adapters as lora_rules
from studio.ui.shared import params
from studio.ui.shared.events import UI

NONE = "(none)"


@dataclass
class LoraPicker:
    names: list[gr.Dropdown]
    weights: list[gr.Slider]
    note: gr.Markdown
    refresh: gr.Button
    value: gr.JSON  # [[name, weight], ...]: what the request builders read


def picked(*values) -> list[list]:
    """[name, weight] for every row with a LoRA chosen (names then weights, row by row)."""
    rows = zip(values[0::2], values[1::2])
    return [[name, weight] for name, weight in rows if name and name != NONE]


def note_markdown(studio, model_id) -> str:
    """Which LoRAs fit, why the others are hidden, which embeddings the prompt can name."""
    entry = studio.catalog.get(model_id) if model_id in studio.catalog.ids() else None
    fit, hidden, embeddings = lora_rules.picker(studio.engine, entry)
    lines = []
    if not fit and not hidden:
        lines.append("No LoRAs yet: put `.safetensors` LoRA files in the studio's `loras` folder, then press Refresh.")
    elif not fit:
        lines.append("No LoRA fits this model.")
    if hidden:
        lines.append("Hidden: " + "; ".join(f"**{name}** ({why})" for name, why in sorted(hidden.items())) + ".")
    if embeddings:
        lines.append("Embeddings (write the name in the prompt or negative prompt): "
                     + ", ".join(f"`{e}`" for e in embeddings) + ".")
    for problem in lora_rules.problems(studio.engine):
        lines.append(f"⚠ {problem}")
    return "\n\n".join(lines)


def _choices(studio, model_id) -> list[str]:
    entry = studio.catalog.get(model_id) if model_id in studio.catalog.ids() else None
    return [NONE, *lora_rules.picker(studio.engine, entry)[0]]


def lora_picker(studio, model: gr.Dropdown, model_id: str, *, prefix: str) -> LoraPicker:
    """Build the picker (inside the caller's layout) and wire it to `model`."""
    names, weights = [], []
    with gr.Accordion("LoRAs & embeddings", open=False, elem_id=f"{prefix}-loras"):
        for i in range(MAX_LORAS):
            with gr.Row():
                names.append(gr.Dropdown(_choices(studio, model_id), value=NONE, label=f"LoRA {i + 1}",
                                         elem_id=f"{prefix}-lora-{i}", scale=3))
                weights.append(params.slider("lora_weight", elem_id=f"{prefix}-lora-weight-{i}", scale=2))
        with gr.Row():
            note = gr.Markdown(note_markdown(studio, model_id), elem_id=f"{prefix}-lora-note")
            refresh = gr.Button("Refresh", size="sm", elem_id=f"{prefix}-lora-refresh", scale=0)
        value = gr.JSON([], visible=False)
    picker = LoraPicker(names, weights, note, refresh, value)

    def for_model(model_value, *current):
        choices = _choices(studio, model_value)
        kept = [gr.update(choices=choices, value=c if c in choices else NONE) for c in current]
        return (*kept, note_markdown(studio, model_value))

    def rescan(model_value, *current):
        lora_rules.refresh(studio.engine)
        return for_model(model_value, *current)

    rows = [c for pair in zip(names, weights) for c in pair]
    gr.on([c.change for c in rows], picked, rows, value, api_name=f"{prefix}_lora_pick", **UI)
    model.change(for_model, [model, *names], [*names, note], api_name=f"{prefix}_lora_choices", **UI)
    refresh.click(rescan, [model, *names], [*names, note], api_name=f"{prefix}_lora_refresh", **UI)
    return picker

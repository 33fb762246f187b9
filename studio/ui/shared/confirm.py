"""One confirmation for every destructive action (shot, image, project, API key).

The delete button only asks: the server describes what would go (`describe`, e.g. "Delete
the project “Harbour” with its 3 shots and 12 images?") in a box with "Yes, delete" and
"Cancel". Only "Yes" runs the action, with `confirmed` True (the services refuse a delete
without it); "Cancel" closes the box and changes nothing. One pattern, so every delete
reads and behaves the same, and each says what else goes with it before it is too late.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import gradio as gr

from studio.ui.shared.events import UI


@dataclass
class Confirm:
    box: gr.Group
    question: gr.Markdown
    yes: gr.Button
    no: gr.Button
    confirmed: gr.State  # always True: what "Yes" passes to the action's `confirm` argument
    done: gr.State  # the sentence to show once the action went through
    note: gr.Markdown  # beside the box: what the last confirmed action did


def layout_confirm(elem_id: str, yes_label: str = "Yes, delete") -> Confirm:
    """The hidden box (call where it should appear, right under its delete button)."""
    with gr.Group(visible=False, elem_id=elem_id, elem_classes=["confirm-box"]) as box:
        question = gr.Markdown("", elem_id=f"{elem_id}-question")
        with gr.Row():
            yes = gr.Button(yes_label, variant="stop", size="sm", elem_id=f"{elem_id}-yes")
            no = gr.Button("Cancel", size="sm", elem_id=f"{elem_id}-cancel")
    note = gr.Markdown("", elem_id=f"{elem_id}-done")
    return Confirm(box, question, yes, no, gr.State(True), gr.State(""), note)


def wire_confirm(confirm: Confirm, ask: gr.Button, describe, describe_inputs: list, act, act_inputs: list,
                 act_outputs: list, *, api_name: str, act_kwargs: dict | None = None):
    """`ask` opens the box with `describe(*describe_inputs)`, a Deletion (a refusal, e.g.
    nothing picked, shows as a toast and the box stays shut); "Yes" runs `act`, then closes
    the box and says what went; "Cancel" only closes it. Returns the action's event."""

    @functools.wraps(describe)  # Gradio finds gr.Request by `describe`'s signature and hints
    def show(*values):
        deletion = describe(*values)
        return gr.update(visible=True), deletion.question, deletion.done, ""

    def hide():
        return gr.update(visible=False)

    def said(done_text):
        return gr.update(visible=False), done_text

    ask.click(show, describe_inputs, [confirm.box, confirm.question, confirm.done, confirm.note],
              api_name=f"{api_name}_ask", **UI)
    confirm.no.click(hide, None, confirm.box, api_name=f"{api_name}_cancel", **UI)
    done = confirm.yes.click(act, act_inputs, act_outputs, api_name=api_name, **{**UI, **(act_kwargs or {})})
    done.success(said, confirm.done, [confirm.box, confirm.note], api_name=f"{api_name}_done", **UI)
    return done

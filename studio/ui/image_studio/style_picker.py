"""The style picker: one radio group whose options are drawn as the preview cards.

The card *is* the choice (click it, the selection ring shows on it) and it stays a
real radio group, so keyboards, screen readers and the API see one plain value.
The card art carries its own name at the bottom; the card is cropped to the art's
upper part so that name never peeks out behind the option's label.
"""

from __future__ import annotations

import gradio as gr

from studio.services.studio import Studio


def style_picker(studio: Studio, elem_id: str = "style") -> gr.Radio:
    rules = []
    for number, style in enumerate(studio.styles, start=1):
        path = studio.style_preview(style)
        if path:
            rules.append(f"#{elem_id} label:nth-of-type({number}) {{ background-image: url('/gradio_api/file={path}'); }}")
    gr.HTML("", head=f"<style>{' '.join(rules)}</style>", elem_classes=["style-card-rules"], visible="hidden")
    return gr.Radio([(s.name, s.id) for s in studio.styles], value=studio.styles[0].id, label="Style",
                    elem_id=elem_id, elem_classes=["style-cards"])

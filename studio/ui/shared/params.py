"""Widgets built from the one parameter table (`pipelines.params`).

A slider's range, step, default, label and help all come from the parameter's row, so
the page offers exactly what the service validation and the REST dialects accept.
"""

from __future__ import annotations

import gradio as gr

from pipelines.params import PARAMS


def slider(name: str, *, elem_id: str, family: str | None = None, **layout) -> gr.Slider:
    """A slider for parameter `name` (layout keywords such as scale/min_width pass through)."""
    row = PARAMS[name]
    lo, hi = row.bounds(family)
    return gr.Slider(lo, hi, value=row.default, step=row.step, label=row.label, info=row.info or None,
                     elem_id=elem_id, **layout)


def number(name: str, *, elem_id: str, **layout) -> gr.Number:
    """A number box for a whole-number parameter with a special value (the seed's -1)."""
    row = PARAMS[name]
    special = ", ".join(f"{v:g} = {m}" for v, m in row.special.items())
    label = f"{row.label} ({special})" if special else row.label
    return gr.Number(label=label, value=row.default, precision=0 if row.integer else None,
                     minimum=min([row.minimum, *row.special]), maximum=row.maximum, elem_id=elem_id, **layout)

"""Typed panel inputs and outputs, so handlers are plain functions a test can call.

A panel's settings are a frozen dataclass whose fields name the widget each value comes
from (`widget_field("settings.model")`): the dataclass is the one place that lists a
panel's inputs, in one order. The wiring passes `Settings.inputs(...)` to Gradio and the
callback rebuilds the object with `Settings.from_values(*values)`, so the two can never
disagree. Handlers return small typed results (a `PaidButton`, a `JobDone`) that the
callback turns into widget updates; nothing here imports Gradio.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from operator import attrgetter
from types import SimpleNamespace
from typing import Any


def widget_field(path: str, **options) -> Any:
    """A settings field filled from the widget at `path` ("group.attribute"); `options`
    (a default) pass on to `dataclasses.field`."""
    return field(metadata={"widget": path}, **options)


class PanelInputs:
    """Mixin for a frozen dataclass of `widget_field`s."""

    @classmethod
    def inputs(cls, **groups) -> list:
        """The widgets, in field order, from the widget groups named in the field paths."""
        where = SimpleNamespace(**groups)
        return [attrgetter(f.metadata["widget"])(where) for f in fields(cls)]  # type: ignore[arg-type]

    @classmethod
    def from_values(cls, *values):
        """The settings from the widget values Gradio passes, in `inputs()` order."""
        return cls(*values)  # type: ignore[call-arg]


@dataclass(frozen=True)
class PaidButton:
    """A paid button's state: the price on its label, enabled only when the job can run,
    and a note beside it (why it can't run, or what it will make)."""

    label: str
    enabled: bool
    note: str = ""

    @classmethod
    def from_preflight(cls, preflight, action: str = "Generate", note_when_ok: str = "") -> PaidButton:
        from studio.ui.shared.formatting import generate_label

        return cls(generate_label(preflight.cost, action), preflight.ok, preflight.reason or note_when_ok)

    def blocked(self, note: str) -> PaidButton:
        """The same price, disabled, with this note (something to pick first)."""
        return PaidButton(self.label, False, note)


@dataclass(frozen=True)
class JobDone:
    """What a paid job leaves on the page: a status line and the balance after it."""

    status: str
    balance: int
    warning: str | None = None  # part of a batch failed (refunded): shown as a toast
    stopped: Any = None  # studio.services.generation.stopping.Stopped: a Cancel ended it part-way

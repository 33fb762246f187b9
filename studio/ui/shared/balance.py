"""The header balance, and how it follows a paid job while the job runs.

A job's outputs reach the page only when the job ends, so on its own the header would
show the charge only after the last image is saved. While a paid job runs, a timer reads
the balance once a second instead: the charge shows when it is taken, a refund when it
comes back.

Gradio runs the events of one click one after another, in the order they were declared,
so the timer must be started by an event declared *before* the job's own: builders call
`watch(button.click)` just before they wire a paid job to that button.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from studio.ui.shared import formatting as fmt
from studio.ui.shared.events import UI
from studio.ui.shared.session import user_of


@dataclass
class Balance:
    box: gr.HTML  # the header's "Balance: N credits"
    ticker: gr.Timer  # ticks only while a paid job runs

    def watch(self, trigger) -> None:
        """Start following the ledger when `trigger` (a button's click) starts a paid job."""
        trigger(_start, None, self.ticker, api_name="watch_balance", **UI)

    def stop_after(self, job) -> None:
        job.then(_stop, None, self.ticker, api_name="stop_watching_balance", **UI)


def layout_balance(studio) -> Balance:
    box = gr.HTML(fmt.balance_text(0), elem_id="balance", min_width=130)
    ticker = gr.Timer(1.0, active=False)

    def balance_now(request: gr.Request) -> str:
        return fmt.balance_text(studio.credits.balance(user_of(request)))

    ticker.tick(balance_now, None, box, api_name="balance_now", **UI)
    return Balance(box, ticker)


def _start():
    return gr.Timer(active=True)


def _stop():
    return gr.Timer(active=False)

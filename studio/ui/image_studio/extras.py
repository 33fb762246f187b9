"""Image Studio's secondary panels: the prompt library, model comparison, billing and history.

Split from image_studio.py to keep each builder readable; they drive the same
widgets (model, style, prompt…) that the main panel owns.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import gradio as gr

from studio.services.common.paging import LEDGER_LIMIT
from studio.services.studio import Studio
from studio.ui.shared import formatting as fmt
from studio.ui.shared.balance import Balance
from studio.ui.shared.common import GPU, LOOSE, guard, run_cancellable
from studio.ui.shared.events import UI
from studio.ui.shared import paged
from studio.ui.shared.gallery import asset_items
from studio.ui.shared.paged import NOTHING, Loaded
from studio.ui.image_studio import extras_handlers
from studio.ui.image_studio.extras_handlers import CompareSettings
from studio.ui.image_studio.handlers import StudioSettings
from studio.ui.image_studio.tab import StudioWidgets
from studio.ui.shared.session import user_of


def build_prompt_library(studio: Studio, w: StudioWidgets) -> None:
    with gr.Accordion("Prompt library", open=False, elem_id="prompt-library"):
        with gr.Row():
            name = gr.Textbox(label="Save the current prompt and settings as", placeholder="e.g. Neon alley", scale=3,
                              elem_id="prompt-name")
            save = gr.Button("Save prompt", scale=1, elem_id="save-prompt")
        with gr.Row():
            saved = gr.Dropdown(label="Saved prompts", choices=[], scale=3, elem_id="saved-prompts")
            use = gr.Button("Use", scale=1, elem_id="use-prompt")
            delete = gr.Button("Delete", scale=1, variant="stop", elem_id="delete-prompt")
        note = gr.Markdown(elem_id="prompt-note")

    settings = w.settings  # StudioSettings' widgets without the seed (a saved prompt has none)

    # /save_prompt is a documented endpoint: its signature names the API's parameters.
    @guard
    def save_prompt(label, model_id, style_id, aspect, count, prompt, enhance, negative, request: gr.Request):
        typed = StudioSettings(model_id, style_id, aspect, count, prompt, enhance, negative, None)
        return _saved(extras_handlers.save_prompt(studio, user_of(request), label, typed))

    @guard
    def use_prompt(prompt_id, request: gr.Request):
        doc = extras_handlers.use_prompt(studio, user_of(request), prompt_id)
        return (gr.update() if doc.model_id is None else doc.model_id, doc.style_id, doc.aspect, doc.count,
                doc.prompt, doc.enhance, doc.negative_prompt)

    @guard
    def delete_prompt(prompt_id, request: gr.Request):
        return _saved(extras_handlers.delete_prompt(studio, user_of(request), prompt_id))

    def refresh(request: gr.Request):
        return gr.update(choices=extras_handlers.prompt_choices(studio, user_of(request)))

    save.click(save_prompt, [name, *settings], [saved, note], api_name="save_prompt", **LOOSE)
    use.click(use_prompt, saved, settings, api_name="use_saved_prompt", **LOOSE).then(
        *w.request_state, api_name="check_request_after_use", **UI
    )
    delete.click(delete_prompt, saved, [saved, note], api_name="delete_saved_prompt", **LOOSE)
    w.loads.append((refresh, None, saved, "list_saved_prompts"))


def _saved(saved: extras_handlers.SavedPrompts) -> tuple:
    return gr.update(choices=saved.choices, value=saved.value), saved.note


def build_compare(studio: Studio, w: StudioWidgets, balance: Balance) -> None:
    choices = [(m.name, m.id) for m in studio.catalog.models]
    with gr.Accordion("Compare models", open=False, elem_id="compare"):
        gr.Markdown("One prompt, the same seed, 2–4 models side by side. Each model is charged as its own job.")
        models = gr.CheckboxGroup(choices, label="Models to compare", elem_id="compare-models")
        with gr.Row():
            cost = gr.Markdown("Pick 2–4 models.", elem_id="compare-cost")
            run = gr.Button("Compare", variant="secondary", interactive=False, elem_id="compare-run")
        gallery = gr.Gallery(label="Comparison", fit_columns=False, columns=4, height="auto", format="png", object_fit="contain",
                             elem_id="compare-results")
    compare_in = CompareSettings.inputs(compare=SimpleNamespace(models=models), panel=w)

    # Gradio puts gr.Request in the leading named parameter and the inputs after it.
    def estimate(request: gr.Request, *values):
        button = extras_handlers.compare_cost(studio, user_of(request), CompareSettings.from_values(*values))
        return gr.update(value=button.label, interactive=button.enabled), button.note

    # /compare_models is a documented endpoint: its signature names the API's parameters.
    def compare(model_ids, style_id, aspect, count, prompt, enhance, negative, seed, request: gr.Request,
                progress=gr.Progress()):
        typed = CompareSettings(model_ids, style_id, aspect, count, prompt, enhance, negative, seed)
        done = run_cancellable(studio, request, progress, lambda report, token: extras_handlers.compare(
            studio, user_of(request), typed, progress=report, cancel=token))
        return done.shown, fmt.balance_text(done.balance), done.note

    gr.on([models.change, w.count.change, w.prompt.change, w.style.change, w.aspect.change], estimate, compare_in,
          [run, cost], api_name="estimate_compare", trigger_mode="always_last", **UI)
    balance.watch(run.click)  # before the job's own event: see shared/balance.py
    event = run.click(
        compare,
        compare_in,
        [gallery, balance.box, cost],
        api_name="compare_models", concurrency_id=GPU, concurrency_limit=studio.gpu_concurrency, show_progress_on=[gallery],
        **LOOSE,
    )
    event.then(*w.request_state, api_name="check_request_after_compare", **UI)
    w.jobs.append(event)


@dataclass
class Billing:
    """The credit history table, what it has loaded, and its Load more button."""

    table: gr.Dataframe
    shown: gr.State  # a paged.Loaded of ledger rows
    more: gr.Button

    @property
    def outputs(self) -> list:
        return [self.table, self.shown, self.more]


LEDGER_LIST = "ledger"  # the cursor name of CreditsService.ledger_page


def _ledger_fetch(studio: Studio, user: str):
    return lambda limit, cursor: studio.credits.ledger_page(user, limit=limit, cursor=cursor)


def _ledger_rows(entries: list) -> tuple[list, list]:
    return fmt.ledger_rows(entries), []


def ledger_shown(studio: Studio, user: str, shown: Loaded | None = None) -> Loaded:
    """The newest credit history: one page, or down to the oldest entry `shown` held (a
    refresh after a job keeps what the person paged through, the new entries on top)."""
    return paged.load_first(_ledger_fetch(studio, user), _ledger_rows, ("ledger",), LEDGER_LIMIT, shown,
                            LEDGER_LIST)


def ledger_more(studio: Studio, user: str, shown: Loaded | None) -> Loaded:
    """The history loaded so far and the page after it, from the ledger's cursor."""
    return paged.load_more(_ledger_fetch(studio, user), _ledger_rows, shown or ledger_shown(studio, user),
                           LEDGER_LIMIT)


def ledger_widgets(shown: Loaded) -> tuple:
    return list(shown.items), shown, gr.update(visible=shown.has_more)


def build_billing(studio: Studio, w: StudioWidgets) -> Billing:
    """The newest page of the credit history; "Load more" follows the ledger's cursor to the
    first entry, however long the history (the app fills and refreshes it, see app.py)."""
    with gr.Accordion("Billing: credit history", open=False, elem_id="billing"):
        gr.Markdown("Credits are taken when a job starts and given back if it fails or you cancel it.")
        table = gr.Dataframe(headers=fmt.LEDGER_HEADERS, interactive=False, elem_id="ledger", wrap=True)
        more = gr.Button("Load more", size="sm", visible=False, elem_id="ledger-more")
    billing = Billing(table, gr.State(NOTHING), more)

    def load_more(shown, request: gr.Request):
        return ledger_widgets(ledger_more(studio, user_of(request), shown))

    more.click(load_more, billing.shown, billing.outputs, api_name="ui_ledger_more", **UI)
    return billing


HISTORY_PAGE = 24  # images per "Load more" in the history


def build_history(studio: Studio, w: StudioWidgets) -> None:
    """Your Image Studio images, newest first, one page at a time: "Load more" follows the
    store's cursor, so opening the history never reads the whole library. Call it after
    every panel that adds a job (it refreshes after each)."""
    with gr.Accordion("History: your images", open=False, elem_id="history"):
        gallery = gr.Gallery(label="History", show_label=False, fit_columns=False, columns=6, height="auto",
                             object_fit="contain", allow_preview=True, elem_id="history-gallery")
        empty = gr.Markdown("Nothing yet: what you generate here appears in your history.", elem_id="history-empty")
        more = gr.Button("Load more", size="sm", visible=False, elem_id="history-more")
    held = gr.State({"items": [], "cursor": None})

    def show(items: list, cursor: str | None):
        return (items, {"items": items, "cursor": cursor}, gr.update(visible=not items),
                gr.update(visible=cursor is not None))

    def first_page(request: gr.Request):
        page = studio.assets.history_page(user_of(request), limit=HISTORY_PAGE)
        return show(asset_items(studio, page.items)[0], page.next_cursor)

    def next_page(state, request: gr.Request):
        state = state or {"items": [], "cursor": None}
        if not state.get("cursor"):
            return show(state["items"], None)
        page = studio.assets.history_page(user_of(request), limit=HISTORY_PAGE, cursor=state["cursor"])
        return show(state["items"] + asset_items(studio, page.items)[0], page.next_cursor)

    outputs = [gallery, held, empty, more]
    more.click(next_page, held, outputs, api_name="ui_history_more", **UI)
    for event in list(w.jobs):
        event.then(first_page, None, outputs, api_name="ui_history_after_job", **UI)
    w.loads.append((first_page, None, outputs, "ui_history"))

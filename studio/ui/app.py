"""The Gradio app: one Blocks with the tabs, the header balance and the API-only endpoints."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from studio.services.paging import DEFAULT_LIMIT, LEDGER_LIMIT
from studio.services.studio import Studio
from studio.ui import formatting as fmt
from studio.ui.common import UI, USER_ERRORS, guard
from studio.ui.gen_space import build_gen_space
from studio.ui.gen_space_api import register_gen_space_api
from studio.ui.gen_space_panels import layout_storyboard, wire_panels
from studio.ui.image_studio import build_image_studio
from studio.ui.session import user_of
from studio.ui.studio_extras import build_billing, build_compare, build_prompt_library

CSS_PATH = Path(__file__).with_name("studio.css")
TITLE = "Image Generation Studio"


def launch_options() -> dict:
    """Theme and CSS go to launch() in Gradio 6; tests and app.py share them."""
    return {"theme": gr.themes.Soft(primary_hue="violet"), "css_paths": [CSS_PATH]}


def _register_api(studio: Studio) -> None:
    def models() -> list[dict]:
        """The model catalog: ids, costs, sizes per aspect ratio, whether downloaded."""
        return studio.models_summary()

    def styles() -> list[dict]:
        """The style presets with their prompt templates."""
        return studio.styles_summary()

    def estimate_cost(model_id: str, count: int) -> int:
        """Credits a generation would cost: the model's price per image × count."""
        try:
            return studio.generation.estimate(model_id, count)
        except USER_ERRORS as exc:
            raise gr.Error(str(exc)) from None

    def balance(request: gr.Request) -> int:
        """The caller's credit balance."""
        return studio.credits.balance(user_of(request))

    @guard
    def ledger(limit: int = LEDGER_LIMIT, cursor: str = "", request: gr.Request = None) -> dict:
        """One page of the caller's credit history, newest first: {items, next_cursor, has_more};
        pass next_cursor back for the next page. All entries' deltas add up to the balance."""
        return studio.credits.ledger_page(user_of(request), limit=limit, cursor=cursor or None).to_api()

    @guard
    def history(limit: int = DEFAULT_LIMIT, cursor: str = "", request: gr.Request = None) -> dict:
        """One page of the caller's Image Studio images, newest first: {items, next_cursor, has_more}."""
        return studio.assets.history_page(user_of(request), limit=limit, cursor=cursor or None).to_api()

    for fn in (models, styles, estimate_cost, balance, ledger, history):
        gr.api(fn, api_name=fn.__name__, queue=False)


def create_app(studio: Studio) -> gr.Blocks:
    with gr.Blocks(title=TITLE) as app:
        with gr.Row(elem_id="header"):
            gr.Markdown(f"## {TITLE}")
            balance_box = gr.HTML(fmt.balance_text(0), elem_id="balance")
        with gr.Tabs():
            with gr.Tab("Image Studio", id="image-studio", elem_id="tab-image-studio"):
                widgets = build_image_studio(studio, balance_box)
                build_compare(studio, widgets, balance_box)
                build_prompt_library(studio, widgets)
                ledger_table = build_billing(studio, widgets)
            with gr.Tab("Gen Space", id="gen-space", elem_id="tab-gen-space"):
                space = build_gen_space(studio, balance_box)
                board = layout_storyboard()
                wire_panels(studio, space, space["panels"], board, balance_box)

        def account(request: gr.Request):
            user = user_of(request)
            # the billing table shows the newest page; the whole history is /ledger's to page through
            return fmt.balance_text(studio.credits.balance(user)), fmt.ledger_rows(studio.credits.ledger_page(user).items)

        for event in widgets["jobs"] + space["jobs"]:
            event.then(account, None, [balance_box, ledger_table], api_name="refresh_account_after_job", **UI)
        app.load(account, None, [balance_box, ledger_table], api_name="refresh_account", **UI)
        for fn, inputs, outputs, name in widgets["load"] + space["load"]:
            app.load(fn, inputs, outputs, api_name=name, **UI)
        _register_api(studio)
        register_gen_space_api(studio)
    return app

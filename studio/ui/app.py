"""The Gradio app: one Blocks with the header, the tabs and the API-only endpoints.

A panel is one line in `create_app`: a builder that lays out its widgets and wires
its own events (the Admin and API-keys panels plug in the same way).
"""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr

from studio.services.common.paging import DEFAULT_LIMIT, LEDGER_LIMIT
from studio.services.studio import Studio
from studio.ui.shared import formatting as fmt
from studio.ui.admin.tab import build_admin
from studio.ui.admin.api_keys import build_api_keys
from studio.ui.shared.balance import layout_balance
from studio.ui.shared.common import USER_ERRORS, guard, guard_events
from studio.ui.shared.events import UI
from studio.ui.gen_space.tab import build_gen_space
from studio.ui.endpoints.gen_space import register_gen_space_api
from studio.ui.image_studio.tab import build_image_studio
from studio.ui.shared.session import user_of
from studio.ui.image_studio.extras import (build_billing, build_compare, build_history, build_prompt_library,
                                           ledger_shown, ledger_widgets)

CSS_PATH = Path(__file__).parent / "shared" / "studio.css"
TITLE = "Image Generation Studio"
TABS = ("image-studio", "gen-space")

# Ctrl+Enter (⌘+Enter on a Mac) in a prompt box clicks that tab's Generate button.
KEYS_JS = """
() => {
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || !(e.ctrlKey || e.metaKey) || !e.target.closest) return;
    for (const [box, button] of [['#prompt', '#generate'], ['#gs-prompt', '#gs-generate']]) {
      if (e.target.closest(box)) {
        e.preventDefault();
        const b = document.querySelector(button);
        if (b && !b.disabled) b.click();
        return;
      }
    }
  });
}
"""


def launch_options() -> dict:
    """Theme, CSS and the page script go to launch() in Gradio 6; tests and app.py share them."""
    return {"theme": gr.themes.Soft(primary_hue="violet"), "css_paths": [CSS_PATH], "js": KEYS_JS}


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


def _who(request: gr.Request) -> str:
    """Who is signed in, with a sign-out link; nothing when accounts are off."""
    name = getattr(request, "username", None)
    if not name:
        return ""
    return f"<div class='who'>Signed in as <b>{html.escape(name)}</b> · <a href='/logout'>Sign out</a></div>"


def create_app(studio: Studio, *, browser_secret: str | None = None) -> gr.Blocks:
    """`browser_secret`: the install's own key for the browser's saved place (app.py passes the
    one kept in the data directory); None: a new one each start (gradio's default)."""
    with gr.Blocks(title=TITLE) as app:
        memory = gr.BrowserState({}, storage_key="studio-ui-memory", secret=browser_secret)
        with gr.Row(elem_id="header", equal_height=True):
            gr.Markdown(f"## {TITLE}", elem_id="title", min_width=190)
            who = gr.HTML("", visible=False, elem_id="who", min_width=150)
            balance = layout_balance(studio)
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("Image Studio", id="image-studio", elem_id="tab-image-studio") as studio_tab:
                widgets = build_image_studio(studio, balance)
                build_compare(studio, widgets, balance)
                build_prompt_library(studio, widgets)
                billing = build_billing(studio, widgets)
                build_history(studio, widgets)
            with gr.Tab("Gen Space", id="gen-space", elem_id="tab-gen-space") as space_tab:
                space = build_gen_space(studio, balance)
            granted = build_admin(studio, app)
        build_api_keys(studio)  # REST API keys (studio/ui/api_keys.py)

        def account(shown, request: gr.Request):
            user = user_of(request)
            # the billing table keeps what was loaded and shows the newest entries on top
            return (fmt.balance_text(studio.credits.balance(user)),
                    *ledger_widgets(ledger_shown(studio, user, shown)))

        account_outs = [balance.box, *billing.outputs]
        for event in widgets.jobs + space.jobs:
            balance.stop_after(event.then(account, billing.shown, account_outs,
                                          api_name="refresh_account_after_job", **UI))
        app.load(account, billing.shown, account_outs, api_name="refresh_account", **UI)
        for event in granted:  # a grant to oneself: the balance and both Generate buttons follow
            event.then(account, billing.shown, account_outs, api_name="refresh_account_after_grant", **UI)
            for fn, inputs, outputs, name in widgets.loads + space.loads:
                event.then(fn, inputs, outputs, api_name=f"{name}_after_grant", **UI)
        for fn, inputs, outputs, name in widgets.loads + space.loads:
            app.load(fn, inputs, outputs, api_name=name, **UI)
        _remember_place(app, memory, tabs, (studio_tab, space_tab), space, who)
        _register_api(studio)
        register_gen_space_api(studio)
    guard_events(app)  # a refusal on the page: a toast, never Gradio's error state (shared/common.py)
    return app


def _remember_place(app, memory, tabs, tab_widgets, space, who) -> None:
    """The last tab and Gen Space project, per user, kept in the browser (gr.BrowserState)."""

    def mine(saved, request):
        return dict((saved or {}).get(user_of(request)) or {})

    def remember(saved, key, value, request):
        saved = dict(saved or {})
        saved[user_of(request)] = {**mine(saved, request), key: value}
        return saved

    def restore(saved, request: gr.Request):
        place = mine(saved, request)
        tab = gr.Tabs(selected=place["tab"]) if place.get("tab") in TABS else gr.update()
        who = _who(request)
        return (tab, gr.update(value=who, visible=bool(who)), *space.open_project(place.get("project"), request))

    app.load(restore, memory, [tabs, who, *space.open_outputs], api_name="restore_place", **UI)
    # One at a time, in order: each save starts from the stored place, so two saves running
    # side by side could land out of order and the older place would win.
    in_order = {"concurrency_id": "remember_place", "concurrency_limit": 1}
    for tab_id, tab in zip(TABS, tab_widgets):
        tab.select(_tab_saver(remember, tab_id), memory, memory,
                   api_name=f"remember_tab_{tab_id.replace('-', '_')}", **in_order, **UI)
    space.bar.project.change(_project_saver(remember), [memory, space.bar.project], memory,
                             api_name="remember_project", **in_order, **UI)


def _tab_saver(remember, tab_id):
    def save_tab(saved, request: gr.Request):
        return remember(saved, "tab", tab_id, request)
    return save_tab


def _project_saver(remember):
    def save_project(saved, project_id, request: gr.Request):
        return remember(saved, "project", project_id, request) if project_id else saved
    return save_project

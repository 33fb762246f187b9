"""The Admin tab and API: every account's credits, grants and takes with a reason, daily limits,
and every account's API keys (to see and revoke).

The tab is built for everyone but shown only to the accounts named by `--admins`
(hiding is for tidiness, not security): every callback and endpoint asks the admin
service, which refuses anyone else with a clear message.
"""

from __future__ import annotations

import gradio as gr

from studio.services.access.api_keys import ApiKeyService
from studio.services.billing.admin import OVERVIEW_PAGE
from studio.services.common.paging import MAX_LIMIT
from studio.services.studio import Studio
from studio.ui.shared.common import USER_ERRORS, guard
from studio.ui.shared.events import UI
from studio.ui.shared.session import user_of

COLUMNS = ["Account", "Balance", "Spent today", "Daily limit", "Recent spending"]
TABLE_ROWS = MAX_LIMIT  # the tab shows the first accounts by name; the API pages through all of them
KEY_COLUMNS = ["Account", "Key", "Name", "Created", "Status", "Id"]


def _key_rows(keys: list[dict]) -> list[list]:
    return [[k["owner"], k["hint"], k["name"], k["created"][:16].replace("T", " "),
             f"revoked {k['revoked'][:10]} by {k.get('revoked_by') or k['owner']}" if k["revoked"] else "active", k["id"]]
            for k in keys]


def _rows(overview: list[dict]) -> list[list]:
    def recent(entries):
        return "; ".join(f"{e['delta']:+d} {e['reason']}" + (f" (by {e['admin']})" if e.get("admin") else "")
                         for e in entries)

    return [[r["user"], r["balance"], r["spent_today"], "none" if r["daily_limit"] is None else r["daily_limit"],
             recent(r["recent"])] for r in overview]


def build_admin(studio: Studio, app: gr.Blocks) -> list:
    """The Admin tab (call inside the app's gr.Tabs) and the admin API endpoints; shown to admins on load.
    Returns the events that change a balance (a grant), so the app refreshes the header after them."""
    admin = studio.admin
    with gr.Tab("Admin", id="admin", elem_id="tab-admin", visible=False) as tab:
        gr.Markdown("Every account's credits. Grants and takes go into the account's ledger with your name "
                    "and the reason. A daily limit caps what an account may spend per UTC day.")
        table = gr.Dataframe(headers=COLUMNS, value=[], interactive=False, elem_id="admin-accounts", wrap=True)
        refresh = gr.Button("Refresh", size="sm")
        with gr.Row():
            account = gr.Textbox(label="Account", elem_id="admin-account", scale=2)
            amount = gr.Number(label="Credits (negative takes)", value=10, precision=0, elem_id="admin-amount", scale=1)
            reason = gr.Textbox(label="Reason", elem_id="admin-reason", scale=3)
            grant_button = gr.Button("Grant", variant="primary", elem_id="admin-grant", scale=1)
        with gr.Row():
            limit = gr.Number(label="Daily limit (empty: the studio default)", value=None, precision=0,
                              elem_id="admin-limit", scale=2)
            limit_button = gr.Button("Set daily limit", elem_id="admin-set-limit", scale=1)
        status = gr.Markdown("", elem_id="admin-status")
        with gr.Accordion("API keys of every account", open=False, elem_id="admin-keys") as keys_panel:
            keys_table = gr.Dataframe(headers=KEY_COLUMNS, value=[], interactive=False, elem_id="admin-key-list")
            with gr.Row():
                key_id = gr.Textbox(label="Id of the key to revoke", elem_id="admin-key-id", scale=3)
                revoke_button = gr.Button("Revoke key", variant="stop", elem_id="admin-key-revoke", scale=1)
    keys = ApiKeyService(studio.store)

    @guard
    def overview(limit: int = OVERVIEW_PAGE, cursor: str = "", request: gr.Request = None) -> dict:
        """Admins only: one page of accounts by name (balance, today's spending, daily limit, recent
        spending): {items, next_cursor, has_more}; pass next_cursor for the next page."""
        return admin.overview(user_of(request), limit=limit, cursor=cursor).to_api()

    @guard
    def grant_credits(user: str, amount: int, reason: str, request: gr.Request) -> dict:
        """Admins only: give (amount > 0) or take (amount < 0) credits; the ledger entry names you and the reason."""
        return admin.grant(user_of(request), user, amount, reason)

    @guard
    def set_daily_limit(user: str, limit: int | None = None, request: gr.Request = None) -> dict:
        """Admins only: cap what an account may spend per UTC day; no limit given: back to the studio default."""
        return {"user": user, "daily_limit": admin.set_daily_limit(user_of(request), user, limit)}

    @guard
    def api_keys_of_all(request: gr.Request) -> list[dict]:
        """Admins only: every account's API keys, newest first (owner, id, name, hint, created, revoked; never the key)."""
        admin.require_admin(user_of(request))
        return keys.list_all()

    @guard
    def revoke_any_api_key(key_id: str, request: gr.Request) -> dict:
        """Admins only: revoke any account's API key by its id; the record names you."""
        return keys.revoke_any(key_id, by=admin.require_admin(user_of(request)))

    for fn, name in ((overview, "admin_accounts"), (grant_credits, "admin_grant"),
                     (set_daily_limit, "admin_set_daily_limit"), (api_keys_of_all, "admin_api_keys"),
                     (revoke_any_api_key, "admin_revoke_api_key")):
        gr.api(fn, api_name=name, queue=False)

    # The form's callbacks report in the status line rather than a toast: a refusal there stays
    # readable next to the fields it is about.
    def ui_table(request: gr.Request):
        try:
            return _rows(admin.overview(user_of(request), limit=TABLE_ROWS).items)
        except USER_ERRORS:
            return []

    def ui_grant(user, credits, why, request: gr.Request):
        try:
            entry = admin.grant(user_of(request), user, credits, why)
        except USER_ERRORS as exc:
            return gr.update(), str(exc)
        verb = "Granted" if entry["delta"] > 0 else "Took"
        return (_rows(admin.overview(user_of(request), limit=TABLE_ROWS).items),
                f"{verb} {abs(entry['delta'])} credits: {entry['owner']} now has {entry['balance_after']}.")

    def ui_limit(user, value, request: gr.Request):
        try:
            now = admin.set_daily_limit(user_of(request), user, value)
        except USER_ERRORS as exc:
            return gr.update(), str(exc)
        return _rows(admin.overview(user_of(request), limit=TABLE_ROWS).items), f"Daily limit of {user.strip()}: {'none' if now is None else now}."

    def ui_keys(request: gr.Request):
        try:
            return _key_rows(keys.list_all()) if admin.require_admin(user_of(request)) else []
        except USER_ERRORS:
            return []

    def ui_revoke(which, request: gr.Request):
        try:
            done = keys.revoke_any((which or "").strip(), by=admin.require_admin(user_of(request)))
        except USER_ERRORS as exc:
            return gr.update(), str(exc)
        return _key_rows(keys.list_all()), f"Revoked {done['owner']}'s key {done['name']} ({done['hint']})."

    def show_for_admins(request: gr.Request):
        return gr.Tab(visible=admin.is_admin(user_of(request)))

    refresh.click(ui_table, None, table, api_name="ui_admin_refresh", **UI)
    granted = grant_button.click(ui_grant, [account, amount, reason], [table, status], api_name="ui_admin_grant", **UI)
    limit_button.click(ui_limit, [account, limit], [table, status], api_name="ui_admin_limit", **UI)
    tab.select(ui_table, None, table, api_name="ui_admin_open", **UI)
    keys_panel.expand(ui_keys, None, keys_table, api_name="ui_admin_keys", **UI)
    revoke_button.click(ui_revoke, [key_id], [keys_table, status], api_name="ui_admin_revoke_key", **UI)
    app.load(show_for_admins, None, tab, api_name="ui_admin_visible", **UI)
    return [granted]

"""The API keys panel: each account makes, names and revokes the keys its programs use.

A new key is shown once, in a copyable box, and never again (the store has only its
hash). Without accounts the REST APIs need no key, and the panel says so.
"""

from __future__ import annotations

import gradio as gr

from studio.services.access.api_keys import ApiKeyService
from studio.services.generation.requests import InvalidRequest
from studio.services.studio import Studio
from studio.services.gen_space.deletions import Deletion
from studio.ui.shared.common import LOOSE
from studio.ui.shared.confirm import layout_confirm, wire_confirm
from studio.ui.shared.events import need
from studio.ui.shared.session import user_of

HEADERS = ["Name", "Key", "Created", "Status"]
NO_KEY = "Choose a key to revoke first."


def _rows(keys: list[dict]) -> list[list[str]]:
    return [[k["name"], k["hint"], k["created"][:16].replace("T", " "), f"revoked {k['revoked'][:10]}" + _by(k) if k["revoked"] else "active"]
            for k in keys]


def _by(key: dict) -> str:
    """Who revoked it, when not the owner (an administrator, or the accounts command)."""
    return f" by {key['revoked_by']}" if key.get("revoked_by") else ""


def _choices(keys: list[dict]) -> list[tuple[str, str]]:
    return [(f"{k['name']} ({k['hint']})", k["id"]) for k in keys if not k["revoked"]]


def build_api_keys(studio: Studio) -> None:
    keys = ApiKeyService(studio.store)
    with gr.Accordion("API keys", open=False, elem_id="api-keys") as panel:
        gr.Markdown(
            "Programs use the studio through its AUTOMATIC1111 (`/sdapi/v1`) and OpenAI (`/v1`) APIs and "
            "spend your credits. When the studio has accounts (`--auth`) they send `Authorization: Bearer KEY`; "
            "a studio without accounts needs no key. A new key is shown once: copy it now."
        )
        with gr.Row():
            name = gr.Textbox(label="New key name", placeholder="e.g. laptop script", scale=3, elem_id="api-key-name")
            create = gr.Button("Create key", scale=1, elem_id="api-key-create")
        secret = gr.Textbox(label="Your new key (shown once)", interactive=False, buttons=["copy"],
                            placeholder="Create a key: it appears here once.", elem_id="api-key-secret")
        table = gr.Dataframe(headers=HEADERS, value=[], interactive=False, elem_id="api-key-list")
        with gr.Row():
            pick = gr.Dropdown(label="Key to revoke", choices=[], scale=3, elem_id="api-key-pick",
                               allow_custom_value=True)  # API callers pass an id from /api_keys; ownership is checked
            revoke = gr.Button("Revoke", variant="stop", scale=1, elem_id="api-key-revoke")
        confirm = layout_confirm("confirm-revoke-key", "Yes, revoke")

    def refresh(user: str):
        listed = keys.list(user)
        return _rows(listed), gr.update(choices=_choices(listed), value=None)

    def create_key(label, request: gr.Request):
        user = user_of(request)
        try:
            made = keys.create(user, label)
        except InvalidRequest as exc:
            raise gr.Error(str(exc)) from None
        return (made.secret, "", *refresh(user))

    def revoke_key(key_id, request: gr.Request):
        user = user_of(request)
        keys.revoke(user, need(key_id, NO_KEY))
        return ("", *refresh(user))

    def ask_revoke(key_id, request: gr.Request) -> Deletion:
        """What revoking takes with it: every program that calls with the key."""
        key_id = need(key_id, NO_KEY)
        key = next((k for k in keys.list(user_of(request)) if k["id"] == key_id and not k["revoked"]), None)
        if key is None:
            raise InvalidRequest("That key is not one of your active keys.")
        what = f"the key “{key['name']}” ({key['hint']})"
        return Deletion(f"Revoke {what}? Programs that use it stop working at once; this can't be undone.",
                        f"Revoked {what}. Programs that use it can no longer call the studio.")

    def list_keys(request: gr.Request):
        return refresh(user_of(request))

    # Raw values (LOOSE): the key service's own checks answer a number or a list, not Gradio's.
    # Queued, so a refusal reaches the page as a toast (studio/ui/events.py says why).
    create.click(create_key, [name], [secret, name, table, pick], api_name="create_api_key", queue=True, **LOOSE)
    wire_confirm(confirm, revoke, ask_revoke, [pick], revoke_key, [pick], [secret, table, pick],
                 api_name="revoke_api_key", act_kwargs=LOOSE)
    panel.expand(list_keys, None, [table, pick], api_name="list_api_keys", queue=False)

    def api_keys(request: gr.Request) -> list[dict]:
        """The caller's API keys, newest first: id, name, a hint of the key, created, revoked (never the key)."""
        return keys.list(user_of(request))

    gr.api(api_keys, api_name="api_keys", queue=False)

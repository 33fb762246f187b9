"""Hostile and careless input through the LAUNCHED app's API, every endpoint that takes input.

One `python app.py` serves the whole corpus. Each case asserts: the call is refused with
a message a person can act on (no quotes around it, no component index, no server path,
no exception class name), the caller's balance is unchanged, the data directory
(database and image folder, byte for byte) is unchanged, and the app still answers.
Values gradio_client cannot encode (lone surrogates) go over plain HTTP as JSON escapes,
exactly as a browser or another client could send them.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file

from tests.launched_app import launched_app

pytestmark = pytest.mark.slow
DEMO = "demo-faces"
GOOD_GEN = [DEMO, "auto", "1:1", 1, "a sailor", False, "", -1]  # /generate, positional
GOOD_CMP = [[DEMO, "sd-turbo"], "auto", "1:1", 1, "a sailor", False, "", -1]  # /compare_models
GOOD_SAVE = ["castle two", DEMO, "auto", "1:1", 1, "a castle", False, ""]  # /save_prompt
UUID_NOBODY = "0123456789abcdef0123456789abcdef"
LONG = "p" * 2001


def gen(i: int, value) -> list:
    args = list(GOOD_GEN)
    args[i] = value
    return args


def save(i: int, value) -> list:
    args = list(GOOD_SAVE)
    args[i] = value
    return args


def shot_job(**change) -> dict:
    base = {"shot_id": "{shot}", "model_id": DEMO, "count": 1, "prompt": "a sailor"}
    return {**base, **change}


def batch(**change) -> dict:
    base = {"shot_ids": ["{shot}", "{shot2}"], "model_id": DEMO, "count": 1, "prompt": "a sailor"}
    return {**base, **change}


# (api name, positional args, keyword args, words the message must contain)
CASES = [
    # ----- /generate: text fields -----
    ("/generate", gen(4, 12345), {}, "must be text"),
    ("/generate", gen(4, ["a", "b"]), {}, "must be text"),
    ("/generate", gen(4, {"a": 1}), {}, "must be text"),
    ("/generate", gen(4, ""), {}, "Write a prompt first"),
    ("/generate", gen(4, "   \n\t "), {}, "Write a prompt first"),
    ("/generate", gen(4, "\u200b\u200b"), {}, "Write a prompt first"),
    ("/generate", gen(4, "\u200b\u200c\u200d\ufeff\u2060"), {}, "Write a prompt first"),
    ("/generate", gen(4, "\u3164\u2800"), {}, "Write a prompt first"),
    ("/generate", gen(4, None), {}, "Write a prompt first"),
    ("/generate", gen(4, "a \ud800 b"), {}, "can't be saved"),
    ("/generate", gen(4, "\udfff"), {}, "can't be saved"),
    ("/generate", gen(4, LONG), {}, "the limit is 2000"),
    ("/generate", gen(6, 42), {}, "negative prompt must be text"),
    ("/generate", gen(6, ["x"]), {}, "negative prompt must be text"),
    ("/generate", gen(6, "x \ud800"), {}, "can't be saved"),
    ("/generate", gen(6, "n" * 1001), {}, "the limit is 1000"),
    # ----- /generate: numbers and choices -----
    ("/generate", gen(7, 1.5), {}, "Seed must be a whole number"),
    ("/generate", gen(7, "abc"), {}, "Seed must be a whole number"),
    ("/generate", gen(7, "42"), {}, "Seed must be a whole number"),
    ("/generate", gen(7, -2), {}, "Seed must be a whole number"),
    ("/generate", gen(7, 2**32), {}, "Seed must be a whole number"),
    ("/generate", gen(7, True), {}, "Seed must be a whole number"),
    ("/generate", gen(7, [1]), {}, "Seed must be a whole number"),
    ("/generate", gen(3, "2"), {}, "Number of images must be a whole number from 1 to 4"),
    ("/generate", gen(3, 0), {}, "Number of images"),
    ("/generate", gen(3, 5), {}, "Number of images"),
    ("/generate", gen(3, 2.5), {}, "Number of images"),
    ("/generate", gen(3, None), {}, "Number of images"),
    ("/generate", gen(3, True), {}, "Number of images"),
    ("/generate", gen(3, 10**12), {}, "Number of images"),
    ("/generate", gen(0, "no-such-model"), {}, "Unknown model"),
    ("/generate", gen(0, 3), {}, "Unknown model"),
    ("/generate", gen(0, [DEMO]), {}, "Unknown model"),
    ("/generate", gen(0, None), {}, "Unknown model"),
    ("/generate", gen(0, "../../etc/passwd"), {}, "Unknown model"),
    ("/generate", gen(0, "sd-turbo"), {}, "not downloaded"),
    ("/generate", gen(1, "vaporwave"), {}, "Unknown style"),
    ("/generate", gen(1, 7), {}, "Unknown style"),
    ("/generate", gen(2, "4:3"), {}, "Unknown aspect ratio"),
    ("/generate", gen(2, 1), {}, "Unknown aspect ratio"),
    ("/generate", gen(5, "yes"), {}, "Enhance prompt must be true or false"),
    ("/generate", gen(5, 1), {}, "Enhance prompt must be true or false"),
    # ----- /estimate_cost -----
    ("/estimate_cost", ["no-such-model", 1], {}, "Unknown model"),
    ("/estimate_cost", [DEMO, "2"], {}, "Number of images"),
    ("/estimate_cost", [DEMO, 0], {}, "Number of images"),
    ("/estimate_cost", [DEMO, 1.5], {}, "Number of images"),
    ("/estimate_cost", [None, 1], {}, "Unknown model"),
    ("/estimate_cost", [DEMO, [1]], {}, "Number of images"),
    # ----- /compare_models -----
    ("/compare_models", [[DEMO], *GOOD_CMP[1:]], {}, "Pick 2 to 4"),
    ("/compare_models", [[], *GOOD_CMP[1:]], {}, "Pick 2 to 4"),
    ("/compare_models", [DEMO, *GOOD_CMP[1:]], {}, "Pick 2 to 4"),
    ("/compare_models", [[DEMO, DEMO], *GOOD_CMP[1:]], {}, "Pick 2 to 4"),
    ("/compare_models", [[DEMO, "sd-turbo"], *GOOD_CMP[1:]], {}, "SD-Turbo is not downloaded"),
    ("/compare_models", [[DEMO, "nope"], *GOOD_CMP[1:]], {}, "Unknown model"),
    ("/compare_models", [[DEMO, "sd15", "sdxl-base", "sd-turbo", "flux-schnell"], *GOOD_CMP[1:]], {}, "Pick 2 to 4"),
    ("/compare_models", [[DEMO, "sd-turbo"], "auto", "1:1", "2", "a sailor", False, "", -1], {}, "Number of images"),
    ("/compare_models", [[DEMO, "sd-turbo"], "auto", "1:1", 1, 12345, False, "", -1], {}, "must be text"),
    ("/compare_models", [[DEMO, "sd-turbo"], "auto", "1:1", 1, "a sailor", False, "", 1.5], {}, "Seed"),
    ("/compare_models", [[DEMO, "sd-turbo"], "auto", "1:1", 1, "a \ud800", False, "", -1], {}, "can't be saved"),
    # ----- prompt library -----
    ("/save_prompt", save(0, ""), {}, "The name is empty"),
    ("/save_prompt", save(0, "\u200b"), {}, "The name is empty"),
    ("/save_prompt", save(0, 5), {}, "The name must be text"),
    ("/save_prompt", save(0, "n" * 81), {}, "the limit is 80"),
    ("/save_prompt", save(0, "CASTLE"), {}, "already have a saved prompt named castle"),
    ("/save_prompt", save(5, 12345), {}, "must be text"),
    ("/save_prompt", save(5, "\u200b\u200b"), {}, "Write a prompt first"),
    ("/save_prompt", save(5, "a \ud800"), {}, "can't be saved"),
    ("/save_prompt", save(4, "2"), {}, "Number of images"),
    ("/save_prompt", save(6, "yes"), {}, "Enhance prompt must be true or false"),
    ("/save_prompt", save(1, "nope"), {}, "Unknown model"),
    ("/save_prompt", save(3, "4:3"), {}, "Unknown aspect ratio"),
    ("/save_prompt", save(7, 42), {}, "negative prompt must be text"),
    ("/use_saved_prompt", ["nope"], {}, "Choose a saved prompt"),
    ("/use_saved_prompt", [UUID_NOBODY], {}, "Choose a saved prompt"),
    ("/delete_saved_prompt", ["../x"], {}, "Choose a saved prompt"),
    ("/enhance_prompt", [12345, "auto"], {}, "must be text"),
    ("/enhance_prompt", ["\u200b", "auto"], {}, "Write a prompt first"),
    ("/enhance_prompt", ["a boat", "vaporwave"], {}, "Unknown style"),
    # ----- projects and shots -----
    ("/create_project", [""], {}, "Give the project a name"),
    ("/create_project", ["\u200b\u200b"], {}, "Give the project a name"),
    ("/create_project", [12345], {}, "The project name must be text"),
    ("/create_project", [["a"]], {}, "The project name must be text"),
    ("/create_project", ["n" * 81], {}, "the limit is 80"),
    ("/create_project", ["harbour \ud800"], {}, "can't be saved"),
    ("/create_project", ["HARBOUR"], {}, "already have a project named Harbour"),
    ("/create_shot", ["../x", "character", "Mira"], {}, "Unknown project"),
    ("/create_shot", [UUID_NOBODY, "character", "Mira"], {}, "Unknown project"),
    ("/create_shot", ["{pid}", "monster", "Mira"], {}, "Shot type must be one of"),
    ("/create_shot", ["{pid}", 3, "Mira"], {}, "Shot type must be one of"),
    ("/create_shot", ["{pid}", "character", ""], {}, "Give the shot a name"),
    ("/create_shot", ["{pid}", "character", "\u200b\u200d"], {}, "Give the shot a name"),
    ("/create_shot", ["{pid}", "character", 42], {}, "The shot name must be text"),
    ("/create_shot", ["{pid}", "character", "Mira", 42], {}, "description must be text"),
    ("/create_shot", ["{pid}", "character", "Mira", "x \ud800"], {}, "can't be saved"),
    ("/create_shot", ["{pid}", "character", "Mira", LONG], {}, "the limit is 2000"),
    ("/update_shot", ["nope"], {"name": "X"}, "Unknown shot"),
    ("/update_shot", ["{shot}"], {"name": "\u200b"}, "Give the shot a name"),
    ("/update_shot", ["{shot}"], {"type": "monster"}, "Shot type must be one of"),
    ("/update_shot", ["{shot}"], {"description": 5}, "description must be text"),
    ("/delete_shot", ["nope"], {}, "Unknown shot"),
    ("/delete_shot", [UUID_NOBODY], {}, "Unknown shot"),
    ("/delete_shot", [123], {}, "Unknown shot"),
    ("/list_shots", ["nope"], {}, "Unknown project"),
    ("/list_shots", ["{pid}", "monster"], {}, "Shot type must be one of"),
    # ----- assets and references -----
    ("/use_as_reference", ["{pid}", "nope"], {}, "Unknown"),
    ("/use_as_reference", ["nope", "{asset}"], {}, "Unknown project"),
    ("/use_as_reference", ["{pid}", 12], {}, "Unknown"),
    ("/remove_reference", ["{pid}", "zz"], {}, "Unknown"),
    ("/apply_to_shot", ["nope", "{asset}"], {}, "Unknown shot"),
    ("/apply_to_shot", ["{shot}", UUID_NOBODY], {}, "Unknown image"),
    ("/list_assets", [], {"kind": "monster"}, "Image kind must be one of"),
    ("/list_assets", [], {"shot_type": "x"}, "Shot type must be one of"),
    ("/list_assets", [], {"project_id": "../../etc"}, "Unknown project"),
    ("/asset_details", ["../../etc/passwd"], {}, "Unknown"),
    ("/asset_details", [UUID_NOBODY], {}, "Unknown"),
    ("/edit_asset", ["{asset}", "blur"], {}, "Unknown edit"),
    ("/edit_asset", ["{asset}", "rotate"], {"degrees": 45}, "Rotate by 90, 180 or 270"),
    ("/edit_asset", ["{asset}", "rotate"], {"degrees": "90"}, "Rotate by 90, 180 or 270"),
    ("/edit_asset", ["{asset}", "flip"], {"direction": "diagonal"}, "Flip horizontal or vertical"),
    ("/edit_asset", ["{asset}", "crop"], {"left": "abc"}, "must be a number from 0 to 1"),
    ("/edit_asset", ["{asset}", "crop"], {"left": 0.9, "right": 0.1}, "crop box must lie inside"),
    ("/edit_asset", ["nope", "rotate"], {}, "Unknown"),
    ("/delete_asset", ["{asset}", False], {}, "confirm to delete"),
    ("/delete_asset", ["{asset}", "true"], {}, "confirm to delete"),
    ("/delete_asset", ["nope", True], {}, "Unknown"),
    ("/upload_asset", ["{pid}", "FILE:note.txt"], {}, "upload"),
    ("/upload_asset", ["{pid}", "FILE:empty.png"], {}, "The file is empty"),
    ("/upload_asset", ["{pid}", "FILE:fake.png"], {}, "isn't an image we can read"),
    ("/upload_asset", ["{pid}", "FILE:huge.png"], {}, "the limit is 20 MiB"),
    ("/export_storyboard", ["nope"], {}, "Unknown project"),
    # ----- Gen Space generation -----
    ("/generate_for_shot", [], shot_job(prompt=12345), "must be text"),
    ("/generate_for_shot", [], shot_job(prompt=["a", "b"]), "must be text"),
    ("/generate_for_shot", [], shot_job(prompt={"a": 1}), "must be text"),
    ("/generate_for_shot", [], shot_job(prompt="\u200b\u200b"), "Write a prompt first"),
    ("/generate_for_shot", [], shot_job(prompt="a \ud800 b"), "can't be saved"),
    ("/generate_for_shot", [], shot_job(count="2"), "Number of images must be a whole number from 1 to 4"),
    ("/generate_for_shot", [], shot_job(count=0), "Number of images"),
    ("/generate_for_shot", [], shot_job(seed=1.5), "Seed must be a whole number"),
    ("/generate_for_shot", [], shot_job(strength="abc"), "Image-to-image strength must be a number"),
    ("/generate_for_shot", [], shot_job(strength=5), "Image-to-image strength must be a number from 0.01 to 1; 5 is out of range"),
    ("/generate_for_shot", [], shot_job(ip_adapter_scale="x"), "IP-Adapter scale"),
    ("/generate_for_shot", [], shot_job(reference_ids="abc"), "list of ids"),
    ("/generate_for_shot", [], shot_job(reference_ids=[12]), "Unknown"),
    ("/generate_for_shot", [], shot_job(reference_ids=["nope"]), "Unknown"),
    ("/generate_for_shot", [], shot_job(reference_ids=["{asset}"] * 7), "up to 6 reference images"),
    ("/generate_for_shot", [], shot_job(shot_id="nope"), "Unknown shot"),
    ("/generate_for_shot", [], shot_job(model_id="nope"), "Unknown model"),
    ("/generate_for_shot", [], shot_job(model_id="sd-turbo"), "not downloaded"),
    ("/generate_for_shot", [], shot_job(style_id="x"), "Unknown style"),
    ("/generate_for_shot", [], shot_job(aspect="2:1"), "Unknown aspect ratio"),
    ("/generate_for_shot", [], shot_job(enhance="yes"), "Enhance prompt must be true or false"),
    ("/generate_batch", [], batch(shot_ids=[]), "Select at least one shot"),
    ("/generate_batch", [], batch(shot_ids="abc"), "list of shot ids"),
    ("/generate_batch", [], batch(shot_ids=["nope"]), "Unknown shot"),
    ("/generate_batch", [], batch(shot_ids=["{shot}", "{shot}"]), "once"),
    ("/generate_batch", [], batch(count="2"), "Number of images"),
    ("/generate_batch", [], batch(prompt=12345), "must be text"),
    ("/generate_batch", [], batch(prompt="a \ud800"), "can't be saved"),
    ("/generate_batch", [], batch(seed=1.5), "Seed"),
    ("/generate_batch", [], batch(model_id="sd-turbo"), "not downloaded"),
    ("/ui_edit_by_prompt", [DEMO, "a boat", 0.5], {}, "Click an image"),
    # ----- paged lists -----
    ("/ledger", [], {"limit": "abc"}, "A page holds 1 to"),
    ("/ledger", [], {"limit": 0}, "A page holds 1 to"),
    ("/ledger", [], {"limit": 1.5}, "A page holds 1 to"),
    ("/ledger", [], {"cursor": "garbage"}, "cursor"),
    ("/history", [], {"limit": -1}, "A page holds 1 to"),
    ("/history", [], {"limit": 10**9}, "A page holds 1 to"),
    ("/history", [], {"cursor": "../../x"}, "cursor"),
    ("/list_assets", [], {"limit": "5"}, "A page holds 1 to"),
    ("/list_assets", [], {"cursor": 5}, "cursor"),
    # ----- administrators (the corpus app runs with --admins local) -----
    ("/admin_grant", ["", 5, "why"], {}, "Give the account name"),
    ("/admin_grant", ["local", "abc", "why"], {}, "amount must be a whole number"),
    ("/admin_grant", ["local", 1.5, "why"], {}, "amount must be a whole number"),
    ("/admin_grant", ["local", True, "why"], {}, "amount must be a whole number"),
    ("/admin_grant", ["local", 0, "why"], {}, "must not be 0"),
    ("/admin_grant", ["local", 5, ""], {}, "Give a reason"),
    ("/admin_grant", ["local", -10**6, "take it all"], {}, "you can take at most"),
    ("/admin_set_daily_limit", ["local", "abc"], {}, "daily limit must be a whole number"),
    ("/admin_set_daily_limit", ["local", -1], {}, "at least 0"),
    ("/admin_set_daily_limit", ["local", 1.5], {}, "daily limit must be a whole number"),
    ("/admin_set_daily_limit", ["", 5], {}, "Give the account name"),
    # ----- API keys -----
    ("/create_api_key", [""], {}, "Give the key a name"),
    ("/create_api_key", ["\u200b "], {}, "Give the key a name"),
    ("/create_api_key", [5], {}, "Give the key a name"),
    ("/create_api_key", ["k" * 61], {}, "the limit is 60"),
    ("/create_api_key", ["key \ud800"], {}, "can't be saved"),
    ("/revoke_api_key", [UUID_NOBODY], {}, "Unknown API key"),
    ("/revoke_api_key", [""], {}, "Choose a key to revoke first"),
    ("/revoke_api_key", [5], {}, "Unknown API key"),
]

CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z]*(?:Error|Exception)\b|Traceback")


def _has_surrogate(value) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, (list, tuple)):
        return any(_has_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_has_surrogate(v) for v in value.values())
    return False


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    data = root / "data"
    data.mkdir()
    files = root / "files"
    files.mkdir()
    (files / "note.txt").write_text("not an image")
    (files / "empty.png").write_bytes(b"")
    (files / "fake.png").write_bytes(b"this is not a png at all")
    (files / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * (21 * 1024 * 1024))
    with launched_app(data, "--starting-credits", "50", "--admins", "local") as url:
        client = Client(url, verbose=False)
        pid = client.predict(api_name="/list_projects")[0]["id"]
        client.predict(pid, api_name="/list_shots")
        client.predict("Harbour", api_name="/create_project")
        shot = client.predict(pid, "character", "Mira", "a sailor on a pier", api_name="/create_shot")["id"]
        shot2 = client.predict(pid, "scene", "Pier", "", api_name="/create_shot")["id"]
        made = client.predict(shot, DEMO, 1, "a sailor", api_name="/generate_for_shot")
        client.predict(*save(0, "castle"), api_name="/save_prompt")
        ids = {"pid": pid, "shot": shot, "shot2": shot2, "asset": made["images"][0]["id"]}
        endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
        # Taken once: every refused case must leave exactly this behind.
        baseline = {"balance": client.predict(api_name="/balance"), "files": _fingerprint(data)}
        yield {"url": url, "client": client, "data": data, "files": files, "ids": ids, "endpoints": endpoints,
               "baseline": baseline}


def _fill(value, ids: dict, files: Path):
    if isinstance(value, str):
        if value.startswith("FILE:"):
            return handle_file(str(files / value[5:]))
        return value.format(**ids) if value.startswith("{") and value.endswith("}") else value
    if isinstance(value, list):
        return [_fill(v, ids, files) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids, files) for k, v in value.items()}
    return value


def _fingerprint(data: Path) -> dict[str, str]:
    """Every file of the data directory (database, journal, images, exports) by content."""
    return {p.relative_to(data).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(data.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


def _raw_call(url: str, api_name: str, args: list, kwargs: dict, endpoints: dict) -> str:
    """Call over plain HTTP with the JSON escaped as ASCII (how a lone surrogate can arrive)."""
    info = endpoints[api_name]
    names = [p["parameter_name"] for p in info["parameters"]]
    defaults = [p.get("parameter_default") for p in info["parameters"]]
    values = list(args) + defaults[len(args):]
    for key, value in kwargs.items():
        values[names.index(key)] = value
    body = json.dumps({"data": values}, ensure_ascii=True)
    with httpx.Client(base_url=url, timeout=60) as http:
        start = http.post(f"gradio_api/call{api_name}", content=body, headers={"content-type": "application/json"})
        start.raise_for_status()
        stream = http.get(f"gradio_api/call{api_name}/{start.json()['event_id']}")
    lines = stream.text.splitlines()
    assert "event: error" in lines, f"accepted: {stream.text[:300]}"
    payload = lines[lines.index("event: error") + 1].removeprefix("data: ")
    return json.loads(payload) if payload.startswith('"') else payload


@pytest.mark.parametrize("api_name, args, kwargs, words", CASES, ids=[f"{i:03d}{c[0]}" for i, c in enumerate(CASES)])
def test_bad_input_is_refused_clearly_and_changes_nothing(app, api_name, args, kwargs, words):
    client, data = app["client"], app["data"]
    args, kwargs = _fill(args, app["ids"], app["files"]), _fill(kwargs, app["ids"], app["files"])
    if _has_surrogate(args) or _has_surrogate(kwargs):
        message = _raw_call(app["url"], api_name, args, kwargs, app["endpoints"])
    else:
        with pytest.raises(Exception) as refused:
            client.predict(*args, api_name=api_name, **kwargs)
        message = str(refused.value)

    assert words.lower() in message.lower(), message
    assert not message.startswith(("'", '"')) and not message.endswith(("'", '"')), message
    assert "index" not in message.lower() and "preprocess" not in message.lower(), message
    assert str(data) not in message and "/tmp" not in message and "site-packages" not in message, message
    assert not CLASS_NAME.search(message), message
    assert client.predict(api_name="/balance") == app["baseline"]["balance"], "no credit taken; still serving"
    assert _fingerprint(data) == app["baseline"]["files"], "nothing written"


def test_corpus_is_big_enough_and_covers_every_input_endpoint(app):
    assert len(CASES) >= 100
    info = app["endpoints"]
    takes_input = {name for name, ep in info.items() if ep["parameters"]} - {
        "/list_references",  # read-only: its only input is a project id, covered by /list_shots' rule
    }
    assert takes_input <= {c[0] for c in CASES}, takes_input - {c[0] for c in CASES}

"""API keys: the service on a real TinyDB file, then a launched studio with accounts
where keys are made in the UI's API, used by the real clients, revoked, refused; and
one account's key never sees or spends another's credits."""

from __future__ import annotations

import base64

import hashlib
import re
import threading
import time

import openai
import pytest
import requests
import webuiapi

from studio.services.access.api_keys import ApiKeyService
from studio.services.generation.requests import InvalidRequest
from studio.store import open_store
from tests.api_fixtures import TINY, all_pages, data_dir_with_tiny_model, gradio, image_files

# ----- the service --------------------------------------------------------------------


@pytest.fixture
def keys(tmp_path):
    return ApiKeyService(open_store(tmp_path))


def test_key_is_shown_once_and_stored_hashed(keys, tmp_path):
    made = keys.create("ana", "  laptop script ")
    assert made.name == "laptop script" and made.secret.startswith("sk-studio-") and len(made.secret) > 40
    assert keys.user_for(made.secret) == "ana"
    on_disk = "".join(f.read_text() for f in tmp_path.glob("studio.*"))  # snapshot and journal
    assert made.secret not in on_disk and hashlib.sha256(made.secret.encode()).hexdigest() in on_disk
    listed = keys.list("ana")
    assert [k["name"] for k in listed] == ["laptop script"] and made.secret not in str(listed)
    assert keys.list("bob") == []


def test_revoke_refuses_the_key_and_only_the_owner_can(keys):
    made, other = keys.create("ana", "a"), keys.create("ana", "b")
    with pytest.raises(InvalidRequest, match="Unknown API key"):
        keys.revoke("bob", made.id)
    assert keys.user_for(made.secret) == "ana"
    assert keys.revoke("ana", made.id)["revoked"]
    assert keys.user_for(made.secret) is None and keys.user_for(other.secret) == "ana"
    assert [k["revoked"] is None for k in keys.list("ana")] == [True, False]


@pytest.mark.parametrize("name", ["", "   ", None, 5, "x" * 61])
def test_bad_names_are_refused(keys, name):
    with pytest.raises(InvalidRequest):
        keys.create("ana", name)
    assert keys.list("ana") == []


@pytest.mark.parametrize("secret", [None, "", "sk-studio-", "sk-studio-guess", "Bearer x", 42, "sk-studio-" + "a" * 300])
def test_unknown_secrets_name_nobody(keys, secret):
    keys.create("ana", "real")
    assert keys.user_for(secret) is None


def test_who_is_calling(keys):
    from base64 import b64encode

    from studio.api.auth import caller_of, password_check_from_pairs

    check = password_check_from_pairs([("ana", "pw"), ("bob", "pw2")])
    key = keys.create("ana", "k").secret
    basic = lambda user, pw: "Basic " + b64encode(f"{user}:{pw}".encode()).decode()  # noqa: E731
    assert caller_of(None, keys, None, allow_basic=True) == "local", "no accounts: the local user, no key needed"
    assert caller_of(f"Bearer {key}", keys, check, allow_basic=False) == "ana"
    assert caller_of(basic("ana", "pw"), keys, check, allow_basic=True) == "ana"
    assert caller_of(basic("ana", key), keys, check, allow_basic=True) == "ana"
    assert caller_of(basic("", key), keys, check, allow_basic=True) == "ana"
    for refused in [None, "", f"Bearer {key}x", basic("ana", "nope"), basic("bob", key), basic("ana", ""), "Basic ***"]:
        assert caller_of(refused, keys, check, allow_basic=True) is None, refused
    assert caller_of(basic("ana", "pw"), keys, check, allow_basic=False) is None, "the OpenAI dialect takes keys only"


# ----- a studio with accounts -----------------------------------------------------------

ANA, BOB = ("ana", "pw-ana-1"), ("bob", "pw-bob-2")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from tests.launched_app import launched_app

    data = data_dir_with_tiny_model(tmp_path_factory.mktemp("keys"))
    with launched_app(data, "--auth", f"{ANA[0]}:{ANA[1]},{BOB[0]}:{BOB[1]}", "--starting-credits", "50") as url:
        yield url, data


@pytest.fixture(scope="module")
def ana(app):
    return gradio(app[0], ANA)


@pytest.fixture(scope="module")
def bob(app):
    return gradio(app[0], BOB)


def new_key(ui, name: str) -> str:
    secret, *_ = ui.predict(name, api_name="/create_api_key")
    return secret


WRONG_PASSWORD = "Basic emVkOndyb25n"  # zed:wrong; after 3 such failures the limiter answers 429
ENDPOINTS = [("GET", "sdapi/v1/sd-models"), ("GET", "sdapi/v1/options"), ("POST", "sdapi/v1/options"),
             ("GET", "sdapi/v1/samplers"), ("GET", "sdapi/v1/progress"), ("POST", "sdapi/v1/interrupt"),
             ("POST", "sdapi/v1/txt2img"), ("POST", "sdapi/v1/img2img"), ("GET", "v1/models"),
             ("POST", "v1/images/generations"), ("GET", f"v1/models/{TINY}")]


@pytest.mark.parametrize("method, path", ENDPOINTS)
@pytest.mark.parametrize("auth", [None, "Bearer sk-studio-guess", WRONG_PASSWORD, "Basic !!!", "Token x"])
def test_nothing_works_anonymously(app, ana, method, path, auth):
    url, data = app
    before, files = ana.predict(api_name="/balance"), len(image_files(data))
    headers = {"Authorization": auth} if auth else {}
    r = requests.request(method, f"{url}{path}", json={"prompt": "a cat"}, headers=headers, timeout=30)
    body = r.json()
    if auth == WRONG_PASSWORD and r.status_code == 429:  # the A1111 dialect's limiter has kicked in
        assert body["error"] == "too_many_failed_sign_ins"
    else:
        assert r.status_code == 401, r.text
        assert ("error" in body and "message" in body["error"]) if path.startswith("v1") else body["error"] == "unauthorized"
    assert ana.predict(api_name="/balance") == before and len(image_files(data)) == files


def test_repeated_wrong_basic_auth_passwords_are_refused_with_the_wait(app):
    """REST guesses count in the sign-in limiter: after the free failures the next one is
    answered 429 with how long to wait, before any password is checked."""
    url, _ = app
    wrong = {"Authorization": "Basic " + base64.b64encode(b"mallory:guess").decode()}
    statuses = [requests.get(f"{url}sdapi/v1/sd-models", headers=wrong, timeout=30).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    r = requests.get(f"{url}sdapi/v1/sd-models", headers=wrong, timeout=30)
    assert r.status_code == 429 and "Too many failed sign-ins for this account; try again in" in r.json()["detail"]


def test_gradio_api_refuses_anonymous_callers(app):
    with pytest.raises(Exception):
        gradio(app[0]).predict(api_name="/balance")


def test_key_made_in_the_ui_spends_only_its_owners_credits(app, ana, bob):
    url, data = app
    key = new_key(ana, "script")
    listed = ana.predict(api_name="/api_keys")
    assert [k["name"] for k in listed] == ["script"] and key not in str(listed) and key[-12:] not in str(listed)
    assert bob.predict(api_name="/api_keys") == [], "bob does not see ana's keys"
    ana_before, bob_before = ana.predict(api_name="/balance"), bob.predict(api_name="/balance")
    client = openai.OpenAI(base_url=f"{url}v1", api_key=key, max_retries=0)
    client.images.generate(model="demo-faces", prompt="a cat", n=2, response_format="b64_json")
    assert ana.predict(api_name="/balance") == ana_before - 2 and bob.predict(api_name="/balance") == bob_before
    # A1111 clients: the account password, or the key, as basic auth; not someone else's name with it.
    made = webuiapi.WebUIApi(baseurl=f"{url}sdapi/v1", username=ANA[0], password=ANA[1]).txt2img(
        prompt="a", override_settings={"sd_model_checkpoint": "demo-faces"})
    history = lambda ui: {a["id"] for a in all_pages(ui, "/list_assets", "", "", "", "")}  # noqa: E731
    assert set(made.info["asset_ids"]) <= history(ana), "REST images are in the caller's history"
    assert not set(made.info["asset_ids"]) & history(bob)
    webuiapi.WebUIApi(baseurl=f"{url}sdapi/v1", username=ANA[0], password=key).txt2img(
        prompt="a", override_settings={"sd_model_checkpoint": "demo-faces"})
    assert ana.predict(api_name="/balance") == ana_before - 4 and bob.predict(api_name="/balance") == bob_before
    r = requests.post(f"{url}sdapi/v1/txt2img", json={"prompt": "a"}, auth=(BOB[0], key), timeout=30)
    assert r.status_code == 401 and bob.predict(api_name="/balance") == bob_before


def test_options_progress_and_interrupt_are_per_account(app, ana, bob):
    url, _ = app
    a_api = webuiapi.WebUIApi(baseurl=f"{url}sdapi/v1", username=ANA[0], password=new_key(ana, "opts"), steps=2)
    b_api = webuiapi.WebUIApi(baseurl=f"{url}sdapi/v1", username=BOB[0], password=new_key(bob, "opts"), steps=2)
    a_api.util_set_model(TINY)
    b_api.util_set_model("demo-faces")
    assert (a_api.util_get_current_model(), b_api.util_get_current_model()) == (TINY, "demo-faces")
    out = {}
    worker = threading.Thread(target=lambda: out.update(r=a_api.txt2img(prompt="slow", steps=30, width=64, height=64)))
    worker.start()
    deadline = time.monotonic() + 60
    while (seen := a_api.get_progress()["state"])["sampling_step"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen["job_count"] == 1 and seen["sampling_steps"] == 30, "ana sees her own job"
    assert b_api.get_progress()["state"]["job_count"] == 0, "bob cannot see ana's job"
    b_api.interrupt()  # bob's interrupt has nothing of bob's to stop
    worker.join(90)
    assert len(out["r"].images) == 1 and not out["r"].info.get("interrupted")


def test_revoked_key_is_refused_and_costs_nothing(app, ana):
    url, data = app
    key = new_key(ana, "to revoke")
    client = openai.OpenAI(base_url=f"{url}v1", api_key=key, max_retries=0)
    assert client.models.list().data
    key_id = next(k["id"] for k in ana.predict(api_name="/api_keys") if k["name"] == "to revoke")
    with pytest.raises(Exception, match="Unknown API key"):
        gradio(url, BOB).predict(key_id, api_name="/revoke_api_key")
    assert client.models.list().data, "bob could not revoke ana's key"
    ana.predict(key_id, api_name="/revoke_api_key")
    before, files = ana.predict(api_name="/balance"), len(image_files(data))
    with pytest.raises(openai.AuthenticationError) as caught:
        client.images.generate(model="demo-faces", prompt="a cat", response_format="b64_json")
    assert caught.value.body["code"] == "invalid_api_key"
    r = requests.post(f"{url}sdapi/v1/txt2img", json={"prompt": "a"}, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 401
    assert ana.predict(api_name="/balance") == before and len(image_files(data)) == files



@pytest.mark.browser
def test_panel_creates_a_key_once_and_revokes_it(app, ana):
    from playwright.sync_api import expect

    from tests.browser import chromium_page

    url, _ = app
    with chromium_page() as page:
        login = page.request.post(f"{url}login", form={"username": ANA[0], "password": ANA[1]})
        assert login.ok
        page.goto(url)
        page.locator("#api-keys").get_by_text("API keys").first.click()
        # The errors a person can cause here reach the page as text.
        page.locator("#api-key-create").click()
        expect(page.get_by_text("Give the key a name, so you can tell it apart later").first).to_be_visible()
        page.locator("#api-key-revoke").click()
        expect(page.get_by_text("Choose a key to revoke first.").first).to_be_visible()
        page.locator("#api-key-name input, #api-key-name textarea").first.fill("from the browser")
        page.locator("#api-key-create").click()
        secret_box = page.locator("#api-key-secret input, #api-key-secret textarea").first
        expect(secret_box).to_have_value(re.compile(r"^sk-studio-\S{40,}$"))
        expect(page.locator("#api-key-list")).to_contain_text("from the browser")
        secret = secret_box.input_value()
        assert secret not in str(ana.predict(api_name="/api_keys"))
        client = openai.OpenAI(base_url=f"{url}v1", api_key=secret, max_retries=0)
        assert TINY in [m.id for m in client.models.list()]
        page.locator("#api-key-pick input").click()
        page.get_by_role("option", name=re.compile("from the browser")).click()
        page.locator("#api-key-revoke").click()
        page.locator("#confirm-revoke-key-yes").click()  # revoking asks first (studio/ui/shared/confirm.py)
        expect(page.locator("#api-key-list tr", has_text="from the browser")).to_contain_text("revoked")
        expect(secret_box).to_have_value("")
    with pytest.raises(openai.AuthenticationError):
        client.models.list()

"""API keys belong to a live account: a launched studio with a hashed accounts file, and a
second process (the accounts CLI) that changes passwords and removes the account while the
app runs. A removed account's key stops at once in both dialects and charges nothing; a
password change offers to revoke the keys and says what it did; an administrator sees and
revokes any account's keys, the owner only their own."""

from __future__ import annotations

import pytest
import requests

from tests.api_fixtures import TINY, data_dir_with_tiny_model, gradio
from tests.launched_app import launched_app
from tests.test_accounts import accounts_cli

pytestmark = pytest.mark.slow
ANA_PW, ANA_PW2, ANA_PW3, BOB_PW = "ana first pw", "ana second pw", "ana third pw", "bob the admin"


def _status(url: str, key: str) -> tuple[int, int]:
    """(A1111 /options, OpenAI /images/generations) answered to this key."""
    bearer = {"Authorization": f"Bearer {key}"}
    options = requests.get(f"{url}sdapi/v1/options", headers=bearer, timeout=60).status_code
    made = requests.post(f"{url}v1/images/generations", headers=bearer, timeout=120,
                         json={"model": TINY, "prompt": "a red boat", "n": 1}).status_code
    return options, made


def _balance(admin, user: str) -> int:
    return next(row["balance"] for row in admin.predict(api_name="/admin_accounts")["items"] if row["user"] == user)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = data_dir_with_tiny_model(tmp_path_factory.mktemp("account-keys"))
    accounts = data / "accounts.txt"
    for user, password in (("ana", ANA_PW), ("bob", BOB_PW)):
        assert accounts_cli("add", user, "--file", str(accounts), stdin=password + "\n").returncode == 0
    with launched_app(data, "--admins", "bob", "--starting-credits", "50") as url:
        yield url, data


def test_keys_follow_the_account_through_password_changes_admin_revokes_and_removal(app):
    url, data = app
    accounts = str(data / "accounts.txt")
    ana, bob = gradio(url, ("ana", ANA_PW)), gradio(url, ("bob", BOB_PW))
    first, _ = ana.predict("script one", api_name="/create_api_key")[:2]
    second = ana.predict("script two", api_name="/create_api_key")[0]
    assert _status(url, first) == (200, 200)

    # A password change from another process, in a script: it keeps the keys and says so.
    kept = accounts_cli("passwd", "ana", "--file", accounts, stdin=ANA_PW2 + "\n")
    assert kept.returncode == 0, kept.stderr
    assert "Kept 2 API keys of ana: they still work" in kept.stdout
    assert _status(url, first)[0] == 200

    # The administrator sees every account's keys (never the secret) and revokes one of ana's.
    listed = bob.predict(api_name="/admin_api_keys")
    anas = [k for k in listed if k["owner"] == "ana"]
    assert len(anas) == 2 and first not in str(listed) and second not in str(listed)
    two = next(k for k in anas if k["name"] == "script two")
    revoked = bob.predict(two["id"], api_name="/admin_revoke_api_key")
    assert revoked["owner"] == "ana" and revoked["revoked"] and revoked["revoked_by"] == "bob"
    assert _status(url, second) == (401, 401)
    ana2 = gradio(url, ("ana", ANA_PW2))
    with pytest.raises(Exception, match="Only administrators"):
        ana2.predict(api_name="/admin_api_keys")
    with pytest.raises(Exception, match="Only administrators"):
        ana2.predict(two["id"], api_name="/admin_revoke_api_key")
    owner_view = {k["name"]: k for k in ana2.predict(api_name="/api_keys")}
    assert owner_view["script two"]["revoked_by"] == "bob", "the owner sees who revoked it"

    # Asked to revoke them with the change: it does, and says how many.
    revoking = accounts_cli("passwd", "ana", "--file", accounts, "--revoke-keys", stdin=ANA_PW3 + "\n")
    assert revoking.returncode == 0 and "Revoked 1 API key of ana." in revoking.stdout, revoking.stdout
    assert _status(url, first) == (401, 401)

    # Removing the account (another process) stops its newest key at once, in both dialects, free.
    ana3 = gradio(url, ("ana", ANA_PW3))
    latest = ana3.predict("script three", api_name="/create_api_key")[0]
    assert _status(url, latest) == (200, 200)
    before = _balance(bob, "ana")
    removed = accounts_cli("remove", "ana", "--file", accounts)
    assert removed.returncode == 0 and "Revoked 1 API key of ana." in removed.stdout, removed.stdout
    assert _status(url, latest) == (401, 401)
    assert _balance(bob, "ana") == before, "nothing charged to a removed account"
    # A new account of the same name does not inherit the old keys.
    assert accounts_cli("add", "ana", "--file", accounts, stdin="a new ana here\n").returncode == 0
    assert _status(url, latest) == (401, 401)
    assert all(k["revoked"] for k in bob.predict(api_name="/admin_api_keys") if k["owner"] == "ana")


def test_removing_an_account_stops_its_keys_even_before_the_store_is_told(app, tmp_path):
    """The app asks the accounts file on every use, so a key stops the moment the account is
    gone from it, whoever edited the file (here: removed by a CLI pointed at no database)."""
    url, data = app
    accounts = str(data / "accounts.txt")
    assert accounts_cli("add", "cleo", "--file", accounts, stdin="cleo's password\n").returncode == 0
    key = gradio(url, ("cleo", "cleo's password")).predict("k", api_name="/create_api_key")[0]
    assert _status(url, key)[0] == 200
    elsewhere = accounts_cli("remove", "cleo", "--file", accounts, "--data-dir", str(tmp_path))
    assert elsewhere.returncode == 0 and "no API keys to revoke" in elsewhere.stdout
    assert _status(url, key) == (401, 401)

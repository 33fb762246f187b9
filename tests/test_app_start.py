"""Starting the app as a person would: a broken preset stops it with a useful message;
accounts under --auth each get their own credits."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from gradio_client import Client

from tests.launched_app import REPO, launched_app


def start(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "app.py", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})


def test_broken_catalog_stops_start_up_naming_file_and_key(tmp_path):
    catalog = json.loads((REPO / "presets" / "models.json").read_text())
    catalog["models"][0]["colour"] = "blue"
    broken = tmp_path / "models.json"
    broken.write_text(json.dumps(catalog))
    run = start("--models-file", str(broken), "--data-dir", str(tmp_path / "data"))
    assert run.returncode == 2
    assert str(broken) in run.stderr and "models.0.colour" in run.stderr


def test_help_lists_the_flags():
    run = start("--help")
    assert run.returncode == 0
    for flag in ("--host", "--port", "--share", "--public", "--auth", "--admins", "--daily-limit", "--data-dir",
                 "--starting-credits", "--ram-limit-gb"):
        assert flag in run.stdout


@pytest.mark.slow
def test_accounts_have_their_own_credits(tmp_path):
    with launched_app(tmp_path / "data", "--auth", "ana:pw1,ben:pw2", "--starting-credits", "7") as url:
        ana = Client(url, auth=("ana", "pw1"), verbose=False)
        ben = Client(url, auth=("ben", "pw2"), verbose=False)
        ana.predict("demo-faces", "auto", "1:1", 3, "a face", False, "", -1, api_name="/generate")
        assert ana.predict(api_name="/balance") == 4
        assert ben.predict(api_name="/balance") == 7
        with pytest.raises(Exception):
            Client(url, auth=("ana", "wrong"), verbose=False)


def test_merging_is_off_by_default_and_lets_jobs_in_together_when_on(tmp_path):
    from tests.studio_factory import make_studio

    off = make_studio(tmp_path / "off")
    assert off.engine.merger is None and off.engine.slots == 1  # the fair queue lets one job at a time in
    on = make_studio(tmp_path / "on", merge_window_ms=30)
    assert on.engine.merger is not None and on.engine.slots > 1


def test_share_without_accounts_refuses_to_start(tmp_path):
    run = start("--share", "--data-dir", str(tmp_path / "data"))
    assert run.returncode == 2
    assert "--share" in run.stderr and "--public" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("args, message", [
    (["--auth", "ana:pw", "--admins", "ana,zed"], "no account named 'zed'"),
    (["--admins", "boss"], "Without accounts the only user is 'local'"),
    (["--auth", "no-colon-and-no-such-file"], "neither user:password pairs nor an accounts file"),
])
def test_bad_account_settings_stop_start_up_with_a_message(tmp_path, args, message):
    run = start(*args, "--data-dir", str(tmp_path / "data"))
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr


def test_a_plain_text_accounts_file_stops_start_up_with_the_fix(tmp_path):
    accounts = tmp_path / "accounts.txt"
    accounts.write_text("ana:hunter2\n")
    run = start("--auth", str(accounts), "--data-dir", str(tmp_path / "data"))
    assert run.returncode == 2 and "plain-text password for 'ana'" in run.stderr
    assert "hunter2" not in run.stderr


@pytest.mark.slow
def test_inline_auth_of_300_characters_starts_and_signs_in(tmp_path):
    password = "k" * 296  # "ana:" + 296 = 300 characters, past the file-name limit that used to crash
    with launched_app(tmp_path / "data", "--auth", f"ana:{password}") as url:
        assert Client(url, auth=("ana", password), verbose=False).predict(api_name="/balance") == 100
        with pytest.raises(Exception):
            Client(url, auth=("ana", password[:-1]), verbose=False)


@pytest.mark.slow
def test_the_hashed_accounts_file_made_by_the_cli_is_used_by_default(tmp_path):
    data = tmp_path / "data"
    for user, password in (("ana", "ana-password"), ("ben", "ben-password")):
        made = subprocess.run([sys.executable, "-m", "studio.accounts", "add", user, "--file",
                               str(data / "accounts.txt")], cwd=REPO, input=password + "\n", capture_output=True,
                              text=True, timeout=60)
        assert made.returncode == 0, made.stderr
    with launched_app(data, "--admins", "ana") as url:
        ana = Client(url, auth=("ana", "ana-password"), verbose=False)
        assert ana.predict(api_name="/balance") == 100
        with pytest.raises(Exception):
            Client(url, auth=("ben", "ana-password"), verbose=False)
        ben = Client(url, auth=("ben", "ben-password"), verbose=False)
        assert ben.predict(api_name="/balance") == 100
        # Removed while the app runs: that account can't sign in any more, and its open session ends.
        subprocess.run([sys.executable, "-m", "studio.accounts", "remove", "ben", "--file", str(data / "accounts.txt")],
                       cwd=REPO, check=True, capture_output=True, timeout=60)
        with pytest.raises(Exception):
            Client(url, auth=("ben", "ben-password"), verbose=False)
        with pytest.raises(Exception):
            ben.predict(api_name="/balance")
        assert ana.predict(api_name="/balance") == 100
        # A changed password ends the sessions signed in with the old one; the new one works.
        subprocess.run([sys.executable, "-m", "studio.accounts", "passwd", "ana", "--file", str(data / "accounts.txt")],
                       cwd=REPO, check=True, capture_output=True, input="ana-new-password\n", text=True, timeout=60)
        with pytest.raises(Exception):
            ana.predict(api_name="/balance")
        assert Client(url, auth=("ana", "ana-new-password"), verbose=False).predict(api_name="/balance") == 100

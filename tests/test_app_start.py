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
    for flag in ("--host", "--port", "--share", "--auth", "--data-dir", "--starting-credits"):
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
    assert off.engine.merger is None and off.gpu_concurrency == 1
    on = make_studio(tmp_path / "on", merge_window_ms=30)
    assert on.engine.merger is not None and on.gpu_concurrency > 1

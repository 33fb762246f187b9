"""`python -m studio.cli.space DIR` writes a Space folder, and the app starts from that folder
alone, offline, with `spaces` installed (as on a Space), and serves the UI and the APIs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest
import spaces  # noqa: F401  the test needs the package a Space has (tests/requirements.txt)
import webuiapi

from tests.launched_app import REPO, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    out = tmp_path_factory.mktemp("space") / "my-space"
    done = subprocess.run([sys.executable, "-m", "studio.cli.space", str(out)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return out


def test_folder_has_what_a_space_needs(space):
    readme = (space / "README.md").read_text()
    front = readme.split("---")[1]
    for line in ("sdk: gradio", "app_file: app.py", "sdk_version: 6.31.0"):
        assert line in front
    reqs = (space / "requirements.txt").read_text().splitlines()
    assert "spaces==0.51.3" in reqs and "gradio==6.31.0" in reqs and "gan-face-generate==1.1.1" in reqs
    assert (space / "presets" / "models.json").is_file() and (space / "presets" / "styles.json").is_file()
    assert (space / "studio" / "api" / "a1111.py").is_file() and (space / "pipelines" / "manager.py").is_file()
    assert "import spaces" in (space / "app.py").read_text() and (space / "studio_app.py").is_file()
    assert not list(space.rglob("__pycache__"))


def test_rebuild_replaces_its_own_folder_but_refuses_others(space, tmp_path):
    again = subprocess.run([sys.executable, "-m", "studio.cli.space", str(space)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    refused = subprocess.run([sys.executable, "-m", "studio.cli.space", str(other)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "not made by this command" in refused.stderr
    assert (other / "notes.txt").read_text() == "keep me" and len(list(other.iterdir())) == 1


def test_space_starts_offline_from_its_folder(space, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", STUDIO_HOST="127.0.0.1", STUDIO_PORT=str(port),
               STUDIO_DATA_DIR=str(tmp_path / "data"), STUDIO_DEVICE="cpu", PYTHONPATH="")
    log = open(tmp_path / "space.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=space, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "space.log").read_text()[-3000:]
            try:
                page = urllib.request.urlopen(url, timeout=2).read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "space.log").read_text()[-3000:]
                time.sleep(0.5)
        assert "Image Generation Studio" in page
        api = webuiapi.WebUIApi(baseurl=f"{url}sdapi/v1")
        result = api.txt2img(prompt="a face", seed=3, width=256, height=256,
                             override_settings={"sd_model_checkpoint": "demo-faces"})
        assert result.image.size == (256, 256), "generation runs (under spaces.GPU, a no-op off ZeroGPU)"
        assert (tmp_path / "data" / "studio.json").is_file(), "data lands in STUDIO_DATA_DIR, not the Space folder"
        assert not (space / "data").exists()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()

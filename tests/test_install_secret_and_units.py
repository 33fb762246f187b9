"""Two small promises: the browser-state secret is this install's own (made once, kept in
the data directory, never a constant in the code), and a size is stated in one unit (MiB)
from one constant, the same figure in a refusal and in the README."""

from __future__ import annotations

import base64

import pytest

from studio.api.common import MAX_BODY_BYTES, MAX_INIT_IMAGE_BYTES, ApiError, decode_image, parse_json_object
from studio.services.common.uploads import MAX_UPLOAD_BYTES
from studio.services.common.validation import InvalidRequest, mib
from studio.settings import Settings
from tests.launched_app import REPO
from tests.studio_factory import make_studio


def test_the_install_secret_is_made_once_per_data_directory_and_kept_private(tmp_path):
    one, other = Settings(data_dir=tmp_path / "one"), Settings(data_dir=tmp_path / "two")
    first = one.install_secret("browser-state")
    assert len(first) >= 40 and first == one.install_secret("browser-state"), "the same after a restart"
    assert other.install_secret("browser-state") != first, "another install has its own"
    path = tmp_path / "one" / "browser-state.secret"
    assert path.read_text().strip() == first and path.stat().st_mode & 0o077 == 0


def test_the_pages_browser_state_is_encrypted_with_the_installs_secret(tmp_path):
    import gradio as gr

    from studio.ui.app import create_app

    studio = make_studio(tmp_path / "data")
    secret = Settings(data_dir=tmp_path / "data").install_secret("browser-state")

    def browser_state(app) -> gr.BrowserState:
        return next(b for b in app.blocks.values() if isinstance(b, gr.BrowserState))

    assert browser_state(create_app(studio, browser_secret=secret)).secret == secret
    assert browser_state(create_app(studio)).secret not in ("studio-ui-memory", secret)
    source = (REPO / "app.py").read_text()
    assert 'create_app(studio, browser_secret=settings.install_secret("browser-state"))' in source


def test_a_body_over_the_limit_is_refused_with_the_readmes_figure():
    with pytest.raises(ApiError) as refused:
        parse_json_object(b" " * (MAX_BODY_BYTES + 1))
    assert refused.value.status == 413
    assert refused.value.message == f"The request is 48.0 MiB; the limit is {mib(MAX_BODY_BYTES)}."
    assert mib(MAX_BODY_BYTES) == "48 MiB"
    readme = (REPO / "README.md").read_text()
    assert f"`413` a body over {mib(MAX_BODY_BYTES)}" in readme
    assert " MB" not in refused.value.message


def test_an_init_image_over_the_limit_says_the_uploads_figure():
    assert MAX_INIT_IMAGE_BYTES == MAX_UPLOAD_BYTES
    too_big = base64.b64encode(b"\0" * (MAX_INIT_IMAGE_BYTES + 2**20)).decode()
    with pytest.raises(InvalidRequest, match=f"larger than {mib(MAX_INIT_IMAGE_BYTES)}[.]$"):
        decode_image(too_big, "init_images[0]")
    assert f"≤ {mib(MAX_INIT_IMAGE_BYTES)}, ≤ 40 MP" in (REPO / "README.md").read_text()

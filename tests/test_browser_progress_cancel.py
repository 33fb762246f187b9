"""Progress and Cancel in a real browser: a tiny model with many steps runs long enough
to see "Step n/N" and to cancel; the credits come back and nothing is saved."""

from __future__ import annotations

import json
import re

import pytest
from gradio_client import Client

from pipelines.tiny import build_tiny_sd15
from tests.browser import chromium_page
from tests.launched_app import ARTIFACTS, launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SIZES = {a: {"width": 128, "height": 128} for a in ("16:9", "1:1", "9:16")}


def test_step_progress_then_cancel_refunds(tmp_path):
    sd15 = build_tiny_sd15(tmp_path / "tiny-sd15")
    data = tmp_path / "data"
    data.mkdir()
    (data / "models.json").write_text(json.dumps({"models": [{
        "id": "tiny-slow", "name": "Tiny slow SD1.5", "description": "tiny random model, many steps",
        "family": "sd15", "source": {"kind": "folder", "path": str(sd15)}, "default_steps": 150,
        "default_guidance": 5.0, "sizes": SIZES, "credit_cost": 3, "speed": "slow", "quality": "draft",
    }]}))
    ARTIFACTS.mkdir(exist_ok=True)
    with launched_app(data, "--starting-credits", "10", "--default-model", "tiny-slow") as url, \
            chromium_page() as page:
        page.goto(url)
        page.wait_for_selector("#prompt textarea")
        page.locator("#prompt textarea").press_sequentially("a red boat")
        page.wait_for_function("document.querySelector('#generate').innerText.includes('3 credits')")
        page.click("#generate")
        page.wait_for_function("/Step \\d+\\/150/.test(document.body.innerText)", timeout=60_000)
        step = int(re.search(r"Step (\d+)/150", page.locator("body").inner_text()).group(1))
        assert 1 <= step < 150
        assert "Step" not in page.locator("#balance").inner_text(), "progress shows on the results only"
        page.screenshot(path=str(ARTIFACTS / "image-studio-progress.png"), full_page=True)
        page.click("#cancel")
        page.wait_for_function("document.body.innerText.includes('Cancelled')", timeout=60_000)
        page.wait_for_function("document.querySelector('#balance').innerText.includes('Balance: 10')")
        assert page.locator("#results img").count() == 0
        ledger = Client(url, verbose=False).predict(api_name="/ledger")["items"]
        assert [(e["kind"], e["delta"]) for e in ledger[:2]] == [("refund", 3), ("charge", -3)]
    assert not list((data / "images").rglob("*.png")) if (data / "images").exists() else True

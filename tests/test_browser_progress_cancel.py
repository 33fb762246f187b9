"""Progress and Cancel in a real browser: a tiny model with many steps runs long enough
to see "Step n/N" and to cancel; the credits come back and nothing is saved. Before the
steps, the results say which model is loading and for how long it has been waiting.

Controls: #generate (progress: loading, then steps), #cancel (refund shown in #balance)."""

from __future__ import annotations

import json
import re

import pytest
from gradio_client import Client

from pipelines.testing.tiny import build_tiny_sd15
from tests.browser import chromium_page, expect
from tests.launched_app import ARTIFACTS, launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SIZES = {a: {"width": 128, "height": 128} for a in ("16:9", "1:1", "9:16")}
# Every text the results area shows while the job runs: the loading line lasts well under a
# second for a tiny model, so it is recorded as it appears rather than polled for.
RECORD_RESULTS_TEXT = """() => {
  window.__resultsSeen = [];
  const record = () => {
    const text = document.querySelector('#results')?.innerText || '';
    if (text && !window.__resultsSeen.includes(text)) window.__resultsSeen.push(text);
    if (/Step \\d+/.test(text)) observer.disconnect();  // reading text on every change is slow
  };
  const observer = new MutationObserver(record);
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
LOADING_SEEN = "() => window.__resultsSeen.some(t => /Loading Tiny slow SD1\\.5…/.test(t) && /\\d+(\\.\\d+)?s/.test(t))"


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
        expect(page.locator("#generate")).to_have_text("Generate · 3 credits")
        page.evaluate(RECORD_RESULTS_TEXT)
        page.click("#generate")
        expect(page.locator("#results")).to_contain_text(re.compile(r"Step ([1-9]|[1-9]\d|1[0-4]\d)/150"))
        # Before the first step: the model's name and the time waited so far ("… | 1.2s").
        page.wait_for_function(LOADING_SEEN, timeout=5_000)
        expect(page.locator("#balance")).to_contain_text("Balance: 7")
        expect(page.locator("#balance")).not_to_contain_text("Step")  # progress shows on the results only
        page.screenshot(path=str(ARTIFACTS / "image-studio-progress.png"), full_page=True)
        page.click("#cancel")
        expect(page.locator("#cancel-note")).to_have_text("Stopped: 0 of 1 image made, 3 credits returned.")
        expect(page.locator("#balance")).to_contain_text("Balance: 10")
        expect(page.locator("#results img")).to_have_count(0)
        ledger = Client(url, verbose=False).predict(api_name="/ledger")["items"]
        assert [(e["kind"], e["delta"]) for e in ledger[:2]] == [("refund", 3), ("charge", -3)]
    assert not list((data / "images").rglob("*.png")) if (data / "images").exists() else True

"""A person's Image Studio journey in a real browser against the launched app."""

from __future__ import annotations

import re

import pytest

from tests.browser import chromium_page
from tests.launched_app import ARTIFACTS, launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_prompt_style_aspect_generate_two_and_see_balance_drop(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    with launched_app(tmp_path / "data", "--starting-credits", "10") as url, chromium_page() as page:
        page.goto(url)
        page.wait_for_selector("#prompt textarea")
        balance = page.locator("#balance")
        page.wait_for_function("document.querySelector('#balance').innerText.includes('10')")
        generate = page.locator("#generate")
        assert generate.is_disabled(), "Generate waits for a prompt"
        assert "Write a prompt" in page.locator("#reason").inner_text()

        page.locator("#prompt textarea").press_sequentially("a lighthouse on a cliff at dusk, waves crashing")
        page.wait_for_function("document.querySelector('#prompt-counter').innerText.startsWith('47/2000')")
        page.locator("#style").get_by_text("Movie", exact=True).click()
        page.locator("#aspect").get_by_text("16:9 Landscape").click()
        page.locator("#count").get_by_text("2", exact=True).click()
        page.wait_for_function("document.querySelector('#generate').innerText.includes('2 credits')")
        assert generate.is_enabled()

        generate.click()
        page.wait_for_function("document.querySelectorAll('#results img').length >= 2", timeout=120_000)
        page.wait_for_function("document.querySelector('#balance').innerText.includes('8')")
        assert re.search(r"\b8\b", balance.inner_text())
        details = page.locator("#details").inner_text()
        assert "448×256" in details and "Movie" in details and "Seed" in details
        assert page.locator("#download").is_visible()
        page.screenshot(path=str(ARTIFACTS / "image-studio-journey.png"), full_page=True)

        too_long = "word " * 401
        page.locator("#prompt textarea").fill(too_long[:-2])
        page.locator("#prompt textarea").press_sequentially(too_long[-2:])  # a keystroke fires Gradio's input event
        page.wait_for_function("document.querySelector('#prompt-counter').innerText.includes('over the limit')")
        assert generate.is_disabled()
        assert "over the 2000 limit" in page.locator("#reason").inner_text()

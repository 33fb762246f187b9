"""A person's Gen Space journey in a real browser against the launched app."""

from __future__ import annotations

import pytest

from tests.browser import chromium_page
from tests.launched_app import ARTIFACTS, launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def count(page, selector: str) -> int:
    return page.locator(selector).count()


def test_create_shot_generate_reference_regenerate_apply(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    with launched_app(tmp_path / "data", "--starting-credits", "20") as url, chromium_page() as page:
        page.goto(url)
        page.get_by_role("tab", name="Gen Space").click()
        page.wait_for_function("document.querySelector('#project input').value.length > 0")

        page.locator("#shot-type").get_by_text("Character", exact=True).click()
        page.locator("#shot-name input, #shot-name textarea").first.fill("Mira")
        page.locator("#shot-desc textarea").press_sequentially("a young sailor with curly brown hair")
        page.click("#create-shot")
        page.wait_for_function("document.querySelector('#shot-header').innerText.includes('Mira')")
        assert "Mira · Character" in page.locator("#shot-cards").inner_text()
        page.wait_for_function("document.querySelector('#gs-generate').innerText.includes('2 credits')")
        page.wait_for_function("document.querySelector('#gs-prompt textarea').value.includes('curly brown hair')")

        page.wait_for_function("!document.querySelector('#gs-generate').disabled")
        page.click("#gs-generate")
        page.wait_for_function("document.querySelectorAll('#gs-results img').length == 2", timeout=120_000)
        assert "2 generated" in page.locator("#shot-header").inner_text()

        page.locator("#gs-results img").first.click()
        page.wait_for_function("document.querySelector('#gs-details').innerText.includes('Seed')")
        page.keyboard.press("Escape")
        page.click("#use-as-reference")
        page.wait_for_function("document.querySelectorAll('#references img').length == 1")

        page.click("#gs-generate")
        page.wait_for_function("document.querySelectorAll('#gs-results img').length == 4", timeout=120_000)
        assert "4 generated" in page.locator("#shot-header").inner_text()
        assert "ignored the reference" in page.locator("#gs-status").inner_text()  # the demo says so plainly

        page.locator("#gs-results img").first.click()
        page.keyboard.press("Escape")
        card_before = page.locator("#shot-cards img").first.get_attribute("src")
        page.click("#apply-to-shot")
        page.wait_for_function("document.querySelector('#shot-header').innerText.includes('applied image set')")
        page.wait_for_function(
            "(before) => document.querySelector('#shot-cards img').getAttribute('src') !== before", arg=card_before
        )
        assert "Balance: 16" in page.locator("#balance").inner_text()
        page.screenshot(path=str(ARTIFACTS / "gen-space-journey.png"), full_page=True)

"""The Image Studio history in a real browser: empty at first, then the newest page of the
person's images with "Load more" for the next one, refreshed after each job.

#history (accordion), #history-empty, #history-gallery, #history-more (Load more)
"""

from __future__ import annotations

import pytest
from gradio_client import Client

from tests.browser import box, chromium_page, expect, open_accordion, pages_then_more
from tests.launched_app import ARTIFACTS, launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGE = 24  # studio.ui.studio_extras.HISTORY_PAGE


def test_history_pages_newest_first_and_follows_jobs(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    with launched_app(tmp_path / "data", "--starting-credits", "100") as url, chromium_page(1280, 800) as page:
        page.goto(url)
        open_accordion(page, "history", "#history-empty")
        expect(page.locator("#history-empty")).to_contain_text("Nothing yet")
        expect(page.locator("#history-more")).to_be_hidden()

        client = Client(url, verbose=False)
        for _ in range(7):  # 28 images, more than one page
            client.predict("demo-faces", "auto", "1:1", 4, "a face", False, "", -1, api_name="/generate")
        page.reload()
        open_accordion(page, "history", "#history-gallery .thumbnail-item")
        items = page.locator("#history-gallery .thumbnail-item")
        expect(page.locator("#history-empty")).to_be_hidden()
        pages_then_more(page, "#history-gallery .thumbnail-item", "#history-more", PAGE, 28)

        box(page, "prompt").fill("a sailor")
        box(page, "prompt").press("End")
        page.keyboard.type(" at dawn")  # typed, so the Generate state follows
        page.locator("#count").get_by_text("1", exact=True).click()
        page.click("#generate")
        expect(page.locator("#results .thumbnail-item")).to_have_count(1)
        newest = page.locator("#results .thumbnail-item").first.inner_text()
        expect(items).to_have_count(PAGE)  # back to the newest page after a job
        expect(items.first).to_contain_text(newest.strip())
        page.screenshot(path=str(ARTIFACTS / "image-studio-history.png"), full_page=True)

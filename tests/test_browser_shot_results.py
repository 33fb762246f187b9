"""A shot's results page in the browser: the newest page, then "Load more" for the rest
(only the shown records are read), and the library's own Load more.

#gs-results, #results-more (Load more), #gs-library-tab, #gs-library, #library-more
"""

from __future__ import annotations

import pytest
from gradio_client import Client

from tests.browser import chromium_page, expect, pages_then_more
from tests.launched_app import ARTIFACTS, launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGE = 24  # studio.ui.gen_space_panels.RESULTS_PAGE and the library's page


def test_shot_results_and_library_page_with_load_more(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    with launched_app(tmp_path / "data", "--starting-credits", "100") as url:
        client = Client(url, verbose=False)
        project = client.predict(api_name="/list_projects")[0]["id"]
        shot = client.predict(project, "character", "Mira", "a sailor", api_name="/create_shot")["id"]
        for _ in range(7):  # 28 results for one shot
            client.predict(shot, "demo-faces", 4, "Mira", api_name="/generate_for_shot")
        with chromium_page(1280, 800) as page:
            page.goto(url)
            page.get_by_role("tab", name="Gen Space").click()
            page.locator("#shot-cards .thumbnail-item").first.click()
            expect(page.locator("#gs-results .thumbnail-item")).to_have_count(PAGE)
            expect(page.locator("#results-more")).to_be_visible()
            pages_then_more(page, "#gs-results .thumbnail-item", "#results-more", PAGE, 28)

            page.locator("#gs-library-tab-button, [role=tab]").get_by_text("Asset library").first.click()
            pages_then_more(page, "#gs-library .thumbnail-item", "#library-more", PAGE, 28)
            page.screenshot(path=str(ARTIFACTS / "gen-space-load-more.png"), full_page=True)

"""Gen Space's generation bar stays on top and, on a phone, compact (issue 20).

The bar is sticky at the bottom of the screen; Gradio lifts every field label to its
own layer, so "Left/Top/Right/Bottom", "Change it by prompt" and "Description (the
starting prompt)" used to draw over Generate and the references while the page
scrolled. Here the page is scrolled from top to bottom with those fields open, and at
every step `document.elementFromPoint` over the bar must land inside the bar. On a
390×844 phone the bar opens compact (at most a third of the screen, Generate shown)
and "More ▾" unfolds the references.

Controls: #gen-settings, #gs-generate, #gs-bar-toggle, #references, #new-shot,
#edit-image (crop sliders, "Change it by prompt").
"""

from __future__ import annotations

import pytest
from gradio_client import Client

from tests.browser import chromium_page, expect, open_accordion
from tests.launched_app import launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The points of a 6×5 grid over the bar's visible part that some other element covers.
COVERED = """() => {
  const bar = document.querySelector('#gen-settings').getBoundingClientRect(), covered = [];
  for (const fx of [0.02, 0.2, 0.4, 0.6, 0.8, 0.98]) for (const fy of [0.05, 0.25, 0.5, 0.75, 0.95]) {
    const x = bar.left + bar.width * fx, y = bar.top + bar.height * fy;
    if (y < 0 || y >= innerHeight || x < 0 || x >= innerWidth) continue;
    const hit = document.elementFromPoint(x, y);
    if (hit && !hit.closest('#gen-settings')) covered.push([Math.round(x), Math.round(y), (hit.textContent || hit.tagName).trim().slice(0, 40)]);
  }
  return covered;
}"""


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    data = tmp_path_factory.mktemp("bar") / "data"
    with launched_app(data, "--starting-credits", "100") as url:
        client = Client(url, verbose=False)
        project = client.predict("Harbour", api_name="/create_project")["id"]
        shot = None
        for kind, name in (("character", "Mira"), ("scene", "Pier"), ("prop", "Lantern")):
            shot = client.predict(project, kind, name, f"{name}, painted", api_name="/create_shot")
        made = client.predict(shot["id"], "demo-faces", 4, "Lantern", api_name="/generate_for_shot")
        client.predict(project, made["images"][0]["id"], api_name="/use_as_reference")
        yield url


def open_lantern(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("tab", name="Gen Space").click()
    page.locator("#project input").click()
    page.get_by_role("option", name="Harbour").click()
    page.locator("#shot-cards .thumbnail-item").filter(has_text="Lantern").click()
    expect(page.locator("#shot-header")).to_contain_text("Lantern")
    expect(page.locator("#gs-results .thumbnail-item")).to_have_count(4)
    page.locator("#gs-results .thumbnail-item").first.click()
    expect(page.locator("#gs-details")).to_contain_text("Seed")


@pytest.mark.parametrize("width,height", [(1400, 1000), (390, 844)])
def test_nothing_draws_over_the_bar_while_the_page_scrolls(app_url, width, height):
    with chromium_page(width, height) as page:
        open_lantern(page, app_url)
        # The fields whose floating labels drew over the bar.
        open_accordion(page, "new-shot", "#new-shot-desc")
        open_accordion(page, "edit-image", "#crop-left")
        expect(page.locator("#edit-prompt")).to_be_visible()
        bottom = page.evaluate("document.documentElement.scrollHeight - innerHeight")
        checked = 0
        for y in range(0, bottom + 100, 100):
            page.evaluate(f"window.scrollTo(0, {y})")
            page.wait_for_function(f"Math.abs(window.scrollY - Math.min({y}, {bottom})) < 2")
            assert page.evaluate(COVERED) == [], f"scrolled to {y}"
            checked += 1
        assert checked >= 5  # the page was long enough to pass the labels under the bar
        expect(page.locator("#gs-generate")).to_be_in_viewport()


def test_phone_bar_is_compact_and_expands_on_demand(app_url):
    width, height = 390, 844
    with chromium_page(width, height) as page:
        open_lantern(page, app_url)
        bar = page.locator("#gen-settings").first
        generate, toggle, refs = page.locator("#gs-generate"), page.locator("#gs-bar-toggle"), page.locator("#references")
        expect(generate).to_be_in_viewport()
        expect(generate).to_be_enabled()
        expect(toggle).to_have_text("More ▾")
        expect(refs).to_be_hidden()
        compact = bar.bounding_box()["height"]
        assert compact <= height / 3, compact
        toggle.click()
        expect(toggle).to_have_text("Less ▴")
        expect(refs).to_be_visible()
        expect(page.locator("#references .thumbnail-item")).to_have_count(1)
        expect(generate).to_be_in_viewport()
        assert bar.bounding_box()["height"] > compact
        toggle.click()
        expect(refs).to_be_hidden()
        expect(toggle).to_have_text("More ▾")


def test_desktop_bar_shows_everything_without_a_toggle(app_url):
    with chromium_page(1400, 1000) as page:
        open_lantern(page, app_url)
        expect(page.locator("#gs-bar-toggle")).to_be_hidden()
        expect(page.locator("#references .thumbnail-item")).to_have_count(1)
        expect(page.locator("#gs-generate")).to_be_in_viewport()

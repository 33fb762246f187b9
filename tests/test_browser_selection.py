"""Gen Space shows one selection everywhere (issue 20), in a real browser on the launched app.

After every shot action and project switch, the navigator's highlighted card, the
header, the prompt and the reference strip name the same shot and project; after an
edit or a delete the galleries highlight the picked image (or none). The hover actions
("Use as reference", "Apply to shot") appear over the hovered result, or the tapped one
on a phone, and do what they say.

Controls: #shot-cards (highlight = `.thumbnail-item.selected`), #shot-header, #gs-prompt,
#references, #project, #create-shot, #move-up, #move-down, #delete-shot, #gs-generate,
#gs-status, #gs-library (+ #do-rotate, #gs-delete), #gs-results-hover-ref,
#gs-results-hover-apply.
"""

from __future__ import annotations

import re

import pytest
from gradio_client import Client

from tests.browser import CHROMIUM, TIMEOUT_MS, box, choose, chromium_page, expect, open_accordion
from tests.launched_app import CHROMIUM_ARGS, launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SELECTED = re.compile(r"\bselected\b")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """Harbour: three shots, two results for Mira (both references), one for Pier. Lighthouse: one shot,
    no references. Moves: three shots for the test that adds, moves and deletes (so the
    other tests' lists do not depend on it)."""
    data = tmp_path_factory.mktemp("selection") / "data"
    with launched_app(data, "--starting-credits", "100") as url:
        client = Client(url, verbose=False)
        harbour = client.predict("Harbour", api_name="/create_project")["id"]
        shots = [client.predict(harbour, kind, name, f"{name}, painted", api_name="/create_shot")
                 for kind, name in (("character", "Mira"), ("character", "Tom"), ("scene", "Pier"))]
        made = client.predict(shots[0]["id"], "demo-faces", 2, "Mira", api_name="/generate_for_shot")
        for image in made["images"]:
            client.predict(harbour, image["id"], api_name="/use_as_reference")
        client.predict(shots[2]["id"], "demo-faces", 1, "Pier", api_name="/generate_for_shot")
        lighthouse = client.predict("Lighthouse", api_name="/create_project")["id"]
        client.predict(lighthouse, "prop", "Lamp", "Lamp, painted", api_name="/create_shot")
        moves = client.predict("Moves", api_name="/create_project")["id"]
        for kind, name in (("character", "Ann"), ("character", "Ben"), ("scene", "Cove")):
            client.predict(moves, kind, name, f"{name}, painted", api_name="/create_shot")
        yield url


def open_project(page, url: str, name: str, cards: int) -> None:
    page.goto(url)
    page.get_by_role("tab", name="Gen Space").click()
    switch_project(page, name, cards)


def switch_project(page, name: str, cards: int) -> None:
    page.locator("#project input").click()
    page.get_by_role("option", name=name).click()
    expect(page.locator("#project input")).to_have_value(name)
    expect(page.locator("#shot-cards .thumbnail-item")).to_have_count(cards)


def shows_selected(page, caption: str | None, *, prompt: str | None = None) -> None:
    """The one highlighted card, the header and the prompt agree on `caption` (None: no shot)."""
    highlighted = page.locator("#shot-cards .thumbnail-item.selected")
    if caption is None:
        expect(highlighted).to_have_count(0)
        expect(page.locator("#shot-header")).to_contain_text("No shot selected")
        expect(box(page, "gs-prompt")).to_have_value("")
        return
    expect(highlighted).to_have_count(1)
    expect(highlighted).to_contain_text(caption)
    expect(page.locator("#shot-header")).to_contain_text(caption)
    if prompt is not None:
        expect(box(page, "gs-prompt")).to_have_value(prompt)


def card(page, caption: str):
    return page.locator("#shot-cards .thumbnail-item").filter(has_text=caption)


def test_shot_actions_move_the_highlight_with_the_shot(app_url):
    with chromium_page(1400, 1000) as page:
        open_project(page, app_url, "Moves", 3)
        shows_selected(page, None)
        # A new shot is selected and highlighted.
        open_accordion(page, "new-shot", "#create-shot")
        choose(page, "new-shot-type", "Prop")
        box(page, "new-shot-name").fill("Lantern")
        box(page, "new-shot-desc").fill("a brass lantern")
        page.click("#create-shot")
        expect(page.locator("#shot-cards .thumbnail-item")).to_have_count(4)
        shows_selected(page, "Lantern · Prop", prompt="a brass lantern")
        expect(page.locator("#shot-cards .thumbnail-item").nth(3)).to_have_class(SELECTED)

        # Move up / down: the highlight goes with the shot, not the position.
        open_accordion(page, "edit-shot", "#move-up")
        card(page, "Ben · Character").click()
        shows_selected(page, "Ben · Character", prompt="Ben, painted")
        page.click("#move-up")
        expect(page.locator("#shot-cards .caption-label").first).to_have_text("Ben · Character")
        expect(page.locator("#shot-cards .thumbnail-item").first).to_have_class(SELECTED)
        shows_selected(page, "Ben · Character")
        page.click("#move-down")
        expect(page.locator("#shot-cards .caption-label").nth(1)).to_have_text("Ben · Character")
        expect(page.locator("#shot-cards .thumbnail-item").nth(1)).to_have_class(SELECTED)
        shows_selected(page, "Ben · Character")

        # Delete: no card stays highlighted, the header says so, the prompt is emptied.
        page.click("#delete-shot")
        page.click("#confirm-delete-shot-yes")  # deletes ask first (tests/test_browser_confirm.py)
        expect(page.locator("#shot-cards .thumbnail-item")).to_have_count(3)
        expect(page.locator("#shot-cards")).not_to_contain_text("Ben")
        shows_selected(page, None)


def test_status_names_only_the_selected_shot(app_url):
    with chromium_page(1400, 1000) as page:
        open_project(page, app_url, "Harbour", 3)
        card(page, "Pier · Scene").click()
        shows_selected(page, "Pier · Scene", prompt="Pier, painted")
        expect(page.locator("#gs-generate")).to_be_enabled()
        page.click("#gs-generate")
        expect(page.locator("#gs-status")).to_contain_text("image(s) for Pier")
        card(page, "Mira · Character").click()
        shows_selected(page, "Mira · Character", prompt="Mira, painted")
        expect(page.locator("#gs-status")).not_to_contain_text("image(s) for Pier")


@pytest.mark.parametrize("width,height", [(1400, 1000), (390, 844)])
def test_project_switch_shows_that_projects_references(app_url, width, height):
    with chromium_page(width, height) as page:
        page.goto(app_url)
        page.get_by_role("tab", name="Gen Space").click()
        if width < 700:
            page.click("#gs-bar-toggle")  # the compact phone bar folds the references away
        switch_project(page, "Harbour", 3)
        refs = page.locator("#references .thumbnail-item")
        expect(refs).to_have_count(2)
        card(page, "Mira · Character").click()
        shows_selected(page, "Mira · Character")
        switch_project(page, "Lighthouse", 1)
        expect(refs).to_have_count(0)
        shows_selected(page, None)
        switch_project(page, "Harbour", 3)
        expect(refs).to_have_count(2)
        shows_selected(page, None)


def test_library_highlights_the_picked_image_after_edit_and_delete(app_url):
    with chromium_page(1400, 1000) as page:
        open_project(page, app_url, "Harbour", 3)
        card(page, "Mira · Character").click()
        page.get_by_role("tab", name="Asset library").click()
        library = page.locator("#gs-library .thumbnail-item")
        expect(library.first).to_be_visible()
        count = library.count()
        library.nth(1).click()
        expect(page.locator("#gs-details")).to_contain_text("Seed")
        expect(library.nth(1)).to_have_class(SELECTED)
        open_accordion(page, "edit-image", "#do-rotate")
        page.click("#do-rotate")  # a new image, newest first: the highlight goes to it
        expect(library).to_have_count(count + 1)
        expect(page.locator("#gs-library .thumbnail-item.selected")).to_have_count(1)
        expect(library.first).to_have_class(SELECTED)
        page.click("#gs-delete")
        page.click("#confirm-delete-yes")
        expect(library).to_have_count(count)
        expect(page.locator("#gs-details")).to_contain_text("Select an image")
        expect(page.locator("#gs-library .thumbnail-item.selected")).to_have_count(0)


def test_hover_actions_use_as_reference_and_apply_to_shot(app_url):
    with chromium_page(1400, 1000) as page:
        open_project(page, app_url, "Harbour", 3)
        card(page, "Mira · Character").click()
        results = page.locator("#gs-results .thumbnail-item")
        expect(results).to_have_count(2)
        toolbar = page.locator("#gs-results-hover")
        expect(toolbar).to_be_hidden()
        refs = page.locator("#references .thumbnail-item")
        before = refs.count()
        page.click("#clear-refs")
        expect(refs).to_have_count(0)
        results.nth(1).hover()
        expect(page.locator("#gs-results-hover-ref")).to_be_visible()
        expect(page.locator("#gs-results-hover-apply")).to_be_visible()
        page.click("#gs-results-hover-ref")
        expect(refs).to_have_count(1)
        expect(results.nth(1)).to_have_class(SELECTED)  # the action picked the image it was on
        expect(page.locator("#gs-details")).to_contain_text("Mira")
        results.nth(0).hover()
        page.click("#gs-results-hover-apply")
        expect(page.locator("#shot-header")).to_contain_text("applied image set")
        expect(results.nth(0)).to_have_class(SELECTED)
        shows_selected(page, "Mira · Character")
        page.mouse.move(5, 5)
        expect(toolbar).to_be_hidden()
        assert before == 2  # the strip held the project's two references before Clear


def test_hover_actions_on_tap_on_a_phone(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True,
                                       is_mobile=True).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            open_project(page, app_url, "Harbour", 3)
            card(page, "Pier · Scene").tap()
            shows_selected(page, "Pier · Scene")
            results = page.locator("#gs-results .thumbnail-item")
            expect(results.first).to_be_visible()
            results.first.scroll_into_view_if_needed()
            results.first.tap()
            expect(page.locator("#gs-results-hover-apply")).to_be_visible()
            page.locator("#gs-results-hover-apply").tap()
            expect(page.locator("#shot-header")).to_contain_text("applied image set")
            expect(results.first).to_have_class(SELECTED)
        finally:
            browser.close()

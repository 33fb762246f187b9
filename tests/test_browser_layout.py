"""Both tabs on a laptop (1280×800) and a phone (390×844), and the header with accounts on.

One app with two accounts for the module. On each screen the primary controls are on
screen without scrolling and nothing overflows sideways; screenshots go to
test-artifacts/. With accounts on, the header names who is signed in and links to sign
out, and each person's last tab and project come back on reload.

Controls: header #who (name + Sign out link), #balance; tabs (remembered per user);
#project (remembered per user); the primary controls of each tab (listed per test).
"""

from __future__ import annotations

import pytest
from gradio_client import Client

from tests.browser import chromium_page, expect, no_horizontal_overflow
from tests.launched_app import ARTIFACTS, launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ACCOUNTS = {"alice": "pw-alice-1", "bob": "pw-bob-2"}
SCREENS = [(1280, 800), (390, 844)]
# True once the stored place has not changed for 1.5 s (saves from earlier events have landed).
STORAGE_SETTLED = """() => {
  const value = localStorage.getItem('studio-ui-memory'), now = Date.now();
  if (window.__lastStored !== value) { window.__lastStored = value; window.__storedAt = now; return false; }
  return now - window.__storedAt > 1500;
}"""


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    ARTIFACTS.mkdir(exist_ok=True)
    data = tmp_path_factory.mktemp("layout") / "data"
    accounts = ",".join(f"{u}:{p}" for u, p in ACCOUNTS.items())
    with launched_app(data, "--auth", accounts, "--starting-credits", "20") as url:
        client = Client(url, auth=("alice", ACCOUNTS["alice"]), verbose=False)
        project = client.predict("Harbour Tale", api_name="/create_project")["id"]
        for kind, name in (("character", "Mira"), ("character", "Old Tom"), ("scene", "Harbour at dawn"),
                           ("prop", "Storm lantern"), ("prop", "Rowing boat")):
            client.predict(project, kind, name, f"{name}, painted", api_name="/create_shot")
        client.predict("Lighthouse", api_name="/create_project")
        yield url


def sign_in(page, url: str, user: str) -> None:
    response = page.request.post(url + "login", form={"username": user, "password": ACCOUNTS[user]})
    assert response.ok, response.status
    page.goto(url)
    expect(page.locator("#who")).to_contain_text(f"Signed in as {user}")


def on_screen(page, *selectors: str) -> None:
    for selector in selectors:
        expect(page.locator(selector).first).to_be_in_viewport()


@pytest.mark.parametrize("width,height", SCREENS)
def test_both_tabs_fit_the_screen(app_url, width, height):
    with chromium_page(width, height) as page:
        sign_in(page, app_url, "alice")
        expect(page.get_by_role("tab", name="Image Studio", selected=True)).to_be_visible()
        on_screen(page, "#prompt textarea", "#generate", "#balance")
        if width >= 1280:
            on_screen(page, "#model", "#style")
        no_horizontal_overflow(page)
        page.screenshot(path=str(ARTIFACTS / f"image-studio-{width}x{height}.png"))

        page.get_by_role("tab", name="Gen Space").click()
        page.locator("#project input").click()
        page.get_by_role("option", name="Harbour Tale").click()
        expect(page.locator("#shot-cards .thumbnail-item")).to_have_count(5)
        page.locator("#shot-cards .thumbnail-item").nth(0).click()
        expect(page.locator("#gs-prompt textarea")).to_have_value("Mira, painted")
        # The generation settings are in reach without scrolling.
        on_screen(page, "#gs-model", "#gs-count", "#gs-prompt textarea", "#gs-generate")
        if width < 700:  # the compact phone bar folds the references behind "More ▾" (issue 20)
            page.click("#gs-bar-toggle")
        on_screen(page, "#references")
        expect(page.locator("#gs-generate")).to_be_enabled()
        # ...and leaves most of the screen to the results (on a phone it is compact).
        assert page.locator("#gen-settings").first.bounding_box()["height"] <= 0.4 * height
        if width >= 1280:
            on_screen(page, "#shot-filter", "#shot-cards")
        # Whole captions, never cut to "Old Tom · Char…".
        caption = page.locator("#shot-cards .caption-label").nth(1)
        expect(caption).to_have_text("Old Tom · Character")
        assert caption.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        no_horizontal_overflow(page)
        page.screenshot(path=str(ARTIFACTS / f"gen-space-{width}x{height}.png"))
        page.screenshot(path=str(ARTIFACTS / f"gen-space-{width}x{height}-full.png"), full_page=True)


def test_header_names_the_user_and_places_are_remembered_per_user(app_url):
    with chromium_page(1280, 800) as page:
        sign_in(page, app_url, "alice")
        expect(page.locator("#who a")).to_have_text("Sign out")
        expect(page.locator("#who a")).to_have_attribute("href", "/logout")
        expect(page.locator("#balance")).to_contain_text("Balance: 20")
        page.get_by_role("tab", name="Gen Space").click()
        expect(page.locator("#project input")).to_have_value("Harbour Tale")
        stored = "localStorage.getItem('studio-ui-memory')"
        before = page.evaluate(stored)
        page.locator("#project input").click()
        page.get_by_role("option", name="Lighthouse").click()
        expect(page.locator("#shot-cards .thumbnail-item")).to_have_count(0)
        page.wait_for_function(f"{stored} !== {before!r}")  # the place is saved in the browser...
        page.wait_for_function(STORAGE_SETTLED, polling=200)  # ...and no earlier save lands after it
        page.reload()
        expect(page.get_by_role("tab", name="Gen Space", selected=True)).to_be_visible()
        expect(page.locator("#project input")).to_have_value("Lighthouse")

        page.locator("#who a").click()  # sign out
        sign_in(page, app_url, "bob")
        expect(page.get_by_role("tab", name="Image Studio", selected=True)).to_be_visible()  # bob's own place
        page.get_by_role("tab", name="Gen Space").click()
        expect(page.locator("#project input")).to_have_value("My first project")
        expect(page.locator("#shot-cards .thumbnail-item")).to_have_count(0)  # alice's shots are hers

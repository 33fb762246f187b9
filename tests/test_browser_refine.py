"""Repaint, extend and enlarge in a real browser, in both tabs, on the tiny SD 1.5 model
(the default when it is on the machine): a mask drawn with the mouse, each button's
price, the new image and its chain, and the header balance after each job."""

from __future__ import annotations

import re

import pytest

from tests.api_fixtures import data_dir_with_tiny_model
from tests.browser import box, chromium_page, expect, open_accordion, toast
from tests.launched_app import ARTIFACTS, launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]
JOB_MS = 180_000


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    ARTIFACTS.mkdir(exist_ok=True)
    data = data_dir_with_tiny_model(tmp_path_factory.mktemp("refine-ui"))
    with launched_app(data, "--starting-credits", "60") as url, chromium_page(1280, 900) as page:
        page.goto(url)
        expect(page.locator("#balance")).to_contain_text("Balance: 60")
        yield page
        page.screenshot(path=str(ARTIFACTS / "refine-end.png"), full_page=True)


def balance(page) -> int:
    expect(page.locator("#balance")).to_contain_text(re.compile(r"Balance: \d+"))
    return int(re.search(r"Balance: (\d+)", page.locator("#balance").inner_text()).group(1))


def draw_mask(page, prefix: str) -> None:
    """Pick the brush and drag a diagonal stroke across the middle of the picture."""
    editor = page.locator(f"#{prefix}-mask-editor")
    editor.locator("button[aria-label='Brush']").click()
    canvas = editor.locator("canvas").first
    expect(canvas).to_be_visible()
    b = canvas.bounding_box()
    x, y = b["x"] + b["width"] / 2, b["y"] + b["height"] / 2
    page.mouse.move(x - 30, y - 30)
    page.mouse.down()
    for i in range(12):
        page.mouse.move(x - 30 + i * 5, y - 30 + i * 5, steps=2)
    page.mouse.up()


def refine_all(page, prefix: str) -> None:
    repaint, extend, enlarge = (page.locator(f"#{prefix}-{b}") for b in ("repaint", "extend", "enlarge"))
    expect(repaint).to_have_text("Repaint · 3 credits")
    expect(extend).to_have_text("Extend · 3 credits")
    expect(enlarge).to_have_text("Enlarge · 1 credit")
    details = page.locator(f"#{prefix}-refined-details")

    before = balance(page)
    repaint.click()  # nothing painted yet: refused before any charge
    toast(page, "Paint a mask over the part to repaint first.")
    assert balance(page) == before
    draw_mask(page, prefix)
    box(page, f"{prefix}-refine-prompt").fill("a blue flower")
    repaint.click()
    expect(details).to_contain_text("Repaint · 64×64", timeout=JOB_MS)
    expect(details).to_contain_text("chain:")
    expect(page.locator(f"#{prefix}-refined img")).to_be_visible()
    expect(page.locator("#balance")).to_contain_text(f"Balance: {before - 3}")

    page.locator(f"#{prefix}-sides").get_by_text("left", exact=True).click()
    extend.click()
    expect(details).to_contain_text("Extend · 320×64", timeout=JOB_MS)  # 128 on the right and on the left
    expect(page.locator("#balance")).to_contain_text(f"Balance: {before - 6}")

    enlarge.click()
    expect(details).to_contain_text("Enlarge · 128×128", timeout=JOB_MS)
    expect(page.locator("#balance")).to_contain_text(f"Balance: {before - 7}")


def test_image_studio_repaint_extend_enlarge(page):
    box(page, "prompt").fill("a red flower")
    page.locator("#generate").click()
    expect(page.locator("#results .thumbnail-item")).to_have_count(1, timeout=JOB_MS)
    expect(page.locator("#balance")).to_contain_text("Balance: 57")
    open_accordion(page, "is-refine", "#is-mask-editor")
    refine_all(page, "is")


def test_gen_space_repaint_extend_enlarge(page):
    page.get_by_role("tab", name="Gen Space").click()
    expect(page.locator("#project input")).to_have_value("My first project")
    open_accordion(page, "new-shot", "#create-shot")
    page.locator("#new-shot-type").get_by_text("Character", exact=True).click()
    box(page, "new-shot-name").fill("Mira")
    box(page, "new-shot-desc").fill("a young sailor with curly brown hair")
    page.click("#create-shot")
    expect(page.locator("#shot-header")).to_contain_text("Mira · Character")
    page.locator("#gs-count").get_by_text("1", exact=True).click()
    before = balance(page)
    page.locator("#gs-generate").click()
    expect(page.locator("#gs-results .thumbnail-item")).to_have_count(1, timeout=JOB_MS)
    expect(page.locator("#balance")).to_contain_text(f"Balance: {before - 3}")
    page.locator("#gs-results .thumbnail-item").nth(0).click()
    expect(page.locator("#gs-details")).to_contain_text("Seed")
    open_accordion(page, "gs-refine", "#gs-mask-editor")
    refine_all(page, "gs")
    # Each refined image is a new image of the project: the library shows it right away, the original stays.
    page.get_by_role("tab", name="Asset library").click()
    expect(page.locator("#gs-library .thumbnail-item")).to_have_count(4)

"""Headless Debian Chromium driven by Playwright; never a downloaded browser.

Helpers here only use Playwright's waiting assertions (`expect(...)`), so a check
never reads something that is still arriving."""

from __future__ import annotations

import shutil
from contextlib import contextmanager

import pytest

from tests.launched_app import CHROMIUM_ARGS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TIMEOUT_MS = 60_000


@contextmanager
def chromium_page(width: int = 1400, height: int = 1000):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            context.grant_permissions(["clipboard-read", "clipboard-write"])
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            sync_api.expect.set_options(timeout=TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def box(page, elem_id: str):
    """The text field inside a Gradio Textbox or Number."""
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first


def choose(page, elem_id: str, label: str) -> None:
    """Click a Radio / CheckboxGroup option by its visible label."""
    page.locator(f"#{elem_id}").get_by_text(label, exact=True).click()


def open_accordion(page, elem_id: str, inside: str) -> None:
    """Open a closed accordion and wait for something inside it to show."""
    page.locator(f"#{elem_id} > .label-wrap").first.click()
    expect(page.locator(inside).first).to_be_visible()


def toast(page, text: str) -> None:
    """An error (or info) toast with this text is on screen."""
    expect(page.locator(".toast-body").filter(has_text=text).first).to_be_visible()
    close_toasts(page)


def pages_then_more(page, items: str, more: str, first: int, total: int) -> None:
    """A list shows its first page with a Load more button that brings in the rest, then hides."""
    expect(page.locator(items)).to_have_count(first)
    page.locator(more).click()
    expect(page.locator(items)).to_have_count(total)
    expect(page.locator(more)).to_be_hidden()


def close_toasts(page) -> None:
    for button in page.locator(".toast-close").all():
        try:
            button.click(timeout=2_000)
        except Exception:  # already gone by itself
            pass


# Controls and captions that stick out of the screen sideways. The page itself clips sideways
# overflow (studio.css), so the page's scroll width alone would not show them; only a
# gallery's own scrolling strip may hold things out of view.
CUT_OFF_CONTROLS = """() => {
  const width = document.documentElement.clientWidth, cut = [];
  for (const e of document.querySelectorAll('button, label, input, textarea, [role=tab], .caption-label')) {
    const r = e.getBoundingClientRect();
    if (!r.width || !e.checkVisibility() || e.closest('.grid-wrap, .thumbnails')) continue;
    if (r.left < -1 || r.right > width + 1) cut.push((e.id || e.textContent.trim() || e.tagName).slice(0, 40));
  }
  return cut;
}"""


def no_horizontal_overflow(page) -> None:
    """Nothing pushes the page sideways and no control is cut off at the screen's edge."""
    page.wait_for_function("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")
    assert page.evaluate(CUT_OFF_CONTROLS) == []

"""The credit history in a real browser reaches its first entry: "Load more" follows the
ledger's cursor, and a job's refresh puts its charge on top without dropping what was loaded.

#billing (accordion), #ledger, #ledger-more (Load more)
"""

from __future__ import annotations

import pytest

from studio.services.common.paging import LEDGER_LIMIT
from studio.services.studio import LOCAL_USER
from tests.browser import box, chromium_page, expect, open_accordion
from tests.launched_app import ARTIFACTS, launched_app
from tests.studio_factory import make_studio

pytestmark = [pytest.mark.browser, pytest.mark.slow]
GIFTS = LEDGER_LIMIT + 10  # more than one page


def rows_held(page, count: int) -> None:
    """The table holds `count` entries. It draws only the rows in view (a virtual table), so
    the grid's row count (the header is row 1) is what tells how many it holds."""
    expect(page.locator("#ledger [role=grid]")).to_have_attribute("aria-rowcount", str(count + 1))


def test_credit_history_loads_to_its_first_entry_and_keeps_it_after_a_job(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    data = tmp_path / "data"
    studio = make_studio(data, starting_credits=100)  # the same store on disk the app opens
    for i in range(GIFTS):
        studio.credits.adjust(LOCAL_USER, 1, reason=f"gift {i}", admin="boss")
    entries = GIFTS + 1  # and the starting grant
    with launched_app(data, "--starting-credits", "100") as url, chromium_page(1280, 800) as page:
        page.goto(url)
        open_accordion(page, "billing", "#ledger")
        expect(page.locator("#ledger")).to_contain_text(f"gift {GIFTS - 1}")
        rows_held(page, LEDGER_LIMIT)
        page.locator("#ledger-more").click()
        rows_held(page, entries)
        expect(page.locator("#ledger-more")).to_be_hidden()

        box(page, "prompt").fill("a sailor")
        box(page, "prompt").press("End")
        page.keyboard.type(" at dawn")  # typed, so the Generate state follows
        page.locator("#count").get_by_text("1", exact=True).click()
        page.click("#generate")
        expect(page.locator("#results .thumbnail-item")).to_have_count(1)
        rows_held(page, entries + 1)  # the charge on top, every loaded entry kept
        expect(page.locator('#ledger [role=row][aria-rowindex="2"]')).to_contain_text("charge")
        expect(page.locator("#ledger-more")).to_be_hidden()
        page.screenshot(path=str(ARTIFACTS / "image-studio-billing.png"), full_page=True)

"""Every Image Studio control, clicked in a real browser against the launched app.

One app and one page for the module (the tests run in order, as one person's session).
Each control below is clicked by the named test and its visible effect asserted; every
error a person can cause is asserted as the text they see.

#model (dropdown; model card)                  test_model_card_and_offline_model
#style (preview cards are the choice)          test_style_cards
#aspect, #count, #generate (cost on label)     test_settings_price_the_button
#prompt: typing, paste, cut, select-all+Backspace, over the limit, #prompt-counter, #reason
                                               test_prompt_counter_follows_every_edit
#enhance, #enhance-now (programmatic fill), #enhanced  test_enhance
#negative, #seed (Advanced), #generate, Ctrl+Enter, #results (pick), #details,
#download (readable name), header #balance     test_generate_pick_download
#cancel, #cancel-note                          test_cancel_when_idle
#compare-models, #compare-cost, #compare-run   test_compare_refuses_before_charging
#prompt-name, #save-prompt, #saved-prompts, #use-prompt, #delete-prompt, #prompt-note
                                               test_prompt_library
#billing, #ledger, #ledger-more (Load more)     test_billing, tests/test_browser_billing.py
#history, #history-gallery, #history-more      tests/test_browser_history.py
"""

from __future__ import annotations

import re

import pytest

from tests.browser import box, choose, chromium_page, expect, open_accordion, toast
from tests.launched_app import ARTIFACTS, launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    ARTIFACTS.mkdir(exist_ok=True)
    data = tmp_path_factory.mktemp("is") / "data"
    with launched_app(data, "--starting-credits", "10") as url, chromium_page(1280, 800) as page:
        page.goto(url)
        expect(page.locator("#balance")).to_contain_text("Balance: 10")
        yield page
        page.screenshot(path=str(ARTIFACTS / "image-studio-end.png"), full_page=True)


def prompt(page):
    return box(page, "prompt")


def test_model_card_and_offline_model(page):
    expect(page.locator("#generate")).to_be_disabled()
    expect(page.locator("#reason")).to_contain_text("Write a prompt")
    prompt(page).fill("a lighthouse")
    page.locator("#model input").click()
    page.get_by_role("option", name=re.compile("SD-Turbo")).first.click()
    expect(page.locator("#studio-left")).to_contain_text("downloads on first use")
    expect(page.locator("#reason")).to_contain_text("offline")  # can't download here: said before any click
    expect(page.locator("#generate")).to_be_disabled()
    page.locator("#model input").click()
    page.get_by_role("option", name=re.compile("Offline demo")).click()
    expect(page.locator("#studio-left")).to_contain_text("ignores the prompt")
    expect(page.locator("#generate")).to_be_enabled()


def test_style_cards(page):
    cards = page.locator("#style label")
    expect(cards).to_have_count(8)
    page.locator("#style").get_by_text("Movie", exact=True).click()
    expect(page.locator("#style input[value=movie]")).to_be_checked()
    expect(page.locator("#style label.selected")).to_have_text("Movie")
    expect(page.locator("#style-info")).not_to_have_text("Your prompt exactly as written, no style added.")
    image = cards.nth(4).evaluate("e => getComputedStyle(e).backgroundImage")
    assert "movie.png" in image, "the card shows the style's preview"


def test_settings_price_the_button(page):
    choose(page, "count", "3")
    expect(page.locator("#generate")).to_have_text("Generate · 3 credits")
    choose(page, "count", "2")
    expect(page.locator("#generate")).to_have_text("Generate · 2 credits")
    choose(page, "aspect", "▮ 9:16 Portrait")
    expect(page.locator("#aspect input[value='9:16']")).to_be_checked()


def test_prompt_counter_follows_every_edit(page):
    text, counter, generate = prompt(page), page.locator("#prompt-counter .counter"), page.locator("#generate")
    text.fill("")
    expect(counter).to_have_text("0/2000")
    expect(generate).to_be_disabled()
    text.press_sequentially("a boat")  # typing
    expect(counter).to_have_text("6/2000")
    expect(generate).to_be_enabled()
    text.press("Control+a")
    text.press("Backspace")  # select-all + Backspace
    expect(counter).to_have_text("0/2000")
    expect(generate).to_be_disabled()
    expect(page.locator("#reason")).to_contain_text("Write a prompt")
    page.evaluate("navigator.clipboard.writeText('a red boat at dawn')")
    text.focus()
    text.press("Control+v")  # paste
    expect(text).to_have_value("a red boat at dawn")
    expect(counter).to_have_text("18/2000")
    expect(generate).to_be_enabled()
    text.press("Control+a")
    text.press("Control+x")  # cut
    expect(counter).to_have_text("0/2000")
    expect(generate).to_be_disabled()
    text.fill("word " * 401)  # programmatic fill, over the limit
    expect(counter).to_contain_text("over the limit")
    expect(page.locator("#reason")).to_contain_text("the limit is 2000")
    expect(generate).to_be_disabled()
    text.fill("a lighthouse on a cliff at dusk, waves crashing")
    expect(counter).to_have_text("47/2000")
    expect(generate).to_be_enabled()


def test_enhance(page):
    page.locator("#enhance").get_by_text("Enhance prompt").click()
    expect(page.locator("#enhanced textarea")).to_have_value(re.compile("lighthouse.*, "))
    page.locator("#enhance").get_by_text("Enhance prompt").click()
    expect(page.locator("#enhanced")).to_be_hidden()
    before = prompt(page).input_value()
    page.click("#enhance-now")
    expect(prompt(page)).not_to_have_value(before)  # filled by the server
    expect(page.locator("#prompt-counter .counter")).not_to_have_text(f"{len(before)}/2000")  # and the counter followed
    prompt(page).fill("a lighthouse on a cliff at dusk, waves crashing")


def test_generate_pick_download(page):
    page.locator("#studio-right").get_by_text("Advanced").click()
    box(page, "negative").fill("blurry")
    box(page, "seed").fill("1234")
    expect(page.locator("#generate")).to_have_text("Generate · 2 credits")
    page.click("#generate")
    expect(page.locator("#results .thumbnail-item")).to_have_count(2)
    expect(page.locator("#balance")).to_contain_text("Balance: 8")
    expect(page.locator("#details")).to_contain_text("1234")
    expect(page.locator("#details")).to_contain_text("Movie")
    expect(page.locator("#download")).to_be_visible()
    with page.expect_download() as info:
        page.click("#download")
    assert info.value.suggested_filename == "a-lighthouse-on-a_seed1234.png"
    page.locator("#results .thumbnail-item").nth(1).click()
    expect(page.locator("#details")).to_contain_text("1235")
    page.keyboard.press("Escape")
    page.screenshot(path=str(ARTIFACTS / "image-studio-journey.png"), full_page=True)
    prompt(page).press("Control+Enter")  # the keyboard shortcut generates too
    expect(page.locator("#balance")).to_contain_text("Balance: 6")


def test_cancel_when_idle(page):
    page.click("#cancel")
    expect(page.locator("#cancel-note")).to_have_text("Already finished: nothing to cancel.")


def test_compare_refuses_before_charging(page):
    open_accordion(page, "compare", "#compare-run")
    page.locator("#compare-models").get_by_text("Offline demo (faces)", exact=True).click()
    expect(page.locator("#compare-cost")).to_contain_text("Pick 2 to 4")
    expect(page.locator("#compare-run")).to_be_disabled()
    page.locator("#compare-models").get_by_text("SD-Turbo", exact=True).click()
    expect(page.locator("#compare-cost")).to_contain_text("offline")  # refused before any charge
    expect(page.locator("#compare-run")).to_be_disabled()
    expect(page.locator("#balance")).to_contain_text("Balance: 6")


def test_prompt_library(page):
    open_accordion(page, "prompt-library", "#save-prompt")
    page.click("#use-prompt")
    toast(page, "Choose a saved prompt first.")
    page.click("#save-prompt")
    toast(page, "name")
    box(page, "prompt-name").fill("Lighthouse")
    page.click("#save-prompt")
    expect(page.locator("#prompt-note")).to_contain_text("Saved “Lighthouse”.")
    prompt(page).fill("")
    expect(page.locator("#generate")).to_be_disabled()
    page.click("#use-prompt")
    expect(prompt(page)).to_have_value("a lighthouse on a cliff at dusk, waves crashing")
    expect(page.locator("#prompt-counter .counter")).to_have_text("47/2000")  # a programmatic fill moves the counter
    expect(page.locator("#generate")).to_be_enabled()
    page.click("#delete-prompt")
    expect(page.locator("#prompt-note")).to_have_text("Deleted.")
    page.click("#delete-prompt")
    toast(page, "Choose a saved prompt to delete.")


def test_billing(page):
    open_accordion(page, "billing", "#ledger")
    expect(page.locator("#ledger")).to_contain_text("charge")
    expect(page.locator("#ledger")).to_contain_text("-2")
    expect(page.locator("#ledger-more")).to_be_hidden()  # this short history fits one page (see test_browser_billing)

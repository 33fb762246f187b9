"""Every Gen Space control, clicked in a real browser against the launched app.

One app and one page for the module (the tests run in order, as one person's session).
Each control below is clicked by the named test and its visible effect asserted; every
error a person can cause is asserted as the toast text they see.

Project bar     #project (dropdown)                       test_project_bar, test_last_project_remembered
                #project-name, #create-project            test_project_bar (empty name error, create)
                #rename-project                           test_project_bar
                #delete-project + #confirm-delete-project  test_project_bar (cancel), test_delete_project
Navigator       #shot-filter (All/Characters/Scenes/Props) test_new_shots_and_filter
                #shot-cards (select a card)               test_new_shots_and_filter, test_edit_move_delete_shot
New shot        #new-shot-type, #new-shot-name, #new-shot-desc, #create-shot
                                                          test_new_shots_and_filter (empty name error)
Edit shot       #edit-shot-type/-name/-desc, #save-shot   test_edit_move_delete_shot (no-shot error, save)
                #move-up, #move-down, #delete-shot        test_edit_move_delete_shot
Settings bar    #gs-model, #gs-count, #gs-prompt (type, select-all+Backspace, fill), #gs-counter,
                #gs-generate (+ Ctrl+Enter), #gs-reason   test_generate_for_shot
                #gs-cancel                                test_cancel_when_idle
                #gs-more: #gs-enhance, #gs-style, #gs-aspect, #gs-seed, #gs-scale, #gs-strength
                                                          test_more_settings
References      #references (pick), #remove-ref, #clear-refs, 7th reference error
                                                          test_references
Results         #gs-results (pick)                        test_picked_image_actions
                #results-more, #library-more (Load more)  tests/test_browser_shot_results.py
Picked image    #use-as-reference, #apply-to-shot (no-image error), #gs-download (readable name),
                #gs-delete + #confirm-delete (yes)  test_picked_image_actions
                #rotate/#do-rotate, #flip/#do-flip, #crop-*/#do-crop  test_edits
                #edit-prompt, #edit-strength, #edit-by-prompt (cost + reason) test_edits
Library         #gs-library-tab, #library-filter, #upload, #gs-library (pick)  test_library_and_upload
                (#library-more shows only past 24 images: not reached here; paging is tested in the store tests)
Consistency     #batch-type, #batch-shots, #batch-cost, #batch-run  test_consistency_flow
Storyboard      #refresh-storyboard, #export-storyboard   test_storyboard
"""

from __future__ import annotations

import re

import pytest
from PIL import Image

from tests.browser import box, choose, chromium_page, close_toasts, expect, no_horizontal_overflow, open_accordion, toast
from tests.launched_app import ARTIFACTS, launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    ARTIFACTS.mkdir(exist_ok=True)
    data = tmp_path_factory.mktemp("gs") / "data"
    with launched_app(data, "--starting-credits", "60") as url, chromium_page(1280, 800) as page:
        page.goto(url)
        expect(page.locator("#balance")).to_contain_text("Balance: 60")  # the page has loaded
        page.get_by_role("tab", name="Gen Space").click()
        expect(page.locator("#project input")).to_have_value("My first project")
        page.app_url = url
        yield page
        page.screenshot(path=str(ARTIFACTS / "gen-space-end.png"), full_page=True)


def balance(page) -> int:
    expect(page.locator("#balance")).to_contain_text(re.compile(r"Balance: \d+"))  # arrived, then read
    return int(re.search(r"Balance: (\d+)", page.locator("#balance").inner_text()).group(1))


def pick_result(page, index: int = 0) -> None:
    page.locator("#gs-results .thumbnail-item").nth(index).click()
    expect(page.locator("#gs-details")).to_contain_text("Seed")


def test_project_bar(page):
    page.click("#create-project")
    toast(page, "Give the project a name.")
    box(page, "project-name").fill("Harbour")
    page.click("#create-project")
    expect(page.locator("#project input")).to_have_value("Harbour")
    box(page, "project-name").fill("Harbour Tale")
    page.click("#rename-project")
    expect(page.locator("#project input")).to_have_value("Harbour Tale")
    page.click("#delete-project")  # asks first (studio/ui/shared/confirm.py); Cancel keeps it
    expect(page.locator("#confirm-delete-project-question")).to_contain_text("Delete the project “Harbour Tale”")
    page.click("#confirm-delete-project-cancel")
    expect(page.locator("#confirm-delete-project-yes")).to_be_hidden()
    expect(page.locator("#project input")).to_have_value("Harbour Tale")


def test_new_shots_and_filter(page):
    open_accordion(page, "new-shot", "#create-shot")
    page.click("#create-shot")
    toast(page, "Give the shot a name.")
    for kind, name, desc in (("Character", "Mira", "a young sailor with curly brown hair"),
                             ("Character", "Tom", "an old lighthouse keeper"),
                             ("Scene", "Harbour", "a small harbour at dawn"),
                             ("Prop", "Lantern", "a brass storm lantern")):
        choose(page, "new-shot-type", kind)
        box(page, "new-shot-name").fill(name)
        box(page, "new-shot-desc").fill(desc)
        page.click("#create-shot")
        expect(page.locator("#shot-header")).to_contain_text(f"{name} · {kind}")
        expect(box(page, "new-shot-name")).to_have_value("")  # the form is for new shots only
    cards = page.locator("#shot-cards .thumbnail-item")
    expect(cards).to_have_count(4)
    expect(page.locator("#shot-cards")).to_contain_text("Lantern · Prop")
    for label, n in (("Characters", 2), ("Scenes", 1), ("Props", 1), ("All", 4)):
        choose(page, "shot-filter", label)
        expect(cards).to_have_count(n)
    # The filter sits at the navigator's top-right corner.
    nav, filt = page.locator("#navigator").first.bounding_box(), page.locator("#shot-filter").bounding_box()
    assert filt["x"] + filt["width"] > nav["x"] + nav["width"] * 0.8 and filt["y"] < nav["y"] + 60
    cards.nth(0).click()
    expect(page.locator("#shot-header")).to_contain_text("Mira · Character")
    expect(box(page, "gs-prompt")).to_have_value("a young sailor with curly brown hair")


def test_edit_move_delete_shot(page):
    open_accordion(page, "edit-shot", "#save-shot")
    page.locator("#shot-cards .thumbnail-item").nth(1).click()
    expect(box(page, "edit-shot-name")).to_have_value("Tom")
    box(page, "edit-shot-name").fill("Old Tom")
    page.click("#save-shot")
    expect(page.locator("#shot-header")).to_contain_text("Old Tom · Character")
    expect(page.locator("#shot-cards")).to_contain_text("Old Tom · Character")
    page.click("#move-up")
    expect(page.locator("#shot-cards .caption-label").first).to_have_text("Old Tom · Character")
    page.click("#move-down")
    expect(page.locator("#shot-cards .caption-label").first).to_have_text("Mira · Character")
    page.locator("#shot-cards .thumbnail-item").nth(3).click()
    expect(page.locator("#shot-header")).to_contain_text("Lantern")
    page.click("#delete-shot")
    page.click("#confirm-delete-shot-yes")
    expect(page.locator("#shot-cards .thumbnail-item")).to_have_count(3)
    expect(page.locator("#shot-header")).to_contain_text("No shot selected")
    page.click("#save-shot")
    toast(page, "Select a shot in the navigator first")
    expect(page.locator("#gs-reason")).to_contain_text("Select a shot in the navigator first")
    expect(page.locator("#gs-generate")).to_be_disabled()


def test_generate_for_shot(page):
    page.locator("#shot-cards .thumbnail-item").nth(0).click()
    expect(page.locator("#shot-header")).to_contain_text("Mira")
    choose(page, "gs-count", "2")
    generate = page.locator("#gs-generate")
    expect(generate).to_have_text("Generate · 2 credits")
    expect(generate).to_be_enabled()
    prompt = box(page, "gs-prompt")
    prompt.press("Control+a")
    prompt.press("Backspace")
    expect(page.locator("#gs-counter .counter")).to_have_text("0/2000")
    expect(generate).to_be_disabled()
    expect(page.locator("#gs-reason")).to_contain_text("Write a prompt")
    prompt.fill("a young sailor with curly brown hair, red scarf")
    expect(page.locator("#gs-counter .counter")).to_have_text("47/2000")
    expect(generate).to_be_enabled()
    before = balance(page)
    generate.click()
    expect(page.locator("#gs-results .thumbnail-item")).to_have_count(2)
    expect(page.locator("#shot-header")).to_contain_text("2 generated")
    expect(page.locator("#gs-status")).to_contain_text("2 image(s) for Mira")
    expect(page.locator("#balance")).to_contain_text(f"Balance: {before - 2}")
    prompt.press("Control+Enter")  # the keyboard shortcut generates too
    expect(page.locator("#gs-results .thumbnail-item")).to_have_count(4)
    expect(page.locator("#balance")).to_contain_text(f"Balance: {before - 4}")
    gen = generate.bounding_box()
    assert gen["y"] + gen["height"] <= 800, "Generate stays on a 1280×800 screen"


def test_picked_image_actions(page):
    page.click("#apply-to-shot")
    toast(page, "Click an image in the results or the asset library first.")
    pick_result(page, 0)
    details = page.locator("#gs-details")
    expect(details).to_contain_text("Mira")
    expect(details).to_contain_text("Harbour Tale")
    expect(details).not_to_contain_text(re.compile(r"\b[0-9a-f]{12,}\b"))  # no raw ids in the details
    download = page.locator("#gs-download")
    expect(download).to_be_visible()
    with page.expect_download() as info:
        download.click()
    assert re.fullmatch(r"harbour-tale_mira_seed\d+\.png", info.value.suggested_filename)
    page.click("#use-as-reference")
    expect(page.locator("#references .thumbnail-item")).to_have_count(1)
    page.click("#apply-to-shot")
    expect(page.locator("#shot-header")).to_contain_text("applied image set")
    pick_result(page, 3)
    page.click("#gs-delete")
    expect(page.locator("#confirm-delete-question")).to_contain_text("Delete this image for good?")
    page.click("#confirm-delete-yes")
    expect(page.locator("#gs-results .thumbnail-item")).to_have_count(3)
    expect(details).to_have_text("Select an image to see its details.")


def test_edits(page):
    pick_result(page, 0)
    open_accordion(page, "edit-image", "#do-rotate")
    page.click("#do-rotate")
    expect(page.locator("#gs-details")).to_contain_text("rotate 90")
    page.click("#do-flip")
    expect(page.locator("#gs-details")).to_contain_text("flip horizontal")
    box(page, "crop-right").fill("0.5")
    page.click("#do-crop")
    expect(page.locator("#gs-details")).to_contain_text("crop")
    # The demo can't edit by prompt: the button shows the price and the reason, and stays off.
    box(page, "edit-prompt").fill("now wearing a red coat")
    expect(page.locator("#edit-by-prompt")).to_have_text("Edit by prompt · 1 credit")
    expect(page.locator("#edit-by-prompt")).to_be_disabled()
    expect(page.locator("#edit-reason")).to_contain_text("cannot edit images by prompt")


def test_more_settings(page):
    open_accordion(page, "gs-more", "#gs-style")
    expect(page.locator("#gs-support")).to_contain_text("does not use reference images")
    choose(page, "gs-style", "Movie")
    choose(page, "gs-aspect", "▮ 9:16 Portrait")
    box(page, "gs-seed").fill("1234")
    page.locator("#gs-enhance").get_by_text("Enhance prompt").click()
    box(page, "gs-scale").fill("0.8")
    box(page, "gs-strength").fill("0.4")
    choose(page, "gs-count", "1")
    expect(page.locator("#gs-generate")).to_have_text("Generate · 1 credit")
    page.click("#gs-generate")
    expect(page.locator("#gs-status")).to_contain_text("1 image(s) for Mira")
    pick_result(page, 0)
    expect(page.locator("#gs-details")).to_contain_text("Movie")
    expect(page.locator("#gs-details")).to_contain_text("1234")
    page.screenshot(path=str(ARTIFACTS / "gen-space-portrait.png"))


def test_library_and_upload(page, tmp_path):
    page.get_by_role("tab", name="Asset library").click()
    expect(page.locator("#gs-library .thumbnail-item").first).to_be_visible()
    choose(page, "library-filter", "Scenes")
    expect(page.locator("#gs-library .thumbnail-item")).to_have_count(0)
    choose(page, "library-filter", "Characters")
    expect(page.locator("#gs-library .thumbnail-item").first).to_be_visible()
    picture = tmp_path / "harbour-sketch.png"
    Image.new("RGB", (96, 64), (30, 90, 160)).save(picture)
    with page.expect_file_chooser() as chooser:
        page.click("#upload")
    chooser.value.set_files(str(picture))
    expect(page.locator("#library-filter input[value=upload]")).to_be_checked()
    expect(page.locator("#gs-library .thumbnail-item")).to_have_count(1)
    page.locator("#gs-library .thumbnail-item").first.click()
    expect(page.locator("#gs-details")).to_contain_text("harbour-sketch.png")
    page.get_by_role("tab", name="Results").click()


def test_references(page):
    page.click("#clear-refs")
    expect(page.locator("#references .thumbnail-item")).to_have_count(0)
    page.get_by_role("tab", name="Asset library").click()
    choose(page, "library-filter", "This project")
    library = page.locator("#gs-library .thumbnail-item")
    expect(library.nth(6)).to_be_visible()
    for i in range(6):
        library.nth(i).click()
        expect(page.locator("#gs-details")).to_contain_text("Created")
        page.click("#use-as-reference")
        expect(page.locator("#references .thumbnail-item")).to_have_count(i + 1)
    library.nth(6).click()
    page.click("#use-as-reference")
    toast(page, "You can use up to 6 reference images; remove one first.")
    expect(page.locator("#references .thumbnail-item")).to_have_count(6)
    page.click("#remove-ref")
    toast(page, "Click a reference image first, then remove it.")
    page.locator("#references .thumbnail-item").nth(0).click()
    page.click("#remove-ref")
    expect(page.locator("#references .thumbnail-item")).to_have_count(5)
    page.click("#clear-refs")
    expect(page.locator("#references .thumbnail-item")).to_have_count(0)
    page.get_by_role("tab", name="Results").click()


def test_consistency_flow(page):
    open_accordion(page, "batch", "#batch-run")
    choose(page, "batch-type", "All characters")
    expect(page.locator("#batch-shots input:checked")).to_have_count(2)
    expect(page.locator("#batch-run")).to_have_text("Generate for chosen shots · 2 credits")
    before = balance(page)
    expect(page.locator("#shot-header")).to_contain_text(re.compile(r"\d+ generated"))
    header_before = page.locator("#shot-header").inner_text()
    n_before = int(re.search(r"(\d+) generated", header_before).group(1))
    page.click("#batch-run")
    expect(page.locator("#gs-status")).to_contain_text("Done")
    expect(page.locator("#shot-header")).to_contain_text(f"{n_before + 1} generated")  # the open shot refreshed
    expect(page.locator("#balance")).to_contain_text(f"Balance: {before - 2}")


def test_storyboard(page):
    open_accordion(page, "storyboard", "#export-storyboard")
    page.click("#refresh-storyboard")
    expect(page.locator("#storyboard-gallery .thumbnail-item")).to_have_count(3)
    page.click("#export-storyboard")
    expect(page.locator("#storyboard-zip")).to_contain_text(".zip")
    expect(page.locator("#contact-sheet img")).to_be_visible()


def test_cancel_when_idle(page):
    page.click("#gs-cancel")
    expect(page.locator("#gs-status")).to_contain_text("Already finished: nothing to cancel.")
    no_horizontal_overflow(page)
    close_toasts(page)


def test_last_project_remembered(page):
    page.reload()
    expect(page.get_by_role("tab", name="Gen Space", selected=True)).to_be_visible()
    expect(page.locator("#project input")).to_have_value("Harbour Tale")
    expect(page.locator("#shot-cards .thumbnail-item")).to_have_count(3)
    page.locator("#project input").click()
    page.get_by_role("option", name="My first project").click()
    expect(page.locator("#shot-cards .thumbnail-item")).to_have_count(0)


def test_delete_project(page):
    page.locator("#project input").click()
    page.get_by_role("option", name="Harbour Tale").click()
    expect(page.locator("#shot-cards .thumbnail-item")).to_have_count(3)
    page.click("#delete-project")
    page.click("#confirm-delete-project-yes")
    expect(page.locator("#project input")).not_to_have_value("Harbour Tale")
    expect(page.locator("#shot-cards .thumbnail-item")).to_have_count(0)

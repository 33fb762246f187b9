"""Every destructive action asks first, in one pattern (studio/ui/shared/confirm.py), and
says what else goes with it: Cancel keeps everything, "Yes" deletes and says what went.

One app and one page (one person's session, in order): a project "Harbour" with the shot
Mira and two images, one applied to her; then the image, the shot, the project and an API
key are each cancelled once and deleted once. Before this change the shot and the key went
at the first click with no question (no #confirm-delete-shot / #confirm-revoke-key box), and
the image and project boxes were a bare checkbox that named nothing.
"""

from __future__ import annotations

import pytest

from tests.browser import box, choose, chromium_page, expect, open_accordion
from tests.launched_app import ARTIFACTS, launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    ARTIFACTS.mkdir(exist_ok=True)
    data = tmp_path_factory.mktemp("confirm") / "data"
    with launched_app(data, "--starting-credits", "20") as url, chromium_page(1280, 800) as page:
        page.goto(url)
        expect(page.locator("#balance")).to_contain_text("Balance: 20")
        page.get_by_role("tab", name="Gen Space").click()
        expect(page.locator("#project input")).to_have_value("My first project")
        yield page
        page.screenshot(path=str(ARTIFACTS / "confirm-end.png"), full_page=True)


def asks(page, elem_id: str, text: str) -> None:
    expect(page.locator(f"#{elem_id}-yes")).to_be_visible()
    expect(page.locator(f"#{elem_id}-question")).to_contain_text(text)


def cancel(page, elem_id: str) -> None:
    page.click(f"#{elem_id}-cancel")
    expect(page.locator(f"#{elem_id}-yes")).to_be_hidden()


def test_setup_a_project_with_a_shot_and_two_images(page):
    box(page, "project-name").fill("Harbour")
    page.click("#create-project")
    expect(page.locator("#project input")).to_have_value("Harbour")
    open_accordion(page, "new-shot", "#create-shot")
    box(page, "new-shot-name").fill("Mira")
    box(page, "new-shot-desc").fill("a young sailor with a red scarf")
    page.click("#create-shot")
    expect(page.locator("#shot-header")).to_contain_text("Mira")
    page.locator("#shot-cards .thumbnail-item").first.click()
    choose(page, "gs-count", "2")
    expect(page.locator("#gs-generate")).to_be_enabled()
    page.click("#gs-generate")
    expect(page.locator("#gs-results .thumbnail-item")).to_have_count(2)
    page.locator("#gs-results .thumbnail-item").first.click()
    expect(page.locator("#gs-details")).to_contain_text("Seed")
    page.click("#apply-to-shot")
    expect(page.locator("#shot-header")).to_contain_text("applied image set")


def test_image_delete_names_the_shot_that_loses_it(page):
    page.locator("#gs-results .thumbnail-item").first.click()
    expect(page.locator("#gs-details")).to_contain_text("Seed")
    page.click("#gs-delete")
    asks(page, "confirm-delete", "Delete this image for good? Also: shot “Mira” loses its applied image.")
    cancel(page, "confirm-delete")
    expect(page.locator("#gs-results .thumbnail-item")).to_have_count(2)
    page.click("#gs-delete")
    page.click("#confirm-delete-yes")
    expect(page.locator("#gs-results .thumbnail-item")).to_have_count(1)
    expect(page.locator("#confirm-delete-done")).to_contain_text("Deleted the image. Also: shot “Mira” lost its applied image.")
    expect(page.locator("#confirm-delete-yes")).to_be_hidden()


def test_shot_delete_asks_and_says_its_images_stay(page):
    open_accordion(page, "edit-shot", "#delete-shot")
    page.locator("#shot-cards .thumbnail-item").first.click()
    expect(page.locator("#shot-header")).to_contain_text("Mira")
    page.click("#delete-shot")
    asks(page, "confirm-delete-shot", "Delete the shot “Mira”? Its 1 image stays in the project's asset library")
    cancel(page, "confirm-delete-shot")
    expect(page.locator("#shot-cards .thumbnail-item")).to_have_count(1)
    page.click("#delete-shot")
    page.click("#confirm-delete-shot-yes")
    expect(page.locator("#shot-cards .thumbnail-item")).to_have_count(0)
    expect(page.locator("#confirm-delete-shot-done")).to_contain_text("Deleted the shot “Mira”. Its 1 image stayed")
    page.click("#delete-shot")  # nothing selected now: a toast, and no box
    expect(page.locator(".toast-body").filter(has_text="Select a shot").first).to_be_visible()
    expect(page.locator("#confirm-delete-shot-yes")).to_be_hidden()


def test_project_delete_says_how_many_shots_and_images_go(page):
    page.click("#delete-project")
    asks(page, "confirm-delete-project", "Delete the project “Harbour” with its 0 shots and 1 image?")
    cancel(page, "confirm-delete-project")
    expect(page.locator("#project input")).to_have_value("Harbour")
    page.click("#delete-project")
    page.click("#confirm-delete-project-yes")
    expect(page.locator("#project input")).not_to_have_value("Harbour")
    expect(page.locator("#confirm-delete-project-done")).to_contain_text("Deleted the project “Harbour” with its 0 shots and 1 image.")


def test_api_key_revoke_asks_and_says_programs_stop(page):
    open_accordion(page, "api-keys", "#api-key-create")
    box(page, "api-key-name").fill("laptop script")
    page.click("#api-key-create")
    expect(page.locator("#api-key-list")).to_contain_text("laptop script")
    page.locator("#api-key-pick input").click()
    page.get_by_role("option").filter(has_text="laptop script").first.click()
    page.click("#api-key-revoke")
    asks(page, "confirm-revoke-key", "Revoke the key “laptop script”")
    expect(page.locator("#confirm-revoke-key-question")).to_contain_text("Programs that use it stop working")
    cancel(page, "confirm-revoke-key")
    expect(page.locator("#api-key-list")).to_contain_text("active")
    page.click("#api-key-revoke")
    page.click("#confirm-revoke-key-yes")
    expect(page.locator("#api-key-list")).to_contain_text("revoked")
    expect(page.locator("#confirm-revoke-key-done")).to_contain_text("Revoked the key “laptop script”")

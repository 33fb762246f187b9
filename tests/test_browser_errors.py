"""A refusal leaves the panel usable: its message shows as a toast, no output of the event
turns into Gradio's red "Error" badge, and the very field to fix can be typed into and used
again at once, without a reload.

One app and one page for the module (one person's session). Gradio's page marks every
output of a failed event with a status tracker whose `.error` span reads "Error"
(`ERROR_BADGE`); the studio now answers the page's refusals with a toast and skipped outputs
(studio/ui/shared/common.py `guard_events`), so that badge never appears.

Before that change each test here failed: the badge covered the name box, the key picker and
the saved-prompts dropdown (clicking into them timed out on the overlay) and stayed.
"""

from __future__ import annotations

import pytest

from tests.browser import box, chromium_page, close_toasts, expect, open_accordion
from tests.launched_app import ARTIFACTS, launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ERROR_BADGE = "[data-testid=status-tracker] .error"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    ARTIFACTS.mkdir(exist_ok=True)
    data = tmp_path_factory.mktemp("errors") / "data"
    with launched_app(data, "--starting-credits", "20") as url, chromium_page(1280, 800) as page:
        page.goto(url)
        expect(page.locator("#balance")).to_contain_text("Balance: 20")  # the page has loaded
        page.app_url = url
        yield page


def refused(page, text: str) -> None:
    """The refusal's toast is on screen (then closed), and no output anywhere shows the badge."""
    expect(page.locator(".toast-body").filter(has_text=text).first).to_be_visible()
    close_toasts(page)
    expect(page.locator(ERROR_BADGE)).to_have_count(0)


def type_into(page, elem_id: str, text: str) -> None:
    """Click into the field and type, as a person does: an error overlay over it would make
    the click time out (Playwright waits until nothing covers the field)."""
    field = box(page, elem_id)
    field.click(timeout=10_000)
    field.press("ControlOrMeta+a")
    page.keyboard.type(text)
    expect(field).to_have_value(text)


def test_api_key_create_and_revoke_refusals_leave_the_panel_usable(page):
    open_accordion(page, "api-keys", "#api-key-create")
    page.click("#api-key-create")  # no name
    refused(page, "Give the key a name")
    type_into(page, "api-key-name", "laptop script")
    page.click("#api-key-create")
    expect(box(page, "api-key-secret")).to_have_value(lambda_key())
    expect(page.locator("#api-key-list")).to_contain_text("laptop script")

    page.click("#api-key-revoke")  # no key picked
    refused(page, "Choose a key to revoke first.")
    page.locator("#api-key-pick input").click(timeout=10_000)
    page.get_by_role("option").filter(has_text="laptop script").first.click()
    page.click("#api-key-revoke")
    page.click("#confirm-revoke-key-yes")
    expect(page.locator("#api-key-list")).to_contain_text("revoked")
    expect(page.locator(ERROR_BADGE)).to_have_count(0)


def lambda_key():
    import re

    return re.compile(r"\S{20,}")


def test_prompt_library_refusals_leave_the_dropdown_usable(page):
    open_accordion(page, "prompt-library", "#save-prompt")
    type_into(page, "prompt", "a lighthouse at dusk")
    page.click("#save-prompt")  # no name
    refused(page, "name")  # the library's own sentence about the missing name
    page.click("#delete-prompt")  # nothing picked
    refused(page, "Choose a saved prompt to delete.")
    type_into(page, "prompt-name", "Lighthouse")
    page.click("#save-prompt")
    expect(page.locator("#prompt-note")).to_contain_text("Saved")
    expect(page.locator("#saved-prompts input")).to_have_value("Lighthouse — a lighthouse at dusk")
    page.click("#delete-prompt")
    expect(page.locator("#prompt-note")).to_contain_text("Deleted.")
    page.click("#use-prompt")  # nothing picked now
    refused(page, "Choose a saved prompt first.")
    page.locator("#saved-prompts input").click(timeout=10_000)  # the dropdown still opens
    page.keyboard.press("Escape")


# ----- a way forward at zero credits ------------------------------------------------------------
def test_zero_credits_without_accounts_says_how_and_grants_from_the_page(tmp_path):
    """No --auth: the local user runs their own studio, so the refusal names the Grant control and
    the CLI, and a grant from the Admin tab brings the balance and Generate back. Before: "This
    costs 1 credit; you have 0." and no Admin tab."""
    with launched_app(tmp_path / "data", "--starting-credits", "0") as url, chromium_page(1280, 800) as page:
        page.goto(url)
        expect(page.locator("#balance")).to_contain_text("Balance: 0")
        page.locator("#count").get_by_text("1", exact=True).click()
        type_into(page, "prompt", "a lighthouse")
        reason = page.locator("#reason")
        expect(reason).to_contain_text("you have 0. Add credits with Grant in the Admin tab")
        expect(reason).to_contain_text("python -m studio.cli.credits grant local 50")
        expect(page.locator("#generate")).to_be_disabled()
        page.get_by_role("tab", name="Admin").click()
        type_into(page, "admin-account", "local")
        type_into(page, "admin-reason", "top-up")
        page.click("#admin-grant")
        expect(page.locator("#admin-status")).to_contain_text("Granted 10 credits: local now has 10.")
        expect(page.locator("#balance")).to_contain_text("Balance: 10")
        page.get_by_role("tab", name="Image Studio").click()
        expect(page.locator("#generate")).to_be_enabled()


def test_zero_credits_with_accounts_says_whom_to_ask(tmp_path):
    from tests.test_admin import sign_in

    with launched_app(tmp_path / "data", "--starting-credits", "0", "--auth", "root:pw-root,ana:pw-ana",
                      "--admins", "root") as url, chromium_page(1280, 800) as page:
        sign_in(page, url, "ana", "pw-ana")
        type_into(page, "prompt", "a lighthouse")
        expect(page.locator("#reason")).to_contain_text("Ask an administrator of the studio (root) for more credits.")
        expect(page.get_by_role("tab", name="Admin")).to_have_count(0)

"""Cancel that means it (issue 20), in a real browser against the launched app.

A tiny random-weight SD1.5 with many steps per image is slow enough to cancel part-way.
Image Studio: 4 images, Cancel once the first image is made: the line under Cancel says
"Stopped: N of 4 images made, M credits returned." with N + M/price = 4, the gallery
shows those N images, the header balance and the billing table (a refund row) agree with
the ledger; the next Generate clears the line; a Cancel with nothing running says
"Already finished: nothing to cancel.". Gen Space: the consistency flow over three shots,
cancelled in the second: the later shot never runs and is never charged, and the status
line says so exactly.

Before the change these failed at the first message assertion: the page said
"Cancelling… credits will be refunded." (Image Studio) / "Cancelling… your credits will
be refunded." (Gen Space), the gallery showed no image (a count-4 job was one pipeline
call, so a cancel kept nothing), and the idle Cancel said "Nothing is running.".

Controls: #generate, #cancel, #cancel-note, #results, #balance, #billing/#ledger;
#gs-count, #batch (accordion), #batch-type, #batch-run, #gs-cancel, #gs-status.
"""

from __future__ import annotations

import json
import re

import pytest
from gradio_client import Client

from pipelines.testing.tiny import build_tiny_sd15
from tests.browser import box, choose, chromium_page, expect, open_accordion
from tests.launched_app import ARTIFACTS, launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SIZES = {a: {"width": 128, "height": 128} for a in ("16:9", "1:1", "9:16")}
STEPS = 24  # per image: slow enough to cancel between images on an idle machine too
PRICE = 3
START = 100
STOPPED = re.compile(r"^\s*Stopped: (\d) of 4 images made, (\d+) credits? returned\.\s*$")
# "Step k/96" with k past the first image's 24 steps and before the last step of the job.
FIRST_IMAGE_MADE = re.compile(r"Step (2[5-9]|[3-8]\d|9[0-5])/96")


def ledger(url: str) -> list[dict]:
    return Client(url, verbose=False).predict(api_name="/ledger")["items"]


def balance_is_ledger(url: str, shown: int) -> None:
    entries = ledger(url)
    assert sum(e["delta"] for e in entries) == shown == entries[0]["balance_after"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A fresh data folder whose catalog is the tiny slow model (built once for the module)."""
    root = tmp_path_factory.mktemp("cancel")
    sd15 = build_tiny_sd15(root / "tiny-sd15")
    ARTIFACTS.mkdir(exist_ok=True)

    def fresh(name: str):
        data = root / name
        data.mkdir()
        (data / "models.json").write_text(json.dumps({"models": [{
            "id": "tiny-slow", "name": "Tiny slow SD1.5", "description": "tiny random model, many steps",
            "family": "sd15", "source": {"kind": "folder", "path": str(sd15)}, "default_steps": STEPS,
            "default_guidance": 5.0, "sizes": SIZES, "credit_cost": PRICE, "speed": "slow", "quality": "draft",
        }]}))
        return data

    return fresh


@pytest.fixture(scope="module")
def app(data_dir):
    with launched_app(data_dir("data"), "--starting-credits", str(START), "--default-model", "tiny-slow") as url:
        yield url


def test_image_studio_cancel_keeps_made_images_refunds_the_rest_and_says_so(app):
    with chromium_page() as page:
        page.goto(app)
        expect(page.locator("#balance")).to_contain_text(f"Balance: {START}")
        box(page, "prompt").press_sequentially("a red boat")
        choose(page, "count", "4")
        expect(page.locator("#generate")).to_have_text(f"Generate · {4 * PRICE} credits")
        page.click("#generate")
        expect(page.locator("#results")).to_contain_text(FIRST_IMAGE_MADE, timeout=300_000)
        page.click("#cancel")

        note = page.locator("#cancel-note")
        expect(note).to_have_text(STOPPED)
        made, returned = map(int, STOPPED.match(note.inner_text().strip()).groups())
        assert made >= 1 and made * PRICE + returned == 4 * PRICE, (made, returned)
        expect(page.locator("#results .thumbnail-item")).to_have_count(made)
        left = START - made * PRICE
        expect(page.locator("#balance")).to_contain_text(f"Balance: {left}")
        open_accordion(page, "billing", "#ledger")
        newest = page.locator('#ledger [role=row][aria-rowindex="2"]')
        expect(newest).to_contain_text("refund")
        expect(newest).to_contain_text(f"not made")
        expect(newest).to_contain_text(str(returned))
        balance_is_ledger(app, left)
        page.screenshot(path=str(ARTIFACTS / "image-studio-cancel.png"), full_page=True)

        # The next Generate clears the line at once; its own cancel answers for itself.
        page.click("#generate")
        expect(note).to_have_text("")
        expect(page.locator("#results")).to_contain_text(re.compile(r"Step \d+/96"), timeout=300_000)
        page.click("#cancel")
        expect(note).to_have_text(STOPPED)
        made2, returned2 = map(int, STOPPED.match(note.inner_text().strip()).groups())
        assert made2 * PRICE + returned2 == 4 * PRICE
        expect(page.locator("#balance")).to_contain_text(f"Balance: {left - made2 * PRICE}")

        # Nothing running: no promise, no refund.
        page.click("#cancel")
        expect(note).to_have_text("Already finished: nothing to cancel.")
        balance_is_ledger(app, left - made2 * PRICE)


def test_consistency_flow_cancel_skips_later_shots_and_says_so(app):
    client = Client(app, verbose=False)
    project = client.predict(api_name="/list_projects")[0]["id"]  # the default project, made on first use
    for name in ("Mira", "Otto", "Lena"):
        client.predict(project, "character", name, f"{name}, a sailor", api_name="/create_shot")
    with chromium_page(1280, 800) as page:
        page.goto(app)
        expect(page.locator("#balance")).to_contain_text("Balance:")
        page.get_by_role("tab", name="Gen Space").click()
        expect(page.locator("#project input")).to_have_value("My first project")
        expect(page.locator("#gs-count")).to_be_visible()
        balance = page.locator("#balance")
        expect(balance).to_contain_text(re.compile(r"Balance: \d+"))
        start = int(re.search(r"Balance: (\d+)", balance.inner_text()).group(1))

        choose(page, "gs-count", "1")
        open_accordion(page, "batch", "#batch-run")
        choose(page, "batch-type", "All characters")
        expect(page.locator("#batch-shots input:checked")).to_have_count(3)
        expect(page.locator("#batch-run")).to_have_text(f"Generate for chosen shots · {3 * PRICE} credits")
        page.click("#batch-run")
        # The second shot has been charged (the header follows the ledger while a job runs): cancel in it.
        expect(balance).to_contain_text(f"Balance: {start - 2 * PRICE}", timeout=300_000)
        page.click("#gs-cancel")

        status = page.locator("#gs-status")
        expect(status).to_have_text(re.compile(r"^\s*Stopped after [12] of 3 shots"))
        text = status.inner_text().strip()
        run = int(re.match(r"Stopped after (\d)", text).group(1))
        not_started = 3 - run - 1
        expected = f"Stopped after {run} of 3 shots: {run} image{'s' if run != 1 else ''} made, {PRICE} credits returned"
        if not_started:
            expected += "; 1 shot not started (nothing charged for it)"
        assert text == expected + ".", text
        expect(balance).to_contain_text(f"Balance: {start - run * PRICE}")
        charges = [e for e in ledger(app) if e["kind"] == "charge" and e["delta"] == -PRICE]
        refunds = [e for e in ledger(app) if e["kind"] == "refund"]
        assert refunds[0]["delta"] == PRICE and refunds[0]["job_id"] == charges[0]["job_id"]
        balance_is_ledger(app, start - run * PRICE)
        page.screenshot(path=str(ARTIFACTS / "gen-space-cancel.png"), full_page=True)

        # The next action replaces the line; an idle Cancel promises nothing.
        page.click("#gs-cancel")
        expect(status).to_have_text("Already finished: nothing to cancel.")


def test_cancel_of_a_job_waiting_behind_another_tab_charges_nothing(data_dir):
    """With one job admitted at a time (--max-queued-jobs 1), tab B's job waits in the web
    queue behind tab A's: B's Cancel stops it before it starts (nothing charged) and does
    not touch A's job. Before: "Nothing is running.", and B's job ran and was charged once
    A's had finished."""
    with launched_app(data_dir("one-at-a-time"), "--starting-credits", str(START), "--default-model", "tiny-slow",
                      "--max-queued-jobs", "1") as url, chromium_page() as a:
        b = a.context.new_page()  # another page load: another session, as another tab
        # A makes 4 images (96 steps), so it is still running while B's job waits and is cancelled.
        for page, count in ((a, 4), (b, 1)):
            page.goto(url)
            expect(page.locator("#balance")).to_contain_text(f"Balance: {START}")
            box(page, "prompt").press_sequentially("a red boat")
            choose(page, "count", str(count))
            expect(page.locator("#generate")).to_have_text(f"Generate · {count * PRICE} credits")

        a.click("#generate")
        expect(a.locator("#results")).to_contain_text(re.compile(r"Step \d+/96"), timeout=300_000)
        b.click("#generate")
        expect(b.locator("#results")).to_contain_text(re.compile(r"queue", re.I))
        b.click("#cancel")
        expect(b.locator("#cancel-note")).to_have_text("Stopped before it started: nothing was charged.")
        expect(a.locator("#results")).to_contain_text(re.compile(r"Step \d+/96"))  # A still runs
        a.click("#cancel")
        expect(a.locator("#cancel-note")).to_have_text(STOPPED)
        made, returned = map(int, STOPPED.match(a.locator("#cancel-note").inner_text()).groups())
        assert made < 4 and returned == (4 - made) * PRICE
        # B's job reached the studio after A's and stopped there: its line stays, nothing was charged.
        expect(b.locator("#results")).not_to_contain_text(re.compile(r"queue|Step|Starting", re.I))
        expect(b.locator("#cancel-note")).to_have_text("Stopped before it started: nothing was charged.")
        expect(b.locator("#results .thumbnail-item")).to_have_count(0)
        expect(a.locator("#balance")).to_contain_text(f"Balance: {START - made * PRICE}")
        assert [e["kind"] for e in ledger(url)] == ["refund", "charge", "grant"]  # A's charge and refund only
        balance_is_ledger(url, START - made * PRICE)

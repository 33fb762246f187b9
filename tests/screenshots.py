"""Makes the README screenshots of both tabs from a real launched app (run by hand:
`python -m tests.screenshots`). Not a test: it only drives the UI and saves PNGs, at
1400 px wide (the README pair), 1280×800 (a laptop) and 390×844 (a phone)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from gradio_client import Client

from tests.browser import box, choose, chromium_page, expect
from tests.launched_app import REPO, launched_app

OUT = REPO / "studio" / "ui" / "screenshots"
SHOTS = [
    ("character", "Mira", "a young sailor with curly brown hair and a red scarf"),
    ("character", "Old Tom", "an old lighthouse keeper with a grey beard"),
    ("scene", "Harbour at dawn", "a small harbour town at dawn, fishing boats"),
    ("prop", "Storm lantern", "a brass storm lantern"),
    ("prop", "Rowing boat", "a small wooden rowing boat"),
]
SCREENS = [("", 1400, 1000), ("-laptop", 1280, 800), ("-phone", 390, 844)]


def prepare(url: str) -> None:
    """A project in progress, made through the API: shots, a few results, one applied."""
    client = Client(url, verbose=False)
    project = client.predict("Harbour Tale", api_name="/create_project")["id"]
    for kind, name, desc in SHOTS:
        shot = client.predict(project, kind, name, desc, api_name="/create_shot")
        if kind == "character":
            made = client.predict(shot["id"], "demo-faces", 3, desc, api_name="/generate_for_shot")
            client.predict(shot["id"], made["images"][0]["id"], api_name="/apply_to_shot")
            client.predict(project, made["images"][1]["id"], api_name="/use_as_reference")


def image_studio(page, suffix: str) -> None:
    box(page, "prompt").fill("a portrait of a sailor at golden hour, film grain")
    page.locator("#style").get_by_text("Movie", exact=True).click()
    choose(page, "count", "4")
    expect(page.locator("#generate")).to_have_text("Generate · 4 credits")
    page.click("#generate")
    expect(page.locator("#results .thumbnail-item")).to_have_count(4)
    page.mouse.move(0, 0)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(800)
    page.screenshot(path=str(OUT / f"image-studio{suffix}.png"), full_page=False)


def gen_space(page, suffix: str) -> None:
    page.get_by_role("tab", name="Gen Space").click()
    page.locator("#project input").click()
    page.get_by_role("option", name="Harbour Tale").click()
    expect(page.locator("#shot-cards .thumbnail-item")).to_have_count(len(SHOTS))
    page.locator("#shot-cards .thumbnail-item").first.click()
    expect(page.locator("#gs-results .thumbnail-item")).to_have_count(3)
    page.locator("#gs-results .thumbnail-item").nth(1).click()
    expect(page.locator("#gs-details")).to_contain_text("Mira")
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(800)
    page.screenshot(path=str(OUT / f"gen-space{suffix}.png"), full_page=False)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, launched_app(Path(tmp) / "data", "--starting-credits", "500") as url:
        prepare(url)
        for suffix, width, height in SCREENS:
            with chromium_page(width, height) as page:
                page.goto(url)
                expect(page.locator("#balance")).not_to_contain_text("Balance: 0 ")
                image_studio(page, suffix)
                gen_space(page, suffix)
    print(f"saved to {OUT}")


if __name__ == "__main__":
    main()

"""Makes the README screenshots of both tabs from a real launched app (run by hand:
`python -m tests.screenshots`). Not a test: it only drives the UI and saves PNGs."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from tests.browser import chromium_page
from tests.launched_app import REPO, launched_app

OUT = REPO / "studio" / "ui" / "screenshots"
SHOTS = [
    ("Character", "Mira", "a young sailor with curly brown hair and a red scarf"),
    ("Character", "Tom", "an old lighthouse keeper with a grey beard"),
    ("Scene", "Harbour", "a small harbour town at dawn, fishing boats"),
    ("Prop", "Lantern", "a brass storm lantern"),
]


def image_studio(page) -> None:
    page.locator("#prompt textarea").press_sequentially("a portrait of a sailor at golden hour, film grain")
    page.locator("#style").get_by_text("Movie", exact=True).click()
    page.locator("#count").get_by_text("4", exact=True).click()
    page.wait_for_function("document.querySelector('#generate').innerText.includes('4 credits')")
    page.click("#generate")
    page.wait_for_function("document.querySelectorAll('#results img').length >= 4", timeout=120_000)
    time.sleep(1.5)
    page.screenshot(path=str(OUT / "image-studio.png"), full_page=True)


def gen_space(page) -> None:
    page.get_by_role("tab", name="Gen Space").click()
    page.wait_for_function("document.querySelector('#project input').value.length > 0")
    for kind, name, desc in SHOTS:
        page.locator("#shot-type").get_by_text(kind, exact=True).click()
        page.locator("#shot-name input, #shot-name textarea").first.fill(name)
        page.locator("#shot-desc textarea").fill(desc)
        page.click("#create-shot")
        page.wait_for_function(f"document.querySelector('#shot-header').innerText.includes('{name}')")
        if kind == "Character":
            page.wait_for_function("!document.querySelector('#gs-generate').disabled")
            page.click("#gs-generate")
            page.wait_for_function(f"document.querySelector('#gs-status').innerText.includes('{name}')",
                                   timeout=120_000)
            page.wait_for_function("document.querySelectorAll('#gs-results img').length >= 2")
            page.locator("#gs-results img").first.click()
            page.keyboard.press("Escape")
            page.click("#apply-to-shot")
            page.wait_for_function("document.querySelector('#shot-header').innerText.includes('applied')")
            page.click("#use-as-reference")
            time.sleep(1)
    page.locator("#shot-cards img").first.click()
    time.sleep(2)
    page.screenshot(path=str(OUT / "gen-space.png"), full_page=True)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, launched_app(Path(tmp) / "data") as url:
        with chromium_page(1400, 1000) as page:
            page.goto(url)
            page.wait_for_selector("#prompt textarea")
            image_studio(page)
            gen_space(page)
    print(f"saved to {OUT}")


if __name__ == "__main__":
    main()

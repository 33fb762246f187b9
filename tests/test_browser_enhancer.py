"""The prompt enhancer picker in a real browser: a language model from the data folder's
catalog (the tiny GPT-2 built in code) writes the enhanced prompt, the page says which
enhancer ran, the image's details record it; the shipped MagicPrompt entry, not
downloadable here, says in words that the built-in enhancer stood in.

#enhancer (dropdown), #enhance, #enhanced (label + text), #generate, #details
"""

from __future__ import annotations

import json
import re

import pytest

from pipelines.testing.tiny_lm import build_tiny_prompt_lm
from tests.browser import box, chromium_page, expect
from tests.launched_app import launched_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("enhancer")
    lm = build_tiny_prompt_lm(root / "tiny-prompt-lm")
    data = root / "data"
    data.mkdir()
    (data / "models.json").write_text(json.dumps({"models": [], "prompt_enhancers": [{
        "id": "tiny-lm", "name": "Tiny prompt LM", "description": "A tiny GPT-2 trained on eight prompts.",
        "source": {"kind": "folder", "path": str(lm)}}]}))
    with launched_app(data, "--starting-credits", "10") as url, chromium_page(1280, 800) as page:
        page.goto(url)
        expect(page.locator("#balance")).to_contain_text("Balance: 10")
        yield page


def pick_enhancer(page, name: str) -> None:
    page.locator("#enhancer input").click()
    page.get_by_role("option", name=name, exact=True).click()
    expect(page.locator("#enhancer input")).to_have_value(name)


def test_a_language_model_enhancer_writes_the_prompt_and_the_page_says_so(page):
    expect(page.locator("#enhancer input")).to_have_value("Built-in offline enhancer")
    box(page, "prompt").fill("a city street at midnight in the rain")
    pick_enhancer(page, "Tiny prompt LM")
    page.locator("#enhance").get_by_text("Enhance prompt").click()
    enhanced = page.locator("#enhanced")
    expect(enhanced).to_contain_text("Enhanced prompt, by Tiny prompt LM (what will be sent)")
    # The model learnt "golden hour sunlight, highly detailed…"; at midnight in the rain the sun is dropped.
    expect(enhanced.locator("textarea")).to_have_value(re.compile(r"^a city street at midnight in the rain, .*highly detailed"))
    expect(enhanced.locator("textarea")).not_to_have_value(re.compile("golden hour"))
    page.click("#generate")
    expect(page.locator("#details")).to_contain_text("Prompt enhanced by", timeout=120_000)
    expect(page.locator("#details")).to_contain_text("Tiny prompt LM")
    expect(page.locator("#balance")).to_contain_text("Balance: 9")


def test_a_model_that_cannot_be_downloaded_here_says_the_built_in_stood_in(page):
    pick_enhancer(page, "MagicPrompt (GPT-2)")
    expect(page.locator("#enhanced")).to_contain_text(
        "by Built-in offline enhancer — MagicPrompt (GPT-2) could not run (could not download")
    expect(page.locator("#enhanced")).to_contain_text("so the built-in enhancer was used (what will be sent)")
    expect(page.locator("#enhanced textarea")).to_have_value(re.compile(r"^a city street at midnight in the rain, "))
    pick_enhancer(page, "Built-in offline enhancer")
    expect(page.locator("#enhanced")).to_contain_text("Enhanced prompt, by Built-in offline enhancer (what will be sent)")

"""The built-in prompt enhancer: deterministic, style-aware, never repeats or overflows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.types import MAX_PROMPT_CHARS
from studio.services.prompts.enhancer import STOPWORDS, enhance_prompt
from studio.services.prompts.styles import load_styles

STYLES = load_styles(Path(__file__).resolve().parents[1] / "presets" / "styles.json")
LIGHTING = ("light", "glow")
COMPOSITION = ("shot", "composition", "framing", "angle", "view", "perspective")
QUALITY = ("quality", "resolution", "sharp", "4k", "8k", "masterpiece", "crisp")


def words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+(?:['-][a-z0-9]+)*", text.lower()) if w not in STOPWORDS]


def added_part(prompt: str, enhanced: str) -> str:
    assert enhanced.startswith(prompt), "the user's words must come first, unchanged"
    return enhanced[len(prompt):]


def test_same_input_gives_the_same_output():
    assert enhance_prompt("a lighthouse on a cliff", "movie") == enhance_prompt("a lighthouse on a cliff", "movie")


@pytest.mark.parametrize("style", [s.id for s in STYLES])
def test_adds_lighting_composition_and_quality_for_every_style(style: str):
    prompt = "a red fox"
    added = added_part(prompt, enhance_prompt(prompt, style)).lower()
    assert any(w in added for w in LIGHTING), added
    assert any(w in added for w in COMPOSITION), added
    assert any(w in added for w in QUALITY), added
    assert len(added.split(", ")) >= 5


@pytest.mark.parametrize("style", [s.id for s in STYLES])
def test_never_repeats_a_word_the_prompt_or_the_style_already_has(style: str):
    template = next(s.template for s in STYLES if s.id == style).replace("{prompt}", "")
    for prompt in ("a red fox", "portrait of an old sailor with a grey beard", "a glowing castle, highly detailed"):
        new = words(added_part(prompt, enhance_prompt(prompt, style)))
        assert len(new) == len(set(new)), new
        assert not set(new) & set(words(prompt)), (prompt, new)
        assert not set(new) & set(words(template)), (style, new)


def test_style_changes_the_additions():
    results = {enhance_prompt("a quiet harbour town", s.id) for s in STYLES}
    assert len(results) == len(STYLES)
    cyber = added_part("a market stall", enhance_prompt("a market stall", "cyberpunk"))
    assert re.search(r"holographic|chrome|techwear|glitch|fluorescent|billboard|signage|teal", cyber), cyber


def test_prompt_that_already_describes_lighting_and_framing_gets_neither():
    prompt = "close-up shot of an owl, lit by candlelight"
    added = added_part(prompt, enhance_prompt(prompt, "fantasy"))
    assert not any(w in added for w in LIGHTING + ("shot", "framing", "angle", "view", "composition")), added


def test_prompt_that_names_a_place_gets_no_second_setting():
    prompt = "a cat sleeping on a windowsill"
    added = added_part(prompt, enhance_prompt(prompt, "movie"))
    assert not re.search(r"\b(in|on|inside|beneath|among|before|beside|above|amid)\b", added), added


def test_enhancing_twice_adds_nothing_more():
    for style in STYLES:
        once = enhance_prompt("a knight and a dragon", style.id)
        assert enhance_prompt(once, style.id) == once


def test_near_limit_prompt_is_never_cut_and_never_exceeds_the_limit():
    prompt = ("x" * 9 + " ") * 199  # 1990 chars of the user's own text
    prompt = prompt[:1990]
    result = enhance_prompt(prompt, "fantasy")
    assert result.startswith(prompt.strip())
    assert len(result) <= MAX_PROMPT_CHARS
    medium = "a wizard " * 215  # ~1935 chars: room for a short phrase or two, not everything
    result = enhance_prompt(medium, "fantasy")
    assert medium.strip() in result and len(medium.strip()) < len(result) <= MAX_PROMPT_CHARS


def test_braces_and_punctuation_in_the_prompt_survive():
    result = enhance_prompt("a sign reading {OPEN} & 50% off,", "comic")
    assert result.startswith("a sign reading {OPEN} & 50% off, ")


@pytest.mark.parametrize("bad", ["", "   ", " , ", None])
def test_empty_prompt_asks_for_one(bad):
    with pytest.raises(ValueError, match="Write a prompt first"):
        enhance_prompt(bad, "auto")


def test_too_long_prompt_is_refused_not_truncated():
    with pytest.raises(ValueError, match="limit is 2000"):
        enhance_prompt("y" * 2001, "auto")


def test_style_without_own_vocabulary_uses_the_neutral_one():
    assert enhance_prompt("a teapot", "some-new-style") == enhance_prompt("a teapot", "auto")

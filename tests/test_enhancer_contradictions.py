"""The built-in enhancer never contradicts the prompt: a table of ordinary prompts, each
with what it says (place, time of day, weather/lighting, indoors/outdoors/underwater,
whether it has a person or creature), enhanced in all 8 styles; no added phrase may say
what the prompt rules out.

The forbidden words here are the test's own lists, written from the prompts' meaning,
not the enhancer's vocabulary tables, so a new phrase that contradicts is caught.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.services.prompts.enhancer import enhance_prompt
from studio.services.prompts.styles import load_styles

STYLES = [s.id for s in load_styles(Path(__file__).resolve().parents[1] / "presets" / "styles.json")]

# What each fact rules out in the ADDED text.
FORBIDDEN = {
    "place": (" in a", " in an", "on a ", "on an ", "beneath", "before a", "among", "beside", "against a",
              "under cherry", "inside", "above a", "amid", "on the", "floating in", "displayed on", "set against",
              "on a turntable", "on a seamless"),
    "night": ("sunlight", "sunny", "daylight", "natural light", "golden hour", "morning", "afternoon", "sunset",
              "sunrise", "dawn"),
    "dawn": ("moonlight", "sunset", "evening", "night", "afternoon"),
    "dusk": ("moonlight", "morning", "dawn", "night", "afternoon"),
    "day": ("moonlight", "night", "aurora", "sunset", "evening"),
    "wet": ("sunlight", "sunny", "golden hour", "natural light", "dappled"),
    "indoor": ("sky", "street", "rooftop", "forest", "desert", "highway", "skyline", "skyscraper", "billboard",
               "waterfall", "aurora", "clouds"),
    "outdoor": ("bedroom", "apartment", "noodle bar", "hacker den", "softbox", "fluorescent"),
    "underwater": ("sky", "lantern", "street", "rooftop", "billboard", "bedroom", "bar", "desert", "fluorescent",
                   "aurora", "fire", "candle", "clouds", "skyline"),
    "no_being": ("features", "gestures", "implants", "techwear", "silk", "stylized proportions", "exaggerated",
                 "portrait", "full-body", "low-angle hero shot", "over-the-shoulder", "close-up", "candid"),
}

# (prompt, facts it states)
TABLE = [
    ("an underwater coral reef", {"place", "underwater", "no_being"}),
    ("a city street at midnight in the rain", {"place", "night", "wet", "outdoor", "no_being"}),
    ("a lighthouse on a cliff at sunset", {"place", "dusk", "outdoor", "no_being"}),
    ("a woman reading in a cozy library at night", {"place", "night", "indoor"}),
    ("a fox in a snowy forest at dawn", {"place", "dawn", "outdoor"}),
    ("a bowl of ramen", {"no_being"}),
    ("a vintage car", {"no_being"}),
    ("a knight", set()),
    ("a portrait of an old sailor", set()),
    ("a busy market street at noon", {"place", "day", "outdoor", "no_being"}),
    ("a rainy window in a small apartment", {"place", "wet", "indoor", "no_being"}),
    ("a submarine gliding through an underwater canyon", {"place", "underwater", "no_being"}),
    ("a moonlit castle", {"place", "night", "no_being"}),
    ("a quiet kitchen at dawn", {"place", "dawn", "indoor", "no_being"}),
    ("a dragon flying over mountains at night", {"place", "night", "outdoor"}),
    ("a robot barista in a cafe", {"place", "indoor"}),
    ("an astronaut on the moon", {"place"}),
    ("a stormy sea", {"place", "wet", "outdoor", "no_being"}),
    ("a foggy harbor in the morning", {"place", "dawn", "wet", "outdoor", "no_being"}),
    ("a child playing in a meadow on a sunny afternoon", {"place", "day", "outdoor"}),
    ("a neon-lit alley at midnight", {"place", "night", "outdoor", "no_being"}),
    ("a jellyfish drifting underwater", {"place", "underwater"}),
    ("a detective in his office at night", {"place", "night", "indoor"}),
    ("a sunflower field at sunset", {"place", "dusk", "outdoor", "no_being"}),
    ("a wizard's study lit by candles", {"place", "indoor"}),
    ("a mountain village in the evening", {"place", "dusk", "outdoor", "no_being"}),
    ("a cup of coffee on a wooden table", {"place", "no_being"}),
    ("a cat sleeping on a windowsill in the afternoon", {"place", "day"}),
    ("a desert highway at twilight", {"place", "dusk", "outdoor", "no_being"}),
    ("a samurai standing in the rain", {"place", "wet"}),
    ("an abandoned subway station at night", {"place", "night", "no_being"}),
    ("a pair of sneakers", {"no_being"}),
    ("a koi pond in a japanese garden at dawn", {"place", "dawn", "outdoor", "no_being"}),
    ("a spaceship cockpit", {"place", "indoor", "no_being"}),
    ("a snowy village street at night", {"place", "night", "outdoor", "no_being"}),
    ("a sea turtle swimming over a coral reef", {"place", "underwater"}),
    ("a rainy day in a city park", {"place", "wet", "day", "outdoor", "no_being"}),
    ("a chef cooking in a busy restaurant kitchen", {"place", "indoor"}),
    ("a crystal vase with roses", {"no_being"}),
    ("a girl with a red umbrella at midnight", {"night"}),
    ("an old man fishing on a lake at sunrise", {"place", "dawn", "outdoor"}),
    ("a haunted mansion hallway at night", {"place", "night", "indoor", "no_being"}),
    ("a beach at noon", {"place", "day", "outdoor", "no_being"}),
    ("a wolf howling at the moon", {"place", "night"}),
]


def test_the_table_is_big_enough():
    assert len(TABLE) >= 40 and len(STYLES) == 8


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("prompt,facts", TABLE, ids=[p for p, _ in TABLE])
def test_no_added_phrase_contradicts_the_prompt(prompt, facts, style):
    enhanced = enhance_prompt(prompt, style)
    assert enhanced.startswith(prompt)
    added = enhanced[len(prompt):].lower()
    for fact in facts:
        for word in FORBIDDEN[fact]:
            assert word not in added, f"{style}: {prompt!r} ({fact}) gained {word.strip()!r}: {added}"
    assert any(w in added for w in ("quality", "resolution", "8k", "4k", "masterpiece", "sharp")), added


def test_the_examples_from_the_report():
    assert "skybridge" not in enhance_prompt("an underwater coral reef", "cyberpunk")
    assert "castle" not in enhance_prompt("an underwater coral reef", "fantasy")
    assert "natural light" not in enhance_prompt("a city street at midnight in the rain", "auto")

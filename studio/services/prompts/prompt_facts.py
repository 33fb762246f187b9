"""What a prompt already says about its scene, read from its words: the time of day, the
weather, indoors / outdoors / underwater, whether it names a place, whether it has a
person or creature in it, whether it mentions the sky or a flame.

Why: the enhancer used to append tags from a fixed vocabulary without reading the prompt,
so "an underwater coral reef" gained "on a skybridge between skyscrapers" and "a city
street at midnight in the rain" gained "soft natural light". Now every phrase the
enhancer might add is read with the SAME reader, and a phrase whose facts contradict the
prompt's (`contradicts`) is never added. Word lists, not a model: offline, instant, and
a wrong call only means a phrase is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


# word -> the times of day it allows. Generic sun words allow any daylight time.
_SUN = frozenset({"dawn", "day", "dusk"})
_TIMES: dict[str, frozenset[str]] = {
    **{w: frozenset({"night"}) for w in "night nighttime midnight moonlight moonlit moon starry starlit stars "
                                        "nocturnal aurora".split()},
    **{w: frozenset({"dawn"}) for w in "dawn sunrise morning daybreak".split()},
    **{w: frozenset({"day"}) for w in "day daytime noon midday afternoon".split()},
    **{w: frozenset({"dusk"}) for w in "dusk sunset evening twilight".split()},
    **{w: _SUN for w in "sun sunlight sunlit sunny daylight sunbeams sunshine".split()},
}
_TIME_PHRASES = {"golden hour": frozenset({"dawn", "dusk"}), "natural light": _SUN}
_SUNNY = frozenset("sun sunlight sunlit sunny sunshine sunbeams daylight".split()) | {"golden hour", "natural light"}
_WET = frozenset("rain rainy raining storm stormy thunderstorm fog foggy mist misty overcast drizzle downpour "
                 "blizzard".split())
_INDOOR = frozenset("room bedroom kitchen office library bar cafe café restaurant interior indoors inside hallway "
                    "corridor apartment classroom shop den attic basement cellar museum hall bathroom studio "
                    "workshop lab laboratory tavern inn pub cockpit study softbox fluorescent".split())
_OUTDOOR = frozenset("street streets city forest woods beach ocean sea mountain mountains field meadow desert sky "
                     "garden park river lake rooftop village town road highway alley alleyway skyline cliff island "
                     "jungle valley outdoors landscape waterfall billboards skyscrapers skybridge countryside "
                     "platform hills canyon glacier harbor harbour coast shore savanna plains".split())
_UNDERWATER = frozenset("underwater reef coral seabed undersea submerged seafloor aquarium".split())
_PLACES = _INDOOR | _OUTDOOR | _UNDERWATER | frozenset(
    "castle temple ruins station market cathedral palace tower bridge cave dungeon spaceship "
    "battlefield arena".split())
_SKY = frozenset("sky skies clouds aurora skyline stars moon".split())
_FLAME = frozenset("lantern lanterns candle candles candlelight fire torch torches campfire fireplace".split())
_BEINGS = frozenset(
    "woman women man men girl boy person people child children kid knight wizard witch warrior soldier samurai "
    "ninja detective king queen prince princess hero heroine character portrait face robot android cyborg elf "
    "dwarf orc dragon cat dog fox wolf horse bird owl lion tiger bear rabbit creature monster astronaut pilot chef "
    "dancer musician student sailor pirate couple family crowd biker hacker mage goddess angel vampire lady "
    "gentleman baby teenager mermaid fairy".split())
# phrases that only make sense about a person or creature
_NEEDS_BEING = frozenset({
    "expressive features", "expressive gestures", "chrome implants", "worn techwear details", "flowing silk",
    "cute stylized proportions", "exaggerated proportions", "candid natural moment", "wind-swept motion",
    "close-up portrait framing", "full-body shot", "low-angle hero shot", "dynamic three-quarter view shot",
    "medium close-up shot", "tight close-up shot", "over-the-shoulder shot", "over-the-shoulder view shot",
    "heroic centered framing",
})
_INDOOR, _OUTDOOR, _UNDERWATER, _PLACES, _SKY, _FLAME, _BEINGS, _WET = (
    frozenset(_stem(w) for w in group) for group in (_INDOOR, _OUTDOOR, _UNDERWATER, _PLACES, _SKY, _FLAME, _BEINGS, _WET))
# place prepositions: "a cat on a windowsill" names where it is
_PLACE_PREP = re.compile(r"\b(in|on|at|inside|under|beneath|beside|near|among|amid|above|atop|behind)\s+\w", re.I)


@dataclass(frozen=True)
class Facts:
    times: frozenset[str]  # subset of dawn/day/dusk/night allowed by the words; empty: not said
    sunny: bool
    wet: bool
    indoor: bool
    outdoor: bool
    underwater: bool
    place: bool
    sky: bool
    flame: bool
    being: bool
    needs_being: bool


def _stems(words) -> frozenset[str]:
    return frozenset(words) | frozenset(_stem(w) for w in words)


def read_facts(text: str) -> Facts:
    """The facts `text` states (a prompt, or a phrase the enhancer might add)."""
    lowered = text.lower()
    words = _stems(_WORD.findall(lowered))
    # "afternoon sunlight" is an afternoon: a specific time word wins over a generic sun word
    named = [_TIMES[w] for w in words if w in _TIMES] + [t for p, t in _TIME_PHRASES.items() if p in lowered]
    specific = [t for t in named if t != _SUN]
    times = frozenset().union(*(specific or named))
    return Facts(
        times=times,
        sunny=bool(words & _SUNNY) or any(p in lowered for p in ("golden hour", "natural light")),
        wet=bool(words & _WET),
        indoor=bool(words & _INDOOR),
        outdoor=bool(words & _OUTDOOR),
        underwater=bool(words & _UNDERWATER),
        place=bool(words & _PLACES) or bool(_PLACE_PREP.search(text)),
        sky=bool(words & _SKY),
        flame=bool(words & _FLAME),
        being=bool(words & _BEINGS),
        needs_being=lowered.strip() in _NEEDS_BEING,
    )


def names_place(text: str) -> bool:
    """Whether `text` names a place by its words ("in a forest"), not just by a preposition
    ("trending on artstation" is no second setting)."""
    return bool(_stems(_WORD.findall(text.lower())) & _PLACES)


def contradicts(prompt: Facts, phrase: Facts) -> bool:
    """True when adding the phrase would say something the prompt rules out."""
    if prompt.times and phrase.times and not (prompt.times & phrase.times):
        return True  # sunlight at midnight, morning light at sunset
    if prompt.times == frozenset({"night"}) and phrase.sunny:
        return True
    if prompt.wet and phrase.sunny:
        return True  # a rainy street in golden-hour sunshine
    if prompt.underwater and (phrase.sky or phrase.flame or phrase.indoor or phrase.outdoor):
        return True  # no sky, lanterns, rooms or streets under the sea
    if prompt.indoor and not prompt.outdoor and (phrase.sky or phrase.outdoor):
        return True
    if prompt.outdoor and not prompt.indoor and phrase.indoor:
        return True
    if phrase.needs_being and not prompt.being:
        return True  # "expressive features" on a bowl of fruit
    return False

"""Built-in prompt enhancer: a short prompt in, a richer one suited to the style out.

No language model: the studio must work offline and the result must be predictable
(pressing "Enhance" twice on the same prompt gives the same text, and enhancing an
enhanced prompt adds nothing). The user's text always comes first and is never cut;
after it come, when the prompt does not already cover them, a subject detail, a
setting, lighting, composition and quality markers picked from per-style vocabularies
that complement (never repeat) the style's own template in presets/styles.json.
"""

from __future__ import annotations

import hashlib
import re

from pipelines.params import MAX_PROMPT_CHARS
from studio.services.common.validation import InvalidRequest

CATEGORIES: tuple[str, ...] = ("detail", "setting", "lighting", "composition", "quality")

# Function words may repeat; every other word is added at most once and never when
# the prompt already has it.
STOPWORDS = frozenset(
    "a an the of and with in on at to by for from into over under through above among amid "
    "beneath beside before against as".split()
)

# Words that show the prompt already takes care of a category (compared after _stem).
_CUES: dict[str, frozenset[str]] = {
    "detail": frozenset(),
    "setting": frozenset("background backdrop setting scenery environment landscape indoors outdoors interior".split()),
    "lighting": frozenset(
        "light lighting lit backlit backlight sunlight moonlight glow glowing illuminated shadow sunset sunrise".split()
    ),
    "composition": frozenset(
        "composition framing framed shot close-up closeup angle wide-angle panorama panoramic portrait".split()
    ),
    "quality": frozenset("masterpiece quality 4k 8k hd uhd resolution sharp detailed professional".split()),
}

_VOCAB: dict[str, dict[str, tuple[str, ...]]] = {
    "auto": {
        "detail": ("intricate details", "fine textures", "expressive features", "rich surface detail"),
        "setting": ("in an evocative setting", "set against an atmospheric backdrop", "in a natural environment",
                    "in a carefully staged scene"),
        "lighting": ("soft natural light", "golden hour sunlight", "gentle diffused lighting", "warm ambient glow",
                     "dramatic rim light"),
        "composition": ("balanced composition", "rule of thirds framing", "eye-level medium shot",
                        "centered symmetrical composition"),
        "quality": ("high resolution, sharp focus", "professional quality, crisp 4k", "masterpiece, best quality",
                    "ultra sharp, 8k resolution"),
    },
    "3d-anime": {
        "detail": ("chunky rounded shapes", "cute stylized proportions", "playful little accents",
                   "shiny specular highlights"),
        "setting": ("in a colorful fantasy town", "against a pastel sky", "in a cozy bedroom full of plushies",
                    "on a sunny rooftop"),
        "lighting": ("bright rim lighting", "warm sunset glow", "sparkling backlight", "dreamy bloom lighting"),
        "composition": ("dynamic three-quarter view shot", "full-body shot", "low-angle hero shot",
                        "close-up portrait framing"),
        "quality": ("high quality, 4k", "ultra sharp, masterpiece", "crisp 8k resolution",
                    "best quality, polished finish"),
    },
    "3d-model": {
        "detail": ("precise bevelled edges", "realistic textures", "fine surface imperfections",
                   "accurate proportions"),
        "setting": ("on a turntable pedestal", "on a seamless white sweep", "displayed on a plinth",
                    "floating in an empty void"),
        "lighting": ("three-point light setup", "crisp key and rim lights", "softbox glow",
                     "bright even light from a large softbox"),
        "composition": ("three-quarter product shot", "isometric view composition", "front orthographic framing",
                        "hero shot at eye level"),
        "quality": ("8k resolution, sharp focus", "photoreal quality", "crisp 4k", "ray traced, masterpiece quality"),
    },
    "japanese-anime": {
        "detail": ("delicate hand-drawn details", "wind-swept motion", "small charming touches", "expressive gestures"),
        "setting": ("under cherry blossoms", "in a quiet countryside town", "beneath towering summer clouds",
                    "on a quiet train platform"),
        "lighting": ("warm afternoon sunlight", "soft evening glow", "dappled sunlight", "gentle morning light"),
        "composition": ("wide establishing shot", "dynamic camera angle shot", "medium close-up shot",
                        "scenic composition"),
        "quality": ("high resolution, masterpiece", "best quality, 4k", "crisp 8k", "sharp focus, high quality"),
    },
    "movie": {
        "detail": ("realistic textures", "subtle true-to-life detail", "lived-in props", "candid natural moment"),
        "setting": ("on a rain-slicked city street", "in a vast desert", "inside a cluttered apartment",
                    "on an empty highway", "in a bustling train station"),
        "lighting": ("golden hour backlight", "low-key light with deep shadows", "practical lamp glow",
                     "volumetric sunlight"),
        "composition": ("wide-angle establishing shot", "over-the-shoulder shot", "low camera angle shot",
                        "symmetrical framing"),
        "quality": ("high resolution, sharp focus", "IMAX quality", "crisp 8k", "masterpiece, 4k"),
    },
    "comic": {
        "detail": ("exaggerated proportions", "speed lines", "crosshatched textures", "punchy sound effects"),
        "setting": ("on a city rooftop", "amid an exploding skyline", "in a gritty alleyway",
                    "above a crowded street"),
        "lighting": ("strong backlight", "stark rim light", "high-contrast lighting", "glowing highlights"),
        "composition": ("low-angle shot", "foreshortened perspective shot", "splash page framing",
                        "tight close-up shot"),
        "quality": ("crisp linework, high resolution", "sharp clean lines", "best quality, 4k",
                    "masterpiece quality"),
    },
    "cyberpunk": {
        "detail": ("chrome implants", "holographic accents", "worn techwear details", "glitch artifacts"),
        "setting": ("beneath towering holographic billboards", "in a cramped noodle bar",
                    "on a skybridge between skyscrapers", "in a back-alley hacker den"),
        "lighting": ("teal and pink glow", "harsh fluorescent glow", "flickering signage glow", "hazy billboard glow"),
        "composition": ("wide establishing shot", "dutch angle composition", "over-the-shoulder view shot",
                        "low-angle shot"),
        "quality": ("8k, sharp focus", "ultra high resolution", "crisp 4k, masterpiece", "best quality"),
    },
    "fantasy": {
        "detail": ("ornate filigree", "mystic runes", "flowing silk", "wreathed in drifting petals"),
        "setting": ("in an ancient forest", "among floating islands", "before a towering castle",
                    "beside a misty waterfall"),
        "lighting": ("soft moonlight", "warm lantern glow", "dawn sunlight through mist", "aurora glow in the sky"),
        "composition": ("sweeping wide shot", "majestic low-angle view", "grand panoramic composition",
                        "heroic centered framing"),
        "quality": ("masterpiece, 8k", "high resolution, sharp focus", "best quality, 4k", "crisp ultra quality"),
    },
}

# Every phrase of a category, whatever the style: if one is already in the prompt the
# category is covered (this is what makes a second "Enhance" a no-op).
_ALL_PHRASES: dict[str, frozenset[str]] = {
    cat: frozenset(p.lower() for vocab in _VOCAB.values() for p in vocab[cat]) for cat in CATEGORIES
}

_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def _stem(word: str) -> str:
    """Fold simple plurals so 'lights' counts as 'light'."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def content_words(text: str) -> set[str]:
    """Lower-cased, plural-folded words of `text`, without function words."""
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS}


def known_styles() -> list[str]:
    return list(_VOCAB)


def _stable_index(*parts: str, modulo: int) -> int:
    """A variant index that depends only on the text (Python's hash() is salted per run)."""
    digest = hashlib.blake2b("\0".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % modulo


# "a cat on a windowsill" already has a setting; adding "in a desert" would fight it.
# Checked on the user's words only (added phrases such as "wreathed in petals" don't count).
_PLACE = re.compile(r"\b(in|on|at|inside|under|beneath|beside|near|among|amid|above|atop|behind)\s+\w", re.I)


def _covered(category: str, base: str, text: str, said: set[str]) -> bool:
    if category == "setting" and _PLACE.search(base):
        return True
    lowered = text.lower()
    return bool(said & _CUES[category]) or any(p in lowered for p in _ALL_PHRASES[category])


def enhance_prompt(prompt: str, style_id: str = "auto") -> str:
    """Return `prompt` followed by style-suited detail, setting, lighting, composition
    and quality phrases, each only when the prompt does not already cover it.

    A style id without its own vocabulary (a style added to styles.json later) gets
    the neutral "auto" vocabulary rather than an error. The result never exceeds
    MAX_PROMPT_CHARS; a long prompt gets fewer additions or none.
    """
    base = prompt.strip().rstrip(",; ") if isinstance(prompt, str) else ""
    if not base:
        raise InvalidRequest("Write a prompt first")
    if len(base) > MAX_PROMPT_CHARS:
        raise InvalidRequest(f"The prompt is {len(base)} characters long; the limit is {MAX_PROMPT_CHARS}")
    vocab_id = style_id if style_id in _VOCAB else "auto"
    vocab = _VOCAB[vocab_id]
    text = base
    said = content_words(base)
    for category in CATEGORIES:
        if _covered(category, base, text, said):
            continue
        options = vocab[category]
        start = _stable_index(vocab_id, category, base.lower(), modulo=len(options))
        for k in range(len(options)):
            phrase = options[(start + k) % len(options)]
            words = content_words(phrase)
            candidate = f"{text}, {phrase}"
            if words & said or len(candidate) > MAX_PROMPT_CHARS:
                continue
            text, said = candidate, said | words
            break
    return text

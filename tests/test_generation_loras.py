"""LoRAs through the studio's one request path (GenerationService, as the UI and both REST
dialects call it): the picker's list and the `<lora:name:weight>` prompt syntax, the
record and the A1111 `parameters` text (read back by sd-parsers), and every refusal
before any charge, with nothing written."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest
from PIL import Image

from pipelines.testing.tiny_lora import build_tiny_embedding, build_tiny_lora
from studio.services.generation import adapters as lora_rules
from studio.services.generation.requests import InvalidRequest, StudioRequest
from tests.studio_factory import image_files, make_studio

sd_parsers = pytest.importorskip("sd_parsers")


@pytest.fixture(scope="module")
def studio(sd15, sdxl, tmp_path_factory):
    data = tmp_path_factory.mktemp("lora-data")
    build_tiny_lora(sd15, data / "loras" / "ink_style.safetensors", seed=1)
    build_tiny_lora(sd15, data / "loras" / "hero_face.safetensors", key_format="kohya", seed=7)
    build_tiny_lora(sdxl, data / "loras" / "xl_style.safetensors", key_format="kohya", seed=2)
    (data / "loras" / "damaged.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
    build_tiny_embedding(sd15, data / "embeddings" / "inkwash.safetensors", seed=5)
    build_tiny_embedding(sd15, data / "embeddings" / "badhands.safetensors", seed=3)
    sizes = {a: {"width": 64, "height": 64} for a in ("16:9", "1:1", "9:16")}
    common = {"description": "tiny", "default_steps": 2, "default_guidance": 5.0, "sizes": sizes,
              "credit_cost": 1, "speed": "fast", "quality": "draft"}
    (data / "models.json").write_text(json.dumps({"models": [
        {"id": "tiny-sd15", "name": "Tiny SD 1.5", "family": "sd15", "source": {"kind": "folder", "path": str(sd15)},
         **common},
    ]}))
    return make_studio(data, starting_credits=100), data


def _ask(studio, prompt="a red fox in the snow", loras=(), model="tiny-sd15", user="ana"):
    return studio.generation.generate(StudioRequest(user=user, model_id=model, prompt=prompt, seed=9, loras=loras))


def _px(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def test_split_lora_tags_reads_a1111_syntax():
    assert lora_rules.split_lora_tags("a cat, <lora:ink_style:0.8>, night") == ("a cat, night", (("ink_style", 0.8),))
    assert lora_rules.split_lora_tags("<lora:my style v2> a cat") == ("a cat", (("my style v2", 1.0),))
    assert lora_rules.split_lora_tags("a <lora:x:0.5:0.2> b") == ("a b", (("x", 0.5),))
    assert lora_rules.split_lora_tags("no tags here") == ("no tags here", ())
    with pytest.raises(InvalidRequest, match="write a number"):
        lora_rules.split_lora_tags("<lora:x:heavy>")
    assert lora_rules.combine([("a", 1.0), ("b", 0.5)], (("a", 0.3),)) == (("b", 0.5), ("a", 0.3))


def test_picker_and_prompt_tags_give_the_same_image_recorded_the_a1111_way(studio):
    studio, data = studio
    plain = _ask(studio)
    by_picker = _ask(studio, loras=[("ink_style", 0.8)])
    by_tag = _ask(studio, prompt="a red fox in the snow <lora:ink_style:0.8>")
    a, b, c = (_px(r.images[0].path) for r in (plain, by_picker, by_tag))
    # The tiny LoRA moves the picture by about 1 level in 255 on average (0.97 measured in a full run):
    # any real change is well above 0, which is what "no LoRA applied" gives.
    assert np.abs(a - b).mean() > 0.3 and np.array_equal(b, c)
    details = by_tag.images[0].details
    digest = studio.engine.adapters.lora("ink_style").short_hash
    assert details["loras"] == [{"name": "ink_style", "weight": 0.8, "hash": digest}]
    assert details["prompt"] == "a red fox in the snow", "the tag is not text for the encoder"
    assert "loras" not in plain.images[0].details
    assert lora_rules.describe(details["loras"]) == "ink_style × 0.8"

    info = sd_parsers.ParserManager().parse(by_tag.images[0].path)
    assert info is not None and info.generator == sd_parsers.data.Generators.AUTOMATIC1111
    assert "<lora:ink_style:0.8>" in info.full_prompt
    assert info.metadata["Hashes"] == {"lora:ink_style": digest}
    text = Image.open(by_tag.images[0].path).text["parameters"]
    assert f'Lora hashes: "ink_style: {digest}"' in text


def test_the_embeddings_a_prompt_calls_are_recorded_the_a1111_way(studio):
    studio, data = studio
    made = studio.generation.generate(StudioRequest(user="ana", model_id="tiny-sd15", prompt="a fox, inkwash", seed=9,
                                                    negative_prompt="badhands, blurry"))
    digests = {name: hashlib.sha256((data / "embeddings" / f"{name}.safetensors").read_bytes()).hexdigest()[:12]
               for name in ("inkwash", "badhands")}  # A1111's `shorthash`: the whole file's sha256
    details = made.images[0].details
    assert {r["name"]: r["hash"] for r in details["embeddings"]} == digests and len(details["embeddings"]) == 2
    text = Image.open(made.images[0].path).text["parameters"]
    assert re.search(r'TI hashes: "(inkwash|badhands): [0-9a-f]{12}, (inkwash|badhands): [0-9a-f]{12}"', text), text
    info = sd_parsers.ParserManager().parse(made.images[0].path)
    assert info.metadata["Hashes"] == {f"embed:{n}": h for n, h in digests.items()}
    plain = _ask(studio, prompt="an inkwashed fox")  # a longer word is not the embedding's name
    assert "embeddings" not in plain.images[0].details
    assert "TI hashes" not in Image.open(plain.images[0].path).text["parameters"]


def test_two_loras_are_recorded_in_order(studio):
    studio, _ = studio
    result = _ask(studio, prompt="a cat <lora:hero_face:0.5>", loras=[("ink_style", 1)])
    assert [(r["name"], r["weight"]) for r in result.images[0].details["loras"]] == [("ink_style", 1.0),
                                                                                    ("hero_face", 0.5)]
    text = Image.open(result.images[0].path).text["parameters"]
    assert "<lora:ink_style:1> <lora:hero_face:0.5>" in text.splitlines()[0]


@pytest.mark.parametrize("prompt,loras,model,expected", [
    ("a cat <lora:ink_stlye:1>", (), "tiny-sd15", "Did you mean: ink_style"),
    ("a cat", [("ink_style", 2.5)], "tiny-sd15", "LoRA weight must be a number from -2 to 2"),
    ("a cat", [("ink_style", "heavy")], "tiny-sd15", "LoRA weight must be"),
    ("a cat", [("ink_style", 1), ("hero_face", 1), ("a", 1), ("b", 1), ("c", 1)], "tiny-sd15", "at most 4"),
    ("a cat", [("xl_style", 1)], "tiny-sd15", "made for SDXL models"),
    ("a cat <lora:ink_style:1>", (), "demo-faces", "cannot use LoRAs"),
    ("a cat", "ink_style", "tiny-sd15", "LoRAs must be a list of [name, weight] pairs"),
    ("a cat", [("ink_style",)], "tiny-sd15", "Each LoRA must be a name and a weight"),
    ("a cat", [("damaged", 1)], "tiny-sd15", "There is no LoRA called 'damaged'"),
])
def test_bad_loras_are_refused_before_any_charge_and_nothing_is_written(studio, prompt, loras, model, expected):
    studio, data = studio
    balance, files = studio.credits.balance("bo"), len(image_files(data))
    preflight = studio.generation.preflight(StudioRequest(user="bo", model_id=model, prompt=prompt, loras=loras))
    assert expected in (preflight.reason or "")
    with pytest.raises(InvalidRequest, match=re.escape(expected.split(":")[0])):
        _ask(studio, prompt=prompt, loras=loras, model=model, user="bo")
    assert studio.credits.balance("bo") == balance and len(image_files(data)) == files


def test_the_damaged_file_is_named_and_a_new_file_appears_after_refresh(studio, sd15):
    studio, data = studio
    assert any("damaged.safetensors skipped" in p for p in lora_rules.problems(studio.engine))
    build_tiny_lora(sd15, data / "loras" / "late_arrival.safetensors", seed=5)
    assert "late_arrival" not in [r["name"] for r in lora_rules.lora_listing(studio.engine)]
    lora_rules.refresh(studio.engine)
    entry = studio.catalog.get("tiny-sd15")
    fit, hidden, _ = lora_rules.picker(studio.engine, entry)
    assert "late_arrival" in fit and hidden == {"xl_style": "made for SDXL models"}
    assert _ask(studio, prompt="a cat <lora:late_arrival:1>").images[0].details["loras"][0]["name"] == "late_arrival"


def test_a_catalog_hub_lora_is_offered_and_downloads_on_first_use(sd15, tmp_path):
    """--lora-catalog-file: a Hub LoRA listed before it is downloaded, fetched from the HF
    cache layout (an offline replica of the repo) at its first use, then recorded."""
    from pipelines.testing.tiny import save_as_hub_cache

    made = build_tiny_lora(sd15, tmp_path / "repo" / "pytorch_lora_weights.safetensors", seed=1)
    cache = tmp_path / "hf"
    save_as_hub_cache(made.parent, cache, "studio-test/ink-lora", files=["pytorch_lora_weights.safetensors"])
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "loras.json").write_text(json.dumps([{"name": "hub_ink", "repo_id": "studio-test/ink-lora",
                                                      "filename": "pytorch_lora_weights.safetensors",
                                                      "family": "sd15"}]))
    sizes = {a: {"width": 64, "height": 64} for a in ("16:9", "1:1", "9:16")}
    (data / "models.json").write_text(json.dumps({"models": [{
        "id": "tiny-sd15", "name": "Tiny SD 1.5", "family": "sd15", "source": {"kind": "folder", "path": str(sd15)},
        "description": "tiny", "default_steps": 2, "default_guidance": 5.0, "sizes": sizes, "credit_cost": 1,
        "speed": "fast", "quality": "draft"}]}))
    studio = make_studio(data, lora_catalog_file=tmp_path / "loras.json", hf_cache_dir=cache)
    assert [(r["name"], r["source"]) for r in lora_rules.lora_listing(studio.engine)] == [("hub_ink", "hub")]
    result = _ask(studio, prompt="a cat <lora:hub_ink:1>")
    assert result.images[0].details["loras"][0]["name"] == "hub_ink"

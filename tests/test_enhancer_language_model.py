"""The language-model prompt enhancer: a tiny GPT-2 built and trained in code
(pipelines/testing/tiny_lm.py), loaded through transformers' real loaders, from a local
folder and from an offline replica of the real catalog entry's Hub layout; then the
service keeping only the model's phrases that fit the prompt, the fallback when the model
cannot run, the record of which enhancer ran, and the Image Studio page saying so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.catalog import EnhancerEntry, load_catalog
from pipelines.prompt_expansion import PromptExpander, select_lm_files
from pipelines.testing.tiny import save_as_hub_cache
from pipelines.testing.tiny_lm import build_tiny_prompt_lm
from studio.services.common.validation import InvalidRequest
from studio.services.generation.requests import StudioRequest
from studio.services.prompts.enhancers import BUILT_IN, BUILT_IN_NAME, PromptEnhancers, keep_phrases
from tests.studio_factory import make_studio

REPO = Path(__file__).resolve().parents[1]
# The files of Gustavosta/MagicPrompt-Stable-Diffusion as the Hub lists them.
MAGICPROMPT_LISTING = [".gitattributes", "README.md", "config.json", "merges.txt", "pytorch_model.bin",
                       "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "training_args.bin",
                       "vocab.json"]


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    return build_tiny_prompt_lm(tmp_path_factory.mktemp("lm") / "tiny-prompt-lm")


def tiny_entry(folder: Path, entry_id: str = "tiny-lm") -> dict:
    return {"id": entry_id, "name": "Tiny prompt LM", "description": "A tiny GPT-2 trained on eight prompts.",
            "source": {"kind": "folder", "path": str(folder)}}


def enhancers_with(folder: Path, **catalog) -> PromptEnhancers:
    base = load_catalog(REPO / "presets" / "models.json")
    return PromptEnhancers(base.with_enhancers([EnhancerEntry(**tiny_entry(folder))], catalog.get("default")))


def test_only_the_weights_and_tokenizer_of_a_language_model_repo_are_fetched():
    assert select_lm_files(MAGICPROMPT_LISTING) == ["config.json", "merges.txt", "pytorch_model.bin",
                                                    "special_tokens_map.json", "tokenizer.json",
                                                    "tokenizer_config.json", "vocab.json"]
    with_safetensors = select_lm_files(MAGICPROMPT_LISTING + ["model.safetensors", "flax_model.msgpack"])
    assert "model.safetensors" in with_safetensors and "pytorch_model.bin" not in with_safetensors
    sharded = select_lm_files(["config.json", "tokenizer.json", "model.safetensors.index.json",
                               "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "optimizer.pt"])
    assert sharded == ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                       "model.safetensors.index.json", "tokenizer.json"]


@pytest.mark.parametrize("prompt, continuation, kept, dropped", [
    ("a city street at midnight in the rain", ", golden hour sunlight, highly detailed, trending on artstation",
     ["highly detailed", "trending on artstation"], ["golden hour sunlight"]),
    ("an underwater coral reef", ", on a skybridge between skyscrapers, vibrant colors, 8k",
     ["vibrant colors"], ["on a skybridge between skyscrapers"]),
    ("a knight resting in a tavern", ", bright blue sky, cinematic lighting, oil painting",
     ["cinematic lighting", "oil painting"], ["bright blue sky"]),
    ("a red fox in the snow", ", in a forest, red fox, <|endoftext|> http://x.io, #### , intricate fur",
     ["intricate fur"], ["in a forest", "red fox", "http://x.io"]),
])
def test_a_models_phrases_are_kept_only_when_they_fit_the_prompt(prompt, continuation, kept, dropped):
    phrases = keep_phrases(prompt, continuation)
    assert [p for p in kept if p in phrases] == kept, phrases
    assert not [p for p in dropped if p in phrases], phrases


def test_the_tiny_model_loads_from_its_folder_and_its_good_phrases_are_added(tiny_lm):
    enhancers = enhancers_with(tiny_lm)
    first = enhancers.enhance("a city street at midnight in the rain", "auto", "tiny-lm")
    assert first.enhancer_id == "tiny-lm" and first.label == "Tiny prompt LM"
    # The model learnt ", golden hour sunlight, highly detailed, trending on artstation": night and rain rule out the sun.
    assert first.prompt.startswith("a city street at midnight in the rain, ")
    assert "highly detailed" in first.prompt and "golden hour" not in first.prompt
    assert enhancers.enhance("a city street at midnight in the rain", "auto", "tiny-lm") == first  # deterministic
    reef = enhancers.enhance("an underwater coral reef", "cyberpunk", "tiny-lm").prompt
    assert "skybridge" not in reef and "skyscraper" not in reef


def test_the_real_catalog_entry_loads_from_an_offline_replica_of_its_hub_layout(tiny_lm, tmp_path):
    entry = load_catalog(REPO / "presets" / "models.json").enhancer("magicprompt")
    cache = tmp_path / "hf-cache"
    # What the downloader would fetch from the real repo's listing (safetensors here, the
    # tiny model's format), laid out as huggingface_hub caches it.
    files = [f for f in select_lm_files([p.name for p in tiny_lm.iterdir()]) if (tiny_lm / f).is_file()]
    save_as_hub_cache(tiny_lm, cache, entry.source.repo_id, files=files)
    expander = PromptExpander(entry, cache_dir=cache)
    assert expander.folder().parent.name == "snapshots"
    assert "highly detailed" in expander.continue_prompt("a city street at midnight in the rain")


def test_an_uncached_model_offline_falls_back_to_the_built_in_enhancer_saying_why(tmp_path):
    enhancers = PromptEnhancers(load_catalog(REPO / "presets" / "models.json"), cache_dir=tmp_path / "empty-cache")
    done = enhancers.enhance("a lighthouse on a cliff", "auto", "magicprompt")
    assert done.enhancer_id == BUILT_IN and done.prompt.startswith("a lighthouse on a cliff, ")
    assert done.label.startswith(f"{BUILT_IN_NAME} — MagicPrompt (GPT-2) could not run (could not download")
    assert "offline mode is on" in done.label and done.label.endswith("so the built-in enhancer was used")


def test_a_damaged_model_folder_is_named_in_words_and_the_built_in_runs(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        (broken / name).write_text("not what it should be")
    done = enhancers_with(broken).enhance("a cat", "auto", "tiny-lm")
    assert done.enhancer_id == BUILT_IN
    assert "Tiny prompt LM cannot be loaded: its files are damaged or not a language model" in done.label
    assert str(broken) not in done.label and "Error" not in done.label


def test_generation_records_which_enhancer_ran_and_an_unknown_one_is_refused_before_any_charge(tiny_lm, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "models.json").write_text(json.dumps({"models": [], "prompt_enhancers": [tiny_entry(tiny_lm)]}))
    studio = make_studio(data)
    before = studio.credits.balance("ana")
    with pytest.raises(InvalidRequest, match="There is no prompt enhancer 'gpt-9'"):
        studio.generation.generate(StudioRequest(user="ana", model_id="demo-faces", prompt="a cat", enhance=True,
                                                 enhancer="gpt-9"))
    assert studio.credits.balance("ana") == before
    asked = StudioRequest(user="ana", model_id="demo-faces", enhance=True, enhancer="tiny-lm",
                          prompt="a city street at midnight in the rain")
    assert studio.generation.preflight(asked).ok
    # The price and can-it-run, asked on every keystroke, never wait for (or download) a language model.
    assert not studio.generation.enhancers._expanders["tiny-lm"].loaded
    result = studio.generation.generate(asked)
    details = result.images[0].details
    assert details["enhancer"] == "Tiny prompt LM" and "highly detailed" in details["prompt"]
    plain = studio.generation.generate(StudioRequest(user="ana", model_id="demo-faces", prompt="a cat", enhance=True))
    assert plain.images[0].details["enhancer"] == BUILT_IN_NAME  # the catalog names no default: the built-in


def test_both_tabs_details_say_which_enhancer_wrote_the_prompt_and_which_embeddings_it_called():
    from studio.ui.gen_space.view import asset_details_markdown
    from studio.ui.shared.formatting import details_markdown

    details = {"kind": "generated", "model_id": "m", "model_name": "Tiny", "style_name": "Auto", "width": 64,
               "height": 64, "aspect": "1:1", "seed": 3, "steps": 2, "guidance": 5.0, "sampler": "Euler",
               "elapsed_s": 0.5, "cost": 1, "created": "2026-12-06T21:00:00", "prompt": "a fox, inkwash",
               "enhancer": "Tiny prompt LM", "embeddings": [{"name": "inkwash", "hash": "0123456789ab"}]}
    for text in (details_markdown(details), asset_details_markdown(details)):
        assert "| Prompt enhanced by | Tiny prompt LM |" in text and "| Embeddings | inkwash |" in text

"""Image Studio's handlers called directly on a real Studio (store on disk, the built-in demo
model): the price and refusals Generate shows, a job's results and charge, picking, cancel.
"""

from __future__ import annotations

import threading

from pathlib import Path
from types import SimpleNamespace

import pytest

from studio.services.generation.requests import InvalidRequest
from studio.ui.image_studio import handlers
from studio.ui.image_studio.handlers import StudioSettings
from studio.ui.shared.inputs import PaidButton
from tests.studio_factory import image_files, make_studio

DEMO = "demo-faces"
USER = "ana"


@pytest.fixture
def studio(tmp_path):
    return make_studio(tmp_path / "data")


def settings(**change) -> StudioSettings:
    values = dict(model_id=DEMO, style_id="auto", aspect="1:1", count=2, prompt="a lighthouse", enhance=False,
                  negative_prompt="", seed=7)
    return StudioSettings(**{**values, **change})


def test_the_panel_lists_its_widgets_once_in_field_order():
    panel = SimpleNamespace(model="M", style="S", aspect="A", count="C", prompt="P", enhance="E", negative="N",
                            seed="D", enhancer="H", generate="not an input")
    assert StudioSettings.inputs(panel=panel, loras=SimpleNamespace(value="L")) == list("MSACPENDLH")


def test_request_state_prices_generate_and_says_why_not(studio):
    state = handlers.request_state(studio, USER, settings())
    assert state.button == PaidButton("Generate · 2 credits", True, "") and "12/2000" in state.counter
    empty = handlers.request_state(studio, USER, settings(prompt="", enhance=None, negative_prompt=None))
    assert not empty.button.enabled and "Write a prompt first" in empty.button.note
    too_many = handlers.request_state(studio, USER, settings(count=40))
    assert not too_many.button.enabled and "Number of images" in too_many.button.note
    dear = handlers.request_state(studio, USER, settings(count=4))
    assert dear.button.label == "Generate · 4 credits"


def test_generate_shows_the_images_charges_and_picks_the_first(studio, tmp_path):
    done = handlers.generate(studio, USER, settings())
    assert len(done.shown) == len(done.items) == 2 and done.balance == 18 == studio.credits.balance(USER)
    assert done.job["cost"] == 2 and [i["seed"] for i in done.job["images"]] == [7, 8]
    assert Path(done.picked.download).is_file() and "`7`" in done.picked.details
    assert len(image_files(tmp_path / "data")) == 2

    second = handlers.select_result(studio, USER, done.items, 1)
    assert "`8`" in second.details and Path(second.download).is_file()
    assert handlers.select_result(studio, USER, done.items, 2) == handlers.Picked(
        "Select an image to see its details.", None)


def test_bad_input_is_refused_before_any_charge(studio, tmp_path):
    with pytest.raises(InvalidRequest, match="Seed must be a whole number"):
        handlers.generate(studio, USER, settings(seed=1.5))
    with pytest.raises(InvalidRequest, match="Write a prompt first"):
        handlers.generate(studio, USER, settings(prompt="   "))
    assert studio.credits.balance(USER) == 20 and image_files(tmp_path / "data") == []


def test_cancel_names_what_happened(studio):
    """Cancel answers with the job's own outcome line, never a promise (issue 20)."""
    assert studio.cancels.stop("ana:tab") == "Already finished: nothing to cancel."
    started = threading.Event()

    def job():
        with studio.cancels.running("ana:tab") as token:
            started.set()
            token.event.wait(10)
            studio.cancels.finish(token, "Stopped: 1 of 4 images made, 3 credits returned.")

    thread = threading.Thread(target=job)
    thread.start()
    started.wait(10)
    assert studio.cancels.stop("ana:tab") == "Stopped: 1 of 4 images made, 3 credits returned."
    thread.join()


def test_model_and_style_descriptions(studio):
    assert "Demo model" in handlers.describe_model(studio, DEMO)
    assert handlers.describe_style(studio, "auto") == studio.styles[0].description


# ----- the prompt library and model comparison (extras) ---------------------------------------
def test_prompt_library_save_use_delete(studio):
    from studio.ui.image_studio import extras_handlers as extras
    from studio.ui.shared.events import NeedsInput

    saved = extras.save_prompt(studio, USER, "Lighthouse", settings(negative_prompt="fog"))
    assert saved.note == "Saved “Lighthouse”." and saved.choices == [("Lighthouse — a lighthouse", saved.value)]
    used = extras.use_prompt(studio, USER, saved.value)
    assert used == settings(negative_prompt="fog", seed=None)  # a saved prompt keeps no seed
    with pytest.raises(NeedsInput, match="Choose a saved prompt first."):
        extras.use_prompt(studio, USER, None)
    with pytest.raises(InvalidRequest):
        extras.save_prompt(studio, USER, "Bad aspect", settings(aspect="2:1"))
    assert extras.delete_prompt(studio, USER, saved.value) == extras.SavedPrompts([], None, "Deleted.")
    with pytest.raises(NeedsInput, match="Choose a saved prompt to delete."):
        extras.delete_prompt(studio, USER, saved.value)


def test_compare_is_priced_and_refused_before_any_charge(studio):
    from studio.ui.image_studio import extras_handlers as extras
    from studio.ui.image_studio.extras_handlers import CompareSettings

    one = CompareSettings([DEMO], "auto", "1:1", 1, "a lighthouse", False, "", 7)
    button = extras.compare_cost(studio, USER, one)
    assert not button.enabled and button.note == "Pick 2 to 4 different models to compare."
    assert button.label.startswith("Compare · ")
    with pytest.raises(InvalidRequest, match="Pick 2 to 4 different models to compare."):
        extras.compare(studio, USER, one)
    assert studio.credits.balance(USER) == 20
    assert CompareSettings.inputs(compare=SimpleNamespace(models="M"), panel=SimpleNamespace(
        style="S", aspect="A", count="C", prompt="P", enhance="E", negative="N", seed="D")) == list("MSACPEND")

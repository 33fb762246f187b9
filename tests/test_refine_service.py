"""Repaint, extend, enlarge and hires fix as paid jobs on a real studio (tiny SD 1.5 model,
real store and files): new images linked to their source, the source unchanged, the price
of the preflight charged, refunds on failure, and bad input refused before any charge."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image

from pipelines.testing.tiny_upscaler import build_tiny_esrgan
from pipelines.types import CancelToken, GenerationCancelled
from pipelines.upscalers import LANCZOS, Upscalers
from studio.services.generation.jobs import JOBS
from studio.services.generation.refine import enlarge_cost
from studio.services.generation.requests import InvalidRequest, StudioRequest
from studio.services.generation.results import GenerationFailed
from studio.store.records import ASSETS
from tests.engine_entries import square_sizes, tiny_entry
from tests.studio_factory import image_files, make_studio

TINY = "tiny-sd15"


def _spandrel_loads() -> bool:
    try:
        import spandrel  # noqa: F401  (it imports torchvision, which must match torch)
    except Exception:
        return False
    return True


HAS_SPANDREL = _spandrel_loads()


@pytest.fixture(scope="module")
def tmp_path(tmp_path_factory):
    return tmp_path_factory.mktemp("refine")


@pytest.fixture(scope="module")
def studio(tmp_path, sd15):
    (tmp_path / "upscalers").mkdir()
    if HAS_SPANDREL:
        build_tiny_esrgan(tmp_path / "upscalers" / "tiny-4x.pth")
    (tmp_path / "upscalers" / "corrupt.safetensors").write_bytes(b"\x00" * 64)
    s = make_studio(tmp_path, starting_credits=200)
    s.engine.add_entry(tiny_entry(TINY, {"kind": "folder", "path": str(sd15)}, name="Tiny SD", sizes=square_sizes(64),
                                  credit_cost=2))
    return s


_SOURCE: dict = {}


def _source(studio) -> dict:
    if _SOURCE.get("studio") is studio:
        return _SOURCE["details"]
    made = studio.generation.generate(StudioRequest(user="ana", model_id=TINY, style_id="auto", aspect="1:1", count=1,
                                                    prompt="a red flower", seed=3))
    _SOURCE.update(studio=studio, details=made.images[0].details)
    return made.images[0].details


def _mask(size=(64, 64), box=(16, 16, 48, 48)) -> Image.Image:
    m = Image.new("L", size, 0)
    m.paste(255, box)
    return m


def ask(source_id, **kw) -> StudioRequest:
    base = dict(user="ana", model_id=TINY, style_id="auto", aspect="1:1", count=1, prompt="a blue flower",
                source_id=source_id, seed=9, mask_blur=0, denoise=1.0)
    base.update(kw)
    return StudioRequest(**base)


def _px(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def test_repaint_is_a_new_linked_image_priced_charged_and_the_source_unchanged(studio, tmp_path):
    src = _source(studio)
    before_file = _px(studio.images.path(src["file"]))
    balance = studio.credits.balance("ana")
    request = ask(src["id"], operation="repaint", mask=_mask())
    price = studio.refine.preflight(request)
    assert price.ok and price.cost == 2
    result = studio.refine.run(request)
    assert result.cost == 2 and studio.credits.balance("ana") == balance - 2
    assert sum(e["delta"] for e in studio.credits.ledger("ana")) == studio.credits.balance("ana")
    new = result.images[0].details
    assert new["parent_id"] == src["id"] and new["chain"] == [src["id"]] and new["kind"] == "repaint"
    after = _px(result.images[0].path)
    inside = np.asarray(_mask()) > 0
    assert np.abs(after - before_file)[~inside].max() == 0 and np.abs(after - before_file)[inside].mean() > 5
    assert np.array_equal(_px(studio.images.path(src["file"])), before_file), "the source never changes"
    again = studio.refine.run(ask(new["id"], operation="enlarge", upscaler=LANCZOS, upscale_factor=2))
    assert again.images[0].details["chain"] == [src["id"], new["id"]], "details show the whole chain"
    text = Image.open(result.images[0].path).text["parameters"]
    assert "Denoising strength: 1.0" in text and "Mask blur: 0" in text


def test_extend_grows_the_canvas_and_keeps_the_original(studio):
    src = _source(studio)
    result = studio.refine.run(ask(src["id"], operation="extend", extend_sides=("left", "top"), extend_pixels=16,
                                   mask_blur=4, prompt=""))
    out = Image.open(result.images[0].path)
    assert out.size == (80, 80)
    assert np.array_equal(np.asarray(out.convert("RGB"))[16:, 16:], np.asarray(Image.open(studio.images.path(src["file"])).convert("RGB")))
    assert result.images[0].details["prompt"] == "a red flower", "an empty prompt continues the source's"


@pytest.mark.skipif(not HAS_SPANDREL, reason="spandrel (and a torchvision matching torch) is not installed")
def test_enlarge_with_a_network_file_and_its_price(studio):
    src = _source(studio)
    assert studio.refine.upscalers.names()[:2] == [LANCZOS, "tiny-4x"]
    assert any("corrupt.safetensors" in p for p in studio.refine.upscalers.problems), "named at start-up"
    request = ask(src["id"], operation="enlarge", upscaler="tiny-4x", upscale_factor=4)
    assert studio.refine.preflight(request).cost == enlarge_cost(256, 256) == 1
    result = studio.refine.run(request)
    assert Image.open(result.images[0].path).size == (256, 256) and result.cost == 1


def test_hires_fix_generates_enlarges_and_redraws(studio):
    request = StudioRequest(user="ana", model_id=TINY, style_id="auto", aspect="1:1", count=1, prompt="a cat",
                            operation="hires", upscaler="tiny-4x" if HAS_SPANDREL else LANCZOS, upscale_factor=2,
                            hires_denoise=0.5, seed=1)
    price = studio.refine.preflight(request)
    assert price.cost == 2 * 2 + 1
    balance = studio.credits.balance("ana")
    result = studio.refine.run(request)
    assert Image.open(result.images[0].path).size == (128, 128)
    assert studio.credits.balance("ana") == balance - 5


@pytest.mark.parametrize("change, says", [
    (dict(operation="repaint", mask=Image.new("L", (64, 64), 0)), "mask is empty"),
    (dict(operation="repaint", mask=None), "Paint a mask"),
    (dict(operation="repaint", mask=_mask(), model_id="demo-faces"), "can't repaint"),
    (dict(operation="enlarge", upscale_factor=4, upscaler="nope"), "Unknown upscaler"),
    (dict(operation="extend", init_image=Image.new("RGB", (3000, 64)), extend_sides=("left", "right"),
          extend_pixels=1024), "works up to"),
    (dict(operation="repaint", mask=_mask(), denoise=3), "Denoise strength"),
    (dict(operation="fly"), "Unknown operation"),
])
def test_bad_input_is_refused_before_any_charge(studio, tmp_path, change, says):
    src = _source(studio)
    files, balance, jobs = len(image_files(tmp_path)), studio.credits.balance("ana"), len(studio.store.all(JOBS))
    request = ask(src["id"], **change)
    assert says in (studio.refine.preflight(request).reason or "")
    with pytest.raises(InvalidRequest, match=says):
        studio.refine.run(request)
    assert (len(image_files(tmp_path)), studio.credits.balance("ana"), len(studio.store.all(JOBS))) == (files, balance, jobs)


def test_past_the_pixel_cap_is_refused_before_any_charge(studio):
    big = Image.new("RGB", (2100, 2100))
    refused = studio.refine.preflight(StudioRequest(user="ana", model_id=TINY, style_id="auto", aspect="1:1", count=1,
                                                    prompt="", operation="enlarge", init_image=big, upscale_factor=2))
    assert "more than" in refused.reason and refused.cost == 0


def test_a_mask_of_another_size_is_resized_with_a_note(studio):
    src = _source(studio)
    result = studio.refine.run(ask(src["id"], operation="repaint", mask=_mask((32, 32), (8, 8, 24, 24))))
    assert "resized" in result.extra["notes"][0]


def test_cancel_refunds_and_leaves_no_file(studio, tmp_path):
    src = _source(studio)
    files, balance = len(image_files(tmp_path)), studio.credits.balance("ana")
    repaints = len(studio.store.find(ASSETS, kind="repaint"))
    token = CancelToken()  # pressed at the first report (a token cancelled before the job is never charged)
    with pytest.raises(GenerationCancelled, match="returned"):
        studio.refine.run(ask(src["id"], operation="repaint", mask=_mask()), cancel=token,
                          progress=lambda p: token.cancel())
    assert studio.credits.balance("ana") == balance and len(image_files(tmp_path)) == files
    assert len(studio.store.find(ASSETS, kind="repaint")) == repaints


def test_a_failing_upscaler_refunds(studio, tmp_path, monkeypatch):
    src = _source(studio)
    balance = studio.credits.balance("ana")

    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(Upscalers, "upscale", broken)
    with pytest.raises(GenerationFailed, match="returned"):
        studio.refine.run(ask(src["id"], operation="enlarge", upscaler=LANCZOS, upscale_factor=2))
    assert studio.credits.balance("ana") == balance

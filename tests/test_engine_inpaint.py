"""Repaint and extend on real tiny pipelines (random weights, loaded through the real
loaders): pixels outside the mask stay the original's, an inverted mask does the
opposite, "only masked" works at the native size, extending keeps the original region."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipelines.catalog import Catalog
from pipelines.inpaint import CannotRepaint
from pipelines.manager import PipelineManager
from pipelines.masks import EmptyMask, extend_canvas, outpaint_amounts, prepare_mask
from pipelines.params import RequestRejected
from pipelines.types import CancelToken, GenerationCancelled, GenerationRequest
from tests.engine_entries import square_sizes, tiny_entry

pytest.importorskip("diffusers")


def _picture(side: int = 64, seed: int = 0) -> Image.Image:
    """Smooth colours (a VAE round trip would visibly change noise, so a no-op is detectable)."""
    y, x = np.mgrid[0:side, 0:side]
    rgb = np.stack([x * 255 // side, y * 255 // side, (x + y) * 127 // side], -1).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def _mask(side: int = 64, box=(16, 16, 48, 48)) -> Image.Image:
    m = Image.new("L", (side, side), 0)
    m.paste(255, box)
    return m


@pytest.fixture(scope="module")
def engine(sd15, sdxl):
    entries = [tiny_entry("tiny-sd15", {"kind": "folder", "path": str(sd15)}, sizes=square_sizes(64)),
               tiny_entry("tiny-sdxl", {"kind": "folder", "path": str(sdxl)}, family="sdxl", sizes=square_sizes(64))]
    return PipelineManager(Catalog(models=entries), device="cpu")


def _req(model="tiny-sd15", **kw) -> GenerationRequest:
    kw.setdefault("init_image", _picture())
    kw.setdefault("mask", _mask())
    kw.setdefault("mask_blur", 0)
    kw.setdefault("seeds", (5,))
    size = kw["init_image"].size
    return GenerationRequest(model_id=model, prompt="a red flower", width=64, height=64, **kw)


def _px(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("model", ["tiny-sd15", "tiny-sdxl"])
def test_repaint_changes_inside_and_keeps_every_pixel_outside(engine, model):
    result = engine.generate(_req(model, denoise=1.0))
    before, after = _px(_picture()), _px(result.images[0])
    inside = np.asarray(_mask()) > 0
    assert result.images[0].size == (64, 64)
    assert np.abs(after - before)[~inside].max() == 0, "outside the mask: the original, byte for byte"
    assert np.abs(after - before)[inside].mean() > 10, "inside the mask: repainted"
    assert result.extra["refine"] == "repaint"


def test_the_twin_shares_the_resident_weights(engine):
    engine.generate(_req())
    res = engine._resident["tiny-sd15"]
    assert res.inpaint is not None and res.inpaint.unet is res.pipe.unet and res.inpaint.vae is res.pipe.vae


def test_inverted_mask_repaints_the_other_part(engine):
    result = engine.generate(_req(mask_invert=True, denoise=1.0))
    before, after = _px(_picture()), _px(result.images[0])
    inside = np.asarray(_mask()) > 0
    assert np.abs(after - before)[inside].max() == 0, "the painted part is now kept"
    assert np.abs(after - before)[~inside].mean() > 10


def test_feathered_edge_changes_only_within_the_blur(engine):
    blur = 4
    result = engine.generate(_req(mask_blur=blur, denoise=1.0))
    soft = np.asarray(prepare_mask(_mask(), (64, 64), blur=blur).soft)
    diff = np.abs(_px(result.images[0]) - _px(_picture())).max(axis=-1)
    assert diff[soft == 0].max() == 0, "where the feathered mask is 0 the original stays"
    grown = np.zeros((64, 64), bool)
    grown[16 - 3 * blur:48 + 3 * blur, 16 - 3 * blur:48 + 3 * blur] = True
    assert not (soft[~grown] > 0).any(), "the feather reaches at most three blur radii out"


def test_fill_modes_start_from_different_pictures(engine):
    pics = {fill: _px(engine.generate(_req(inpainting_fill=fill, denoise=0.5)).images[0]) for fill in
            ("original", "noise", "blank")}
    assert np.abs(pics["original"] - pics["noise"]).max() > 10
    assert np.abs(pics["original"] - pics["blank"]).max() > 10


def test_only_masked_works_at_native_size_and_pastes_back(engine):
    big = _picture(256)
    mask = _mask(256, (100, 120, 140, 150))
    result = engine.generate(_req(init_image=big, mask=mask, inpaint_only_masked=True, inpaint_padding=8,
                                  denoise=1.0))
    assert result.images[0].size == (256, 256)
    w, h = result.extra["work_size"]
    assert 0.8 < w * h / (64 * 64) < 1.25, "the crop runs at about the model's native area (64²), at its own aspect"
    left, top, right, bottom = result.extra["crop_box"]
    assert (left, top, right, bottom) == (92, 112, 148, 158)
    diff = np.abs(_px(result.images[0]) - _px(big)).max(axis=-1)
    inside = np.asarray(mask) > 0
    assert diff[~inside].max() == 0 and diff[inside].mean() > 10


def test_extend_keeps_the_original_region_and_grows_the_canvas(engine):
    original = _picture()
    amounts = outpaint_amounts(["right", "bottom"], 32, original.size)
    canvas, mask = extend_canvas(original, amounts)
    result = engine.generate(_req(init_image=canvas, mask=mask, mask_blur=4, feather_inside_only=True,
                                  inpainting_fill="original", denoise=1.0))
    out = result.images[0]
    assert out.size == (96, 96)
    assert np.abs(_px(out.crop((0, 0, 64, 64))) - _px(original)).max() == 0, "the original region is kept exactly"
    grown = _px(out)[64:, :, :]
    assert np.abs(grown - _px(canvas)[64:, :, :]).mean() > 5, "the new area is painted"


def test_outpaint_amounts_to_an_aspect_and_in_multiples():
    assert outpaint_amounts(["left", "right"], 0, (64, 64), aspect=2.0) == {"left": 32, "right": 32, "top": 0, "bottom": 0}
    assert outpaint_amounts(["top"], 20, (64, 64), multiple=8)["top"] == 24
    with pytest.raises(RequestRejected):
        outpaint_amounts(["up"], 8, (64, 64))


def test_refusals_before_anything_runs(engine, sd15):
    with pytest.raises(EmptyMask):
        engine.check(_req(mask=Image.new("L", (64, 64), 0)))
    with pytest.raises(EmptyMask):
        engine.check(_req(mask=Image.new("L", (64, 64), 255), mask_invert=True))
    with pytest.raises(RequestRejected, match="Denoise strength"):
        engine.check(_req(denoise=0))
    demo = PipelineManager(Catalog(models=[tiny_entry("gan", {"kind": "folder", "path": str(sd15)}, family="demo",
                                                      name="Demo faces", steps=1)]), device="cpu")
    with pytest.raises(CannotRepaint, match="Demo faces can't repaint"):
        demo.check(_req("gan"))


def test_mask_of_another_size_is_resized_with_a_note(engine):
    result = engine.generate(_req(mask=_mask(32, (8, 8, 24, 24)), denoise=1.0))
    assert "resized" in result.extra["notes"][0]
    inside = np.asarray(_mask()) > 0
    diff = np.abs(_px(result.images[0]) - _px(_picture())).max(axis=-1)
    assert diff[~inside].max() == 0


def test_alpha_mask_reads_opaque_as_painted():
    layer = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    layer.paste((255, 0, 0, 255), (10, 10, 20, 20))
    prepared = prepare_mask(layer, (64, 64))
    assert prepared.box == (10, 10, 20, 20)


def test_image_to_image_pass_without_mask_keeps_size_and_cancel_works(engine):
    result = engine.generate(_req(mask=None, init_image=_picture(128), denoise=0.5))
    assert result.images[0].size == (128, 128) and result.extra["refine"] == "img2img"
    token = CancelToken()
    token.cancel()
    with pytest.raises(GenerationCancelled):
        engine.generate(_req(), cancel=token)

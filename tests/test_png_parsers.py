"""A third-party parser (sd-parsers, from PyPI) reads every field the studio writes into a
generated PNG's A1111 `parameters` text: prompt, negative, steps, sampler, CFG, seed, size, model.

Runs the real path: GenerationService → tiny SD 1.5 / SDXL / FLUX pipelines → PNG on disk → sd-parsers.
The tiny SDXL model gets an Euler-ancestral scheduler (like SDXL-Turbo) so two A1111 names are read.
"""

from __future__ import annotations

import json
import shutil

import pytest

from pipelines.families import a1111_sampler
from studio.services.generation.requests import StudioRequest
from tests.studio_factory import make_studio

sd_parsers = pytest.importorskip("sd_parsers")


def _with_scheduler(folder, dest, class_name: str):
    """A copy of a tiny model folder whose model_index names another scheduler class."""
    shutil.copytree(folder, dest)
    index = json.loads((dest / "model_index.json").read_text())
    index["scheduler"] = ["diffusers", class_name]
    (dest / "model_index.json").write_text(json.dumps(index))
    config = json.loads((dest / "scheduler" / "scheduler_config.json").read_text())
    config["_class_name"] = class_name
    (dest / "scheduler" / "scheduler_config.json").write_text(json.dumps(config))
    return dest


@pytest.fixture(scope="module")
def studio(sd15, sdxl, flux_folder, tmp_path_factory):
    data = tmp_path_factory.mktemp("png-data")
    xl = _with_scheduler(sdxl, data / "sdxl-ancestral", "EulerAncestralDiscreteScheduler")
    sizes = {a: {"width": 64, "height": 64} for a in ("16:9", "1:1", "9:16")}
    common = {"description": "tiny test model", "default_steps": 3, "default_guidance": 6.5, "sizes": sizes,
              "credit_cost": 1, "speed": "fast", "quality": "draft"}
    models = [
        {"id": "tiny-sd15", "name": "Tiny SD 1.5", "family": "sd15", "source": {"kind": "folder", "path": str(sd15)}, **common},
        {"id": "tiny-sdxl", "name": "Tiny SDXL", "family": "sdxl", "source": {"kind": "folder", "path": str(xl)}, **common},
        {"id": "tiny-flux", "name": "Tiny FLUX", "family": "flux", "source": {"kind": "folder", "path": str(flux_folder)},
         **common},
    ]
    (data / "models.json").write_text(json.dumps({"models": models}))
    return make_studio(data, starting_credits=50), data


@pytest.mark.parametrize(("model_id", "sampler"), [("tiny-sd15", "Euler"), ("tiny-sdxl", "Euler a"), ("tiny-flux", "Euler")])
def test_sd_parsers_reads_every_field_the_studio_writes(studio, model_id, sampler):
    studio, data = studio
    prompt = "a lighthouse on a cliff at sunset, oil painting"
    result = studio.generation.generate(StudioRequest(
        user="ana", model_id=model_id, style_id="auto", aspect="1:1", count=1, prompt=prompt,
        negative_prompt="blurry, low quality", seed=424242,
    ))
    info = sd_parsers.ParserManager().parse(result.images[0].path)

    assert info is not None, "sd-parsers did not recognise the PNG"
    assert info.generator == sd_parsers.data.Generators.AUTOMATIC1111
    assert info.full_prompt == prompt
    assert info.full_negative_prompt == "blurry, low quality"
    (used,) = info.samplers
    assert used.name == sampler
    assert used.parameters["steps"] == "3"
    assert float(used.parameters["cfg_scale"]) == 6.5
    assert used.parameters["seed"] == "424242"
    assert used.model is not None and used.model.name == model_id
    assert info.metadata["Size"] == "64x64"


def test_scheduler_classes_get_their_a1111_names():
    import diffusers

    def named(cls, **config):
        return a1111_sampler("sd15", getattr(diffusers, cls)(**config))

    assert named("EulerDiscreteScheduler") == "Euler"
    assert named("EulerAncestralDiscreteScheduler") == "Euler a"
    assert named("DPMSolverMultistepScheduler") == "DPM++ 2M"
    assert named("DPMSolverMultistepScheduler", use_karras_sigmas=True) == "DPM++ 2M Karras"
    assert named("DPMSolverMultistepScheduler", algorithm_type="sde-dpmsolver++") == "DPM++ 2M SDE"
    assert named("PNDMScheduler") == "PLMS"
    assert named("DDIMScheduler") == "DDIM"
    assert a1111_sampler("flux", diffusers.FlowMatchEulerDiscreteScheduler()) == "Euler"
    assert a1111_sampler("demo", None) == "GAN"

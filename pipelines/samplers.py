"""The one table of samplers and schedules: AUTOMATIC1111's names and aliases, the
diffusers scheduler (and options) each one runs as, and the name a PNG records.

Why a table: clients send A1111 names (`DPM++ 2M Karras`, `Euler a`, `k_euler_a`) and
read them back from the `parameters` text. A name diffusers can run is honoured by
swapping the pipeline's scheduler for the call (`use_sampler`); a name it cannot run
(`DPM++ 2S a`, `Restart` ...) is not refused: the model's own scheduler runs and
`resolve` says so in a note. The recorded name is read back from the scheduler object
that actually ran (`name_of`), never from what was asked.

Sources: A1111 1.10 `modules/sd_samplers_*.py` (names, aliases, each sampler's
default schedule) and diffusers' A1111 mapping table (schedulers/overview).

Pure data and a little logic; torch and diffusers are imported only by `use_sampler`.
"""

from __future__ import annotations

import importlib.util
import inspect
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from .families import traits

_NO_SIGMA_FLAGS = {"use_karras_sigmas": False, "use_exponential_sigmas": False, "use_beta_sigmas": False}


@dataclass(frozen=True)
class Sampler:
    name: str  # A1111's name, what /samplers lists and the PNG records
    aliases: tuple[str, ...]
    scheduler: str | None  # diffusers class for UNet (discrete-time) families; None: diffusers has none
    options: Mapping[str, Any] = field(default_factory=dict)  # config overrides on the model's own
    default_schedule: str = "uniform"  # what A1111's "Automatic" schedule means for this sampler
    flow_scheduler: str | None = None  # the class for flow-matching families (FLUX), None: not there
    why: str = ""  # why diffusers cannot run it (shown in the note)
    needs: str | None = None  # a module diffusers needs for it (LMS needs scipy)


@dataclass(frozen=True)
class Schedule:
    name: str  # A1111's id (`karras`), what the `scheduler` field takes
    label: str  # A1111's label (`Karras`), what a sampler name may end with
    options: Mapping[str, Any] | None  # scheduler config; None: diffusers has no such schedule
    why: str = ""
    needs: str | None = None  # a module the option needs at run time (beta sigmas need scipy)


_DPM = "DPMSolverMultistepScheduler"
SAMPLERS: tuple[Sampler, ...] = (
    Sampler("DPM++ 2M", ("k_dpmpp_2m",), _DPM, {"algorithm_type": "dpmsolver++", "solver_order": 2, "solver_type": "midpoint"},
            default_schedule="karras"),
    Sampler("DPM++ SDE", ("k_dpmpp_sde",), "DPMSolverSinglestepScheduler", {"algorithm_type": "dpmsolver++"},
            default_schedule="karras"),
    Sampler("DPM++ 2M SDE", ("k_dpmpp_2m_sde",), _DPM,
            {"algorithm_type": "sde-dpmsolver++", "solver_order": 2, "solver_type": "midpoint"}, default_schedule="exponential"),
    Sampler("DPM++ 2M SDE Heun", ("k_dpmpp_2m_sde_heun",), _DPM,
            {"algorithm_type": "sde-dpmsolver++", "solver_order": 2, "solver_type": "heun"}, default_schedule="exponential"),
    Sampler("DPM++ 2S a", ("k_dpmpp_2s_a",), None, default_schedule="karras",
            why="diffusers has no second-order ancestral DPM++ solver"),
    Sampler("DPM++ 3M SDE", ("k_dpmpp_3m_sde",), _DPM,
            {"algorithm_type": "sde-dpmsolver++", "solver_order": 3, "solver_type": "midpoint"}, default_schedule="exponential"),
    Sampler("Euler a", ("k_euler_a", "k_euler_ancestral"), "EulerAncestralDiscreteScheduler"),
    Sampler("Euler", ("k_euler",), "EulerDiscreteScheduler", flow_scheduler="FlowMatchEulerDiscreteScheduler"),
    Sampler("LMS", ("k_lms",), "LMSDiscreteScheduler", needs="scipy"),
    Sampler("Heun", ("k_heun",), "HeunDiscreteScheduler"),
    Sampler("DPM2", ("k_dpm_2",), "KDPM2DiscreteScheduler"),
    Sampler("DPM2 a", ("k_dpm_2_a",), "KDPM2AncestralDiscreteScheduler"),
    Sampler("DPM fast", ("k_dpm_fast",), None, why="diffusers has no fixed-step DPM-Solver-fast"),
    Sampler("DPM adaptive", ("k_dpm_ad",), None, why="diffusers has no adaptive-step DPM solver"),
    Sampler("Restart", ("restart",), None, default_schedule="karras", why="diffusers has no Restart sampler"),
    Sampler("DDIM", ("ddim",), "DDIMScheduler"),
    Sampler("DDIM CFG++", ("ddim_cfgpp",), None, why="diffusers has no CFG++ variant of DDIM"),
    Sampler("PLMS", ("plms",), "PNDMScheduler", {"skip_prk_steps": True}),
    Sampler("UniPC", ("unipc",), "UniPCMultistepScheduler"),
    Sampler("LCM", ("k_lcm",), "LCMScheduler"),
)

SCHEDULES: tuple[Schedule, ...] = (
    Schedule("automatic", "Automatic", {}),  # the sampler's own default, see `default_schedule`
    Schedule("uniform", "Uniform", dict(_NO_SIGMA_FLAGS)),
    Schedule("karras", "Karras", {**_NO_SIGMA_FLAGS, "use_karras_sigmas": True}),
    Schedule("exponential", "Exponential", {**_NO_SIGMA_FLAGS, "use_exponential_sigmas": True}),
    Schedule("polyexponential", "Polyexponential", None, why="diffusers has no polyexponential sigmas"),
    Schedule("sgm_uniform", "SGM Uniform", {**_NO_SIGMA_FLAGS, "timestep_spacing": "trailing"}),
    Schedule("kl_optimal", "KL Optimal", None, why="diffusers has no KL-optimal sigmas"),
    Schedule("align_your_steps", "Align Your Steps", None, why="Align Your Steps needs per-model timesteps the studio does not have"),
    Schedule("simple", "Simple", None, why="diffusers has no 'simple' sigmas"),
    Schedule("normal", "Normal", None, why="diffusers has no 'normal' sigmas"),
    Schedule("ddim", "DDIM", None, why="diffusers has no DDIM-uniform sigmas for these samplers"),
    Schedule("beta", "Beta", {**_NO_SIGMA_FLAGS, "use_beta_sigmas": True}, needs="scipy"),
)

_BY_NAME: dict[str, Sampler] = {}
for _s in SAMPLERS:
    for _key in (_s.name, *_s.aliases):
        _BY_NAME[_key.lower()] = _s
_SCHEDULE_BY: dict[str, Schedule] = {}
for _c in SCHEDULES:
    _SCHEDULE_BY[_c.name] = _c
    _SCHEDULE_BY[_c.label.lower()] = _c


def sampler(name: str) -> Sampler:
    return _BY_NAME[name.lower()]


def schedule(name: str) -> Schedule:
    return _SCHEDULE_BY[name.lower()]


@dataclass(frozen=True)
class SamplerChoice:
    """What will run: `sampler` None means the model's own scheduler, untouched."""

    sampler: str | None
    schedule: str | None
    notes: tuple[str, ...] = ()


def split_name(text: str) -> tuple[Sampler | None, Schedule | None]:
    """An A1111 sampler name, alias or `name + schedule label` (`DPM++ 2M Karras`,
    `Euler a Karras`, old `k_dpmpp_2m_ka`), as A1111 1.9+ splits it."""
    key = text.strip().lower()
    if key in _BY_NAME:
        return _BY_NAME[key], None
    if key.endswith("_ka") and key[:-3] in _BY_NAME:
        return _BY_NAME[key[:-3]], _SCHEDULE_BY["karras"]
    for sched in sorted(SCHEDULES, key=lambda s: -len(s.label)):
        suffix = " " + sched.label.lower()
        if key.endswith(suffix) and key[: -len(suffix)].strip() in _BY_NAME:
            return _BY_NAME[key[: -len(suffix)].strip()], sched
    return None, None


def _scheduler_class(entry: Sampler, family: str) -> str | None:
    kind = traits(family).scheduler_kind
    if kind == "flow_match":
        return entry.flow_scheduler
    if kind == "discrete":
        return entry.scheduler
    return None


def accepts(class_name: str, options: Mapping[str, Any]) -> bool:
    """Whether diffusers' `class_name` takes every config key in `options` (by signature,
    so no torch import is needed beyond diffusers' lazy module)."""
    import diffusers

    params = inspect.signature(getattr(diffusers, class_name).__init__).parameters
    return all(k in params for k in options)


def _schedule_ok(sched: Schedule, class_name: str) -> str | None:
    """None when `sched` can run on `class_name`, else why not."""
    if sched.options is None:
        return sched.why
    if sched.needs and importlib.util.find_spec(sched.needs) is None:
        return f"the {sched.label} schedule needs the '{sched.needs}' package, which is not installed"
    wanted = {k: v for k, v in sched.options.items() if v is not False}
    if not accepts(class_name, wanted):
        return f"diffusers' {class_name} has no {sched.label} schedule"
    return None


def resolve(name: str | None, schedule_name: str | None, family: str) -> SamplerChoice:
    """What runs for an A1111 `sampler_name` and `scheduler` on a model of `family`,
    with a note for everything that was not honoured as asked. Never raises."""
    notes: list[str] = []
    entry, suffix = (split_name(name) if name and name.strip() else (None, None))
    if name and name.strip() and entry is None:
        notes.append(f"sampler {name!r} is not an AUTOMATIC1111 sampler; the model's own sampler ran "
                     "(GET /sdapi/v1/samplers lists the names)")
    asked: Schedule | None = None
    if schedule_name and schedule_name.strip():
        asked = _SCHEDULE_BY.get(schedule_name.strip().lower())
        if asked is None:
            notes.append(f"schedule {schedule_name!r} is not an AUTOMATIC1111 schedule; the automatic one ran "
                         "(GET /sdapi/v1/schedulers lists the names)")
    if asked is None or asked.name == "automatic":
        asked = suffix or asked
    if traits(family).scheduler_kind == "none":
        if entry is not None or (asked is not None and asked.name != "automatic"):
            notes.append(f"this model has no sampler to choose ({traits(family).sampler}); the sampler and schedule were not used")
        return SamplerChoice(None, None, tuple(notes))
    if entry is None:
        return SamplerChoice(None, None, tuple(notes))
    class_name = _scheduler_class(entry, family)
    if class_name is not None and entry.needs and importlib.util.find_spec(entry.needs) is None:
        class_name, entry = None, Sampler(entry.name, (), None, why=f"it needs the '{entry.needs}' package, which is not installed")
    if class_name is None:
        why = entry.why or f"it does not run on {family} models"
        notes.append(f"sampler {entry.name!r} cannot run here ({why}); the model's own sampler ran")
        return SamplerChoice(None, None, tuple(notes))
    sched = asked if asked is not None and asked.name != "automatic" else _SCHEDULE_BY[entry.default_schedule]
    why = _schedule_ok(sched, class_name)
    if why:
        fallback = "uniform"
        if asked is not None and asked.name != "automatic":
            notes.append(f"schedule {sched.label!r} with {entry.name} cannot run here ({why}); the Uniform schedule ran")
        elif entry.default_schedule != "uniform":
            notes.append(f"{entry.name}'s usual {sched.label} schedule cannot run here ({why}); the Uniform schedule ran")
        sched = _SCHEDULE_BY[fallback]
    return SamplerChoice(entry.name, sched.name, tuple(notes))


def scheduler_config(entry: Sampler, sched: Schedule, class_name: str) -> dict[str, Any]:
    """The config overrides for `entry` with `sched` on diffusers' `class_name`: only the keys
    that class takes (sigma flags set to False where they exist, so a model shipped with
    Karras sigmas runs Uniform when Uniform is asked)."""
    import diffusers

    params = inspect.signature(getattr(diffusers, class_name).__init__).parameters
    wanted = {**(entry.options if class_name == entry.scheduler else {}), **(sched.options or {})}
    return {k: v for k, v in wanted.items() if k in params}


@contextmanager
def use_sampler(pipe: Any, family: str, sampler_name: str | None, schedule_name: str | None) -> Iterator[None]:
    """Run the body with `pipe.scheduler` swapped for the asked sampler and schedule (built
    from the model's own scheduler config, so its betas, prediction type and shift stay),
    restoring the model's own afterwards. The caller holds the model's lock."""
    if not sampler_name or getattr(pipe, "scheduler", None) is None:
        yield
        return
    import diffusers

    entry = sampler(sampler_name)
    sched = schedule(schedule_name or entry.default_schedule)
    class_name = _scheduler_class(entry, family)
    if class_name is None:
        yield
        return
    own = pipe.scheduler
    base = {k: v for k, v in dict(own.config).items() if not k.startswith("_")}
    pipe.scheduler = getattr(diffusers, class_name).from_config(base, **scheduler_config(entry, sched, class_name))
    try:
        yield
    finally:
        pipe.scheduler = own


def name_of(family: str, scheduler: object | None) -> str:
    """The A1111 name of the scheduler that ran: sampler, then the schedule label when it is
    not uniform (`Euler`, `DPM++ 2M Karras`, `DPM++ 3M SDE Exponential`)."""
    if scheduler is None:
        return traits(family).sampler
    cls = type(scheduler).__name__
    config = dict(getattr(scheduler, "config", {}) or {})
    matches = [s for s in SAMPLERS if cls in (s.scheduler, s.flow_scheduler)]
    if not matches:
        return traits(family).sampler

    def fits(s: Sampler) -> int:
        opts = s.options if cls == s.scheduler else {}
        if any(k in config and config[k] != v for k, v in opts.items()):
            return -1
        return len(opts)

    best = max(matches, key=fits)
    if fits(best) < 0:
        best = matches[0]
    label = ""
    if config.get("use_karras_sigmas"):
        label = " Karras"
    elif config.get("use_exponential_sigmas"):
        label = " Exponential"
    elif config.get("use_beta_sigmas"):
        label = " Beta"
    return best.name + label

"""Cancel that means it (issue 20), at the service level on the offline demo model.

A Cancel is pressed from inside the progress callback at an exact point (the demo model
runs one step per image), so these tests stop a job "after the first image" without any
timing: what was made is kept, what was not is refunded by a ledger row, the balance
equals the ledger, and the one sentence (`Stopped.message`) says so in numbers.

Before the change: every test here failed — `StudioRequest` had no `image_by_image` and
a count-4 job ran as one pipeline call (a cancel kept nothing), the ledger could only
refund whole jobs, and the consistency flow said "Cancelled. Your 2 credits were
returned." for the shot that was running and nothing about the rest.
"""

from __future__ import annotations

import threading

import pytest

from pipelines.types import CancelToken, GenerationCancelled
from studio.services.generation.cancel import CancelRegistry
from studio.services.generation.jobs import JOBS
from studio.services.generation.requests import StudioRequest
from studio.services.generation.stopping import ALREADY_FINISHED, STOPPING, JobStopped, Stopped, outcome_message
from studio.store.records import ASSETS
from tests.studio_factory import image_files, make_studio

DEMO = "demo-faces"
USER = "ana"


@pytest.fixture
def studio(tmp_path):
    return make_studio(tmp_path, starting_credits=40)


def ask(**kw) -> StudioRequest:
    base = dict(user=USER, model_id=DEMO, count=4, prompt="a sailor", image_by_image=True)
    base.update(kw)
    return StudioRequest(**base)


def cancel_at(step: int):
    """A token and a progress callback that presses Cancel at the `step`-th denoise report
    (the demo model reports one per image: step 2 is the second image's step)."""
    token, seen = CancelToken(), {"n": 0}

    def progress(p):
        if p.stage == "denoise":
            seen["n"] += 1
            if seen["n"] == step:
                token.cancel()

    return token, progress


def ledger_sum(studio) -> int:
    return sum(e["delta"] for e in studio.credits.ledger(USER))


def test_stop_after_the_first_image_keeps_it_and_refunds_the_rest(studio, tmp_path):
    cost = studio.catalog.get(DEMO).credit_cost
    token, progress = cancel_at(2)  # during the second image
    result = studio.generation.generate(ask(seed=7), progress=progress, cancel=token)

    assert len(result.images) == 1 and result.images[0].seed == 7
    assert result.stopped == Stopped(made=1, asked=4, returned=3 * cost)
    assert result.stopped.message == f"Stopped: 1 of 4 images made, {3 * cost} credits returned."
    assert result.cost == cost and result.balance == 40 - cost == studio.credits.balance(USER) == ledger_sum(studio)
    refund, charge = studio.credits.ledger(USER)[:2]
    assert (charge["kind"], charge["delta"], refund["kind"], refund["delta"]) == ("charge", -4 * cost, "refund", 3 * cost)
    assert refund["job_id"] == charge["job_id"] == result.job_id
    job = studio.store.get(JOBS, result.job_id)
    assert job["status"] == "done" and job["stopped"] == {"made": 1, "asked": 4, "returned": 3 * cost}
    assert [a["id"] for a in studio.store.all(ASSETS)] == [result.images[0].asset_id]
    assert len(image_files(tmp_path)) == 1


def test_stop_during_the_first_image_refunds_everything(studio, tmp_path):
    cost = studio.catalog.get(DEMO).credit_cost
    token, progress = cancel_at(1)
    with pytest.raises(JobStopped) as stop:
        studio.generation.generate(ask(), progress=progress, cancel=token)
    assert isinstance(stop.value, GenerationCancelled)  # every older caller still catches it
    assert stop.value.stopped == Stopped(made=0, asked=4, returned=4 * cost)
    assert str(stop.value) == f"Stopped: 0 of 4 images made, {4 * cost} credits returned."
    assert studio.credits.balance(USER) == 40 == ledger_sum(studio)
    assert image_files(tmp_path) == [] and studio.store.all(ASSETS) == []


def test_one_batched_call_without_image_by_image_keeps_nothing(studio, tmp_path):
    """The REST dialects keep one pipeline call for all images (fastest on a GPU)."""
    token, progress = cancel_at(1)
    with pytest.raises(JobStopped, match="Stopped: 0 of 4 images made"):
        studio.generation.generate(ask(image_by_image=False), progress=progress, cancel=token)
    assert studio.credits.balance(USER) == 40 == ledger_sum(studio)


def test_progress_of_an_image_by_image_job_fills_one_bar(studio):
    seen = []
    studio.generation.generate(ask(count=3), progress=lambda p: seen.append((p.stage, p.current, p.total)))
    denoise = [s for s in seen if s[0] == "denoise"]
    assert denoise == [("denoise", 1, 3), ("denoise", 2, 3), ("denoise", 3, 3)]
    assert [s[0] for s in seen].count("decode") <= 1  # only the last image decodes "at 100%"


def test_consistency_flow_stopped_mid_way(studio, tmp_path):
    cost = studio.catalog.get(DEMO).credit_cost
    project = studio.projects.ensure_default(USER)["id"]
    ids = [studio.shots.create(USER, project, type="character", name=f"Shot {i}", description=f"sailor {i}")["id"]
           for i in range(5)]
    token, progress = cancel_at(5)  # shots 1 and 2 made 2 images each; stop in shot 3's first image
    done = studio.gen_space.generate_batch(ids, ask(count=2), progress=progress, cancel=token)

    assert [sid for sid, _ in done] == ids[:2] and sum(len(r.images) for _, r in done) == 4
    assert done.stopped == Stopped(made=4, asked=10, returned=2 * cost, shots=5, shots_run=2, not_started=2)
    assert done.stopped.message == (f"Stopped after 2 of 5 shots: 4 images made, {2 * cost} credits returned; "
                                    "2 shots not started (nothing charged for them).")
    assert studio.credits.balance(USER) == 40 - 4 * cost == ledger_sum(studio)
    charged = {e["job_id"] for e in studio.credits.ledger(USER) if e["kind"] == "charge"}
    assert len(charged) == 3  # shots 4 and 5 never started, never charged
    assert [studio.shots.get(USER, i)["history"] != [] for i in ids] == [True, True, False, False, False]


def test_consistency_flow_stopped_part_way_through_a_shot(studio):
    cost = studio.catalog.get(DEMO).credit_cost
    project = studio.projects.ensure_default(USER)["id"]
    ids = [studio.shots.create(USER, project, type="scene", name=f"S{i}")["id"] for i in range(3)]
    token, progress = cancel_at(4)  # shot 2's second image
    done = studio.gen_space.generate_batch(ids, ask(count=2), progress=progress, cancel=token)
    assert done.stopped.message == (f"Stopped after 2 of 3 shots: 3 images made, {cost} credit"
                                    f"{'' if cost == 1 else 's'} returned; 1 shot not started (nothing charged for it).")
    assert studio.credits.balance(USER) == 40 - 3 * cost == ledger_sum(studio)


def test_consistency_flow_stopped_in_its_first_shot_raises_the_stop(studio):
    project = studio.projects.ensure_default(USER)["id"]
    ids = [studio.shots.create(USER, project, type="prop", name=f"P{i}")["id"] for i in range(2)]
    token, progress = cancel_at(1)
    with pytest.raises(JobStopped) as stop:
        studio.gen_space.generate_batch(ids, ask(count=2), progress=progress, cancel=token)
    cost = studio.catalog.get(DEMO).credit_cost
    assert str(stop.value) == (f"Stopped after 0 of 2 shots: 0 images made, {2 * cost} credits returned; "
                               "1 shot not started (nothing charged for it).")
    assert studio.credits.balance(USER) == 40 == ledger_sum(studio)


def test_a_cancel_after_the_job_finished_promises_nothing(studio):
    token = CancelToken()
    result = studio.generation.generate(ask(count=2))
    token.cancel()  # arrives after the last image
    assert result.stopped is None
    assert outcome_message(result.stopped, token.cancelled) == ALREADY_FINISHED
    assert outcome_message(None, False) == ""
    assert CancelRegistry().stop("nobody:tab") == ALREADY_FINISHED


def test_the_registry_answers_with_the_jobs_own_outcome():
    cancels = CancelRegistry()
    started = threading.Event()

    def job():
        with cancels.running("ana:tab") as token:
            started.set()
            token.event.wait(10)
            cancels.finish(token, "Stopped: 2 of 4 images made, 2 credits returned.")

    thread = threading.Thread(target=job)
    thread.start()
    started.wait(10)
    assert cancels.stop("ana:tab") == "Stopped: 2 of 4 images made, 2 credits returned."
    thread.join()
    # A job still inside a long step: the answer says it is stopping, promises no refund.
    with cancels.running("ana:tab"):
        assert cancels.stop("ana:tab", wait_s=0.05) == STOPPING
    assert cancels.stop("ana:tab") == ALREADY_FINISHED


def test_a_partial_refund_is_bounded_and_once(studio):
    studio.credits.charge(USER, 4, reason="4 × demo", job_id="job-1")
    with pytest.raises(ValueError, match="cannot refund 5"):
        studio.credits.refund("job-1", reason="too much", amount=5)
    assert studio.credits.refund("job-1", reason="2 not made", amount=2)["delta"] == 2
    assert studio.credits.refund("job-1", reason="again") is None
    assert studio.credits.balance(USER) == 38 == ledger_sum(studio)


def test_one_word_for_one_image():
    assert Stopped(made=0, asked=1, returned=1).message == "Stopped: 0 of 1 image made, 1 credit returned."



def test_the_panels_show_the_stop_and_keep_what_was_made(studio):
    """Image Studio's and Gen Space's handlers: the images made are shown, the line says the
    stop, the balance is the ledger's; a stop before any image shows none and says so."""
    from studio.ui.gen_space import bar_handlers
    from studio.ui.image_studio import handlers

    cost = studio.catalog.get(DEMO).credit_cost
    token, progress = cancel_at(3)  # during the third image
    base = dict(model_id=DEMO, style_id="auto", aspect="1:1", count=4, prompt="a lighthouse", enhance=False,
                negative_prompt="", seed=7)
    done = handlers.generate(studio, USER, handlers.StudioSettings(**base), progress=progress, cancel=token)
    assert len(done.shown) == len(done.items) == 2
    assert done.note == f"Stopped: 2 of 4 images made, {2 * cost} credits returned."
    assert done.balance == 40 - 2 * cost == ledger_sum(studio)

    token, progress = cancel_at(1)
    done = handlers.generate(studio, USER, handlers.StudioSettings(**base), progress=progress, cancel=token)
    assert done.shown == [] and done.note == f"Stopped: 0 of 4 images made, {4 * cost} credits returned."
    assert done.balance == 40 - 2 * cost == ledger_sum(studio)

    project = studio.projects.ensure_default(USER)["id"]
    mira = studio.shots.create(USER, project, type="character", name="Mira")["id"]
    shot_settings = bar_handlers.ShotSettings(model_id=DEMO, count=4, prompt="Mira", enhance=False, style_id="auto",
                                              aspect="1:1", seed=None, reference_ids=[], ip_adapter_scale=0.6,
                                              strength=0.6)
    token, progress = cancel_at(2)
    job = bar_handlers.generate_for_shot(studio, USER, mira, shot_settings, progress=progress, cancel=token)
    assert job.status == f"Stopped: 1 of 4 images made, {3 * cost} credits returned."
    assert len(studio.shots.get(USER, mira)["history"]) == 1
    assert job.balance == 40 - 3 * cost == ledger_sum(studio)


def test_a_job_cancelled_while_it_waited_is_never_charged(studio):
    """A job queued behind another tab's job: Cancel counts it; when it starts, it stops
    before any charge, and no later job is touched."""
    cancels = CancelRegistry()
    seen = cancels.starts("ana:tab")
    assert cancels.stop("ana:tab", queued=1, starts_seen=seen) == "Stopped before it started: nothing was charged."
    with cancels.running("ana:tab") as token:  # the queued job reaches the studio
        with pytest.raises(JobStopped, match="^Stopped before it started: nothing was charged.$"):
            studio.generation.generate(ask(), cancel=token)
    with cancels.running("ana:tab") as later:
        assert not later.cancelled
    assert studio.credits.balance(USER) == 40 and [e["kind"] for e in studio.credits.ledger(USER)] == ["grant"]
    # The queued job started between the queue count and the Cancel: it is stopped as a
    # running job, and no mark is left for the next one.
    seen = cancels.starts("ana:tab")
    with cancels.running("ana:tab") as started:
        assert cancels.stop("ana:tab", wait_s=0.05, queued=1, starts_seen=seen) == STOPPING
        assert started.cancelled
    with cancels.running("ana:tab") as later:
        assert not later.cancelled

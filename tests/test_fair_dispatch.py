"""The per-user fair queue in front of the engine (pipelines/fair.py), on the real local
engine with a tiny model: users take turns, a per-user running limit holds, and a job
cancelled while it waits never reaches the engine. The same queue in front of a Ray
cluster is exercised by tests/test_ray_cluster.py through the launched app."""

from __future__ import annotations

import threading
import time

import pytest

from pipelines.catalog import Catalog
from pipelines.fair import FairDispatcher
from pipelines.manager import PipelineManager
from pipelines.types import CancelToken, GenerationCancelled, GenerationRequest
from tests.engine_entries import square_sizes, tiny_entry


@pytest.fixture(scope="module")
def manager(sd15):
    engine = PipelineManager(Catalog(models=[tiny_entry("tiny", {"kind": "folder", "path": str(sd15)}, steps=1,
                                                              sizes=square_sizes(32))]),
                             device="cpu")
    engine.preload("tiny")
    return engine


def request(owner: str) -> GenerationRequest:
    return GenerationRequest(model_id="tiny", prompt="a cat", width=32, height=32, owner=owner, seeds=(1,))


def run_all(dispatcher: FairDispatcher, owners: list[str], errors: list) -> list[threading.Thread]:
    def one(owner: str) -> None:
        try:
            dispatcher.generate(request(owner))
        except Exception as exc:  # collected: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(o,)) for o in owners]
    for t in threads:
        t.start()
    return threads


def wait_until(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_one_job_behind_another_users_many_runs_next(manager):
    """(The bound with 40 jobs is checked through the launched app on the Ray cluster.)"""
    fair = FairDispatcher(manager, slots=1)
    errors: list = []
    with manager.use("tiny"):  # the model is busy while the jobs arrive: all of them queue
        many = run_all(fair, ["ana"] * 12, errors)
        wait_until(lambda: fair.waiting().get("ana") == 11)
        one = run_all(fair, ["ben"], errors)
        wait_until(lambda: fair.waiting().get("ben") == 1)
    for t in many + one:
        t.join(120)
    assert not errors
    users = [u for u, _ in fair.started]
    assert len(users) == 13
    assert users.index("ben") == 1, f"ben started as job {users.index('ben') + 1} of 13"


def test_users_take_turns_and_each_keeps_their_own_order(manager):
    fair = FairDispatcher(manager, slots=1)
    errors: list = []
    threads = []
    with manager.use("tiny"):
        for user in ("ana", "ben", "cy"):
            threads += run_all(fair, [user] * 3, errors)
            wait_until(lambda: sum(fair.waiting().values()) + sum(fair.running().values()) == len(threads))
    for t in threads:
        t.join(120)
    assert not errors
    users = [u for u, _ in fair.started]
    assert users == ["ana", "ben", "cy"] * 3, users
    for user in ("ana", "ben", "cy"):
        numbers = [n for u, n in fair.started if u == user]
        assert numbers == sorted(numbers)


def test_a_per_user_limit_leaves_the_other_slot_to_others(manager):
    fair = FairDispatcher(manager, slots=2, per_user=1)
    errors: list = []
    peak: dict[str, int] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for user, n in fair.running().items():
                peak[user] = max(peak.get(user, 0), n)
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = run_all(fair, ["ana"] * 4, errors)
    for t in threads:
        t.join(120)
    stop.set()
    watcher.join()
    assert not errors and peak == {"ana": 1}, peak
    assert len(fair.started) == 4


def test_a_job_cancelled_while_waiting_never_reaches_the_engine(manager):
    fair = FairDispatcher(manager, slots=1)
    token, said = CancelToken(), []
    with manager.use("tiny"):  # the model is busy: the granted job waits on its lock
        errors: list = []
        first = run_all(fair, ["ana"], errors)
        wait_until(lambda: fair.running() == {"ana": 1})
        outcome: list = []

        def waiting_job() -> None:
            try:
                fair.generate(request("ben"), progress=said.append, cancel=token)
            except GenerationCancelled as exc:
                outcome.append(exc)

        t = threading.Thread(target=waiting_job)
        t.start()
        wait_until(lambda: fair.waiting() == {"ben": 1})
        token.cancel()
        t.join(10)
        assert outcome and fair.waiting() == {}
        assert said and said[0].stage == "queued" and "1 job first" in said[0].message
    for thread in first:
        thread.join(60)
    assert not errors and [u for u, _ in fair.started] == ["ana"]


def test_the_rest_of_the_engine_interface_passes_through(manager):
    fair = FairDispatcher(manager, slots=1)
    assert fair.catalog is manager.catalog and fair.is_downloaded("tiny")
    assert fair.check(request("ana")).id == "tiny" and fair.entry("tiny").id == "tiny"
    assert [m["id"] for m in fair.resident()] == ["tiny"]
    with pytest.raises(ValueError):
        FairDispatcher(manager, slots=0)


def test_the_local_engine_sits_in_the_fair_queue_and_imports_no_ray(tmp_path):
    import subprocess
    import sys

    from tests.launched_app import REPO

    code = ("import sys; from tests.studio_factory import make_studio; "
            f"s = make_studio({str(tmp_path / 'data')!r}); "
            "print(type(s.engine).__name__, type(s.engine.engine).__name__, s.engine.slots, 'ray' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.stdout.split() == ["FairDispatcher", "PipelineManager", "1", "False"], run.stderr[-2000:]

"""The credits ledger: balances always equal the sum of the ledger, charges never
overdraw (also under concurrency), refunds happen once, refusals write nothing."""

from __future__ import annotations

import random
import threading

import pytest

from studio.services.billing.ledger import LEDGER_TABLE, CreditsService, InsufficientCredits
from studio.store import MemoryStore, TinyDBStore


@pytest.fixture(params=["memory", "tinydb"])
def store(request, tmp_path):
    return MemoryStore() if request.param == "memory" else TinyDBStore(tmp_path / "db.json")


def _ledger_sum(credits: CreditsService, user: str) -> int:
    return sum(entry["delta"] for entry in credits.ledger(user))


def test_first_access_grants_the_starting_balance_once(store):
    credits = CreditsService(store, starting_balance=50)
    assert credits.balance("ann") == 50
    assert credits.balance("ann") == 50
    (grant,) = credits.ledger("ann")
    assert grant["kind"] == "grant" and grant["delta"] == 50 and grant["balance_after"] == 50
    assert grant["owner"] == "ann" and grant["job_id"] is None and grant["created"].endswith("+00:00")
    assert credits.balance("bob") == 50 and len(store.all(LEDGER_TABLE)) == 2


def test_charge_debits_and_the_ledger_reads_newest_first(store):
    credits = CreditsService(store, starting_balance=20)
    entry = credits.charge("ann", 8, reason="2 images on sdxl", job_id="job-1")
    assert entry["kind"] == "charge" and entry["delta"] == -8 and entry["balance_after"] == 12
    assert entry["reason"] == "2 images on sdxl" and entry["job_id"] == "job-1"
    credits.charge("ann", 5, reason="r", job_id="job-2")
    assert credits.balance("ann") == 7
    assert [e["kind"] for e in credits.ledger("ann")] == ["charge", "charge", "grant"]
    assert [e["job_id"] for e in credits.ledger("ann")][:2] == ["job-2", "job-1"]
    assert set(credits.ledger("ann")[0]) >= {"id", "owner", "delta", "kind", "reason", "job_id", "created", "balance_after"}


def test_insufficient_credits_says_why_and_writes_nothing(store):
    credits = CreditsService(store, starting_balance=5)
    credits.balance("ann")
    before = store.all(LEDGER_TABLE)
    with pytest.raises(InsufficientCredits, match=r"^This costs 8 credits; you have 5\.$") as err:
        credits.charge("ann", 8, reason="too much", job_id="job-x")
    assert isinstance(err.value, ValueError) and err.value.cost == 8 and err.value.balance == 5
    assert store.all(LEDGER_TABLE) == before
    assert credits.charge("ann", 5, reason="exactly all", job_id="job-y")["balance_after"] == 0
    with pytest.raises(InsufficientCredits, match="This costs 1 credit; you have 0."):
        credits.charge("ann", 1, reason="one more", job_id="job-z")


def test_a_brand_new_user_who_cannot_afford_it_gets_nothing_written(store):
    credits = CreditsService(store, starting_balance=3)
    with pytest.raises(InsufficientCredits):
        credits.charge("newbie", 4, reason="r", job_id="j")
    assert store.all(LEDGER_TABLE) == []  # not even the grant: the transaction rolled back
    assert credits.balance("newbie") == 3


def test_bad_input_is_refused_with_a_clear_message_and_writes_nothing(store):
    credits = CreditsService(store, starting_balance=10)
    credits.charge("ann", 2, reason="r", job_id="dup")
    before = store.all(LEDGER_TABLE)
    for kwargs, message in [
        (dict(user="ann", amount=-1, reason="r", job_id="a"), "Charge amount"),
        (dict(user="ann", amount=1.5, reason="r", job_id="a"), "Charge amount"),
        (dict(user="ann", amount=True, reason="r", job_id="a"), "Charge amount"),
        (dict(user="", amount=1, reason="r", job_id="a"), "User"),
        (dict(user="ann", amount=1, reason="r", job_id=""), "Job id"),
        (dict(user="ann", amount=1, reason="r", job_id="dup"), "already been charged"),
    ]:
        with pytest.raises(ValueError, match=message):
            credits.charge(kwargs.pop("user"), kwargs.pop("amount"), **kwargs)
    assert store.all(LEDGER_TABLE) == before
    with pytest.raises(ValueError, match="Starting balance"):
        CreditsService(store, starting_balance=-5)


def test_refund_returns_that_jobs_charge_exactly_once(store):
    credits = CreditsService(store, starting_balance=30)
    credits.charge("ann", 8, reason="r", job_id="job-1")
    credits.charge("ann", 4, reason="r", job_id="job-2")
    refund = credits.refund("job-1", reason="generation failed")
    assert refund["kind"] == "refund" and refund["delta"] == 8 and refund["owner"] == "ann"
    assert refund["balance_after"] == 26 and refund["reason"] == "generation failed"
    assert credits.refund("job-1", reason="again") is None
    assert credits.refund("never-charged", reason="x") is None
    assert credits.balance("ann") == 26
    assert [e["kind"] for e in credits.ledger("ann")] == ["refund", "charge", "charge", "grant"]


def test_estimate_multiplies_cost_by_count():
    assert CreditsService.estimate(4, 3) == 12
    assert CreditsService.estimate(0, 4) == 0
    with pytest.raises(ValueError, match="Image count"):
        CreditsService.estimate(4, 0)
    with pytest.raises(ValueError, match="Cost per image"):
        CreditsService.estimate(-1, 2)


def test_balance_always_equals_the_ledger_sum_over_random_sequences(store):
    rng = random.Random(1234)
    credits = CreditsService(store, starting_balance=40)
    users = ["ann", "bob", "cy"]
    expected = {u: 40 for u in users}
    charged: dict[str, tuple[str, int]] = {}
    for step in range(120):
        user = rng.choice(users)
        action = rng.random()
        if action < 0.6:
            amount = rng.randint(0, 12)
            job = f"job-{step}"
            if amount > expected[user]:
                with pytest.raises(InsufficientCredits):
                    credits.charge(user, amount, reason="r", job_id=job)
            else:
                credits.charge(user, amount, reason="r", job_id=job)
                expected[user] -= amount
                charged[job] = (user, amount)
        elif action < 0.85 and charged:
            job = rng.choice(sorted(charged))
            user_of_job, amount = charged.pop(job)
            assert credits.refund(job, reason="r")["delta"] == amount
            expected[user_of_job] += amount
        else:
            assert credits.refund(f"job-{step}-unknown", reason="r") is None
        for u in users:
            assert credits.balance(u) == expected[u] == _ledger_sum(credits, u)
            assert credits.ledger(u)[0]["balance_after"] == expected[u]
            assert expected[u] >= 0


def test_concurrent_charges_from_threads_never_overdraw(store):
    credits = CreditsService(store, starting_balance=50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def spend(worker: int):
        for i in range(8):
            try:
                credits.charge("ann", 3, reason="r", job_id=f"w{worker}-{i}")
                result = "ok"
            except InsufficientCredits:
                result = "refused"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=spend, args=(w,)) for w in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 16  # 50 // 3: exactly what the balance allows
    assert outcomes.count("refused") == 24
    assert credits.balance("ann") == 2 == _ledger_sum(credits, "ann")
    assert len([e for e in store.all(LEDGER_TABLE) if e["kind"] == "grant"]) == 1


def test_a_charge_on_a_full_disk_is_refused_and_costs_nothing(tmp_path, monkeypatch):
    import errno

    from studio.store import StoreWriteFailed, tinydb_store

    store = TinyDBStore(tmp_path / "db.json")
    credits = CreditsService(store, 10)
    credits.charge("ann", 2, reason="before", job_id="job-0")

    def full_disk(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tinydb_store.os, "write", full_disk)
    with pytest.raises(StoreWriteFailed, match="the disk is full. Nothing was saved"):
        credits.charge("ann", 3, reason="lost", job_id="job-1")
    assert credits.balance("ann") == 8  # reads still work, and nothing was taken
    monkeypatch.undo()
    credits.charge("ann", 3, reason="after", job_id="job-1")  # the same job can be charged once space is back
    fresh = CreditsService(TinyDBStore(tmp_path / "db.json"), 10)
    assert fresh.balance("ann") == 5 == _ledger_sum(fresh, "ann")


def test_spent_since_reads_back_only_to_the_given_time(store):
    from datetime import datetime, timedelta, timezone

    credits = CreditsService(store, 100)
    credits.charge("ann", 5, reason="old", job_id="old")
    cut = datetime.now(timezone.utc)
    credits.charge("ann", 3, reason="new", job_id="new-1")
    credits.charge("ann", 4, reason="new", job_id="new-2")
    credits.refund("new-2", reason="failed")
    with store.transaction() as tx:
        assert credits.spent_since(tx, "ann", cut) == 3
        assert credits.spent_since(tx, "ann", cut - timedelta(days=1)) == 8
        assert credits.spent_since(tx, "bob", cut) == 0

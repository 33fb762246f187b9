"""Administrators: balances and recent spending, grants and takes naming the admin, daily limits;
the same grant from the command line while the app runs; non-admins refused."""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from gradio_client import Client

from studio.services.billing.admin import AdminService, DailyLimitReached, NotAdmin
from studio.services.billing.ledger import CreditsService
from studio.services.generation.requests import InvalidRequest
from studio.store import open_store
from tests.launched_app import REPO, launched_app


class Clock:
    """The admin service's clock; ledger entries carry the real time, so this starts at it."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def service(tmp_path):
    store = open_store(tmp_path / "data")
    credits = CreditsService(store, 10)
    clock = Clock()
    admin = AdminService(store, credits, admins=["root"], known_users=lambda: ["root", "ana", "ben"], clock=clock)
    return admin, credits, clock


def test_a_grant_and_a_take_are_ledger_entries_naming_the_admin(service):
    admin, credits, _ = service
    entry = admin.grant("root", "ana", 25, "  conference demo ")
    assert (entry["kind"], entry["delta"], entry["admin"], entry["reason"]) == ("grant", 25, "root", "conference demo")
    took = admin.grant("root", "ana", -5, "refund processed by mail")
    assert (took["kind"], took["delta"], took["admin"]) == ("take", -5, "root")
    assert credits.balance("ana") == 30 == sum(e["delta"] for e in credits.ledger("ana"))
    with pytest.raises(InvalidRequest, match="ana has 30 credits; you can take at most 30"):
        admin.grant("root", "ana", -31, "too much")
    assert credits.balance("ana") == 30


@pytest.mark.parametrize("user, amount, reason, message", [
    ("ana", 0, "x", "must not be 0"),
    ("ana", 1.5, "x", "whole number"),
    ("ana", "5", "x", "whole number"),
    ("ana", True, "x", "whole number"),
    ("ana", 10**9, "x", "at most"),
    ("ana", 5, "   ", "Give a reason"),
    ("ana", 5, None, "Give a reason"),
    ("ana", 5, "a \ud800 b", "can't be stored"),
    ("nobody", 5, "x", "no account named 'nobody'"),
    ("", 5, "x", "Give the account name"),
])
def test_bad_grants_say_what_to_fix_and_change_nothing(service, user, amount, reason, message):
    admin, credits, _ = service
    before = credits.ledger("ana")
    with pytest.raises(InvalidRequest, match=message):
        admin.grant("root", user, amount, reason)
    assert credits.ledger("ana") == before


def test_non_admins_are_refused_everything(service):
    admin, credits, _ = service
    for call in (lambda: admin.overview("ana").items, lambda: admin.grant("ana", "ana", 5, "me"),
                 lambda: admin.set_daily_limit("ana", "ana", None), lambda: admin.grant(None, "ana", 5, "x")):
        with pytest.raises(NotAdmin, match="Only administrators"):
            call()
    assert credits.balance("ana") == 10


def test_overview_lists_every_account_with_recent_spending(service):
    admin, credits, _ = service
    credits.charge("ana", 3, reason="3 × demo", job_id="job-1")
    admin.grant("root", "ben", 4, "welcome")
    rows = {r["user"]: r for r in admin.overview("root").items}
    assert set(rows) == {"root", "ana", "ben"}
    assert rows["ana"]["balance"] == 7 and rows["ana"]["spent_today"] == 3
    assert rows["ana"]["recent"][0]["reason"] == "3 × demo"
    assert rows["ben"]["balance"] == 14 and rows["ben"]["recent"][0]["admin"] == "root"


def test_the_daily_limit_refuses_a_charge_with_a_clear_message_and_resets_at_midnight(service):
    admin, credits, clock = service
    assert admin.set_daily_limit("root", "ana", 4) == 4
    credits.charge("ana", 3, reason="a", job_id="j1")
    before = credits.ledger("ana")
    with pytest.raises(DailyLimitReached, match="daily limit is 4 and you have spent 3 today.*nothing was charged"):
        credits.charge("ana", 2, reason="b", job_id="j2")
    assert credits.ledger("ana") == before and admin.remaining_today("ana") == 1
    assert admin.limit_reason("ana", 1) is None and "daily limit is 4" in admin.limit_reason("ana", 2)
    credits.refund("j1", reason="failed")  # refunded spending doesn't count
    credits.charge("ana", 4, reason="c", job_id="j3")
    clock.now += timedelta(days=1)  # the next UTC day: today's spending no longer counts
    assert admin.remaining_today("ana") == 4
    credits.charge("ana", 4, reason="d", job_id="j4")
    assert admin.set_daily_limit("root", "ana", "") is None
    credits.charge("ana", 1, reason="e", job_id="j5")
    assert credits.balance("ana") == sum(e["delta"] for e in credits.ledger("ana")) == 1


def test_the_studio_wide_default_limit_applies_until_an_admin_sets_one(tmp_path):
    store = open_store(tmp_path / "d")
    credits = CreditsService(store, 10)
    admin = AdminService(store, credits, admins=["root"], default_daily_limit=2)
    with pytest.raises(DailyLimitReached):
        credits.charge("ana", 3, reason="x", job_id="j1")
    admin.set_daily_limit("root", "ana", 5)
    credits.charge("ana", 3, reason="x", job_id="j1")
    assert admin.daily_limit("ben") == 2


# -- through the launched app ------------------------------------------------------------

def credits_cli(data, *args):
    return subprocess.run([sys.executable, "-m", "studio.cli.credits", *args, "--data-dir", str(data)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_admin_api_cli_grants_while_running_and_daily_limit(tmp_path):
    data = tmp_path / "data"
    with launched_app(data, "--auth", "root:pw-root,ana:pw-ana", "--admins", "root",
                      "--starting-credits", "5") as url:
        root = Client(url, auth=("root", "pw-root"), verbose=False)
        ana = Client(url, auth=("ana", "pw-ana"), verbose=False)
        assert ana.predict(api_name="/balance") == 5

        entry = root.predict("ana", 10, "workshop", api_name="/admin_grant")
        assert entry["admin"] == "root" and entry["balance_after"] == 15
        for call, args in (("/admin_accounts", ()), ("/admin_grant", ("ana", 100, "me")),
                           ("/admin_set_daily_limit", ("ana", 100))):
            with pytest.raises(Exception, match="Only administrators can do this"):
                ana.predict(*args, api_name=call)
        assert ana.predict(api_name="/balance") == 15

        # Grants from the command line while the app serves generations, from several processes at once.
        def generate(_):
            return ana.predict("demo-faces", "auto", "1:1", 1, "a face", False, "", -1, api_name="/generate")

        with ThreadPoolExecutor(4) as pool:
            jobs = [pool.submit(generate, i) for i in range(3)]
            grants = [pool.submit(credits_cli, data, "grant", "ana", "7", "--reason", f"top-up {i}", "--by", "ops")
                      for i in range(3)]
            assert all(g.result().returncode == 0 for g in grants), [g.result().stderr for g in grants]
            [j.result() for j in jobs]
        assert ana.predict(api_name="/balance") == 15 - 3 + 21
        ledger = ana.predict(api_name="/ledger")
        ledger = ledger["items"] if isinstance(ledger, dict) else ledger  # paged or not
        assert sum(e["delta"] for e in ledger) == 33
        assert sorted(e["reason"] for e in ledger if e.get("admin") == "ops") == ["top-up 0", "top-up 1", "top-up 2"]
        rows = {r["user"]: r for r in root.predict(api_name="/admin_accounts")["items"]}
        assert rows["ana"]["balance"] == 33 and rows["ana"]["spent_today"] == 3

        bad = credits_cli(data, "grant", "ana", "5")
        assert bad.returncode == 2 and "--reason" in bad.stderr
        typo = credits_cli(data, "grant", "anna", "5", "--reason", "typo")
        assert typo.returncode == 2 and "no account named 'anna'" in typo.stderr

        # A daily limit: the next job over it is refused with a clear message and charges nothing.
        assert root.predict("ana", 4, api_name="/admin_set_daily_limit")["daily_limit"] == 4
        generate(0)
        with pytest.raises(Exception, match="daily limit is 4 and you have spent 4 today"):
            ana.predict("demo-faces", "auto", "1:1", 1, "a face", False, "", -1, api_name="/generate")
        assert ana.predict(api_name="/balance") == 32
        assert credits_cli(data, "balance", "ana").stdout.strip() == "32"


def sign_in(page, url: str, user: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()
    expect(page.get_by_role("tab", name="Image Studio")).to_be_visible()


@pytest.mark.browser
def test_the_admin_panel_is_shown_to_admins_only_and_grants(tmp_path):
    from playwright.sync_api import expect

    from tests.browser import chromium_page

    with launched_app(tmp_path / "data", "--auth", "root:pw-root,ana:pw-ana", "--admins", "root") as url:
        with chromium_page() as page:
            sign_in(page, url, "root", "pw-root")
            page.get_by_role("tab", name="Admin").click()
            page.locator("#admin-account input, #admin-account textarea").first.fill("anna")
            page.locator("#admin-reason input, #admin-reason textarea").first.fill("typo")
            page.locator("#admin-grant").click()
            expect(page.locator("#admin-status")).to_contain_text("There is no account named 'anna'.")
            page.locator("#admin-account input, #admin-account textarea").first.fill("ana")
            page.locator("#admin-amount input").fill("12")
            page.locator("#admin-reason input, #admin-reason textarea").first.fill("from the panel")
            page.locator("#admin-grant").click()
            expect(page.locator("#admin-status")).to_contain_text("Granted 12 credits: ana now has 112.")
            expect(page.locator("#admin-accounts")).to_contain_text("from the panel (by root)")
        with chromium_page() as page:
            sign_in(page, url, "ana", "pw-ana")
            expect(page.locator("#balance")).to_contain_text("112")
            expect(page.get_by_role("tab", name="Admin")).to_have_count(0)


def test_the_overview_pages_and_never_reads_a_whole_ledger(service):
    """The overview's rows cost their accounts' newest entries: with long ledgers, reading
    every entry (`ledger`, a scan of the ledger table) is never needed, and accounts come a page at a time."""
    admin, credits, _ = service
    store = credits.store
    for i in range(30):
        admin.grant("root", "ana", 1, f"grant {i}")
    admin.grant("root", "ben", 4, "welcome")

    def whole_ledger(*_a, **_k):
        raise AssertionError("the overview read a whole ledger")

    credits.ledger = whole_ledger
    real_all = store.all
    store.all = lambda table: whole_ledger() if table == "ledger" else real_all(table)
    first = admin.overview("root", limit=2)
    assert [r["user"] for r in first.items] == ["ana", "ben"] and first.has_more
    rest = admin.overview("root", limit=2, cursor=first.next_cursor)
    assert [r["user"] for r in rest.items] == ["root"] and not rest.has_more
    assert first.items[0]["recent"][0]["reason"] == "grant 29" and len(first.items[0]["recent"]) == 5
    assert first.items[0]["balance"] == 40

"""Accounts: inline --auth of any length, the hashed accounts file and its CLI, the login limiter."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from studio.accounts import (
    Accounts,
    AccountsError,
    LoginLimiter,
    check_exposure,
    parse_auth,
    password_check,
    read_accounts_file,
    use_accounts,
    verify_password,
)
from studio.web.files import client_address
from studio.web.login import make_auth
from tests.launched_app import REPO


def accounts_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio.accounts", *args], cwd=REPO, input=stdin,
                          capture_output=True, text=True, timeout=60)


# -- inline --auth ---------------------------------------------------------------------

def test_inline_auth_of_any_length_is_read_as_accounts_not_a_path():
    long_password = "p" * 300
    accounts = parse_auth(f"ana:{long_password},ben:pw2")
    assert accounts.users() == ["ana", "ben"]
    assert accounts.verify("ana", long_password) and accounts.verify("ben", "pw2")
    assert not accounts.verify("ana", "pw2") and not accounts.verify("nobody", "pw2")
    huge = parse_auth("x:" + "y" * 5000)  # far past any file-name limit
    assert huge.verify("x", "y" * 5000)


@pytest.mark.parametrize("value, message", [
    ("justtext", "neither user:password pairs nor an accounts file"),
    ("ana:pw,ben", "each account must be user:password"),
    ("ana:pw,:pw2", "each account must be user:password"),
])
def test_bad_inline_auth_says_what_to_fix(value, message):
    with pytest.raises(AccountsError, match=message):
        parse_auth(value)


def test_no_auth_means_no_accounts_unless_the_default_file_exists(tmp_path):
    assert parse_auth(None) is None and parse_auth("  ") is None
    default = tmp_path / "accounts.txt"
    assert parse_auth(None, default_file=default) is None
    default.write_text("")
    assert isinstance(parse_auth(None, default_file=default), Accounts)


# -- the accounts file and its CLI ---------------------------------------------------------

def test_cli_manages_a_file_that_holds_only_hashes(tmp_path):
    path = tmp_path / "accounts.txt"
    added = accounts_cli("add", "ana", "--file", str(path), stdin="correct horse\n")
    assert added.returncode == 0, added.stderr
    assert accounts_cli("add", "ben", "--file", str(path), stdin="battery staple\n").returncode == 0
    text = path.read_text()
    assert "correct horse" not in text and "battery staple" not in text
    assert set(read_accounts_file(path)) == {"ana", "ben"}
    assert all(h.startswith("$argon2id$") for h in read_accounts_file(path).values())
    assert path.stat().st_mode & 0o077 == 0, "only its owner may read the accounts file"

    accounts = Accounts.from_file(path)
    assert accounts.verify("ana", "correct horse") and not accounts.verify("ana", "battery staple")

    again = accounts_cli("add", "ana", "--file", str(path), stdin="whatever123\n")
    assert again.returncode == 2 and "already exists" in again.stderr
    short = accounts_cli("passwd", "ana", "--file", str(path), stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    assert accounts_cli("passwd", "ana", "--file", str(path), stdin="new password\n").returncode == 0
    # The running app's Accounts object notices the change without a restart.
    assert accounts.verify("ana", "new password") and not accounts.verify("ana", "correct horse")

    assert accounts_cli("remove", "ben", "--file", str(path)).returncode == 0
    assert not accounts.verify("ben", "battery staple") and accounts.users() == ["ana"]
    missing = accounts_cli("remove", "ben", "--file", str(path))
    assert missing.returncode == 2 and "no account 'ben'" in missing.stderr
    assert accounts_cli("list", "--file", str(path)).stdout.split() == ["ana"]

    # Broken by hand while the app runs: nobody gets in (fail closed) until it is fixed.
    good = path.read_text()
    path.write_text(good + "eve:plaintext\n")
    assert not accounts.verify("ana", "new password") and accounts.users() == []
    path.write_text(good)
    assert accounts.verify("ana", "new password")
    path.unlink()
    assert not accounts.verify("ana", "new password")


def test_a_plain_text_password_in_the_file_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "accounts.txt"
    path.write_text("ana:hunter2\n")
    with pytest.raises(AccountsError, match=r"plain-text password for 'ana'.*python -m studio.accounts add ana"):
        parse_auth(str(path))


def test_verify_password_is_the_running_apps_check():
    use_accounts(parse_auth("ana:pw1"))
    try:
        assert verify_password("ana", "pw1") and not verify_password("ana", "pw2")
        assert password_check() is verify_password
    finally:
        use_accounts(None)
    assert not verify_password("ana", "pw1"), "with accounts off nobody signs in by password"
    assert password_check() is None


# -- exposure --------------------------------------------------------------------------

def test_share_without_accounts_needs_the_public_flag():
    with pytest.raises(AccountsError, match="--share.*--public"):
        check_exposure(None, share=True, public=False, admins=[])
    check_exposure(None, share=True, public=True, admins=[])
    check_exposure(parse_auth("ana:pw"), share=True, public=False, admins=["ana"])
    with pytest.raises(AccountsError, match="no account named 'zed'"):
        check_exposure(parse_auth("ana:pw"), share=False, public=False, admins=["ana", "zed"])


# -- slowing down repeated failures ----------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_per_account_cost_growing_delays_then_are_forgotten():
    clock = FakeClock()
    limiter = LoginLimiter(free=3, base=0.5, max_delay=10, window=900, clock=clock)
    delays = []
    for _ in range(10):
        delays.append(limiter.delay("ana", "10.0.0.1"))
        limiter.failed("ana", "10.0.0.1")
    assert delays == [0, 0, 0, 0.5, 1, 2, 4, 8, 10, 10]
    # Another address guessing the same account is slowed too ...
    assert limiter.delay("ana", "10.9.9.9") == 10
    # ... and the first address is slowed for every account it tries.
    assert limiter.delay("ben", "10.0.0.1") == 10
    assert limiter.delay("ben", "10.9.9.9") == 0
    clock.now += 901
    assert limiter.delay("ana", "10.0.0.1") == 0


def test_a_successful_sign_in_clears_the_account_but_not_the_address():
    limiter = LoginLimiter(free=2, base=1, clock=FakeClock())
    for user in ("ana", "ana", "ben", "cleo"):
        limiter.failed(user, "10.0.0.1")
    limiter.succeeded("ana")
    assert limiter.delay("ana", None) == 0
    assert limiter.delay("ana", "10.0.0.1") == 4  # the address made 4 failures


def test_the_login_awaits_the_limiters_delay_before_checking_the_password():
    clock = FakeClock()
    limiter = LoginLimiter(free=2, base=0.5, max_delay=10, clock=clock)
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    auth = make_auth(parse_auth("ana:right-password"), limiter, sleep=fake_sleep)

    async def attempts():
        client_address.set("192.0.2.7")
        results = [await auth("ana", "wrong") for _ in range(6)]
        results.append(await auth("ana", "right-password"))
        results.append(await auth("ana", "wrong"))
        return results

    results = asyncio.run(attempts())
    assert results == [False] * 6 + [True, False]
    # Two free failures, then 0.5, 1, 2, 4 s; the right password waits 8 s (the address had
    # 6 failures) and then clears the account; the address's count stays, so the next wrong one waits 8 s.
    assert slept == [0.5, 1, 2, 4, 8, 8]


def test_sessions_end_when_the_account_goes_or_its_password_changes(tmp_path):
    from types import SimpleNamespace

    from studio.accounts import hash_password, write_accounts_file
    from studio.web.login import Sessions

    path = tmp_path / "accounts.txt"
    write_accounts_file(path, {"ana": hash_password("one-password"), "ben": hash_password("two-password")})
    app = SimpleNamespace(tokens={"t-ana": "ana", "t-ben": "ben", "t-ana2": "ana"})
    sessions = Sessions(Accounts.from_file(path))
    for token in app.tokens:
        sessions.signed_in(app, token)
    assert sessions.user(app, "t-ana") == "ana" and sessions.user(app, "t-ben") == "ben"
    assert sessions.user(app, "no-such-token") is None

    write_accounts_file(path, {"ana": hash_password("new-password")})  # ben removed, ana re-keyed
    assert sessions.user(app, "t-ben") is None and "t-ben" not in app.tokens
    assert sessions.user(app, "t-ana") is None and "t-ana" not in app.tokens
    app.tokens["t-ana3"] = "ana"  # signed in again with the new password
    sessions.signed_in(app, "t-ana3")
    assert sessions.user(app, "t-ana3") == "ana"
    assert sessions.user(app, "t-ana2") is None  # the other old session ends too


def test_rest_password_guesses_share_the_limiter_and_are_refused_not_slept():
    """The A1111 dialect's basic auth goes through the same limiter as the sign-in page. A
    REST caller is refused (429 with the wait) instead of held, and once the wait has passed
    one attempt is checked again, so a guesser can't lock the owner out for the whole window."""
    from studio.accounts import SignInThrottled, password_check, use_accounts

    clock = FakeClock()
    limiter = LoginLimiter(free=2, base=1, max_delay=10, clock=clock)
    use_accounts(parse_auth("ana:right-password"))
    try:
        check = password_check(limiter)
        assert [check("ana", "wrong"), check("ana", "wrong")] == [False, False]
        with pytest.raises(SignInThrottled, match="try again in 1 second[.]") as refused:
            check("ana", "right-password")
        assert refused.value.wait == 1
        clock.now += 1.01
        assert check("ana", "wrong") is False  # checked once the wait passed; now 2 s
        clock.now += 1
        with pytest.raises(SignInThrottled):
            check("ana", "right-password")
        clock.now += 1.01
        assert check("ana", "right-password") is True
        assert limiter.delay("ana", None) == 0, "a success clears the account"
    finally:
        use_accounts(None)


def test_attempts_are_counted_when_they_start_so_a_burst_queues_behind_itself():
    """Thirty attempts that all start before any check ends get the places thirty sequential
    ones would: the first three at once, then 0.5, 1.5, 3.5, 7.5 s later; the rest are
    refused (not checked, not counted) with the wait. A REST caller, which never waits, gets
    only the three free checks."""
    clock = FakeClock()
    limiter = LoginLimiter(free=3, base=0.5, max_delay=10, clock=clock)
    turns = [limiter.reserve("ana", "192.0.2.7", may_wait=10) for _ in range(30)]
    checked = [t.wait for t in turns if not t.refused]
    assert checked == [0, 0, 0, 0.5, 1.5, 3.5, 7.5]
    assert all(t.wait > 10 for t in turns if t.refused)
    assert limiter.allowed_checks(7.5) == len(checked)

    rest = LoginLimiter(free=3, base=0.5, max_delay=10, clock=clock)
    assert [rest.reserve("ana", None).refused for _ in range(30)].count(False) == 3
    clock.now += 0.5
    assert not rest.reserve("ana", None).refused  # its turn came: one more is checked
    assert rest.reserve("ana", None).wait == 1

    # A right password takes its own attempt back from the address and clears the account.
    limiter.succeeded("ana", "192.0.2.7")
    assert limiter.delay("ana", None) == 0 and limiter.delay("bob", "192.0.2.7") == 4  # 7 counted, 1 given back

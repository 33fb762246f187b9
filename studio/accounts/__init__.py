"""Accounts: who may sign in, with passwords kept only as argon2 hashes.

Two sources, picked by `--auth`:

* inline `user:password,user2:password2` -- for a quick team session; the text is
  never tried as a file name unless such a file exists, so any length works;
* an accounts file, one `user:<argon2 hash>` a line, written by
  `python -m studio.accounts add|remove|passwd USER`. A plain-text password in the
  file is refused at start (with the command that fixes it): the file is the thing an
  attacker or a backup leaks, so it must never hold a usable password.

The file is re-read when it changes, so an account added or removed while the app runs
counts from the next sign-in. `verify_password(user, password)` is the one check every
entry point (the Gradio login, the REST APIs' basic auth) goes through; the Gradio login
also goes through `LoginLimiter`, which slows repeated failures per account and per
address instead of answering thirty wrong guesses at full speed.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from studio.accounts.limiter import LoginLimiter

log = logging.getLogger("studio.accounts")
__all__ = ["Accounts", "AccountsError", "LoginLimiter", "hash_password", "parse_auth", "password_check", "SignInThrottled", "verify_password"]

HASH_PREFIX = "$argon2"
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the user does not exist, so a wrong name costs as long as a wrong password."""
    return _hasher.hash("no such account")


class AccountsError(ValueError):
    """The accounts configuration is unusable; the message says what to fix."""


def hash_password(password: str) -> str:
    if not isinstance(password, str) or not password:
        raise AccountsError("The password must not be empty.")
    return _hasher.hash(password)


def check_user_name(user: str) -> str:
    if not isinstance(user, str) or not user.strip() or user != user.strip():
        raise AccountsError("A user name must be non-empty and must not start or end with spaces.")
    if any(c in user for c in ":,\n\r") or not user.isprintable():
        raise AccountsError(f"User names can't contain ':', ',' or control characters: {user!r}.")
    return user


@dataclass(frozen=True)
class _Entry:
    secret: str
    hashed: bool


class Accounts:
    """The accounts the studio accepts: from inline pairs or from a hashed accounts file."""

    def __init__(self, *, inline: dict[str, str] | None = None, file: Path | None = None) -> None:
        if (inline is None) == (file is None):
            raise ValueError("Give inline accounts or an accounts file, not both.")
        self.file = Path(file) if file is not None else None
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._entries: dict[str, _Entry] = {}
        if inline is not None:
            self._entries = {user: _Entry(password, False) for user, password in inline.items()}
        else:
            self._reload()

    @classmethod
    def from_file(cls, path: Path) -> "Accounts":
        return cls(file=path)

    def users(self) -> list[str]:
        return sorted(self._current())

    def verify(self, user: str, password: str) -> bool:
        """True when `user` exists and `password` is theirs. Takes as long for a missing user."""
        if not isinstance(user, str) or not isinstance(password, str):
            return False
        entry = self._current().get(user)
        if entry is None:
            _safe_verify(_dummy_hash(), password)
            return False
        if not entry.hashed:
            return hmac.compare_digest(entry.secret.encode("utf-8", "surrogatepass"),
                                       password.encode("utf-8", "surrogatepass"))
        return _safe_verify(entry.secret, password)

    def fingerprint(self, user: str) -> str | None:
        """Changes when the account's password does; None when the account is gone. Not a secret."""
        entry = self._current().get(user)
        if entry is None:
            return None
        return hashlib.sha256(entry.secret.encode("utf-8", "surrogatepass")).hexdigest()[:16]

    # -- the file --------------------------------------------------------------------

    def _current(self) -> dict[str, _Entry]:
        """The accounts as the file says now. A file that became unreadable or invalid while the
        app runs lets nobody in (fail closed) and says why in the log, until it is fixed."""
        try:
            self._reload()
        except AccountsError as exc:
            log.error("Nobody can sign in until the accounts file is fixed: %s", exc)
            self._stamp = None
            return {}
        return self._entries

    def _reload(self) -> None:
        if self.file is None:
            return
        with self._lock:
            try:
                st = os.stat(self.file)
            except OSError:
                raise AccountsError(f"The accounts file {self.file} can't be read.") from None
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)  # the CLI replaces the file: a new inode
            if stamp == self._stamp:
                return
            self._entries = {user: _Entry(h, True) for user, h in read_accounts_file(self.file).items()}
            self._stamp = stamp


def _safe_verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def read_accounts_file(path: Path) -> dict[str, str]:
    """`{user: argon2 hash}` from the file; a plain-text password is an error that says how to fix it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise AccountsError(f"The accounts file {path} can't be read as text.") from None
    accounts: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, secret = line.partition(":")
        if not sep or not user or not secret:
            raise AccountsError(f"Line {number} of the accounts file {path} is not user:hash.")
        if not secret.startswith(HASH_PREFIX):
            raise AccountsError(
                f"The accounts file {path} holds a plain-text password for {user!r} (line {number}). "
                f"Passwords are stored only as hashes: remove the line and run "
                f"`python -m studio.accounts add {user} --file {path}`."
            )
        accounts[user] = secret
    return accounts


def write_accounts_file(path: Path, accounts: dict[str, str]) -> None:
    """Replace the file whole (temp file + rename), readable by its owner only."""
    from studio.store.atomic import atomic_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{user}:{hashed}\n" for user, hashed in sorted(accounts.items()))
    with atomic_file(path) as tmp:
        tmp.write(("# studio accounts: user:argon2-hash, managed by python -m studio.accounts\n" + body).encode())
    os.chmod(path, 0o600)


def parse_auth(value: str | None, *, default_file: Path | None = None) -> Accounts | None:
    """The `--auth` value as Accounts: an existing file, else inline pairs; None when off.

    An inline value of any length works: it is looked up as a file only in a way that
    can't fail on a name too long for the file system."""
    if value is None or not value.strip():
        if default_file is not None and _is_file(default_file):
            return Accounts.from_file(default_file)
        return None
    candidate = Path(value).expanduser()
    if _is_file(candidate):
        return Accounts.from_file(candidate)
    if ":" not in value:
        raise AccountsError(f"--auth: {_short(value)} is neither user:password pairs nor an accounts file that exists.")
    pairs: dict[str, str] = {}
    for item in value.split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user or not password:
            raise AccountsError("--auth: each account must be user:password, separated by commas.")
        pairs[check_user_name(user)] = password
    return Accounts(inline=pairs)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # name too long, NUL byte ...
        return False


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


# -- the one check other code calls ------------------------------------------------------

_active: Accounts | None = None


def use_accounts(accounts: Accounts | None) -> None:
    """Called once by the composition root so `verify_password` checks the running app's accounts."""
    global _active
    _active = accounts


def account_exists(user: str) -> bool:
    """Is `user` an account now? (The file is re-read when it changes, also by another process.)
    True for everyone when accounts are off: then the one local user owns everything."""
    return _active is None or _active.fingerprint(user) is not None


def verify_password(user: str, password: str) -> bool:
    """Is this the account's password? False when accounts are off: nobody signs in then."""
    return _active is not None and _active.verify(user, password)


def check_exposure(accounts: Accounts | None, *, share: bool, public: bool, admins: list[str]) -> None:
    """Refuse a start that would expose the studio by accident, or name admins who can't sign in."""
    if share and accounts is None and not public:
        raise AccountsError(
            "--share opens a public link, and without accounts anyone who has it can spend the credits and see "
            "every image. Add accounts (--auth, or `python -m studio.accounts add USER`), or pass --public "
            "to say the studio is meant to be public."
        )
    if admins:
        names = set(accounts.users()) if accounts is not None else {"local"}
        missing = [a for a in admins if a not in names]
        if missing:
            raise AccountsError(f"--admins: no account named {', '.join(map(repr, missing))}."
                                + ("" if accounts is not None else " Without accounts the only user is 'local'."))


class SignInThrottled(Exception):
    """Too many wrong passwords for this account lately: the caller must wait `wait` seconds."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        seconds = max(1, round(wait))
        super().__init__(f"Too many failed sign-ins for this account; try again in {seconds} "
                         f"second{'' if seconds == 1 else 's'}.")


def password_check(limiter: LoginLimiter | None = None):
    """What the REST APIs take as their `password_check`: `verify_password` with accounts on,
    None when off. With a limiter (the one the Gradio sign-in uses), REST password guesses
    count against the same account, from the moment each starts: while its delay runs the
    check refuses with `SignInThrottled` instead of sleeping, so no server thread is held
    by a guesser."""
    if _active is None:
        return None
    if limiter is None:
        return verify_password

    def check(user: str, password: str) -> bool:
        # Counted as it starts (see limiter.py): of thirty sent at once, only those the
        # schedule lets through without a wait are checked; the rest get the wait.
        # Per account only: REST clients of one team often share an address (a proxy, CI), and
        # one script's typo must not lock every other program of that address out.
        address = None
        turn = limiter.reserve(user, address)
        if turn.refused:
            raise SignInThrottled(turn.wait)
        ok = verify_password(user, password)
        if ok:
            limiter.succeeded(user, address)
        else:
            limiter.checked_wrong(user, address)
            log.warning("Failed REST sign-in for %r (next attempt waits %.1fs)", user, limiter.retry_after(user, address))
        return ok

    return check

"""`python -m studio.accounts add|remove|passwd|list USER [--file PATH] [--data-dir DIR]`: manage the accounts file.

The password is read from a prompt (twice, not echoed) or, when stdin is not a terminal,
from its first line, so scripts can pipe it in. Changes are made under a file lock and
written whole, so two commands at once don't lose each other's edits; a running app
picks them up at its next request.

An account's API keys go with it: `remove` revokes them in the studio's database (its
cross-process transaction, safe while the app runs; the app also stops honouring them the
moment the account is gone from the file). `passwd` offers to revoke them (a prompt on a
terminal; `--revoke-keys` / `--keep-keys` in scripts, which keep them by default) and
says what it did.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from filelock import FileLock

from studio.accounts import AccountsError, check_user_name, hash_password, read_accounts_file, write_accounts_file


def _default_file() -> Path:
    from studio.settings import Settings

    return Settings().accounts_file()


def _read_password(user: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(f"Password for {user}: ")
        if getpass.getpass("Again: ") != first:
            raise AccountsError("The two passwords differ; nothing was changed.")
        password = first
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        raise AccountsError("Use a password of at least 8 characters; nothing was changed.")
    return password


def _data_dir(args, path: Path) -> Path:
    """The studio data directory whose API keys the command manages: --data-dir, else the
    accounts file's own folder when it holds a studio database, else the app's default."""
    if args.data_dir is not None:
        return args.data_dir
    if (path.parent / "studio.json").exists():
        return path.parent
    from studio.settings import Settings

    return Settings().data_dir


def _key_service(data_dir: Path):
    """The API keys of the studio at `data_dir`; None when there is no studio there yet."""
    if not (data_dir / "studio.json").exists():
        return None
    from studio.services.access.api_keys import ApiKeyService
    from studio.store import open_store

    return ApiKeyService(open_store(data_dir))


def _active_keys(keys, user: str) -> int:
    return 0 if keys is None else len(keys.list(user, include_revoked=False))


def _revoke_on_passwd(args, keys, user: str) -> bool:
    if args.revoke_keys or args.keep_keys or keys is None:
        return bool(args.revoke_keys)
    count = _active_keys(keys, user)
    if count == 0 or not sys.stdin.isatty():
        return False
    answer = input(f"{user} has {count} active API key{'s' if count != 1 else ''}, made with the old password's "
                   "account. Revoke them too? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _plural(n: int) -> str:
    return f"{n} API key{'s' if n != 1 else ''}"


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.accounts", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["add", "remove", "passwd", "list"])
    parser.add_argument("user", nargs="?")
    parser.add_argument("--file", type=Path, default=None,
                        help="the accounts file (default: <data dir>/accounts.txt, as the app uses)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="the studio data directory whose API keys go with the account (default: the accounts "
                             "file's folder when it holds the studio's database, else the app's)")
    keys_choice = parser.add_mutually_exclusive_group()
    keys_choice.add_argument("--revoke-keys", action="store_true", help="passwd: also revoke the account's API keys")
    keys_choice.add_argument("--keep-keys", action="store_true", help="passwd: keep the account's API keys (the default "
                                                                       "when not asked on a terminal)")
    args = parser.parse_args(argv)
    path: Path = args.file or _default_file()
    try:
        if args.command == "list":
            for user in sorted(read_accounts_file(path)) if path.exists() else []:
                print(user)
            return 0
        if not args.user:
            raise AccountsError(f"Name the account: python -m studio.accounts {args.command} USER")
        user = check_user_name(args.user)
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = _key_service(_data_dir(args, path)) if args.command in ("remove", "passwd") else None
        revoke = False
        with FileLock(str(path) + ".lock"):
            accounts = read_accounts_file(path) if path.exists() else {}
            if args.command == "add":
                if user in accounts:
                    raise AccountsError(f"{user!r} already exists; use passwd to change the password.")
                accounts[user] = hash_password(_read_password(user))
            elif args.command == "passwd":
                if user not in accounts:
                    raise AccountsError(f"There is no account {user!r} in {path}.")
                accounts[user] = hash_password(_read_password(user))
                revoke = _revoke_on_passwd(args, keys, user)
            else:
                if accounts.pop(user, None) is None:
                    raise AccountsError(f"There is no account {user!r} in {path}.")
                revoke = True
            write_accounts_file(path, accounts)
            # Inside the lock, after the file: the app already refuses the keys of an account
            # that is gone; this makes it permanent (a new account of the same name starts with none).
            revoked = keys.revoke_all(user, by=f"accounts cli: {args.command}") if revoke and keys is not None else 0
    except AccountsError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    done = {"add": "Added", "passwd": "Changed the password of", "remove": "Removed"}[args.command]
    print(done, user, "in", path)
    if args.command == "remove":
        print(f"Revoked {_plural(revoked)} of {user}." if keys is not None
              else f"No studio database next to it, so no API keys to revoke; the app refuses {user}'s keys anyway.")
    elif args.command == "passwd":
        if revoke:
            print(f"Revoked {_plural(revoked)} of {user}.")
        else:
            kept = _active_keys(keys, user)
            print(f"{user} has no API keys." if kept == 0 else
                  f"Kept {_plural(kept)} of {user}: they still work. Revoke them with --revoke-keys, "
                  "in the API keys panel or in the Admin tab.")
    return 0

if __name__ == "__main__":
    sys.exit(run())

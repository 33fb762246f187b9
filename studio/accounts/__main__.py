"""`python -m studio.accounts add|remove|passwd|list USER [--file PATH]`: manage the accounts file.

The password is read from a prompt (twice, not echoed) or, when stdin is not a terminal,
from its first line, so scripts can pipe it in. Changes are made under a file lock and
written whole, so two commands at once don't lose each other's edits; a running app
picks them up at the next sign-in.
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


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.accounts", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["add", "remove", "passwd", "list"])
    parser.add_argument("user", nargs="?")
    parser.add_argument("--file", type=Path, default=None,
                        help="the accounts file (default: <data dir>/accounts.txt, as the app uses)")
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
            else:
                if accounts.pop(user, None) is None:
                    raise AccountsError(f"There is no account {user!r} in {path}.")
            write_accounts_file(path, accounts)
    except AccountsError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    print({"add": "Added", "passwd": "Changed the password of", "remove": "Removed"}[args.command], user, "in", path)
    return 0


if __name__ == "__main__":
    sys.exit(run())

"""`python -m studio.cli.credits grant USER N --reason TEXT [--data-dir DIR] [--by NAME]`.

Grants (N > 0) or takes (N < 0) credits from the command line, for the person who runs
the server. It goes through the same CreditsService and store transaction as the app,
which are safe across processes, so it can run while the app is serving; the ledger
entry names who did it (`--by`, default `cli:<login name>`). `balance USER` and
`ledger USER` show where an account stands.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path


def run(argv: list[str] | None = None) -> int:
    from studio.services.billing.admin import AdminService
    from studio.services.billing.ledger import CreditsService
    from studio.services.generation.requests import InvalidRequest
    from studio.settings import Settings
    from studio.store import open_store

    parser = argparse.ArgumentParser(prog="python -m studio.cli.credits", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["grant", "balance", "ledger"])
    parser.add_argument("user")
    parser.add_argument("amount", nargs="?", type=int, help="credits to grant (negative: take)")
    parser.add_argument("--reason", default=None, help="why (kept in the ledger)")
    parser.add_argument("--by", default=None, help="who grants (default: cli:<your login name>)")
    parser.add_argument("--data-dir", type=Path, default=None, help="the app's data directory")
    parser.add_argument("--starting-credits", type=int, default=None,
                        help="what a new account starts with (default: as the app: STUDIO_STARTING_CREDITS or 100)")
    parser.add_argument("--new-user", action="store_true",
                        help="allow an account that has never used the studio and is not in the accounts file")
    args = parser.parse_args(argv)

    defaults = Settings()
    data_dir = args.data_dir or defaults.data_dir
    if not (data_dir / "studio.json").exists() and not data_dir.is_dir():
        print(f"Error: there is no studio data directory at {data_dir}; pass --data-dir.", file=sys.stderr)
        return 2
    starting = defaults.starting_credits if args.starting_credits is None else args.starting_credits
    credits = CreditsService(open_store(data_dir), starting)
    try:
        if args.command == "balance":
            print(credits.balance(args.user))
            return 0
        if args.command == "ledger":
            print(json.dumps(credits.ledger(args.user), indent=2, ensure_ascii=False))
            return 0
        if args.amount is None or args.reason is None:
            print("Error: grant needs an amount and --reason, e.g. grant ana 50 --reason 'monthly top-up'",
                  file=sys.stderr)
            return 2
        admin = AdminService(credits.store, credits, known_users=None if args.new_user else _accounts_in(data_dir))
        entry = admin.grant_as(args.by or f"cli:{getpass.getuser()}", args.user, args.amount, args.reason)
    except (InvalidRequest, ValueError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    verb = "Granted" if entry["delta"] > 0 else "Took"
    print(f"{verb} {abs(entry['delta'])} credits {'to' if entry['delta'] > 0 else 'from'} {args.user}; "
          f"balance now {entry['balance_after']}.")
    return 0


def _accounts_in(data_dir: Path):
    """The names a grant may go to without --new-user: the accounts file's (if any); AdminService
    adds everyone who already has a ledger. A typo then fails instead of opening a new account."""
    from studio.accounts import read_accounts_file

    path = data_dir / "accounts.txt"
    return lambda: read_accounts_file(path).keys() if path.is_file() else ()


if __name__ == "__main__":
    sys.exit(run())

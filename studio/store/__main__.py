"""`python -m studio.store backup DEST` and `python -m studio.store check` (see maintenance.py).

The data folder is the app's (`--data-dir`, or STUDIO_DATA_DIR, or the default), so the
commands find the same database the app uses without repeating the setting.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.store", description="Back up or check the studio's data.")
    parser.add_argument("--data-dir", type=Path, default=None, help="the app's data folder (default: as the app)")
    commands = parser.add_subparsers(dest="command", required=True)
    backup_cmd = commands.add_parser("backup", help="consistent copy of the database and images, safe while the app runs")
    backup_cmd.add_argument("dest", type=Path, help="a new or empty folder")
    commands.add_parser("check", help="verify the database and the files it points at")
    args = parser.parse_args(argv)

    from studio.store import StoreFileCorrupt
    from studio.store.maintenance import backup, check

    data_dir = args.data_dir
    if data_dir is None:
        from studio.settings import Settings

        data_dir = Settings(_cli_parse_args=[]).data_dir
    if not (data_dir / "studio.json").exists() and not (data_dir / "studio.journal").exists():
        print(f"No studio database in {data_dir}; pass the app's data folder with --data-dir.", file=sys.stderr)
        return 2
    try:
        report = backup(data_dir, args.dest) if args.command == "backup" else check(data_dir)
    except (StoreFileCorrupt, ValueError, OSError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for line in report.notes:
        print(line)
    for line in report.problems:
        print("PROBLEM:", line)
    if report.problems:
        print(f"{len(report.problems)} problems found.")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

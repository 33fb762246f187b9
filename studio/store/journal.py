"""The journal file: one checksummed line per committed transaction, appended and fsynced.

A line is `<length> <crc32> <json>\\n`. The first line is the header: which database
(`db`, a random id made when the database was created) and which snapshot generation
(`gen`) the journal continues. Compaction writes snapshot `gen + 1` first and then a fresh
journal, so a journal whose `gen` is older than the snapshot's is already folded in and is
simply replaced; one from another database or a newer generation is refused.

Reading tells a torn tail (a writer killed mid-append: the last line is incomplete) from
damage (a complete line whose checksum or length is wrong, or an incomplete line with
more after it): the first is cut off, the second is reported and nothing is written.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from studio.store.indexes import POS, Table


class StoreFileCorrupt(ValueError):
    """A database or journal file exists but can't be trusted; it is never overwritten."""


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # an int beyond 64 bits: the standard library still writes it
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)  # raises JSONDecodeError with a position if it really is broken


def encode(payload: Any) -> bytes:
    body = dumps(payload)
    return b"%d %08x " % (len(body), zlib.crc32(body)) + body + b"\n"


@dataclass
class Scan:
    """What a read of the journal from some offset found."""

    records: list[Any] = field(default_factory=list)
    end: int = 0  # offset just after the last good record
    torn: bool = False  # an incomplete last record follows `end` (cut it off under the lock)


def scan(path: Path, data: bytes, start: int) -> Scan:
    """Parse records from `data` (the file's bytes from `start`); raises StoreFileCorrupt."""
    result = Scan(end=start)
    pos = 0
    while pos < len(data):
        newline = data.find(b"\n", pos)
        if newline < 0:
            result.torn = True  # the writer died before finishing its line
            return result
        line = data[pos:newline]
        body = _check_line(path, line, start + pos, last=newline == len(data) - 1)
        if body is None:
            result.torn = True
            return result
        try:
            result.records.append(loads(body))
        except ValueError:
            raise _damaged(path, start + pos, "its content is not valid JSON") from None
        pos = newline + 1
        result.end = start + pos
    return result


def _check_line(path: Path, line: bytes, offset: int, *, last: bool) -> bytes | None:
    parts = line.split(b" ", 2)
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[1]) != 8:
        if last and not line.strip(b"\0 "):
            return None  # zeros a power cut left after the last record
        raise _damaged(path, offset, "its header is unreadable")
    length, crc, body = int(parts[0]), parts[1], parts[2]
    if len(body) < length and last:
        return None
    if len(body) != length:
        raise _damaged(path, offset, "its length is wrong")
    try:
        expected = int(crc, 16)
    except ValueError:
        raise _damaged(path, offset, "its checksum is unreadable") from None
    if zlib.crc32(body) != expected:
        raise _damaged(path, offset, "its checksum does not match")
    return body


def _damaged(path: Path, offset: int, why: str) -> StoreFileCorrupt:
    return StoreFileCorrupt(
        f"The database journal {path} is damaged at byte {offset} ({why}). Nothing was changed. "
        f"Run `python -m studio.store check` for details, then restore the data folder from a backup; "
        f"or move {path.name} away to open the database as of its last snapshot (changes after it are lost)."
    )


def apply(tables: dict[str, Table], record: Any) -> int:
    """Replay one committed transaction onto `tables`; returns its next free position.
    Raises KeyError/TypeError/ValueError for a record this version can't read."""
    for op, table, payload in record["ops"]:
        rows = tables.setdefault(table, Table())
        if op == "put":
            doc = dict(payload)
            pos = doc.pop(POS)
            if rows.pos_of.get(doc["id"], pos) != pos:  # deleted and inserted again in one transaction
                rows.remove(doc["id"])
            rows.put(doc, pos)
        elif op == "del":
            rows.remove(payload)
        else:
            raise ValueError(f"unknown operation {op!r}")
    return int(record["next"])


def header(db_id: str, gen: int) -> dict:
    return {"journal": 1, "db": db_id, "gen": gen}


def check_header(path: Path, record: Any, db_id: str, gen: int) -> str:
    """'current' (replay it), 'stale' (already in the snapshot), or raises StoreFileCorrupt."""
    if not isinstance(record, dict) or record.get("journal") != 1:
        raise StoreFileCorrupt(
            f"{path} is not a studio journal. Move it away (the database then opens as of its last snapshot)."
        )
    if record.get("db") != db_id:
        raise StoreFileCorrupt(
            f"The journal {path} belongs to another database than {path.with_suffix('.json').name}. "
            f"Put back the journal that came with this database, or move {path.name} away "
            "to open the database as of its last snapshot."
        )
    their_gen = record.get("gen")
    if not isinstance(their_gen, int) or their_gen > gen:
        raise StoreFileCorrupt(
            f"The journal {path} is newer than the database snapshot next to it (was an older snapshot "
            "restored?). Restore the snapshot and journal together from one backup."
        )
    return "current" if their_gen == gen else "stale"

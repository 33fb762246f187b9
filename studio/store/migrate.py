"""From the one-file TinyDB database of earlier versions to the journal format.

The old `studio.json` is plain TinyDB JSON with string ids, rewritten whole on every
change. Opening it the first time keeps a byte-for-byte copy next to it
(`studio.before-journal.json`), numbers its documents in file order (which was insertion
order) and renames the account field to `owner` in the tables that called it `user`.
"""

from __future__ import annotations

from typing import Any

from studio.store.indexes import POS, Table
from studio.store.records import JOBS, LEDGER, SAVED_PROMPTS

META_TABLE = "_store"
RENAMED_OWNER = (LEDGER, JOBS, SAVED_PROMPTS)  # tables whose account field was `user`


def migrate_documents(old: dict[str, Any]) -> tuple[dict[str, Table], int]:
    """The old file's tables as indexed tables, and the next free position."""
    tables: dict[str, Table] = {}
    pos = 1
    for name, docs in old.items():
        if name == META_TABLE or not isinstance(docs, dict):
            continue
        rows = tables[name] = Table()
        for key, doc in docs.items():
            if not isinstance(doc, dict):
                continue
            doc = {k: v for k, v in doc.items() if k != POS}
            doc.setdefault("id", str(key))
            if name in RENAMED_OWNER and "user" in doc and "owner" not in doc:
                doc["owner"] = doc.pop("user")
            rows.put(doc, pos)
            pos += 1
    return tables, pos

"""One pydantic model per table: the shape of every record the studio keeps.

Every service write goes through `insert_record` and `update_record` here, which validate the record
(for an update: the record as it will be after the change) against its table's model
before the store sees it, so a misspelt or mistyped field fails where it is written, not
when a page is shown months later. `python -m studio.store check` validates a whole
database against the same models, and migration renames old fields to the names here.
Every table names its account `owner`. Extra fields are allowed: a record may carry more
than the model knows (generation details grow with the engine), never less.

The store itself stays a plain document store (its own tests use free-form tables).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict

ASSETS = "assets"
JOBS = "jobs"
LEDGER = "credit_ledger"
SHOTS = "shots"
PROJECTS = "projects"
REFERENCE_LISTS = "reference_lists"
SAVED_PROMPTS = "saved_prompts"
API_KEYS = "api_keys"
CREDIT_LIMITS = "credit_limits"
API_OPTIONS = "api_options"


def utc_now() -> str:
    """The one timestamp format: UTC ISO 8601 with microseconds, so records made in the
    same second still sort in the order they were made."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class Record(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | None = None  # None until the store assigns one on insert
    owner: str

    def doc(self) -> dict:
        """The record as the store keeps it (plain JSON values; no id until it has one)."""
        doc = self.model_dump(mode="json")
        if doc.get("id") is None:
            doc.pop("id", None)
        return doc


class LoraUse(BaseModel):
    """One LoRA an image was made with: its name, weight and A1111 short hash."""

    name: str
    weight: float
    hash: str = ""


class EmbeddingUse(BaseModel):
    """One textual-inversion embedding an image's prompt called: its name and A1111 short hash."""

    name: str
    hash: str


class AssetRecord(Record):
    kind: Literal["generated", "upload", "edit", "repaint", "extend", "enlarge", "hires"]  # the last four: refine.py
    file: str
    created: str
    project_id: str | None = None
    shot_id: str | None = None
    job_id: str | None = None
    parent_id: str | None = None
    width: int | None = None
    height: int | None = None
    loras: list[LoraUse] | None = None  # absent on images made without LoRAs
    embeddings: list[EmbeddingUse] | None = None  # absent when the prompts called none


class JobRecord(Record):
    status: Literal["running", "done", "failed", "cancelled"]
    model_id: str
    count: int
    cost: int
    created: str


class LedgerEntry(Record):
    delta: int
    kind: Literal["grant", "take", "charge", "refund"]  # grant/take: the start or an administrator
    reason: str
    job_id: str | None = None
    created: str
    balance_after: int
    admin: str | None = None  # who granted or took (kinds grant/take by an administrator)


class ShotRecord(Record):
    project_id: str
    type: Literal["character", "scene", "prop"]
    name: str
    description: str = ""
    applied_asset_id: str | None = None
    history: list[str] = []
    order: int = 0


class ProjectRecord(Record):
    name: str
    created: str


class ReferenceList(Record):
    project_id: str
    asset_ids: list[str]


class SavedPrompt(Record):
    name: str
    prompt: str
    negative_prompt: str = ""
    model_id: str
    style_id: str | None = None
    aspect: str
    count: int
    enhance: bool
    created: str


class ApiKeyRecord(Record):
    name: str
    digest: str
    hint: str
    created: str
    revoked: str | None = None
    revoked_by: str | None = None  # who revoked it when not its owner: an administrator, or the accounts command


class CreditLimit(Record):
    daily_limit: int
    set_by: str
    created: str


class ApiOptions(Record):
    """An account's A1111 `/options` (studio/api/a1111_options.py): the checkpoint, every
    other option it wrote (`values`, read back as written), and the keys that change
    nothing, still to be reported in a note on its next job (`pending`)."""

    sd_model_checkpoint: str | None = None
    values: dict = {}
    pending: list[str] = []


MODELS: dict[str, type[Record]] = {
    ASSETS: AssetRecord,
    JOBS: JobRecord,
    LEDGER: LedgerEntry,
    SHOTS: ShotRecord,
    PROJECTS: ProjectRecord,
    REFERENCE_LISTS: ReferenceList,
    SAVED_PROMPTS: SavedPrompt,
    API_KEYS: ApiKeyRecord,
    CREDIT_LIMITS: CreditLimit,
    API_OPTIONS: ApiOptions,
}


def checked(table: str, doc: dict) -> dict:
    """`doc` validated against its table's model; returned as given (no defaults are added,
    so a record keeps only the fields its writer meant, as the indexes expect)."""
    MODELS[table].model_validate(doc)
    return doc


def insert_record(tx, table: str, fields: dict) -> dict:
    """Insert a new record of `table` (a Store or an open transaction) through its model."""
    return tx.insert(table, checked(table, fields))


def update_record(tx, table: str, doc_id: str, fields: dict) -> dict:
    """Change a record through its model: the record as it will be is validated first.
    A record that is not there is left to the store to refuse (NotFound)."""
    old = tx.get(table, doc_id)
    if old is not None:
        MODELS[table].model_validate({**old, **fields})
    return tx.update(table, doc_id, fields)

"""One pydantic model per table: the shape of every record the studio keeps.

Services build their records through these models (so a misspelt or mistyped field fails
where it is written, not when a page is shown months later), `python -m studio.store
check` validates a whole database against them, and migration renames old fields to the
names here. Every table names its account `owner`. Extra fields are allowed: a record may
carry more than the model knows (generation details grow with the engine), never less.
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


def utc_now() -> str:
    """The one timestamp format: UTC ISO 8601 with microseconds, so records made in the
    same second still sort in the order they were made."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class Record(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    owner: str

    def doc(self) -> dict:
        """The record as the store keeps it (plain JSON values)."""
        return self.model_dump(mode="json")


class AssetRecord(Record):
    kind: Literal["generated", "upload", "edit"]
    file: str
    created: str
    project_id: str | None = None
    shot_id: str | None = None
    job_id: str | None = None
    parent_id: str | None = None
    width: int | None = None
    height: int | None = None


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


MODELS: dict[str, type[Record]] = {
    ASSETS: AssetRecord,
    JOBS: JobRecord,
    LEDGER: LedgerEntry,
    SHOTS: ShotRecord,
    PROJECTS: ProjectRecord,
    REFERENCE_LISTS: ReferenceList,
    SAVED_PROMPTS: SavedPrompt,
}

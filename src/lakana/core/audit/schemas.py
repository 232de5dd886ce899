"""What the audit API reads and returns."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


@dataclass(frozen=True)
class EntryFilter:
    """Filters of the ledger list; every one is optional and they combine with AND."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    institution_id: int | None = None
    since: dt.date | None = None
    until: dt.date | None = None


class AuditEntryOut(BaseModel):
    """One ledger entry."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    ts: str
    actor_id: int | None
    actor: str
    via: str
    action: str
    object_type: str
    object_id: str | None
    object_repr: str
    institution_id: int | None
    source_ip: str | None
    before_digest: str | None
    after_digest: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    @field_validator("details", mode="before")
    @classmethod
    def _parse_details(cls, value: Any) -> Any:
        """Details are stored as canonical JSON text."""
        return json.loads(value) if isinstance(value, str) else value


class ProblemOut(BaseModel):
    """The first problem a verification found."""

    kind: str
    seq: int
    reason: str


class VerifyReportOut(BaseModel):
    """The outcome of a verification of the whole ledger."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    checkpoints: int
    problem: ProblemOut | None
    seconds: float

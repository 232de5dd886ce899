"""Pydantic schemas of detection: what the API, forms and CLI accept, and what the service
returns to the views.

Inputs forbid unknown fields; blank form values become ``None``. A triage reason is at most
2 000 characters and required for ``true_positive`` and ``false_positive`` (the service
checks it).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lakana.core.i18n import N_
from lakana.registry.schemas import lakana_error

REASON_MAX = 2_000
#: Most lines (or records) one ingest request may carry.
MAX_LINES = 10_000
#: Most bytes one ingest request may carry.
MAX_BYTES = 10 * 1024 * 1024


class AlertStatus(StrEnum):
    """Where an alert stands."""

    OPEN = "open"
    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    SUPPRESSED = "suppressed"
    ESCALATED = "escalated"


class TriageStatus(StrEnum):
    """The statuses a person may set (``suppressed`` and ``escalated`` come from
    suppression rules and CSIRT cases)."""

    OPEN = "open"
    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"


class Level(StrEnum):
    """Sigma rule levels, least to worst."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


#: Worst first: the order of alert lists.
LEVEL_RANK: dict[str, int] = {"critical": 0, "high": 1, "medium": 2, "low": 3,
                              "informational": 4}

#: English labels (message ids) of the choices.
LABELS: dict[str, str] = {
    "open": N_("Open"), "true_positive": N_("True positive"),
    "false_positive": N_("False positive"), "suppressed": N_("Suppressed"),
    "escalated": N_("Escalated to the CSIRT"),
    "informational": N_("Informational"), "low": N_("Low"), "medium": N_("Medium"),
    "high": N_("High"), "critical": N_("Critical"),
}


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IngestResult(BaseModel):
    """What one ingest request did: lines or records accepted, events stored, alerts raised
    or added to."""

    accepted: int
    stored: int
    alerts: int
    #: Ids of the alerts raised or added to (suppressed ones left out), for escalation.
    alert_ids: list[int] = Field(default_factory=list)


class AlertQuery(BaseModel):
    """Filters and page of an alert list. ``q`` searches rule titles, rule ids and subjects;
    suppressed alerts are left out unless ``status`` asks for them."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    institution_id: int | None = None
    status: AlertStatus | None = None
    level: Level | None = None
    q: str | None = Field(default=None, max_length=100)
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0)

    @field_validator("*", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return _blank_is_none(value)


class AlertTriage(_Strict):
    """A person's decision on an alert: true or false positive (with a reason), or reopen.
    ``version`` is the one read (409 when stale)."""

    status: TriageStatus
    reason: str = Field(default="", max_length=REASON_MAX)
    version: int | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _optional_blank(cls, value: object) -> object:
        return _blank_is_none(value)


class SuppressionIn(_Strict):
    """Suppress a rule's alerts (for one subject, or every subject when blank) for ``days``
    days. ``institution_id`` limits it to one institution; the centre may leave it blank for
    every institution, an institution role's suppression is always its own."""

    rule_id: str = Field(min_length=1, max_length=80)
    subject: str = Field(default="", max_length=300)
    reason: str = Field(min_length=1, max_length=REASON_MAX)
    days: int = Field(default=30, ge=1, le=365)
    institution_id: int | None = None

    @field_validator("institution_id", mode="before")
    @classmethod
    def _optional_blank(cls, value: object) -> object:
        return _blank_is_none(value)

    @field_validator("subject", mode="before")
    @classmethod
    def _subject(cls, value: object) -> object:
        return "" if value is None else value


class Outcome(StrEnum):
    """ECS ``event.outcome``."""

    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


class EventQuery(BaseModel):
    """Search of stored events, newest first: ``q`` in the message, ``dataset``, ``host``
    (``host.name``), ``user`` (``user.name``), ``source_ip`` and ``outcome`` exact; the event's
    time (``occurred_at``) from ``start`` to ``end`` (an instant without a zone is UTC)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    q: str | None = Field(default=None, max_length=200)
    dataset: str | None = Field(default=None, max_length=60)
    host: str | None = Field(default=None, max_length=255)
    user: str | None = Field(default=None, max_length=255)
    source_ip: str | None = Field(default=None, max_length=45)
    outcome: Outcome | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    institution_id: int | None = None
    limit: int = Field(default=100, ge=1, le=500)

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> EventQuery:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise lakana_error(N_("The start of the period must come before its end."))
        return self

    @field_validator("*", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return _blank_is_none(value)


class AlertOut(BaseModel):
    """An alert as lists, pages and the API show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_id: int
    system_id: int | None
    rule_id: str
    rule_title: str
    level: str
    tags: list[str]
    attribution: dict[str, Any]
    subject: str
    status: str
    status_reason: str
    event_count: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    case_id: int | None
    case_reference: str | None
    version: int


class EventOut(BaseModel):
    """A stored event as pages and the API show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_id: int
    system_id: int | None
    received_at: dt.datetime
    occurred_at: dt.datetime
    dataset: str
    message: str
    fields: dict[str, Any]
    channel: str
    source_ip: str | None
    alert_ids: list[int]


class SuppressionOut(BaseModel):
    """A suppression rule as lists and the API show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    rule_id: str
    institution_id: int | None
    subject: str
    reason: str
    expires_at: dt.datetime
    created_by: str
    created_at: dt.datetime


class UnsupportedOut(BaseModel):
    """A rule that could not be loaded, and why."""

    path: str
    reason: str
    category: str
    rule_id: str | None = None
    title: str | None = None


class PackSummary(BaseModel):
    """The loaded rule pack: counts, unsupported rules by reason category, and the rules
    themselves (id, title, level, source)."""

    loaded: int
    unsupported: int
    unsupported_by_reason: dict[str, int]
    rules: list[dict[str, Any]] = Field(default_factory=list)
    unsupported_rules: list[UnsupportedOut] = Field(default_factory=list)

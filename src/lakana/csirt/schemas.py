"""Pydantic schemas of incident cases: what the API and forms accept, and what they return.

Limits: a title is 1–200 characters, a description or note 20 000, a comment 5 000, a task
title 200; people affected at most a billion, institutions affected 1–1 000. TLP labels are
accepted in any usual spelling (``TLP:AMBER+STRICT``, ``amber+strict``) and checked by the
service through :func:`lakana.csirt.tlp.parse`.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lakana.core.i18n import N_
from lakana.csirt.severity import ServiceImpact, Severity

TITLE_MAX = 200
DESCRIPTION_MAX = 20_000
COMMENT_MAX = 5_000


class Status(StrEnum):
    """Where a case stands in its lifecycle."""

    NEW = "new"
    TRIAGE = "triage"
    INVESTIGATION = "investigation"
    CONTAINMENT = "containment"
    ERADICATION = "eradication"
    RECOVERY = "recovery"
    CLOSED = "closed"


class ClosureReason(StrEnum):
    """Why a case was closed."""

    RESOLVED = "resolved"
    FALSE_POSITIVE = "false_positive"
    DUPLICATE = "duplicate"
    OUT_OF_SCOPE = "out_of_scope"
    NO_ACTION = "no_action"


class Source(StrEnum):
    """Where a case came from."""

    INSTITUTION = "institution"
    PUBLIC = "public"
    ANALYST = "analyst"
    DETECTION = "detection"
    #: Imported from a partner (STIX bundle, MISP event).
    PARTNER = "partner"


class TaskStatus(StrEnum):
    """Where a task stands."""

    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


#: English labels (message ids) of the choices.
LABELS: dict[str, str] = {
    "new": N_("New"), "triage": N_("Triage"), "investigation": N_("Investigation"),
    "containment": N_("Containment"), "eradication": N_("Eradication"),
    "recovery": N_("Recovery"), "closed": N_("Closed"),
    "resolved": N_("Resolved"), "false_positive": N_("False positive"),
    "duplicate": N_("Duplicate"), "out_of_scope": N_("Out of scope"),
    "no_action": N_("No action needed"),
    "institution": N_("Institution"), "public": N_("Public"), "analyst": N_("Analyst"),
    "detection": N_("Detection"),
    "partner": N_("Partner"),
    "open": N_("Open"), "done": N_("Done"), "cancelled": N_("Cancelled"),
}


def label(value: object) -> str:
    """The English label (a message id) of a choice."""
    return LABELS.get(str(value), str(value))


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Facts(_Strict):
    """The facts the severity is computed from (each optional for partial changes)."""

    service_impact: ServiceImpact | None = None
    people_affected: int | None = Field(default=None, ge=0, le=1_000_000_000)
    personal_data: bool | None = None
    biometric_data: bool | None = None
    institutions_affected: int | None = Field(default=None, ge=1, le=1000)


class CaseReport(_Facts):
    """A new incident, reported by an institution or opened by an analyst."""

    institution_id: int | None = None
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    taxonomy_class: str | None = Field(default=None, max_length=60)
    taxonomy_type: str | None = Field(default=None, max_length=60)
    tlp: str | None = Field(default=None, max_length=30)
    system_id: int | None = None
    occurred_at: dt.datetime | None = None
    detected_at: dt.datetime | None = None
    template: str | None = Field(default=None, max_length=30)

    @field_validator("institution_id", "system_id", "taxonomy_class", "taxonomy_type", "tlp",
                     "occurred_at", "detected_at", "template", "people_affected",
                     mode="before")
    @classmethod
    def _optional_blank(cls, value: object) -> object:
        return _blank_is_none(value)


class CaseTriage(_Facts):
    """An analyst's triage: classification, facts, TLP, institution, template. Fields left
    out stay as they are; ``version`` is the one read (409 when stale)."""

    version: int | None = None
    taxonomy_class: str | None = Field(default=None, max_length=60)
    taxonomy_type: str | None = Field(default=None, max_length=60)
    tlp: str | None = Field(default=None, max_length=30)
    institution_id: int | None = None
    system_id: int | None = None
    template: str | None = Field(default=None, max_length=30)
    dpa_notice_required: bool | None = None

    @field_validator("institution_id", "system_id", "taxonomy_class", "taxonomy_type", "tlp",
                     "template", "people_affected", mode="before")
    @classmethod
    def _optional_blank(cls, value: object) -> object:
        return _blank_is_none(value)


class CaseTransition(_Strict):
    """A move in the lifecycle; closing needs ``reason`` (and ``duplicate_of`` for a
    duplicate), reopening a ``comment``."""

    version: int | None = None
    to: Status
    reason: ClosureReason | None = None
    comment: str = Field(default="", max_length=COMMENT_MAX)
    duplicate_of: int | None = None

    @field_validator("reason", "duplicate_of", mode="before")
    @classmethod
    def _optional_blank(cls, value: object) -> object:
        return _blank_is_none(value)


class CaseAssign(_Strict):
    """Assign a case to an analyst (None to unassign), with the version read."""

    version: int | None = None
    assignee_id: int | None = None

    @field_validator("assignee_id", mode="before")
    @classmethod
    def _optional_blank(cls, value: object) -> object:
        return _blank_is_none(value)


class TaskCreate(_Strict):
    """A new task of a case."""

    title: str = Field(min_length=1, max_length=TITLE_MAX)
    description: str = Field(default="", max_length=COMMENT_MAX)
    owner_id: int | None = None
    due_date: dt.date | None = None

    @field_validator("owner_id", "due_date", mode="before")
    @classmethod
    def _optional_blank(cls, value: object) -> object:
        return _blank_is_none(value)


class TaskUpdate(_Strict):
    """A change to a task (fields left out stay), with the version read."""

    version: int | None = None
    title: str | None = Field(default=None, min_length=1, max_length=TITLE_MAX)
    description: str | None = Field(default=None, max_length=COMMENT_MAX)
    owner_id: int | None = None
    due_date: dt.date | None = None
    status: TaskStatus | None = None


class NoteCreate(_Strict):
    """A new note, with its own TLP (the case's label when left out)."""

    body: str = Field(min_length=1, max_length=DESCRIPTION_MAX)
    tlp: str | None = Field(default=None, max_length=30)


class NoteUpdate(_Strict):
    """A change to one's own note, with the version read."""

    version: int | None = None
    body: str | None = Field(default=None, min_length=1, max_length=DESCRIPTION_MAX)
    tlp: str | None = Field(default=None, max_length=30)


class EventCreate(_Strict):
    """A manual entry of the incident's timeline: what happened, and when."""

    at: dt.datetime
    message: str = Field(min_length=1, max_length=COMMENT_MAX)
    tlp: str | None = Field(default=None, max_length=30)


class CaseQuery(BaseModel):
    """Filters and page of a case list. ``assignee`` is ``me``, ``none`` or a user id;
    ``q`` searches titles and references."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    status: Status | None = None
    open: bool | None = None
    severity: Severity | None = None
    taxonomy_class: str | None = Field(default=None, max_length=60)
    institution_id: int | None = None
    assignee: str | None = Field(default=None, max_length=20, pattern=r"^(me|none|\d+)$")
    source: Source | None = None
    q: str | None = Field(default=None, max_length=100)
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)

    @field_validator("*", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return _blank_is_none(value)


class ReasonOut(BaseModel):
    """One reason of the severity, in the caller's language."""

    level: Severity
    text: str


class CaseOut(BaseModel):
    """A case as lists and the API show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    reference: str | None
    title: str
    description: str
    source: Source
    institution_id: int | None
    institution_acronym: str = ""
    system_id: int | None
    status: Status
    closure_reason: ClosureReason | None
    closure_comment: str
    duplicate_of_id: int | None
    taxonomy_class: str | None
    taxonomy_type: str | None
    severity: Severity
    severity_reasons: list[ReasonOut] = []
    service_impact: ServiceImpact
    people_affected: int | None
    personal_data: bool
    biometric_data: bool
    institutions_affected: int
    tlp: str
    template: str | None
    assignee_id: int | None
    reporter_user_id: int | None
    occurred_at: dt.datetime | None
    detected_at: dt.datetime | None
    reported_at: dt.datetime
    acknowledged_at: dt.datetime | None
    contained_at: dt.datetime | None
    closed_at: dt.datetime | None
    dpa_notice_required: bool
    created_by: str
    updated_at: dt.datetime
    version: int


class TaskOut(BaseModel):
    """A task of a case."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    title: str
    description: str
    owner_id: int | None
    due_date: dt.date | None
    status: TaskStatus
    position: int
    created_by: str
    created_at: dt.datetime
    done_at: dt.datetime | None
    version: int


class NoteOut(BaseModel):
    """A note of a case."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    body: str
    tlp: str
    author_id: int | None
    author: str
    created_at: dt.datetime
    edited_at: dt.datetime | None
    version: int


class AttachmentOut(BaseModel):
    """A file attached to a case (download it from ``/attachments/{id}``)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    sha256: str
    name: str
    media_type: str
    size: int
    tlp: str
    added_by: str
    added_at: dt.datetime


class EventOut(BaseModel):
    """An entry of a case's timeline, its message in the caller's language."""

    id: int
    at: dt.datetime
    recorded_at: dt.datetime
    kind: str
    text: str
    tlp: str
    actor: str


class TaxonomyTypeOut(BaseModel):
    """A type of the incident taxonomy."""

    id: str
    title: str


class TaxonomyClassOut(BaseModel):
    """A class of the incident taxonomy, with its types."""

    id: str
    title: str
    types: list[TaxonomyTypeOut]


class TemplateTaskOut(BaseModel):
    """A task a template adds."""

    title: str
    due_days: int


class TemplateOut(BaseModel):
    """A case template in the caller's language."""

    id: str
    title: str
    taxonomy_class: str
    taxonomy_type: str
    tlp: str
    severity_floor: Severity
    service_impact: ServiceImpact
    personal_data: bool
    dpa_notice_required: bool
    tasks: list[TemplateTaskOut]


def as_dict(model: BaseModel) -> dict[str, Any]:
    """The fields a client actually sent (for partial updates)."""
    return {k: getattr(model, k) for k in model.model_fields_set}

"""Pydantic schemas of exposure monitoring: what the API, forms and CLI accept, and what the
service returns to the views.

Inputs forbid unknown fields; blank form values become ``None``. A triage reason is at most
2 000 characters and required for ``accepted`` and ``false_positive`` (the service checks it).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lakana.core.i18n import N_
from lakana.monitoring.exposure.checks.base import Severity

REASON_MAX = 2_000


class ScanStatus(StrEnum):
    """Where a scan stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Trigger(StrEnum):
    """What started a scan."""

    UI = "ui"
    API = "api"
    CLI = "cli"
    SCHEDULE = "schedule"


class FindingStatus(StrEnum):
    """Where a finding stands."""

    OPEN = "open"
    FIXED = "fixed"
    ACCEPTED = "accepted"
    FALSE_POSITIVE = "false_positive"


class TriageStatus(StrEnum):
    """The statuses a person may set (``fixed`` is the scanner's word only)."""

    OPEN = "open"
    ACCEPTED = "accepted"
    FALSE_POSITIVE = "false_positive"


class ResultStatus(StrEnum):
    """What a scan saw on one endpoint."""

    OK = "ok"
    PARTIAL = "partial"
    UNREACHABLE = "unreachable"
    REFUSED = "refused"


#: English labels (message ids) of the choices.
LABELS: dict[str, str] = {
    "queued": N_("Queued"), "running": N_("Running"), "done": N_("Done"),
    "failed": N_("Failed"), "cancelled": N_("Cancelled"),
    "ui": N_("Web interface"), "api": N_("API"), "cli": N_("Command line"),
    "schedule": N_("Schedule"),
    "open": N_("Open"), "fixed": N_("Fixed"), "accepted": N_("Risk accepted"),
    "false_positive": N_("False positive"),
    "ok": N_("Reached"), "partial": N_("Partly checked"), "unreachable": N_("Unreachable"),
    "refused": N_("Refused (out of scope)"),
    "info": N_("Information"), "low": N_("Low"), "medium": N_("Medium"), "high": N_("High"),
    "critical": N_("Critical"),
}


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ScanRequest(_Strict):
    """A scan to run: one system, one institution (with the bodies under it), or, with
    neither, every endpoint in the caller's scope. ``checks`` limits the checks run (all
    built-ins when left out)."""

    institution_id: int | None = None
    system_id: int | None = None
    checks: list[str] | None = Field(default=None, max_length=20)

    @field_validator("institution_id", "system_id", "checks", mode="before")
    @classmethod
    def _optional_blank(cls, value: object) -> object:
        if isinstance(value, list) and not [v for v in value if str(v).strip()]:
            return None
        return _blank_is_none(value)


class FindingTriage(_Strict):
    """A person's decision on a finding: reopen it, accept the risk or mark a false positive
    (with a reason). ``version`` is the one read (409 when stale)."""

    status: TriageStatus
    reason: str = Field(default="", max_length=REASON_MAX)
    version: int | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _optional_blank(cls, value: object) -> object:
        return _blank_is_none(value)


class FindingQuery(BaseModel):
    """Filters and page of a finding list. ``q`` searches targets, issue ids and subjects;
    ``overdue`` keeps open findings past their due date."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    institution_id: int | None = None
    system_id: int | None = None
    status: FindingStatus | None = None
    severity: Severity | None = None
    check_id: str | None = Field(default=None, max_length=40)
    q: str | None = Field(default=None, max_length=100)
    overdue: bool | None = None
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0)

    @field_validator("*", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return _blank_is_none(value)


class ScanOut(BaseModel):
    """A scan as lists, pages and the API show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_id: int | None
    system_id: int | None
    status: ScanStatus
    trigger: str
    checks: list[str]
    requested_by: str
    targets_total: int
    targets_done: int
    findings_new: int
    findings_fixed: int
    findings_reopened: int
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class ScanResultOut(BaseModel):
    """What one scan saw on one endpoint."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    scan_id: int
    endpoint_id: int | None
    system_id: int | None
    institution_id: int | None
    target: str
    status: ResultStatus
    errors: dict[str, str]
    facts: dict[str, Any]
    observatory_score: int | None
    observatory_grade: str | None
    duration_ms: int
    created_at: dt.datetime


class FindingOut(BaseModel):
    """A finding as lists, pages and the API show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_id: int
    system_id: int | None
    endpoint_id: int | None
    target: str
    check_id: str
    issue_id: str
    subject: str
    severity: Severity
    status: FindingStatus
    status_reason: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    fixed_at: dt.datetime | None
    reopened_count: int
    due_at: dt.datetime | None
    evidence: dict[str, Any]
    first_scan_id: int | None
    last_scan_id: int | None
    case_id: int | None
    case_reference: str | None
    version: int
    #: The issue's title in English (a msgid; the views translate it), filled by the service.
    title: str = ""


class EndpointExposure(BaseModel):
    """The latest result seen on one endpoint of an institution."""

    endpoint_id: int | None
    system_id: int | None
    target: str
    status: ResultStatus
    observatory_score: int | None
    observatory_grade: str | None
    scanned_at: dt.datetime
    scan_id: int
    open_findings: int = 0


class InstitutionExposure(BaseModel):
    """One institution's exposure: score (0 best, 100 worst), open findings by severity,
    overdue count, trend and the latest result per endpoint."""

    institution_id: int
    institution_acronym: str
    institution_name: str
    score: float | None
    open_counts: dict[str, int]
    overdue: int
    trend: list[tuple[dt.datetime, float]]
    endpoints: list[EndpointExposure]
    last_scan_at: dt.datetime | None


class NationalRow(BaseModel):
    """One institution's line of the national dashboard (worst first)."""

    institution_id: int
    institution_acronym: str
    institution_name: str
    score: float | None
    open_counts: dict[str, int]
    overdue: int
    endpoints: int
    last_scan_at: dt.datetime | None

"""Pydantic schemas of assessment campaigns (API input and output)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class AnswerStatus(StrEnum):
    """How far a requirement is met."""

    IMPLEMENTED = "implemented"
    PARTIAL = "partial"
    NOT_IMPLEMENTED = "not_implemented"
    NOT_APPLICABLE = "not_applicable"


class CampaignCreate(BaseModel):
    """A new campaign (draft): explicit institutions and/or whole subtrees."""

    name: str = Field(min_length=1, max_length=200)
    year: int = Field(ge=2000, le=2100)
    profile_id: int
    deadline: dt.date
    institution_ids: list[int] = Field(default_factory=list)
    #: Each of these institutions with every body under it.
    subtree_ids: list[int] = Field(default_factory=list)


class CampaignUpdate(BaseModel):
    """A change of a campaign (deadline any time before closing; the rest while draft)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    deadline: dt.date | None = None
    version: int | None = None


class VersionIn(BaseModel):
    """The version read, for optimistic concurrency, and an optional reason."""

    version: int | None = None
    reason: str | None = Field(default=None, max_length=2000)


class SystemAssessmentCreate(BaseModel):
    """An information system of a target institution to assess in an open campaign."""

    institution_id: int
    system_id: int


class CampaignOut(BaseModel):
    """A campaign as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    year: int
    profile_id: int
    deadline: dt.date
    status: str
    created_by: str
    created_at: dt.datetime
    launched_at: dt.datetime | None
    closed_at: dt.datetime | None
    target_ids: list[int]
    version: int


class ProgressOut(BaseModel):
    """How far an assessment is filled in, and its basic score."""

    answered: int
    total: int
    percent: int
    days_remaining: int
    score: float | None


class AssessmentOut(BaseModel):
    """An assessment with its progress."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    campaign_id: int
    institution_id: int
    system_id: int | None
    #: The name of the assessed information system (None: the institution itself).
    system_name: str | None = None
    status: str
    submitted_at: dt.datetime | None
    submitted_by: str | None
    reviewed_at: dt.datetime | None
    approved_at: dt.datetime | None
    reopen_reason: str | None
    version: int
    progress: ProgressOut | None = None


class AnswerIn(BaseModel):
    """An answer to a requirement, with the version read."""

    status: AnswerStatus
    maturity: int | None = Field(default=None, ge=0, le=5)
    comment: str = Field(default="", max_length=10000)
    justification: str = Field(default="", max_length=10000)
    version: int | None = None


class OverrideIn(BaseModel):
    """An auditor's rating, with a reason."""

    status: AnswerStatus
    maturity: int | None = Field(default=None, ge=0, le=5)
    reason: str = Field(min_length=1, max_length=5000)
    version: int | None = None


class EvidenceOut(BaseModel):
    """A file given as evidence."""

    model_config = ConfigDict(from_attributes=True)

    sha256: str
    name: str
    media_type: str
    size: int
    added_by: str
    added_at: dt.datetime


class AnswerOut(BaseModel):
    """An answer, its override (both kept) and its evidence."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    assessment_id: int
    requirement_id: int
    control_id: str
    status: str | None
    maturity: int | None
    comment: str
    justification: str
    carried_over: bool
    answered_by: str | None
    answered_at: dt.datetime | None
    override_status: str | None
    override_maturity: int | None
    override_reason: str | None
    overridden_by: str | None
    overridden_at: dt.datetime | None
    effective_status: str | None
    effective_maturity: int | None
    evidence: list[EvidenceOut]
    version: int

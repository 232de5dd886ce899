"""Pydantic schemas of the risk register: inputs, outputs, list queries, and the level bands.

Levels of a score (likelihood × impact, each 1–5; the possible products are 1–6, 8–10, 12,
15, 16, 20 and 25):

========  ===========  =====================================
level     scores       example
========  ===========  =====================================
low       1–4          2 × 2
medium    5–9          3 × 3, 5 × 1
high      10–16        3 × 5 = 15, 4 × 4 = 16
critical  20–25        4 × 5 = 20, 5 × 5 = 25
========  ===========  =====================================
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lakana.core.i18n import N_

Score = Annotated[int, Field(ge=1, le=5)]


class Treatment(StrEnum):
    """How the institution deals with a risk."""

    MITIGATE = "mitigate"
    ACCEPT = "accept"
    TRANSFER = "transfer"
    AVOID = "avoid"


class RiskStatus(StrEnum):
    """Where a risk stands."""

    OPEN = "open"
    IN_TREATMENT = "in_treatment"
    CLOSED = "closed"


class RiskLevel(StrEnum):
    """The band of a score."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


#: Inclusive score range of each level.
LEVEL_RANGES: dict[RiskLevel, tuple[int, int]] = {
    RiskLevel.LOW: (1, 4), RiskLevel.MEDIUM: (5, 9), RiskLevel.HIGH: (10, 16),
    RiskLevel.CRITICAL: (20, 25),
}

#: English labels (gettext message ids) of the scales and choices.
LIKELIHOOD_LABELS: dict[int, str] = {1: N_("1 — Rare"), 2: N_("2 — Unlikely"),
                                     3: N_("3 — Possible"), 4: N_("4 — Likely"),
                                     5: N_("5 — Almost certain")}
IMPACT_LABELS: dict[int, str] = {1: N_("1 — Negligible"), 2: N_("2 — Minor"),
                                 3: N_("3 — Moderate"), 4: N_("4 — Major"),
                                 5: N_("5 — Severe")}
LABELS: dict[str, str] = {
    "mitigate": N_("Mitigate"), "accept": N_("Accept"), "transfer": N_("Transfer"),
    "avoid": N_("Avoid"), "open": N_("Open"), "in_treatment": N_("In treatment"),
    "closed": N_("Closed"), "low": N_("Low"), "medium": N_("Medium"), "high": N_("High"),
    "critical": N_("Critical"),
}
#: CSS classes (existing badge colours) of each level.
LEVEL_CLASSES: dict[str, str] = {"low": "ok", "medium": "medium", "high": "high",
                                 "critical": "bad"}


def level_of(score: int) -> RiskLevel:
    """The level of a score (see the module's table: 20 and more is critical)."""
    if score >= 20:
        return RiskLevel.CRITICAL
    if score >= 10:
        return RiskLevel.HIGH
    if score >= 5:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def label(value: object) -> str:
    """The English label (a gettext message id) of a choice."""
    return LABELS.get(str(value), str(value))


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RiskFields(_Strict):
    """The fields a person edits (every one optional, for partial updates)."""

    system_id: int | None = None
    title: str | None = Field(default=None, min_length=3, max_length=200)
    asset: str | None = Field(default=None, min_length=1, max_length=5000)
    threat: str | None = Field(default=None, min_length=1, max_length=5000)
    vulnerability: str | None = Field(default=None, max_length=5000)
    likelihood: Score | None = None
    impact: Score | None = None
    treatment: Treatment | None = None
    treatment_plan: str | None = Field(default=None, max_length=10000)
    acceptance_justification: str | None = Field(default=None, max_length=5000)
    owner: str | None = Field(default=None, max_length=200)
    due_date: dt.date | None = None
    residual_likelihood: Score | None = None
    residual_impact: Score | None = None
    status: RiskStatus | None = None
    control_id: str | None = Field(default=None, max_length=80, pattern=r"^[A-Za-z0-9._-]+$")

    @field_validator("system_id", "vulnerability", "acceptance_justification", "due_date",
                     "control_id", "treatment_plan", "owner", mode="before")
    @classmethod
    def _optional_blank(cls, value: object) -> object:
        return _blank_is_none(value)


class RiskCreate(RiskFields):
    """A new risk; residual likelihood and impact default to the inherent ones."""

    institution_id: int
    title: str = Field(min_length=3, max_length=200)
    asset: str = Field(min_length=1, max_length=5000)
    threat: str = Field(min_length=1, max_length=5000)
    likelihood: Score
    impact: Score
    treatment: Treatment = Treatment.MITIGATE
    status: RiskStatus = RiskStatus.OPEN


class RiskUpdate(RiskFields):
    """A change to a risk, with the version that was read (409 when stale)."""

    version: int | None = None


class PriorityRef(BaseModel):
    """A national priority a risk feeds."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str


class RiskOut(BaseModel):
    """A risk as the API shows it, with its levels."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_id: int
    institution_acronym: str = ""
    system_id: int | None
    title: str
    asset: str
    threat: str
    vulnerability: str | None
    likelihood: int
    impact: int
    inherent_score: int
    inherent_level: RiskLevel = RiskLevel.LOW
    treatment: Treatment
    treatment_plan: str
    acceptance_justification: str | None
    owner: str
    due_date: dt.date | None
    residual_likelihood: int
    residual_impact: int
    residual_score: int
    residual_level: RiskLevel = RiskLevel.LOW
    status: RiskStatus
    control_id: str | None
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    priorities: list[PriorityRef] = []

    def model_post_init(self, context: Any, /) -> None:
        """Derive the levels from the stored scores."""
        self.inherent_level = level_of(self.inherent_score)
        self.residual_level = level_of(self.residual_score)


class RiskQuery(BaseModel):
    """Search, filters, sort and page of a risk list. ``level`` filters on the residual
    level; ``sort`` takes ``score, residual, due, updated, title`` (``-`` for descending)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    q: str | None = Field(default=None, max_length=100)
    institution_id: int | None = None
    level: RiskLevel | None = None
    status: RiskStatus | None = None
    treatment: Treatment | None = None
    sort: str | None = Field(default=None, max_length=40)
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)

    @field_validator("*", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return _blank_is_none(value)


class MatrixOut(BaseModel):
    """Counts of risks per likelihood × impact: ``cells[l - 1][i - 1]``."""

    basis: str
    institution_id: int | None
    cells: list[list[int]]
    total: int


class PriorityCreate(_Strict):
    """A national priority, made from selected risks."""

    title: str = Field(min_length=3, max_length=200)
    description: str = Field(default="", max_length=10000)
    risk_ids: list[int] = Field(default_factory=list, max_length=500)


class PriorityUpdate(_Strict):
    """A change to a national priority, with the version that was read."""

    title: str | None = Field(default=None, min_length=3, max_length=200)
    description: str | None = Field(default=None, max_length=10000)
    version: int | None = None


class AttachRisks(_Strict):
    """Risks to attach to an existing priority."""

    risk_ids: list[int] = Field(default_factory=list, max_length=500)


class PriorityOut(BaseModel):
    """A national priority with the risks (visible to the caller) that feed it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    risk_count: int = 0
    risks: list[RiskOut] = Field(default_factory=list, exclude=False)

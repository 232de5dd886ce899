"""Pydantic schemas of the self-assessment against the ITU Global Cybersecurity Index: an
answer's edit, and the assessment by pillar as the API shows it."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lakana.core.i18n import N_


class GciAnswer(StrEnum):
    """The answer to a GCI question."""

    YES = "yes"
    PARTIAL = "partial"
    NO = "no"
    UNKNOWN = "unknown"


ANSWER_LABELS = {GciAnswer.YES: N_("Yes"), GciAnswer.PARTIAL: N_("Partly"),
                 GciAnswer.NO: N_("No"), GciAnswer.UNKNOWN: N_("Not known")}
#: How much each answer counts towards a pillar's score.
ANSWER_WEIGHTS = {GciAnswer.YES: 1.0, GciAnswer.PARTIAL: 0.5, GciAnswer.NO: 0.0,
                  GciAnswer.UNKNOWN: 0.0}


class GciAnswerIn(BaseModel):
    """An answer to one question; ``version`` is the one read (0 for a question never
    answered; 409 when stale); a yes or partial answer needs evidence."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    answer: GciAnswer
    evidence_note: str = Field(default="", max_length=5000)
    evidence_url: str = Field(default="", max_length=500)
    indicator_codes: list[str] = Field(default_factory=list, max_length=50)
    version: int | None = None

    def normalized_codes(self) -> list[str]:
        """The indicator codes, without blanks or repeats, in the order given."""
        return list(dict.fromkeys(c.strip() for c in self.indicator_codes if c.strip()))


class GciQuestionOut(BaseModel):
    """A question with its saved answer (``unknown`` and version 0 when never answered)."""

    code: str
    text: str
    answer: GciAnswer
    evidence_note: str
    evidence_url: str
    indicator_codes: list[str]
    updated_by: str
    updated_at: dt.datetime | None
    version: int


class GciIndicatorOut(BaseModel):
    """A plan indicator reporting on the pillar, measured for the year."""

    code: str
    name: str
    unit: str
    value: float | None
    target: float | None
    status: str
    #: Why there is no value (a message id, with ``reason_args``), "" when there is one.
    reason: str
    reason_args: dict[str, Any]


class GciEvidenceOut(BaseModel):
    """What supports a pillar: an answer's evidence, or an indicator that has a value."""

    kind: str = Field(pattern="^(answer|indicator)$")
    code: str
    note: str
    url: str = ""
    value: float | None = None
    unit: str = ""


class GciPillarOut(BaseModel):
    """A pillar: its questions and answers, its score, its indicators and evidence."""

    code: str
    title: str
    description: str
    #: Share of questions answered yes (partly counts half), in percent.
    score: float
    answered: int
    questions: list[GciQuestionOut]
    indicators: list[GciIndicatorOut]
    evidence: list[GciEvidenceOut]


class GciAssessmentOut(BaseModel):
    """The self-assessment for one year: every pillar, and the mean of their scores."""

    year: int
    score: float
    pillars: list[GciPillarOut]

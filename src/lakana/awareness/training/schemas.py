"""Pydantic schemas of training: inputs, outputs, list queries, completion tables."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from lakana.core.i18n import N_
from lakana.registry.schemas import lakana_error


class CourseKind(StrEnum):
    """How a course is given."""

    ELEARNING = "elearning"
    CLASSROOM = "classroom"
    UNIVERSITY = "university"


class Outcome(StrEnum):
    """How an enrolment ended."""

    COMPLETED = "completed"
    FAILED = "failed"
    NO_SHOW = "no_show"


KIND_LABELS = {CourseKind.ELEARNING: N_("E-learning"), CourseKind.CLASSROOM: N_("Classroom"),
               CourseKind.UNIVERSITY: N_("University programme")}
OUTCOME_LABELS = {Outcome.COMPLETED: N_("Completed"), Outcome.FAILED: N_("Failed"),
                  Outcome.NO_SHOW: N_("No-show")}


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


class CourseCreate(BaseModel):
    """A new course of the catalogue (an e-learning course needs its link)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    kind: CourseKind
    title: str = Field(min_length=3, max_length=200)
    description: str = Field(default="", max_length=5000)
    duration_hours: int = Field(ge=1, le=5000)
    provider: str = Field(default="", max_length=200)
    url: str | None = Field(default=None, max_length=500, pattern=r"^https?://\S+$")

    _blank = field_validator("url", mode="before")(_blank_to_none)

    @model_validator(mode="after")
    def _link(self) -> CourseCreate:
        if self.kind == CourseKind.ELEARNING and not self.url:
            raise lakana_error(N_("An e-learning course needs its link (https://...)."))
        return self


class CourseUpdate(BaseModel):
    """Changes to a course; ``version`` is the one read (409 when stale)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    kind: CourseKind | None = None
    title: str | None = Field(default=None, min_length=3, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    duration_hours: int | None = Field(default=None, ge=1, le=5000)
    provider: str | None = Field(default=None, max_length=200)
    url: str | None = Field(default=None, max_length=500, pattern=r"^https?://\S+$")
    version: int | None = None

    _blank = field_validator("url", mode="before")(_blank_to_none)


class SessionCreate(BaseModel):
    """A dated session of a course."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    course_id: int = Field(gt=0)
    starts_on: dt.date
    ends_on: dt.date
    place: str = Field(default="", max_length=200)
    seats: int = Field(ge=1, le=100_000)

    @model_validator(mode="after")
    def _period(self) -> SessionCreate:
        if self.ends_on < self.starts_on:
            raise lakana_error(N_("The end date may not be before the start date."))
        return self


class SessionUpdate(BaseModel):
    """Changes to a session; ``version`` is the one read (409 when stale)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    place: str | None = Field(default=None, max_length=200)
    seats: int | None = Field(default=None, ge=1, le=100_000)
    version: int | None = None


class TraineeCreate(BaseModel):
    """A public servant newly registered for training."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    institution_id: int = Field(gt=0)
    full_name: str = Field(min_length=2, max_length=200)
    email: EmailStr
    staff_number: str | None = Field(default=None, max_length=60)

    _blank = field_validator("staff_number", mode="before")(_blank_to_none)
    _low = field_validator("email", mode="before")(_lower)


class TraineeUpdate(BaseModel):
    """Changes to a trainee; ``version`` is the one read (409 when stale)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    full_name: str | None = Field(default=None, min_length=2, max_length=200)
    email: EmailStr | None = None
    staff_number: str | None = Field(default=None, max_length=60)
    version: int | None = None

    _low = field_validator("email", mode="before")(_lower)


class EnrolmentCreate(BaseModel):
    """A trainee enrolled in a session."""

    model_config = ConfigDict(extra="forbid")

    session_id: int = Field(gt=0)
    trainee_id: int = Field(gt=0)


class EnrolmentResult(BaseModel):
    """Attendance and outcome of an enrolment (a score out of 100 with a completion or a
    failure; none for a no-show)."""

    model_config = ConfigDict(extra="forbid")

    attended: bool | None = None
    outcome: Outcome | None = None
    score: int | None = Field(default=None, ge=0, le=100)
    version: int | None = None

    _blank = field_validator("outcome", "score", "attended", mode="before")(_blank_to_none)

    @model_validator(mode="after")
    def _consistent(self) -> EnrolmentResult:
        if self.outcome == Outcome.NO_SHOW:
            if self.score is not None:
                raise lakana_error(N_("A no-show has no score."))
            if self.attended:
                raise lakana_error(N_("A no-show did not attend."))
        return self


class TraineeQuery(BaseModel):
    """Filters of the list of trainees."""

    model_config = ConfigDict(extra="forbid")

    institution_id: int | None = None
    q: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class CourseOut(BaseModel):
    """A course as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: CourseKind
    title: str
    description: str
    duration_hours: int
    provider: str
    url: str | None
    version: int


class SessionOut(BaseModel):
    """A session as the API shows it, with its seats taken."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    course_id: int
    starts_on: dt.date
    ends_on: dt.date
    place: str
    seats: int
    taken: int = 0
    version: int


class TraineeOut(BaseModel):
    """A trainee as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_id: int
    full_name: str
    email: str
    staff_number: str | None
    version: int


class EnrolmentOut(BaseModel):
    """An enrolment as the API shows it, with its certificate's code when one was issued."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    session_id: int
    trainee_id: int
    institution_id: int
    attended: bool | None
    outcome: Outcome | None
    score: int | None
    version: int
    certificate_id: int | None = None
    certificate_code: str | None = None


class ImportReport(BaseModel):
    """What an accepted attendance sheet changed."""

    rows: int
    enrolled: int
    updated: int
    certificates: int


class CompletionRow(BaseModel):
    """One institution's training figures."""

    institution_id: int | None
    acronym: str
    name: str
    trainees: int
    enrolments: int
    people_trained: int
    completions: int
    failed: int
    no_show: int
    completion_rate: int | None = Field(description="Completions among enrolments with an "
                                                    "outcome, in percent.")
    coverage: int | None = Field(description="Registered trainees with at least one "
                                             "completion, in percent.")


class CompletionTable(BaseModel):
    """Completion per institution and for the nation (over the institutions visible)."""

    institutions: list[CompletionRow]
    total: CompletionRow


class Verification(BaseModel):
    """The answer of the public checker for a valid code."""

    code: str
    full_name: str
    course_title: str
    issued_on: dt.date
    revoked: bool

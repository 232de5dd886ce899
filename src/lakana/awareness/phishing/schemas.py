"""Pydantic schemas of phishing exercises: inputs, outputs and the results table."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lakana.core.i18n import N_
from lakana.registry.schemas import lakana_error

#: The placeholder of a template's body replaced by the person's tracking link.
LINK_PLACEHOLDER = "{{lien}}"


class ExerciseStatus(StrEnum):
    """Where an exercise stands."""

    DRAFT = "draft"
    SENT = "sent"
    CLOSED = "closed"


class EventKind(StrEnum):
    """What happened to a target's message."""

    SENT = "sent"
    OPENED = "opened"
    CLICKED = "clicked"
    SUBMITTED = "submitted"
    REPORTED = "reported"


STATUS_LABELS = {ExerciseStatus.DRAFT: N_("Draft"), ExerciseStatus.SENT: N_("Sent"),
                 ExerciseStatus.CLOSED: N_("Closed")}
EVENT_LABELS = {EventKind.SENT: N_("Sent"), EventKind.OPENED: N_("Opened"),
                EventKind.CLICKED: N_("Clicked"), EventKind.SUBMITTED: N_("Submitted data"),
                EventKind.REPORTED: N_("Reported")}


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class TemplateCreate(BaseModel):
    """A new message template; its body must hold the ``{{lien}}`` placeholder."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str = Field(min_length=3, max_length=200)
    subject: str = Field(min_length=3, max_length=200)
    sender_name: str = Field(default="", max_length=200)
    body: str = Field(min_length=10, max_length=20_000)
    landing_text: str = Field(default="", max_length=20_000)

    @model_validator(mode="after")
    def _link(self) -> TemplateCreate:
        if LINK_PLACEHOLDER not in self.body:
            raise lakana_error(N_("The message must hold the {{lien}} placeholder."))
        return self


class ExerciseCreate(BaseModel):
    """A new exercise (a draft) for an institution."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    institution_id: int = Field(gt=0)
    template_id: int = Field(gt=0)
    name: str = Field(min_length=3, max_length=200)
    followup_course_id: int | None = Field(default=None, gt=0)
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None

    _blank = field_validator("followup_course_id", "starts_on", "ends_on",
                             mode="before")(_blank_to_none)

    @model_validator(mode="after")
    def _period(self) -> ExerciseCreate:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise lakana_error(N_("The end date may not be before the start date."))
        return self


class TokenIn(BaseModel):
    """A tracking token, as the "I reported this" button of a mail client sends it."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=5, max_length=200)


class TemplateOut(BaseModel):
    """A template as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    subject: str
    sender_name: str
    body: str
    landing_text: str


class ExerciseOut(BaseModel):
    """An exercise as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_id: int
    template_id: int
    name: str
    status: ExerciseStatus
    followup_course_id: int | None
    starts_on: dt.date | None
    ends_on: dt.date | None
    sent_at: dt.datetime | None
    closed_at: dt.datetime | None


class TargetRow(BaseModel):
    """One target's results; ``email`` and ``full_name`` only for the exercise team."""

    pseudonym: str
    department: str
    email: str | None = None
    full_name: str | None = None
    events: dict[str, dt.datetime]
    enrolled: bool = False
    completed: bool = False


class Results(BaseModel):
    """An exercise's figures: people per event kind, rates in percent of those sent, and
    how many clickers completed the follow-up course."""

    exercise_id: int
    targets: int
    counts: dict[str, int]
    rates: dict[str, int | None]
    by_department: dict[str, dict[str, int]]
    clickers_enrolled: int
    clickers_completed: int
    rows: list[TargetRow]


class ImportReport(BaseModel):
    """What an accepted file added."""

    rows: int
    added: int
    events: int = 0

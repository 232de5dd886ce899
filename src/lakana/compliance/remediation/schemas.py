"""Input and output shapes of remediation actions."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lakana.core.i18n import N_


class ActionPriority(StrEnum):
    """How urgent an action is."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ActionStatus(StrEnum):
    """Where an action stands."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


#: Statuses of an action still to be done (overdue when past their due date).
ACTIVE = (ActionStatus.OPEN.value, ActionStatus.IN_PROGRESS.value)
LABELS: dict[str, str] = {
    "low": N_("Low"), "medium": N_("Medium"), "high": N_("High"), "critical": N_("Critical"),
    "open": N_("Open"), "in_progress": N_("In progress"), "done": N_("Done"),
    "cancelled": N_("Cancelled"),
}


class ActionFields(BaseModel):
    """Fields a person sets on an action."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    description: str = Field(default="", max_length=10_000)
    owner: str = Field(default="", max_length=200)
    due_date: dt.date | None = None
    priority: ActionPriority = ActionPriority.MEDIUM


class ActionCreate(ActionFields):
    """A free action (not tied to an answer)."""

    institution_id: int
    title: str = Field(min_length=1, max_length=300)
    control_id: str | None = Field(default=None, max_length=80)


class ActionFromGap(ActionFields):
    """An action remedying a gap answer; the title defaults to the requirement's."""

    title: str | None = Field(default=None, max_length=300)


class ActionUpdate(BaseModel):
    """A change to an action; ``version`` is the one read (409 when stale)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=10_000)
    owner: str | None = Field(default=None, max_length=200)
    due_date: dt.date | None = None
    priority: ActionPriority | None = None
    status: ActionStatus | None = None
    control_id: str | None = Field(default=None, max_length=80)
    version: int | None = None


class ActionQuery(BaseModel):
    """Filters, sort and page of the action list."""

    institution_id: int | None = None
    status: ActionStatus | None = None
    priority: ActionPriority | None = None
    overdue: bool = False
    sort: Literal["due", "priority", "updated", "title"] = "due"
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


class ActionOut(BaseModel):
    """An action as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_id: int
    answer_id: int | None
    control_id: str | None
    title: str
    description: str
    owner: str
    due_date: dt.date | None
    priority: ActionPriority
    status: ActionStatus
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    version: int
    overdue: bool = False

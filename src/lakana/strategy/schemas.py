"""Pydantic schemas of the action plan: the rows of an imported plan (one model per entity
kind), the action edit, and the plan tree as the API shows it."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from lakana.core.i18n import N_

#: The years of the plan (the strategy runs 2026–2030).
FIRST_YEAR = 2026
LAST_YEAR = 2030
#: A budget above this (FCFA) is surely a typing mistake (about 1.5 billion euros).
MAX_BUDGET = 1_000_000_000_000
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"


class ActionStatus(StrEnum):
    """Where an action stands."""

    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    LATE = "late"
    CANCELLED = "cancelled"


class SourceKind(StrEnum):
    """Where an indicator's value comes from: computed by Lakana, or entered by hand."""

    COMPUTED = "computed"
    MANUAL = "manual"


class Frequency(StrEnum):
    """How often an indicator is measured."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"
    YEARLY = "yearly"


class Direction(StrEnum):
    """Whether a higher or a lower value of an indicator is better."""

    HIGHER = "higher"
    LOWER = "lower"


STATUS_LABELS = {ActionStatus.PLANNED: N_("Planned"),
                 ActionStatus.IN_PROGRESS: N_("In progress"), ActionStatus.DONE: N_("Done"),
                 ActionStatus.LATE: N_("Late"), ActionStatus.CANCELLED: N_("Cancelled")}
FREQUENCY_LABELS = {Frequency.MONTHLY: N_("Monthly"), Frequency.QUARTERLY: N_("Quarterly"),
                    Frequency.HALF_YEARLY: N_("Half-yearly"), Frequency.YEARLY: N_("Yearly")}
SOURCE_LABELS = {SourceKind.COMPUTED: N_("Computed by Lakana"),
                 SourceKind.MANUAL: N_("Entered by hand")}
DIRECTION_LABELS = {Direction.HIGHER: N_("Higher is better"),
                    Direction.LOWER: N_("Lower is better")}

Code = Field(pattern=CODE_PATTERN)
Title = Field(min_length=2, max_length=300)


class _Row(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


class AxisRow(_Row):
    """An axis in a plan file."""

    code: str = Code
    title: str = Title
    description: str = Field(default="", max_length=5000)


class ObjectiveRow(_Row):
    """An objective in a plan file (``axis``: the axis's code)."""

    code: str = Code
    axis: str = Code
    title: str = Title
    description: str = Field(default="", max_length=5000)


class ActionRow(_Row):
    """An action in a plan file (``lead`` and ``partners``: institution acronyms)."""

    code: str = Code
    objective: str = Code
    title: str = Title
    description: str = Field(default="", max_length=5000)
    lead: str | None = Field(default=None, max_length=40)
    partners: list[str] = Field(default_factory=list, max_length=50)
    budget_estimate: int = Field(default=0, ge=0, le=MAX_BUDGET)
    budget_committed: int = Field(default=0, ge=0, le=MAX_BUDGET)
    starts_on: dt.date
    ends_on: dt.date
    status: ActionStatus = ActionStatus.PLANNED


class MilestoneRow(_Row):
    """A milestone in a plan file (``action``: the action's code)."""

    code: str = Code
    action: str = Code
    title: str = Title
    due_on: dt.date
    done_on: dt.date | None = None


class DependencyRow(_Row):
    """An action depending on another one, in a plan file."""

    action: str = Code
    depends_on: str = Code


#: The five pillars of the ITU Global Cybersecurity Index, in the ITU's order.
GCI_PILLARS = ("legal", "technical", "organizational", "capacity", "cooperation")
GCI_PILLAR_PATTERN = "^(|" + "|".join(GCI_PILLARS) + ")$"


class IndicatorRow(_Row):
    """An indicator in a plan file (``objective``: the objective's code)."""

    code: str = Code
    objective: str = Code
    name: str = Title
    definition: str = Field(default="", max_length=5000)
    unit: str = Field(default="", max_length=40)
    baseline_value: float | None = Field(default=None, ge=-1e12, le=1e12, allow_inf_nan=False)
    baseline_year: int | None = Field(default=None, ge=2000, le=LAST_YEAR)
    source_kind: SourceKind = SourceKind.MANUAL
    source_key: str = Field(default="", max_length=200)
    frequency: Frequency = Frequency.YEARLY
    responsible: str = Field(default="", max_length=200)
    direction: Direction = Direction.HIGHER
    gci_pillar: str = Field(default="", pattern=GCI_PILLAR_PATTERN)


class TargetRow(_Row):
    """An indicator's target for a year, in a plan file."""

    indicator: str = Code
    year: int
    value: float = Field(ge=-1e12, le=1e12, allow_inf_nan=False)


ROW_MODELS: dict[str, type[_Row]] = {
    "axes": AxisRow, "objectives": ObjectiveRow, "actions": ActionRow,
    "milestones": MilestoneRow, "dependencies": DependencyRow, "indicators": IndicatorRow,
    "targets": TargetRow}


class ActionUpdate(BaseModel):
    """Changes to an action; ``version`` is the one read (409 when stale);
    ``milestones_done``: the codes of the action's milestones that are done (the others are
    not)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    status: ActionStatus | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    budget_committed: int | None = Field(default=None, ge=0, le=MAX_BUDGET)
    milestones_done: list[str] | None = Field(default=None, max_length=200)
    version: int | None = None


class ImportResult(BaseModel):
    """What an import changed (all zero but ``unchanged`` when the plan was the same)."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0


class MilestoneOut(BaseModel):
    """A milestone as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    title: str
    due_on: dt.date
    done_on: dt.date | None


class ActionOut(BaseModel):
    """An action as the API shows it."""

    id: int
    code: str
    title: str
    description: str
    lead: str | None
    lead_institution_id: int | None
    partners: list[str]
    budget_estimate: int
    budget_committed: int
    starts_on: dt.date
    ends_on: dt.date
    status: ActionStatus
    depends_on: list[str]
    milestones: list[MilestoneOut]
    version: int


class IndicatorOut(BaseModel):
    """An indicator as the API shows it (targets by year)."""

    code: str
    name: str
    definition: str
    unit: str
    baseline_value: float | None
    baseline_year: int | None
    source_kind: SourceKind
    source_key: str
    frequency: Frequency
    responsible: str
    direction: Direction
    gci_pillar: str
    targets: dict[int, float]
    version: int = 1


class ObjectiveOut(BaseModel):
    """An objective with its actions and indicators."""

    code: str
    title: str
    description: str
    actions: list[ActionOut]
    indicators: list[IndicatorOut]
    version: int = 1


class AxisOut(BaseModel):
    """An axis with its objectives."""

    code: str
    title: str
    description: str
    objectives: list[ObjectiveOut]
    version: int = 1


class PlanOut(BaseModel):
    """The whole action plan as a tree."""

    axes: list[AxisOut]

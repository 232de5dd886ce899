"""Pydantic schemas of the plan's editing by the agency: the changes to an axis, an objective
or an indicator, and the objectives, indicators and actions it creates.

These models only read the request's shape (types); the plan's rules (code patterns, lengths,
years, pillars, budgets) are the import's row models' (``schemas.py``), which the service
builds from the merged state, so the editor and the import refuse the same things.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


class TextUpdate(_In):
    """Changes to an axis or an objective; ``version`` is the one read (409 when stale)."""

    title: str | None = None
    description: str | None = None
    version: int | None = None


class _IndicatorFields(_In):
    definition: str | None = None
    unit: str | None = None
    baseline_value: float | None = None
    baseline_year: int | None = None
    source_kind: str | None = None
    source_key: str | None = None
    frequency: str | None = None
    responsible: str | None = None
    direction: str | None = None
    gci_pillar: str | None = None
    #: The targets by year (2026–2030): the whole set, a year left out (or null) has none.
    targets: dict[int, float | None] | None = Field(default=None, max_length=20)


class IndicatorUpdate(_IndicatorFields):
    """Changes to an indicator (only the fields sent change); ``version`` is the one read."""

    name: str | None = None
    version: int | None = None


class IndicatorCreate(_IndicatorFields):
    """A new indicator of an objective."""

    code: str
    name: str


class ObjectiveCreate(_In):
    """A new objective of an axis."""

    code: str
    title: str
    description: str = ""


class ActionCreate(_In):
    """A new action of an objective (``lead`` and ``partners``: institution acronyms)."""

    code: str
    title: str
    description: str = ""
    lead: str
    partners: list[str] = Field(default_factory=list, max_length=50)
    budget_estimate: int = 0
    starts_on: dt.date
    ends_on: dt.date


class AxisEditOut(BaseModel):
    """An axis as its edit answers it."""

    code: str
    title: str
    description: str
    version: int


class ObjectiveEditOut(BaseModel):
    """An objective as its edit answers it (``axis``: the axis's code)."""

    code: str
    axis: str
    title: str
    description: str
    version: int

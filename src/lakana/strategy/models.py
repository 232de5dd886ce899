"""Tables of the national strategy's action plan: axes → objectives → actions (with milestones
and dependencies on other actions) and indicators (with yearly targets).

Every entity has a stable ``code`` ("A1", "A1.O2", "A1.O2.AC3", "IND-07"), the reference used
in imported and exported files. The plan is national: a lead institution is referenced by
table name, never through the registry's models; partners are a list of acronyms.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lakana.core.db import Base, utcnow


class StrategyAxis(Base):
    """A strategic axis of the national strategy (governance, culture, protection)."""

    __tablename__ = "strategy_axis"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    objectives: Mapped[list[StrategyObjective]] = relationship(
        back_populates="axis", order_by="StrategyObjective.position",
        cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<StrategyAxis {self.code}>"


class StrategyObjective(Base):
    """An objective of an axis."""

    __tablename__ = "strategy_objective"

    id: Mapped[int] = mapped_column(primary_key=True)
    axis_id: Mapped[int] = mapped_column(ForeignKey("strategy_axis.id", ondelete="CASCADE"),
                                         index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    axis: Mapped[StrategyAxis] = relationship(back_populates="objectives")
    actions: Mapped[list[StrategyAction]] = relationship(
        back_populates="objective", order_by="StrategyAction.position",
        cascade="all, delete-orphan")
    indicators: Mapped[list[StrategyIndicator]] = relationship(
        back_populates="objective", order_by="StrategyIndicator.position",
        cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<StrategyObjective {self.code}>"


class StrategyAction(Base):
    """An action of the plan: lead institution and partners, budget (FCFA), period, status."""

    __tablename__ = "strategy_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    objective_id: Mapped[int] = mapped_column(
        ForeignKey("strategy_objective.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    lead_institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="RESTRICT"), index=True)
    partners: Mapped[list[str]] = mapped_column(JSON, default=list)
    budget_estimate: Mapped[int] = mapped_column(BigInteger, default=0)
    budget_committed: Mapped[int] = mapped_column(BigInteger, default=0)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), index=True, default="planned")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    objective: Mapped[StrategyObjective] = relationship(back_populates="actions")
    milestones: Mapped[list[StrategyMilestone]] = relationship(
        back_populates="action", order_by="StrategyMilestone.position",
        cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<StrategyAction {self.code}>"


class StrategyMilestone(Base):
    """A milestone of an action: what is due when, and when it was done."""

    __tablename__ = "strategy_milestone"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("strategy_action.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300))
    due_on: Mapped[dt.date] = mapped_column(Date)
    done_on: Mapped[dt.date | None] = mapped_column(Date)

    action: Mapped[StrategyAction] = relationship(back_populates="milestones")

    def __repr__(self) -> str:
        return f"<StrategyMilestone {self.code}>"


class StrategyDependency(Base):
    """An action that cannot finish before another one (no cycles: checked on import)."""

    __tablename__ = "strategy_action_dependency"
    __table_args__ = (UniqueConstraint("action_id", "depends_on_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("strategy_action.id", ondelete="CASCADE"), index=True)
    depends_on_id: Mapped[int] = mapped_column(
        ForeignKey("strategy_action.id", ondelete="CASCADE"), index=True)

    def __repr__(self) -> str:
        return f"<StrategyDependency {self.action_id} → {self.depends_on_id}>"


class StrategyIndicator(Base):
    """An indicator of an objective: definition, unit, baseline, source, frequency."""

    __tablename__ = "strategy_indicator"

    id: Mapped[int] = mapped_column(primary_key=True)
    objective_id: Mapped[int] = mapped_column(
        ForeignKey("strategy_objective.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(300))
    definition: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(40), default="")
    baseline_value: Mapped[float | None] = mapped_column(Float)
    baseline_year: Mapped[int | None] = mapped_column(Integer)
    source_kind: Mapped[str] = mapped_column(String(20), default="manual")
    source_key: Mapped[str] = mapped_column(String(200), default="")
    frequency: Mapped[str] = mapped_column(String(20), default="yearly")
    responsible: Mapped[str] = mapped_column(String(200), default="")
    direction: Mapped[str] = mapped_column(String(10), default="higher")
    #: The ITU Global Cybersecurity Index pillar the indicator reports on ("" if none).
    gci_pillar: Mapped[str] = mapped_column(String(20), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    objective: Mapped[StrategyObjective] = relationship(back_populates="indicators")
    targets: Mapped[list[StrategyTarget]] = relationship(
        back_populates="indicator", order_by="StrategyTarget.year",
        cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<StrategyIndicator {self.code}>"


class StrategyTarget(Base):
    """An indicator's target for one year of the plan (2026–2030)."""

    __tablename__ = "strategy_indicator_target"
    __table_args__ = (UniqueConstraint("indicator_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("strategy_indicator.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)

    indicator: Mapped[StrategyIndicator] = relationship(back_populates="targets")

    def __repr__(self) -> str:
        return f"<StrategyTarget {self.indicator_id} {self.year}>"


class StrategyIndicatorValue(Base):
    """A value entered by hand for a manual indicator, for one period, with its evidence.

    Values are never overwritten: a correction is a new row, and the latest row of a period
    is the one that counts (the earlier ones stay, for the record).
    """

    __tablename__ = "strategy_indicator_value"

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("strategy_indicator.id", ondelete="CASCADE"), index=True)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date, index=True)
    value: Mapped[float] = mapped_column(Float)
    evidence: Mapped[str] = mapped_column(Text)
    file_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_file.id", ondelete="RESTRICT"), index=True)
    file_sha256: Mapped[str] = mapped_column(String(64), default="")
    file_name: Mapped[str] = mapped_column(String(255), default="")
    entered_by: Mapped[str] = mapped_column(String(254))
    entered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<StrategyIndicatorValue {self.indicator_id} {self.period_end}>"


class StrategySnapshot(Base):
    """Every indicator's figure frozen at a reporting date: what a report is built from.

    ``content`` is the canonical JSON of the figures (value, target, status, formula, the
    inputs and evidence behind each) and ``digest`` its SHA-256: a snapshot is never
    changed, and a report names the digest it was built from.
    """

    __tablename__ = "strategy_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    taken_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    taken_by: Mapped[str] = mapped_column(String(254))
    digest: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"<StrategySnapshot {self.label}>"

"""Tables of the risk register: risks of an institution, national priorities, their links.

Institutions and systems belong to the registry domain: they are referenced by table name
(a string foreign key), never through the registry's models.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Date, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lakana.core.db import Base, utcnow

#: Which risks feed which national priority (many risks may feed one priority).
priority_risk = Table(
    "compliance_priority_risk", Base.metadata,
    Column("priority_id", ForeignKey("compliance_priority.id", ondelete="CASCADE"),
           primary_key=True),
    Column("risk_id", ForeignKey("compliance_risk.id", ondelete="CASCADE"), primary_key=True,
           index=True),
)


class Risk(Base):
    """A risk of an institution: an asset, a threat, its likelihood × impact before and after
    treatment. Scores are stored (likelihood × impact) so that lists sort on them."""

    __tablename__ = "compliance_risk"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="RESTRICT"), index=True)
    system_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_system.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    asset: Mapped[str] = mapped_column(Text)
    threat: Mapped[str] = mapped_column(Text)
    vulnerability: Mapped[str | None] = mapped_column(Text)
    likelihood: Mapped[int] = mapped_column(Integer)
    impact: Mapped[int] = mapped_column(Integer)
    inherent_score: Mapped[int] = mapped_column(Integer, index=True)
    treatment: Mapped[str] = mapped_column(String(20), index=True)
    treatment_plan: Mapped[str] = mapped_column(Text, default="")
    acceptance_justification: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200), default="")
    due_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    residual_likelihood: Mapped[int] = mapped_column(Integer)
    residual_impact: Mapped[int] = mapped_column(Integer)
    residual_score: Mapped[int] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    control_id: Mapped[str | None] = mapped_column(String(80))
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    priorities: Mapped[list[Priority]] = relationship(
        secondary=priority_risk, back_populates="risks", order_by="Priority.id")

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Risk {self.id} {self.title!r}>"


class Priority(Base):
    """A national priority set by the agency, fed by risks of one or more institutions."""

    __tablename__ = "compliance_priority"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    risks: Mapped[list[Risk]] = relationship(
        secondary=priority_risk, back_populates="priorities", order_by="Risk.id")

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Priority {self.id} {self.title!r}>"

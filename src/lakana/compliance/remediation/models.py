"""The remediation action table.

Institutions are referenced by table name (a string foreign key), never through the
registry's models; an action may come from a gap answer of a self-assessment.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lakana.core.db import Base, utcnow


class Action(Base):
    """A remediation action of an institution, possibly closing the gap of one answer."""

    __tablename__ = "compliance_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="RESTRICT"), index=True)
    #: The gap answer this action remedies (one action per answer).
    answer_id: Mapped[int | None] = mapped_column(
        ForeignKey("compliance_answer.id", ondelete="SET NULL"), unique=True)
    control_id: Mapped[str | None] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(200), default="")
    due_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    priority: Mapped[str] = mapped_column(String(20), default="medium", index=True)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    def is_overdue(self, today: dt.date) -> bool:
        """Past its due date and still open or in progress."""
        return (self.due_date is not None and self.due_date < today
                and self.status in ("open", "in_progress"))

    def __repr__(self) -> str:
        return f"<Action {self.id} {self.title!r}>"

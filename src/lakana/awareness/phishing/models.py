"""Tables of phishing exercises: French message templates with their landing page, the
exercises the agency runs for an institution, their targets (with a pseudonym for managers)
and the events tracked per target (one row per kind: replays change nothing).

What a person types on the landing page is never stored: only that they submitted.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lakana.core.db import Base, utcnow


class PhishingTemplate(Base):
    """A simulated phishing message (French, with a ``{{lien}}`` placeholder) and the
    text of the landing page shown after a click."""

    __tablename__ = "awareness_phishing_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    landing_text: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<PhishingTemplate {self.id} {self.name!r}>"


class PhishingExercise(Base):
    """An exercise run for one institution: draft, then sent, then closed."""

    __tablename__ = "awareness_phishing_exercise"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="RESTRICT"), index=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("awareness_phishing_template.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    followup_course_id: Mapped[int | None] = mapped_column(
        ForeignKey("awareness_course.id", ondelete="RESTRICT"))
    starts_on: Mapped[dt.date | None] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    template: Mapped[PhishingTemplate] = relationship()

    def __repr__(self) -> str:
        return f"<PhishingExercise {self.id} {self.status}>"


class PhishingTarget(Base):
    """A person targeted by an exercise; managers see only ``pseudonym``."""

    __tablename__ = "awareness_phishing_target"
    # Named: the convention names a unique constraint after its first column only, and
    # PostgreSQL refuses two constraints of one name.
    __table_args__ = (UniqueConstraint("exercise_id", "email",
                                       name="uq_awareness_phishing_target_email"),
                      UniqueConstraint("exercise_id", "pseudonym",
                                       name="uq_awareness_phishing_target_pseudonym"))

    id: Mapped[int] = mapped_column(primary_key=True)
    exercise_id: Mapped[int] = mapped_column(
        ForeignKey("awareness_phishing_exercise.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    department: Mapped[str] = mapped_column(String(200), default="")
    pseudonym: Mapped[str] = mapped_column(String(40))
    enrolment_id: Mapped[int | None] = mapped_column(
        ForeignKey("awareness_enrolment.id", ondelete="SET NULL"))

    exercise: Mapped[PhishingExercise] = relationship()

    def __repr__(self) -> str:
        return f"<PhishingTarget {self.id} {self.pseudonym}>"


class PhishingEvent(Base):
    """What happened to a target's message: sent, opened, clicked, submitted or reported;
    at most one row per kind."""

    __tablename__ = "awareness_phishing_event"
    __table_args__ = (UniqueConstraint("target_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(
        ForeignKey("awareness_phishing_target.id", ondelete="CASCADE"), index=True)
    exercise_id: Mapped[int] = mapped_column(
        ForeignKey("awareness_phishing_exercise.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(20), default="lakana")

    def __repr__(self) -> str:
        return f"<PhishingEvent {self.target_id} {self.kind}>"

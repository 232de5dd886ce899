"""Tables of the training catalogue: courses, their sessions, trainees (public servants),
enrolments with attendance and outcome, and certificates with a verification code.

Courses and sessions are national (the agency's catalogue); trainees and enrolments belong
to an institution (referenced by table name, never through the registry's models).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lakana.core.db import Base, utcnow


class Course(Base):
    """A course of the catalogue: an e-learning link, a classroom course or a university
    programme."""

    __tablename__ = "awareness_course"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    duration_hours: Mapped[int] = mapped_column(Integer)
    provider: Mapped[str] = mapped_column(String(200), default="")
    url: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    sessions: Mapped[list[CourseSession]] = relationship(
        back_populates="course", order_by="CourseSession.starts_on")

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Course {self.id} {self.title!r}>"


class CourseSession(Base):
    """A dated session of a course, at a place, with a number of seats."""

    __tablename__ = "awareness_course_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(
        ForeignKey("awareness_course.id", ondelete="RESTRICT"), index=True)
    starts_on: Mapped[dt.date] = mapped_column(Date, index=True)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    place: Mapped[str] = mapped_column(String(200), default="")
    seats: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    course: Mapped[Course] = relationship(back_populates="sessions")

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<CourseSession {self.id} of course {self.course_id}>"


class Trainee(Base):
    """A public servant who takes courses, identified by their e-mail address."""

    __tablename__ = "awareness_trainee"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="RESTRICT"), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    staff_number: Mapped[str | None] = mapped_column(String(60))
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Trainee {self.id}>"


class Enrolment(Base):
    """A trainee's seat in a session, then their attendance and outcome (completed, failed
    or no-show) with a score out of 100. ``institution_id`` is the trainee's, for scope."""

    __tablename__ = "awareness_enrolment"
    __table_args__ = (UniqueConstraint("session_id", "trainee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("awareness_course_session.id", ondelete="RESTRICT"), index=True)
    trainee_id: Mapped[int] = mapped_column(
        ForeignKey("awareness_trainee.id", ondelete="RESTRICT"), index=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="RESTRICT"), index=True)
    attended: Mapped[bool | None] = mapped_column(Boolean)
    outcome: Mapped[str | None] = mapped_column(String(20), index=True)
    score: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    session: Mapped[CourseSession] = relationship()
    trainee: Mapped[Trainee] = relationship()
    certificate: Mapped[TrainingCertificate | None] = relationship(back_populates="enrolment")

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Enrolment {self.id}>"


class TrainingCertificate(Base):
    """The certificate of a completed enrolment, with its random verification code; names
    are frozen at issue. A later change of outcome revokes it."""

    __tablename__ = "awareness_training_certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("awareness_enrolment.id", ondelete="RESTRICT"), unique=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="RESTRICT"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    course_title: Mapped[str] = mapped_column(String(200))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    revoked_on: Mapped[dt.date | None] = mapped_column(Date)

    enrolment: Mapped[Enrolment] = relationship(back_populates="certificate")

    def __repr__(self) -> str:
        return f"<TrainingCertificate {self.id}>"

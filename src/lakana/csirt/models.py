"""Tables of the national incident response centre: cases and what hangs on them.

A case is reported by an institution (UI, API, CLI), by the public (a form without an
account), or opened by an analyst. Institutions, systems and users belong to other packages:
they are referenced by table name (a string foreign key), never through their models.

Observables are shared across cases: :class:`Observable` holds one normalized value once,
:class:`CaseObservable` links it to each case where it appeared, with its own TLP.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lakana.core.db import Base, utcnow


class Case(Base):
    """An incident (or a public report that may become one)."""

    __tablename__ = "csirt_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Human reference, e.g. ``INC-2026-00042`` (``PUB-`` for public reports).
    reference: Mapped[str | None] = mapped_column(String(30), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: institution, public, analyst or detection.
    source: Mapped[str] = mapped_column(String(20), index=True)
    #: The institution affected (None for a public report not yet attributed).
    institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="RESTRICT"), index=True)
    system_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_system.id", ondelete="SET NULL"), index=True)
    #: new, triage, investigation, containment, eradication, recovery, closed.
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    #: resolved, false_positive, duplicate, out_of_scope, no_action (when closed).
    closure_reason: Mapped[str | None] = mapped_column(String(30))
    closure_comment: Mapped[str] = mapped_column(Text, default="")
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("csirt_case.id", ondelete="SET NULL"))
    #: ENISA Reference Security Incident Taxonomy class and type ids (see taxonomy.py).
    taxonomy_class: Mapped[str | None] = mapped_column(String(60), index=True)
    taxonomy_type: Mapped[str | None] = mapped_column(String(60))
    #: Public report category (scam, phishing, defacement, extortion, other).
    public_category: Mapped[str | None] = mapped_column(String(30))
    #: National severity: low, medium, high, critical (see severity.py), and its inputs.
    severity: Mapped[str] = mapped_column(String(10), default="medium", index=True)
    service_impact: Mapped[str] = mapped_column(String(20), default="none")
    people_affected: Mapped[int | None] = mapped_column(Integer)
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    biometric_data: Mapped[bool] = mapped_column(Boolean, default=False)
    institutions_affected: Mapped[int] = mapped_column(Integer, default=1)
    #: TLP 2.0: clear, green, amber, amber+strict, red.
    tlp: Mapped[str] = mapped_column(String(15), default="amber", index=True)
    template: Mapped[str | None] = mapped_column(String(30))
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True)
    #: Who reported: a user, or the public reporter's optional contact details.
    reporter_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"))
    reporter_name: Mapped[str | None] = mapped_column(String(200))
    reporter_email: Mapped[str | None] = mapped_column(String(254))
    reporter_phone: Mapped[str | None] = mapped_column(String(40))
    #: SHA-256 of a public report's tracking code (the code itself is shown once).
    tracking_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    occurred_at: Mapped[dt.datetime | None] = mapped_column()
    detected_at: Mapped[dt.datetime | None] = mapped_column()
    reported_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column()
    contained_at: Mapped[dt.datetime | None] = mapped_column()
    closed_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    #: Hand-over to the data protection authority (personal-data breach notice).
    dpa_notice_required: Mapped[bool] = mapped_column(Boolean, default=False)
    dpa_notified_at: Mapped[dt.datetime | None] = mapped_column()
    #: Referral to the judicial police under the cybercrime law (2019-056).
    cybercrime_referral: Mapped[bool] = mapped_column(Boolean, default=False)
    referred_at: Mapped[dt.datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    tasks: Mapped[list[CaseTask]] = relationship(
        cascade="all, delete-orphan", order_by="CaseTask.id", back_populates="case")
    clocks: Mapped[list[CaseClock]] = relationship(
        cascade="all, delete-orphan", order_by="CaseClock.due_at", back_populates="case")

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Case {self.id} {self.reference} {self.status}>"


class CaseTask(Base):
    """A task of a case, with an owner and a due date."""

    __tablename__ = "csirt_case_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("csirt_case.id", ondelete="CASCADE"),
                                         index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True)
    due_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    #: open, done or cancelled.
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)

    case: Mapped[Case] = relationship(back_populates="tasks")

    __mapper_args__ = {"version_id_col": version}


class CaseNote(Base):
    """A note on a case, with its own TLP (a TLP:RED note is seen by named people only)."""

    __tablename__ = "csirt_case_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("csirt_case.id", ondelete="CASCADE"),
                                         index=True)
    body: Mapped[str] = mapped_column(Text)
    tlp: Mapped[str] = mapped_column(String(15), default="amber")
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"))
    author: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    edited_at: Mapped[dt.datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class CaseAttachment(Base):
    """A file of the core store attached to a case (an .eml, a screenshot, a log extract)."""

    __tablename__ = "csirt_case_attachment"
    __table_args__ = (UniqueConstraint("case_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("csirt_case.id", ondelete="CASCADE"),
                                         index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("core_file.id", ondelete="RESTRICT"),
                                         index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    tlp: Mapped[str] = mapped_column(String(15), default="amber")
    added_by: Mapped[str] = mapped_column(String(254), default="")
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Observable(Base):
    """An indicator, normalized, stored once and shared by every case where it appeared.

    ``kind`` is one of ipv4, ipv6, cidr, domain, url, email, md5, sha1, sha256, sha512, cve.
    """

    __tablename__ = "csirt_observable"
    __table_args__ = (UniqueConstraint("kind", "value_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    #: The normalized value (never defanged); SHA-256 of it keeps the unique index short.
    value: Mapped[str] = mapped_column(Text)
    value_hash: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class CaseObservable(Base):
    """An observable as it appeared in one case, with the case's own TLP and comment."""

    __tablename__ = "csirt_case_observable"
    __table_args__ = (UniqueConstraint("case_id", "observable_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("csirt_case.id", ondelete="CASCADE"),
                                         index=True)
    observable_id: Mapped[int] = mapped_column(
        ForeignKey("csirt_observable.id", ondelete="RESTRICT"), index=True)
    tlp: Mapped[str] = mapped_column(String(15), default="amber")
    is_ioc: Mapped[bool] = mapped_column(Boolean, default=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    added_by: Mapped[str] = mapped_column(String(254), default="")
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    observable: Mapped[Observable] = relationship(lazy="joined", innerjoin=True)


class CaseEvent(Base):
    """One entry of a case's timeline: something that happened to the case (status change,
    assignment, note...) or in the incident itself (``kind == "incident"``, entered by an
    analyst with the time it happened)."""

    __tablename__ = "csirt_case_event"
    __table_args__ = (Index("ix_csirt_case_event_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("csirt_case.id", ondelete="CASCADE"))
    #: When it happened (for incident events, as entered; otherwise when recorded).
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: created, status, assigned, triaged, note, task, observable, attachment, clock, flag,
    #: incident.
    kind: Mapped[str] = mapped_column(String(20))
    #: An English msgid translated at display time, with its parameters.
    message: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tlp: Mapped[str] = mapped_column(String(15), default="amber")
    actor: Mapped[str] = mapped_column(String(254), default="")


class CaseClock(Base):
    """A statutory deadline running on a case (see ``data/regulations.json``)."""

    __tablename__ = "csirt_case_clock"
    __table_args__ = (UniqueConstraint("case_id", "regulation", "clock"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("csirt_case.id", ondelete="CASCADE"),
                                         index=True)
    regulation: Mapped[str] = mapped_column(String(60))
    clock: Mapped[str] = mapped_column(String(60))
    starts_at: Mapped[dt.datetime] = mapped_column()
    due_at: Mapped[dt.datetime] = mapped_column(index=True)
    met_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    met_by: Mapped[str | None] = mapped_column(String(254))
    met_note: Mapped[str] = mapped_column(Text, default="")
    #: When the overdue notice went out (so it goes out once).
    overdue_notified_at: Mapped[dt.datetime | None] = mapped_column()

    case: Mapped[Case] = relationship(back_populates="clocks")

"""Tables of detection: the events received (stored before they are acknowledged) and the
alerts the Sigma rules raise on them.

Cross-domain links (institution, system, CSIRT case) are plain foreign keys by table name.
In production on PostgreSQL ``detection_event`` is the table to partition by time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lakana.core.db import Base, utcnow


class DetectionEvent(Base):
    """One log event as received and parsed (ECS field names, flat)."""

    __tablename__ = "detection_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="CASCADE"), index=True)
    system_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_system.id", ondelete="SET NULL"), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    #: The event's own time when it has one (``@timestamp``), else when it was received.
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    #: ``event.dataset``: sshd, apache.access, windows.security, auditd, raw...
    dataset: Mapped[str] = mapped_column(String(60), index=True)
    #: The human text (``message``), searchable.
    message: Mapped[str] = mapped_column(Text, default="")
    #: The parsed event (flat ECS keys), ``log.original`` included.
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: How it came: http, syslog, cli.
    channel: Mapped[str] = mapped_column(String(10), default="http")
    #: The source ``source.ip`` when known (indexed for alert grouping and search).
    source_ip: Mapped[str | None] = mapped_column(String(45), index=True)
    #: Alerts this event matched (ids), for the alert page.
    alert_ids: Mapped[list[int]] = mapped_column(JSON, default=list)


class DetectionAlert(Base):
    """What a rule raised, grouped: one alert per rule, institution, system and source (or
    host) while it stays open; later matches add to it."""

    __tablename__ = "detection_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: sha256 of rule id | institution | system | group key: one open alert per group.
    group_key: Mapped[str] = mapped_column(String(64), index=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="CASCADE"), index=True)
    system_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_system.id", ondelete="SET NULL"), index=True)
    rule_id: Mapped[str] = mapped_column(String(80), index=True)
    rule_title: Mapped[str] = mapped_column(String(300))
    #: Sigma level: informational, low, medium, high, critical.
    level: Mapped[str] = mapped_column(String(15), index=True)
    #: ATT&CK tags of the rule (``attack.t1110``...).
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Attribution kept from the rule: author, licence, references, source file.
    attribution: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: source.ip, user.name or host.name the alert is grouped on.
    subject: Mapped[str] = mapped_column(String(300), default="")
    #: open, true_positive, false_positive, suppressed, escalated (a case was opened).
    status: Mapped[str] = mapped_column(String(15), index=True, default="open")
    status_reason: Mapped[str] = mapped_column(Text, default="")
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    last_seen: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("csirt_case.id", ondelete="SET NULL"))
    case_reference: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class SuppressionRule(Base):
    """Alerts of a rule (optionally for one subject or institution) are suppressed until it
    expires: known false positives."""

    __tablename__ = "detection_suppression"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(80), index=True)
    institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="CASCADE"), index=True)
    #: Only this subject (source ip, user...); "" for every subject.
    subject: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

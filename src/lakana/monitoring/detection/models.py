"""Tables of detection: the events received (stored before they are acknowledged) and the
alerts the Sigma rules raise on them.

Cross-domain links (institution, system, CSIRT case) are plain foreign keys by table name.
In production on PostgreSQL ``detection_event`` is the table to partition by time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
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
    #: ``host.name``, ``user.name`` and ``event.outcome`` when known, as columns so a search
    #: by host, user or outcome is an indexed lookup rather than a scan of JSON.
    host_name: Mapped[str | None] = mapped_column(String(255), index=True)
    user_name: Mapped[str | None] = mapped_column(String(255), index=True)
    outcome: Mapped[str | None] = mapped_column(String(20))
    #: Alerts this event matched (ids), for the alert page.
    alert_ids: Mapped[list[int]] = mapped_column(JSON, default=list)

    __table_args__ = (
        # Retention deletes and per-institution time-range searches.
        Index("ix_detection_event_institution_received", "institution_id", "received_at"),
    )


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


class CorrelationHit(Base):
    """One event that matched a rule a Sigma correlation rule refers to, kept while the
    correlation's time span may still need it (brute force: failures per source...).

    Correlation state lives in the database, not in a process: batches ingested by different
    workers (HTTP, syslog) of one institution count together.
    """

    __tablename__ = "detection_correlation_hit"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="CASCADE"), index=True)
    system_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_system.id", ondelete="SET NULL"))
    #: The correlation rule's id (or name).
    correlation_id: Mapped[str] = mapped_column(String(80))
    #: sha256 of the group-by field values: one window per group.
    group_hash: Mapped[str] = mapped_column(String(64))
    #: The group-by values, for the alert's subject.
    group_values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The referenced rule that matched (id or name).
    rule_ref: Mapped[str] = mapped_column(String(80))
    #: value_count: the value of the counted field ("" otherwise).
    value: Mapped[str] = mapped_column(String(300), default="")
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("detection_event.id", ondelete="CASCADE"), index=True)

    __table_args__ = (
        Index("ix_detection_correlation_hit_window", "correlation_id", "institution_id",
              "group_hash", "occurred_at"),
    )


class SyslogSource(Base):
    """A sender the syslog receiver accepts, and whose events it attributes: a network (one
    address is a /32 or /128) or a TLS client certificate, of an institution and optionally
    one of its systems. A connection from nowhere registered is refused."""

    __tablename__ = "detection_syslog_source"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="CASCADE"), index=True)
    system_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_system.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200), default="")
    #: Sender network in CIDR notation ("" when only the certificate identifies it).
    network: Mapped[str] = mapped_column(String(50), default="")
    #: sha256 of the sender's TLS client certificate (hex, lower case), "" for any.
    cert_sha256: Mapped[str] = mapped_column(String(64), default="")
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RetentionPolicy(Base):
    """How long an institution's events are kept (the default setting applies to the
    others)."""

    __tablename__ = "detection_retention"

    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="CASCADE"), primary_key=True)
    days: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(254), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EscalationRule(Base):
    """Alerts that open a CSIRT case by themselves: of one rule (or any), at or above a
    level, for one institution (or all)."""

    __tablename__ = "detection_escalation"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Only this rule's alerts ("" for any rule).
    rule_id: Mapped[str] = mapped_column(String(80), default="")
    #: Lowest Sigma level that escalates (informational ... critical).
    min_level: Mapped[str] = mapped_column(String(15), default="critical")
    institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="CASCADE"), index=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

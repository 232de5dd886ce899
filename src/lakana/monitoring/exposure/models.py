"""Tables of exposure monitoring: scans, per-target results, findings, score history and the
vulnerability feeds imported offline (CISA KEV, NVD CVE JSON 2.0).

Cross-domain links (institution, system, endpoint, CSIRT case) are plain foreign keys by
table name with no ``relationship()``: this domain reads the others through their services.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lakana.core.db import Base, utcnow


class ExposureScan(Base):
    """One run of the checks over a set of registered endpoints."""

    __tablename__ = "exposure_scan"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The scope asked for: one institution (with the bodies under it), one system, or all.
    institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="SET NULL"), index=True)
    system_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_system.id", ondelete="SET NULL"), index=True)
    #: queued, running, done, failed, cancelled.
    status: Mapped[str] = mapped_column(String(12), index=True, default="queued")
    #: ui, api, cli, schedule.
    trigger: Mapped[str] = mapped_column(String(10), default="ui")
    #: The check ids run (all built-ins when empty at creation).
    checks: Mapped[list[str]] = mapped_column(JSON, default=list)
    requested_by: Mapped[str] = mapped_column(String(254), default="")
    targets_total: Mapped[int] = mapped_column(Integer, default=0)
    targets_done: Mapped[int] = mapped_column(Integer, default=0)
    findings_new: Mapped[int] = mapped_column(Integer, default=0)
    findings_fixed: Mapped[int] = mapped_column(Integer, default=0)
    findings_reopened: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[dt.datetime | None] = mapped_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column()


class ScanResult(Base):
    """What one scan saw on one endpoint: whether it could be reached, and the facts the
    checks reported (HTTP Observatory score and grade, TLS versions, software seen...)."""

    __tablename__ = "exposure_scan_result"
    __table_args__ = (UniqueConstraint("scan_id", "endpoint_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scan_id: Mapped[int] = mapped_column(
        ForeignKey("exposure_scan.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_endpoint.id", ondelete="SET NULL"), index=True)
    system_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_system.id", ondelete="SET NULL"), index=True)
    institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="SET NULL"), index=True)
    #: The endpoint as registered (kind:value), frozen.
    target: Mapped[str] = mapped_column(String(520))
    #: ok, partial (some checks failed), unreachable, refused (out of scope).
    status: Mapped[str] = mapped_column(String(12), default="ok")
    #: ``{check_id: message}`` for checks that could not run.
    errors: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: ``{check_id: {...}}``: JSON facts reported by each check.
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    observatory_score: Mapped[int | None] = mapped_column(Integer)
    observatory_grade: Mapped[str | None] = mapped_column(String(3))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ExposureFinding(Base):
    """A weakness on an endpoint, deduplicated across scans by its fingerprint
    (endpoint, issue, subject): first seen, last seen, fixed, reopened."""

    __tablename__ = "exposure_finding"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: sha256 hex of ``endpoint key | issue_id | subject``.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="CASCADE"), index=True)
    system_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_system.id", ondelete="SET NULL"), index=True)
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("registry_endpoint.id", ondelete="SET NULL"), index=True)
    target: Mapped[str] = mapped_column(String(520), index=True)
    check_id: Mapped[str] = mapped_column(String(40), index=True)
    #: The issue in the check's catalogue, e.g. ``tls.protocol.tls1_0``.
    issue_id: Mapped[str] = mapped_column(String(80), index=True)
    #: What the issue is about on this endpoint (a path, a port, a cookie name...), or "".
    subject: Mapped[str] = mapped_column(String(300), default="")
    #: info, low, medium, high, critical.
    severity: Mapped[str] = mapped_column(String(10), index=True)
    #: open, fixed, accepted (risk accepted, with a reason), false_positive.
    status: Mapped[str] = mapped_column(String(15), index=True, default="open")
    status_reason: Mapped[str] = mapped_column(Text, default="")
    first_seen: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    last_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    fixed_at: Mapped[dt.datetime | None] = mapped_column()
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    #: The latest evidence captured (JSON, size-capped by the runner).
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_scan_id: Mapped[int | None] = mapped_column(
        ForeignKey("exposure_scan.id", ondelete="SET NULL"))
    last_scan_id: Mapped[int | None] = mapped_column(
        ForeignKey("exposure_scan.id", ondelete="SET NULL"), index=True)
    #: The CSIRT case opened for it (automatically or in one click), by id and reference.
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("csirt_case.id", ondelete="SET NULL"))
    case_reference: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class ExposureScore(Base):
    """An institution's exposure score after a scan (0 best, 100 worst), kept for the trend."""

    __tablename__ = "exposure_score"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("registry_institution.id", ondelete="CASCADE"), index=True)
    scan_id: Mapped[int | None] = mapped_column(
        ForeignKey("exposure_scan.id", ondelete="SET NULL"), index=True)
    taken_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    score: Mapped[float] = mapped_column(Float)
    #: Open findings by severity at that time: ``{"critical": 1, "high": 0, ...}``.
    open_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    endpoints: Mapped[int] = mapped_column(Integer, default=0)


class FeedImport(Base):
    """One vulnerability feed file imported (kept so an import is traceable and idempotent)."""

    __tablename__ = "exposure_feed_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: kev or nvd.
    source: Mapped[str] = mapped_column(String(10), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    #: The feed's own version or timestamp, when it has one.
    feed_version: Mapped[str] = mapped_column(String(60), default="")
    entries: Mapped[int] = mapped_column(Integer, default=0)
    imported_by: Mapped[str] = mapped_column(String(254), default="")
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class KnownVulnerability(Base):
    """A product version range with a known vulnerability (NVD) or known exploitation (KEV).

    Products are normalised to lowercase CPE-like ``vendor``/``product`` names so that banner
    and header detections (``nginx/1.18.0``, ``OpenSSH_7.4``) can be matched offline.
    """

    __tablename__ = "exposure_known_vulnerability"
    __table_args__ = (UniqueConstraint("source", "match_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(10), index=True)
    cve_id: Mapped[str] = mapped_column(String(30), index=True)
    vendor: Mapped[str] = mapped_column(String(100), default="")
    product: Mapped[str] = mapped_column(String(100), index=True)
    #: Exact version affected ("" when a range is given, "*" for every version).
    version: Mapped[str] = mapped_column(String(60), default="")
    version_start_including: Mapped[str] = mapped_column(String(60), default="")
    version_start_excluding: Mapped[str] = mapped_column(String(60), default="")
    version_end_including: Mapped[str] = mapped_column(String(60), default="")
    version_end_excluding: Mapped[str] = mapped_column(String(60), default="")
    #: sha256 of the fields above: one row per (source, CVE, product, range).
    match_key: Mapped[str] = mapped_column(String(64))
    known_exploited: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    ransomware: Mapped[bool] = mapped_column(Boolean, default=False)
    cvss_score: Mapped[float | None] = mapped_column(Float)
    title: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    published: Mapped[dt.date | None] = mapped_column()
    feed_import_id: Mapped[int | None] = mapped_column(
        ForeignKey("exposure_feed_import.id", ondelete="SET NULL"))

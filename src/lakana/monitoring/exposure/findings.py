"""Findings across scans: fingerprints, merge (new, seen again, fixed, reopened), due dates,
and the institutions' exposure scores.

* A finding's fingerprint is ``sha256(institution:kind:value | issue_id | subject)``: the same
  weakness on the same endpoint is one finding for its whole life, whatever the scan.
* Merge rules for one target of one scan (only checks that *ran* on it count; a check that
  failed with an error says nothing about what it would have seen):
  new → ``open`` with a due date by severity; open and seen → ``last_seen`` and evidence
  refreshed; ``fixed`` and seen → ``open`` again, ``reopened_count`` + 1, a new due date;
  ``accepted`` / ``false_positive`` keep their status (a person decided) but ``last_seen``
  moves; open and *not* seen by a check that ran → ``fixed``.
* Score (0 = nothing open, 100 = worst): ``100 × (1 − Π (1 − w))`` over open findings, with
  ``w`` by severity (:data:`SCORE_WEIGHTS`): one critical finding alone gives 50, two give 75;
  a high gives 20; ten lows about 10. Accepted risks and false positives do not count.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakana.core.db import utcnow
from lakana.monitoring.exposure.checks import builtin_checks
from lakana.monitoring.exposure.checks.base import (
    SEVERITY_ORDER,
    Check,
    CheckReport,
    Issue,
    Observation,
    Severity,
    Target,
)
from lakana.monitoring.exposure.models import (
    ExposureFinding,
    ExposureScan,
    ExposureScore,
    ScanResult,
)

#: Days to fix a finding, by severity (None: no deadline). The one place this lives.
DUE_DAYS: dict[Severity, int | None] = {
    Severity.CRITICAL: 7, Severity.HIGH: 30, Severity.MEDIUM: 90, Severity.LOW: 180,
    Severity.INFO: None}
#: Weight of one open finding in the exposure score, by severity.
SCORE_WEIGHTS: dict[Severity, float] = {
    Severity.CRITICAL: 0.5, Severity.HIGH: 0.2, Severity.MEDIUM: 0.05, Severity.LOW: 0.01,
    Severity.INFO: 0.0}
#: Largest evidence kept on a finding (JSON, UTF-8 bytes); larger is cut down.
EVIDENCE_MAX = 16 * 1024
#: Statuses a person chose: the scanner never changes them.
DECIDED = frozenset({"accepted", "false_positive"})


def available_checks() -> dict[str, type[Check]]:
    """The checks a scan may run, by id (the built-ins)."""
    return builtin_checks()


def issue_catalogue(checks: Mapping[str, type[Check]]) -> dict[str, Issue]:
    """Every issue the given checks may report, by id."""
    return {issue_id: issue for cls in checks.values() for issue_id, issue in cls.issues.items()}


def all_issues() -> dict[str, Issue]:
    """Every issue of the built-in checks, by id."""
    return issue_catalogue(available_checks())


def due_date(severity: Severity | str, since: dt.datetime) -> dt.datetime | None:
    """When a finding of ``severity`` seen (again) at ``since`` must be fixed."""
    days = DUE_DAYS[Severity(severity)]
    return None if days is None else since + dt.timedelta(days=days)


def endpoint_key(target: Target) -> str:
    """The endpoint part of a fingerprint: owner and ``kind:value``."""
    return f"{target.institution_id}:{target.label}"


def fingerprint(target: Target, issue_id: str, subject: str) -> str:
    """The identity of a finding across scans."""
    raw = f"{endpoint_key(target)}|{issue_id}|{subject}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def cap_evidence(evidence: Mapping[str, Any], limit: int = EVIDENCE_MAX) -> dict[str, Any]:
    """``evidence`` as plain JSON, cut to ``limit`` bytes: long strings are shortened first,
    then, if still too big, the evidence is replaced by a truncated excerpt."""
    plain = json.loads(json.dumps(evidence, default=str))
    if len(json.dumps(plain)) <= limit:
        return dict(plain)
    shortened = {k: (v[:1024] + "…" if isinstance(v, str) and len(v) > 1024 else v)
                 for k, v in plain.items()}
    text = json.dumps(shortened)
    if len(text) <= limit:
        return shortened
    return {"truncated": True, "excerpt": text[:limit - 100]}


def evidence_of(observation: Observation) -> dict[str, Any]:
    """The evidence kept on a finding: the observation's, plus its title parameters under
    ``_params`` (the finding's title is rebuilt from them), size-capped."""
    evidence = dict(observation.evidence)
    if observation.params:
        evidence["_params"] = {k: str(v)[:200] for k, v in observation.params.items()}
    return cap_evidence(evidence)


def severity_of(observation: Observation, issue: Issue | None) -> Severity:
    """The observation's own severity, else its issue's, else info."""
    if observation.severity is not None:
        return observation.severity
    return issue.severity if issue is not None else Severity.INFO


@dataclass
class MergeOutcome:
    """What merging one target's reports changed."""

    new: int = 0
    fixed: int = 0
    reopened: int = 0
    #: Findings that became open now (new or reopened), for automatic cases and evidence.
    opened: list[ExposureFinding] = field(default_factory=list)


def _open_again(finding: ExposureFinding, now: dt.datetime) -> None:
    finding.status = "open"
    finding.status_reason = ""
    finding.fixed_at = None
    finding.reopened_count += 1
    finding.due_at = due_date(finding.severity, now)


def _new_finding(scan: ExposureScan, target: Target, check_id: str, obs: Observation,
                 severity: Severity, print_: str, now: dt.datetime) -> ExposureFinding:
    return ExposureFinding(
        fingerprint=print_, institution_id=target.institution_id, system_id=target.system_id,
        endpoint_id=target.endpoint_id, target=target.label[:520], check_id=check_id[:40],
        issue_id=obs.issue_id[:80], subject=obs.subject[:300], severity=severity.value,
        status="open", first_seen=now, last_seen=now, due_at=due_date(severity, now),
        evidence=evidence_of(obs), first_scan_id=scan.id, last_scan_id=scan.id)


def merge_target(session: Session, *, scan: ExposureScan, target: Target,
                 reports: Sequence[CheckReport], issues: Mapping[str, Issue],
                 now: dt.datetime | None = None) -> MergeOutcome:
    """Merge one target's check reports into its findings (see the module's rules)."""
    now = now or utcnow()
    outcome = MergeOutcome()
    ran = {r.check_id for r in reports if r.error is None}
    seen: set[str] = set()
    for report in reports:
        if report.error is not None:
            continue
        for obs in report.observations:
            print_ = fingerprint(target, obs.issue_id, obs.subject)
            if print_ in seen:
                continue  # one check reporting the same thing twice
            seen.add(print_)
            severity = severity_of(obs, issues.get(obs.issue_id))
            finding = session.scalar(select(ExposureFinding).where(
                ExposureFinding.fingerprint == print_))
            if finding is None:
                finding = _new_finding(scan, target, report.check_id, obs, severity, print_,
                                       now)
                session.add(finding)
                outcome.new += 1
                outcome.opened.append(finding)
                continue
            finding.last_seen, finding.last_scan_id = now, scan.id
            finding.evidence = evidence_of(obs)
            finding.system_id = target.system_id
            finding.endpoint_id = target.endpoint_id
            if finding.status == "fixed":
                finding.severity = severity.value
                _open_again(finding, now)
                outcome.reopened += 1
                outcome.opened.append(finding)
            elif finding.status == "open" and finding.severity != severity.value:
                finding.severity = severity.value
                finding.due_at = min(filter(None, [finding.due_at, due_date(severity, now)]),
                                     default=None)
    if ran:
        stale = session.scalars(select(ExposureFinding).where(
            ExposureFinding.institution_id == target.institution_id,
            ExposureFinding.target == target.label[:520],
            ExposureFinding.check_id.in_(ran), ExposureFinding.status == "open"))
        for finding in stale:
            if finding.fingerprint not in seen:
                finding.status, finding.fixed_at = "fixed", now
                finding.last_scan_id = scan.id
                outcome.fixed += 1
    session.flush()
    return outcome


# --- scores -----------------------------------------------------------------------------

def score_of(open_counts: Mapping[str, int]) -> float:
    """The exposure score of these open-finding counts (see the module's formula)."""
    remaining = 1.0
    for severity, count in open_counts.items():
        remaining *= (1.0 - SCORE_WEIGHTS.get(Severity(severity), 0.0)) ** max(count, 0)
    return round(100.0 * (1.0 - remaining), 1)


def open_counts(session: Session, institution_ids: Iterable[int] | None = None
                ) -> dict[int, dict[str, int]]:
    """Open findings by institution and severity (every severity present, 0 when none)."""
    stmt = (select(ExposureFinding.institution_id, ExposureFinding.severity, func.count())
            .where(ExposureFinding.status == "open")
            .group_by(ExposureFinding.institution_id, ExposureFinding.severity))
    if institution_ids is not None:
        stmt = stmt.where(ExposureFinding.institution_id.in_(list(institution_ids)))
    counts: dict[int, dict[str, int]] = {}
    for institution_id, severity, count in session.execute(stmt):
        row = counts.setdefault(institution_id, {s.value: 0 for s in SEVERITY_ORDER})
        row[severity] = int(count)
    return counts


def empty_counts() -> dict[str, int]:
    """Zero open findings of every severity."""
    return {s.value: 0 for s in SEVERITY_ORDER}


def record_scores(session: Session, *, scan: ExposureScan, institution_ids: Iterable[int],
                  now: dt.datetime | None = None) -> list[ExposureScore]:
    """Store each institution's score after ``scan`` (kept for the trend)."""
    ids = sorted(set(institution_ids))
    counts = open_counts(session, ids)
    endpoints = dict(session.execute(
        select(ScanResult.institution_id, func.count()).where(ScanResult.scan_id == scan.id)
        .group_by(ScanResult.institution_id)).all())
    rows = []
    for institution_id in ids:
        found = counts.get(institution_id, empty_counts())
        row = ExposureScore(institution_id=institution_id, scan_id=scan.id,
                            taken_at=now or utcnow(), score=score_of(found),
                            open_counts=found, endpoints=int(endpoints.get(institution_id, 0)))
        session.add(row)
        rows.append(row)
    session.flush()
    return rows

"""Exposure monitoring services: scans (request, run, read), findings (list, triage) and
exposure scores, for the web pages, the API, the CLI and jobs.

Scope: a focal point scans and reads only its own institution's endpoints and findings; the
centre (national roles) everything. Scans, results and findings carry their institution, and
every list goes through :func:`restrict`; single objects through :func:`ensure_in_scope`
(404 for another institution's). A scan request out of scope is refused before anything is
queued. The runner lives in :mod:`.runner`, the merge and score rules in :mod:`.findings`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.orm import Session

from lakana.core import audit
from lakana.core.auth.rbac import Actor, ensure_in_scope, restrict
from lakana.core.concurrency import check_version, flush_or_conflict
from lakana.core.db import count_rows, utcnow
from lakana.core.errors import Forbidden, Invalid, NotFound
from lakana.core.i18n import Msg
from lakana.core.jobs.service import enqueue
from lakana.monitoring.exposure import findings, tasks
from lakana.monitoring.exposure.checks.base import Issue
from lakana.monitoring.exposure.models import (
    ExposureFinding,
    ExposureScan,
    ExposureScore,
    ScanResult,
)
from lakana.monitoring.exposure.permissions import ExposurePermission as P
from lakana.monitoring.exposure.runner import run_scan
from lakana.monitoring.exposure.schemas import (
    EndpointExposure,
    FindingQuery,
    FindingTriage,
    InstitutionExposure,
    NationalRow,
    ScanRequest,
    TriageStatus,
)
from lakana.monitoring.exposure.targets import targets_for
from lakana.registry import service as registry

__all__ = ["run_scan", "targets_for"]

SCAN, FINDING = Msg("scan"), Msg("finding")
#: How many score points the trend of an institution page shows.
TREND_POINTS = 30


def _missing(what: Msg) -> NotFound:
    return NotFound("This %(what)s does not exist or is not visible to you.", what=what)


# --- catalogue --------------------------------------------------------------------------

def issue_of(issue_id: str) -> Issue | None:
    """The catalogue entry of ``issue_id`` among the built-in checks, if any."""
    return findings.all_issues().get(issue_id)


def check_titles() -> dict[str, str]:
    """Each built-in check's title (an English msgid), by id, in run order."""
    return {check_id: cls.title for check_id, cls in findings.available_checks().items()}


# --- scans ------------------------------------------------------------------------------

def scan_state(scan: ExposureScan) -> dict[str, Any]:
    """The ledgered state of a scan request."""
    return {"institution_id": scan.institution_id, "system_id": scan.system_id,
            "trigger": scan.trigger, "checks": list(scan.checks),
            "targets": scan.targets_total}


def request_scan(*, session: Session, actor: Actor, data: ScanRequest,
                 trigger: str) -> ExposureScan:
    """Queue a scan of one system, one institution (with the bodies under it) or, for the
    centre, every endpoint; a focal point's request defaults to its institution. Refused
    when out of scope (404), unpermitted (403), or with nothing to scan (422)."""
    actor.require(P.SCAN)
    institution_id = data.institution_id
    if not actor.is_national:
        if institution_id is None and data.system_id is None:
            institution_id = actor.institution_id
        if institution_id is not None and institution_id != actor.institution_id:
            raise Forbidden("You may scan only the endpoints of your own institution.")
    known = findings.available_checks()
    unknown = sorted(set(data.checks or ()) - set(known))
    if unknown:
        raise Invalid("Unknown check %(value)s; known: %(known)s.",
                      value=", ".join(unknown)[:100], known=", ".join(known))
    targets = targets_for(session=session, actor=actor, institution_id=institution_id,
                          system_id=data.system_id)
    if not targets:
        raise Invalid("There is no registered endpoint to scan here.")
    if data.system_id is not None and institution_id is None:
        institution_id = targets[0].institution_id
    scan = ExposureScan(institution_id=institution_id, system_id=data.system_id,
                        status="queued", trigger=trigger[:10],
                        checks=[c for c in known if c in (data.checks or ())],
                        requested_by=actor.name[:254], targets_total=len(targets))
    session.add(scan)
    session.flush()
    enqueue(session, tasks.SCAN_TASK, {"scan_id": scan.id})
    audit.record(session=session, actor=actor, action="exposure.scan.request",
                 object_type="exposure.scan", object_id=scan.id,
                 object_repr=f"scan #{scan.id}", after=scan_state(scan),
                 institution_id=institution_id)
    return scan


def _scans(actor: Actor) -> Select[Any]:
    return restrict(select(ExposureScan), actor=actor, permission=P.READ,
                    scope=ExposureScan.institution_id)


def list_scans(*, session: Session, actor: Actor, institution_id: int | None = None,
               limit: int = 50) -> list[ExposureScan]:
    """The latest scans the actor may see, newest first."""
    stmt = _scans(actor)
    if institution_id is not None:
        stmt = stmt.where(ExposureScan.institution_id == institution_id)
    stmt = stmt.order_by(ExposureScan.created_at.desc(), ExposureScan.id.desc())
    return list(session.scalars(stmt.limit(max(1, min(limit, 500)))))


def get_scan(*, session: Session, actor: Actor, scan_id: int) -> ExposureScan:
    """One scan (404 when absent or of another institution)."""
    scan = session.get(ExposureScan, scan_id)
    ensure_in_scope(actor, scan.institution_id if scan else -1, P.READ, what=SCAN)
    if scan is None:
        raise _missing(SCAN)
    return scan


def scan_results(*, session: Session, actor: Actor, scan_id: int) -> list[ScanResult]:
    """What a scan saw on each endpoint, by target."""
    scan = get_scan(session=session, actor=actor, scan_id=scan_id)
    stmt = restrict(select(ScanResult), actor=actor, permission=P.READ,
                    scope=ScanResult.institution_id).where(ScanResult.scan_id == scan.id)
    return list(session.scalars(stmt.order_by(ScanResult.target, ScanResult.id)))


# --- findings ---------------------------------------------------------------------------

def _overdue(now: dt.datetime) -> ColumnElement[bool]:
    return (ExposureFinding.status == "open") & ExposureFinding.due_at.is_not(None) \
        & (ExposureFinding.due_at < now)


def _findings(actor: Actor, query: FindingQuery) -> Select[Any]:
    stmt = restrict(select(ExposureFinding), actor=actor, permission=P.READ,
                    scope=ExposureFinding.institution_id)
    simple: list[tuple[Any, Any]] = [
        (ExposureFinding.institution_id, query.institution_id),
        (ExposureFinding.system_id, query.system_id),
        (ExposureFinding.status, query.status and query.status.value),
        (ExposureFinding.severity, query.severity and query.severity.value),
        (ExposureFinding.check_id, query.check_id)]
    for column, value in simple:
        if value is not None:
            stmt = stmt.where(column == value)
    if query.q:
        needle = query.q.lower()
        stmt = stmt.where(or_(*(func.lower(c).contains(needle, autoescape=True) for c in (
            ExposureFinding.target, ExposureFinding.issue_id, ExposureFinding.subject))))
    if query.overdue is not None:
        overdue = _overdue(utcnow())
        stmt = stmt.where(overdue if query.overdue else ~overdue)
    return stmt


_SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def list_findings(*, session: Session, actor: Actor, query: FindingQuery
                  ) -> list[ExposureFinding]:
    """Findings the actor may see, filtered, worst and oldest first, paged."""
    rank = case(_SEVERITY_RANK, value=ExposureFinding.severity, else_=5)
    stmt = _findings(actor, query).order_by(rank, ExposureFinding.first_seen,
                                            ExposureFinding.id)
    return list(session.scalars(stmt.limit(query.limit).offset(query.offset)))


def count_findings(*, session: Session, actor: Actor, query: FindingQuery) -> int:
    """How many findings match ``query`` (ignoring its page)."""
    return count_rows(session, _findings(actor, query))


def get_finding(*, session: Session, actor: Actor, finding_id: int,
                permission: str = P.READ) -> ExposureFinding:
    """One finding (404 when absent or of another institution)."""
    finding = session.get(ExposureFinding, finding_id)
    ensure_in_scope(actor, finding.institution_id if finding else -1, permission,
                    what=FINDING)
    if finding is None:
        raise _missing(FINDING)
    return finding


def finding_state(finding: ExposureFinding) -> dict[str, Any]:
    """The ledgered state of a finding's triage."""
    return {"status": finding.status, "reason": finding.status_reason,
            "due_at": finding.due_at.isoformat() if finding.due_at else None}


def triage_finding(*, session: Session, actor: Actor, finding_id: int,
                   data: FindingTriage) -> ExposureFinding:
    """Accept a risk, mark a false positive (both with a reason), or reopen; 409 when
    ``version`` is stale. The scanner never undoes these decisions."""
    finding = get_finding(session=session, actor=actor, finding_id=finding_id,
                          permission=P.TRIAGE)
    check_version(finding.version, data.version)
    if data.status is not TriageStatus.OPEN and not data.reason.strip():
        raise Invalid("Give a reason for accepting the risk or marking a false positive.")
    before = finding_state(finding)
    if data.status is TriageStatus.OPEN and finding.status != "open":
        finding.due_at = findings.due_date(finding.severity, utcnow())
        finding.fixed_at = None
    finding.status, finding.status_reason = data.status.value, data.reason.strip()
    if finding_state(finding) == before:
        return finding
    flush_or_conflict(session)
    audit.record(session=session, actor=actor, action="exposure.finding.triage",
                 object_type="exposure.finding", object_id=finding.id,
                 object_repr=f"{finding.issue_id} {finding.target}"[:300], before=before,
                 after=finding_state(finding), institution_id=finding.institution_id)
    return finding


def count_open_critical(session: Session, actor: Actor) -> int:
    """Open critical findings in the actor's scope (the dashboard card)."""
    return count_findings(session=session, actor=actor,
                          query=FindingQuery(status="open", severity="critical"))


# --- scores and views -------------------------------------------------------------------

def _latest_scores(session: Session, institution_ids: list[int] | None
                   ) -> dict[int, ExposureScore]:
    latest = select(ExposureScore.institution_id, func.max(ExposureScore.id).label("id")) \
        .group_by(ExposureScore.institution_id)
    if institution_ids is not None:
        latest = latest.where(ExposureScore.institution_id.in_(institution_ids))
    ids = [row.id for row in session.execute(latest)]
    return {s.institution_id: s for s in session.scalars(
        select(ExposureScore).where(ExposureScore.id.in_(ids)))} if ids else {}


def _overdue_counts(session: Session, institution_ids: list[int] | None) -> dict[int, int]:
    stmt = select(ExposureFinding.institution_id, func.count()).where(
        _overdue(utcnow())).group_by(ExposureFinding.institution_id)
    if institution_ids is not None:
        stmt = stmt.where(ExposureFinding.institution_id.in_(institution_ids))
    return {int(k): int(v) for k, v in session.execute(stmt).all()}


def _endpoints(session: Session, institution_id: int) -> list[EndpointExposure]:
    latest = select(func.max(ScanResult.id)).where(
        ScanResult.institution_id == institution_id).group_by(ScanResult.target)
    rows = session.scalars(select(ScanResult).where(ScanResult.id.in_(latest))
                           .order_by(ScanResult.target))
    open_by_target = dict(session.execute(
        select(ExposureFinding.target, func.count()).where(
            ExposureFinding.institution_id == institution_id,
            ExposureFinding.status == "open").group_by(ExposureFinding.target)).all())
    return [EndpointExposure(
        endpoint_id=r.endpoint_id, system_id=r.system_id, target=r.target, status=r.status,
        observatory_score=r.observatory_score, observatory_grade=r.observatory_grade,
        scanned_at=r.created_at, scan_id=r.scan_id,
        open_findings=int(open_by_target.get(r.target, 0))) for r in rows]


def institution_exposure(*, session: Session, actor: Actor,
                         institution_id: int) -> InstitutionExposure:
    """An institution's exposure page: score, open counts, overdue, trend, endpoints."""
    ensure_in_scope(actor, institution_id, P.READ, what=Msg("institution"))
    inst = registry.get_institution(session=session, actor=actor,
                                    institution_id=institution_id)
    scores = list(session.scalars(
        select(ExposureScore).where(ExposureScore.institution_id == institution_id)
        .order_by(ExposureScore.taken_at.desc(), ExposureScore.id.desc()).limit(TREND_POINTS)))
    counts = findings.open_counts(session, [institution_id]).get(
        institution_id, findings.empty_counts())
    return InstitutionExposure(
        institution_id=inst.id, institution_acronym=inst.acronym, institution_name=inst.name,
        score=scores[0].score if scores else None, open_counts=counts,
        overdue=_overdue_counts(session, [institution_id]).get(institution_id, 0),
        trend=[(s.taken_at, s.score) for s in reversed(scores)],
        endpoints=_endpoints(session, institution_id),
        last_scan_at=scores[0].taken_at if scores else None)


def national_exposure(*, session: Session, actor: Actor) -> list[NationalRow]:
    """Every institution's latest score and open findings, worst first (never scanned
    last); the centre only."""
    actor.require(P.NATIONAL_READ)
    institutions = registry.institution_summaries(session=session, actor=actor)
    scores = _latest_scores(session, None)
    counts = findings.open_counts(session)
    overdue = _overdue_counts(session, None)
    rows = [NationalRow(
        institution_id=i.id, institution_acronym=i.acronym, institution_name=i.name,
        score=scores[i.id].score if i.id in scores else None,
        open_counts=counts.get(i.id, findings.empty_counts()), overdue=overdue.get(i.id, 0),
        endpoints=scores[i.id].endpoints if i.id in scores else 0,
        last_scan_at=scores[i.id].taken_at if i.id in scores else None)
        for i in institutions]
    rows.sort(key=lambda r: (r.score is None, -(r.score or 0.0), -r.open_counts["critical"],
                             r.institution_acronym))
    return rows

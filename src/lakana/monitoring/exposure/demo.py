"""Demo exposure data, made without any network: five weekly scans of the demo institutions'
registered endpoints (the Ministry of Economy and Finance first), results with HTTP
Observatory grades, findings merged by the real merge rules (so that one is fixed, one
reopened after its fix, one new, and one risk accepted by a person), the score after each
scan for the trend, and one import of a small CISA KEV excerpt bundled in ``data/``.

The observations are invented but shaped like what the checks report; the KEV entries are
real CVEs, their descriptions written for Lakana. Loading twice changes nothing (skipped
when a demo scan exists).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core.auth.rbac import Actor
from lakana.core.db import utcnow
from lakana.monitoring.exposure import findings, targets
from lakana.monitoring.exposure.checks.base import (
    CheckReport,
    Issue,
    Observation,
    Severity,
    Target,
    TargetKind,
)
from lakana.monitoring.exposure.models import (
    ExposureFinding,
    ExposureScan,
    FeedImport,
    ScanResult,
)
from lakana.registry import service as registry_service

KEV_FILE = Path(__file__).parent / "data" / "kev-demo.json"
DEMO_BY = "lakana demo"
#: Days before today of each demo scan (oldest first): five weekly points of trend.
SCAN_DAYS_AGO = (29, 22, 15, 8, 1)
FIRST_ACRONYMS = ("MEF",)
INSTITUTIONS = 4
TARGETS_PER_INSTITUTION = 4
CHECK_IDS = ["tls", "http", "paths", "ports", "software", "dns"]
#: HTTP Observatory score and grade of a URL, by how many header issues it still has.
GRADES = ((0, 100, "A"), (1, 70, "B"), (2, 45, "C"), (3, 25, "D"), (9, 0, "F"))


def _obs(issue_id: str, severity: Severity, subject: str = "", **evidence: Any
         ) -> Observation:
    return Observation(issue_id=issue_id, subject=subject, evidence=evidence,
                       severity=severity)


def _url_reports(rank: int, inst: int, scan: int) -> tuple[list[CheckReport], int]:
    """What the checks "saw" on a URL: header issues shrink over time on the first
    institution; an exposed ``.git`` is fixed at scan 2 and comes back at scan 4."""
    http: list[Observation] = []
    if not (inst == 0 and scan >= 2):
        http.append(_obs("http.hsts.missing", Severity.MEDIUM, header="strict-transport-security",
                         value=None))
    if not (inst == 0 and rank == 0 and scan >= 3):
        http.append(_obs("http.csp.missing", Severity.MEDIUM,
                         header="content-security-policy", value=None))
    http.append(_obs("http.disclosure.version", Severity.LOW, "server",
                     header="server", value="Apache/2.4.49 (Unix)" if inst == 1 else
                     "nginx/1.18.0"))
    paths: list[Observation] = []
    if inst == 0 and rank == 0 and scan in (0, 1, 4):
        paths.append(_obs("paths.git", Severity.CRITICAL, "/.git/",
                          url="/.git/HEAD", status=200, body="ref: refs/heads/main\n"))
    tls: list[Observation] = []
    if inst in (1, 2) or (inst == 0 and scan < 3):
        tls.append(_obs("tls.protocol.tls1_0", Severity.HIGH, "TLSv1.0",
                        accepted=["TLSv1.0", "TLSv1.2"], profile="intermediate"))
    software: list[Observation] = []
    if inst == 1 and rank == 0 and scan >= 2:
        software.append(_obs("software.kev", Severity.CRITICAL, "CVE-2021-41773",
                             product="apache http_server", version="2.4.49",
                             cve="CVE-2021-41773", source="server header"))
    grade = next(g for g in GRADES if len(http) - 1 <= g[0])
    reports = [CheckReport("http", tuple(http), facts={"score": grade[1], "grade": grade[2]}),
               CheckReport("paths", tuple(paths)), CheckReport("tls", tuple(tls)),
               CheckReport("software", tuple(software))]
    return reports, grade[1]


def _reports(target: Target, rank: int, inst: int, scan: int
             ) -> tuple[list[CheckReport], int | None]:
    """The invented reports of one target at one scan, and its Observatory score."""
    if target.kind is TargetKind.URL:
        return _url_reports(rank, inst, scan)
    if target.kind is TargetKind.DOMAIN:
        dns = [_obs("dns.dmarc.missing", Severity.MEDIUM, record=f"_dmarc.{target.host}")]
        if inst != 0 or scan < 4:
            dns.append(_obs("dns.dnssec.missing", Severity.LOW, zone=target.host))
        return [CheckReport("dns", tuple(dns))], None
    ports = [_obs("ports.rdp", Severity.HIGH, "3389", port=3389, banner="")]
    if inst == 2 and scan >= 3:
        ports.append(_obs("ports.redis", Severity.CRITICAL, "6379", port=6379,
                          banner="-NOAUTH Authentication required."))
    return [CheckReport("ports", tuple(ports))], None


def _pick_targets(session: Session, actor: Actor) -> dict[int, list[Target]]:
    by_institution: dict[int, list[Target]] = defaultdict(list)
    for target in targets.targets_for(session=session, actor=actor):
        if target.institution_id is not None:
            by_institution[target.institution_id].append(target)
    first = [registry_service.get_institution_id_by_acronym(session=session, acronym=a)
             for a in FIRST_ACRONYMS]
    order = [i for i in first if i in by_institution]
    order += [i for i in sorted(by_institution) if i not in order]
    return {i: sorted(by_institution[i], key=lambda t: (t.kind != TargetKind.URL, t.label))
            [:TARGETS_PER_INSTITUTION] for i in order[:INSTITUTIONS]}


def _issues() -> dict[str, Issue]:
    # The checks' catalogues give titles and default severities; the demo's observations
    # carry their own severity, so a catalogue that lacks an id changes nothing.
    try:
        from lakana.monitoring.exposure.runner import available_checks, issue_catalogue

        return issue_catalogue(available_checks())
    except ImportError:
        return {}


def _run_scan(session: Session, chosen: dict[int, list[Target]], number: int,
              when: dt.datetime, issues: dict[str, Issue]) -> ExposureScan:
    total = sum(len(t) for t in chosen.values())
    scan = ExposureScan(status="done", trigger="schedule", checks=CHECK_IDS,
                        requested_by=DEMO_BY, targets_total=total, targets_done=total,
                        created_at=when, started_at=when,
                        finished_at=when + dt.timedelta(minutes=3))
    session.add(scan)
    session.flush()
    for inst, (institution_id, found) in enumerate(chosen.items()):
        for rank, target in enumerate(found):
            reports, score = _reports(target, rank, inst, number)
            outcome = findings.merge_target(session, scan=scan, target=target,
                                            reports=reports, issues=issues, now=when)
            scan.findings_new += outcome.new
            scan.findings_fixed += outcome.fixed
            scan.findings_reopened += outcome.reopened
            grade = next((dict(r.facts).get("grade") for r in reports if r.facts), None)
            session.add(ScanResult(
                scan_id=scan.id, endpoint_id=target.endpoint_id, system_id=target.system_id,
                institution_id=institution_id, target=target.label, status="ok",
                facts={r.check_id: dict(r.facts) for r in reports if r.facts},
                observatory_score=score, observatory_grade=grade,
                duration_ms=1200 + 150 * rank, created_at=when))
    session.flush()
    findings.record_scores(session, scan=scan, institution_ids=list(chosen),
                           now=scan.finished_at)
    return scan


def _accept_one(session: Session, when: dt.datetime) -> None:
    # A person accepted the version disclosure of one server (a decision the scans keep).
    finding = session.scalars(select(ExposureFinding).where(
        ExposureFinding.issue_id == "http.disclosure.version", ExposureFinding.status == "open")
        .order_by(ExposureFinding.id)).first()
    if finding is not None:
        finding.status = "accepted"
        finding.status_reason = ("Serveur interne de test, retiré d'Internet à la fin du "
                                 "trimestre ; risque accepté par le RSSI.")
        finding.updated_at = when


def _import_kev(session: Session, actor: Actor) -> int:
    from lakana.monitoring.exposure import feeds

    data = KEV_FILE.read_bytes()
    if session.scalar(select(FeedImport.id).where(FeedImport.source == "kev")) is not None:
        return 0
    feeds.import_feed(session=session, actor=actor, source="kev", data=data,
                      filename=KEV_FILE.name)
    return 1


def load_demo(*, session: Session, actor: Actor) -> dict[str, int]:
    """Load the demo scans, findings, scores and KEV import (skipped when already there)."""
    if session.scalar(select(ExposureScan.id).where(ExposureScan.requested_by == DEMO_BY)):
        return {"scans": 0, "findings": 0, "feeds": 0}
    feeds_loaded = _import_kev(session, actor)
    chosen = _pick_targets(session, actor)
    if not chosen:
        return {"scans": 0, "findings": 0, "feeds": feeds_loaded}
    issues = _issues()
    today = utcnow().replace(hour=6, minute=0, second=0, microsecond=0)
    scans = [_run_scan(session, chosen, n, today - dt.timedelta(days=days), issues)
             for n, days in enumerate(SCAN_DAYS_AGO)]
    _accept_one(session, today)
    session.flush()
    count = len(session.scalars(select(ExposureFinding.id)).all())
    return {"scans": len(scans), "findings": count, "feeds": feeds_loaded}

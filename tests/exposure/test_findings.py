"""Findings across scans (first/last seen, fixed, reopened, decisions kept), due dates,
evidence cap and the exposure score, with scans against a real loopback server."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.monitoring.exposure import findings, service
from lakana.monitoring.exposure.checks.base import Severity
from lakana.monitoring.exposure.models import ExposureFinding, ExposureScan, ExposureScore
from lakana.monitoring.exposure.schemas import FindingTriage
from tests.exposure import service_fixtures
from tests.exposure.service_fixtures import (
    ADMIN,
    ExposureWorld,
    scan_now,
)

#: Fixtures shared by the exposure service tests.
exposure_world = service_fixtures.exposure_world
fake_checks = service_fixtures.fake_checks
scan_settings = service_fixtures.scan_settings


def _findings(session_factory: sessionmaker[Session]) -> list[ExposureFinding]:
    with session_factory() as session:
        return list(session.scalars(select(ExposureFinding).order_by(ExposureFinding.id)))


def _scan(session_factory: sessionmaker[Session], scan_id: int) -> ExposureScan:
    with session_factory() as session:
        found = session.get(ExposureScan, scan_id)
        assert found is not None
        return found


def test_findings_are_deduplicated_across_scans(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session]) -> None:
    # Given an endpoint with a medium issue on two paths
    exposure_world.a_server.issues = {"fake.med": "/a", "fake.low": "/b"}
    # When it is scanned twice
    first = scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    before = _findings(session_factory)
    second = scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    after = _findings(session_factory)
    # Then there are still two findings: first seen kept, last seen moved, counters right
    assert len(before) == len(after) == 2
    for old, new in zip(before, after, strict=True):
        assert new.first_seen == old.first_seen and new.last_seen > old.last_seen
        assert (new.first_scan_id, new.last_scan_id) == (first, second)
        assert new.status == "open" and new.institution_id == exposure_world.a
    assert _scan(session_factory, first).findings_new == 2
    assert _scan(session_factory, second).findings_new == 0
    medium = next(f for f in after if f.issue_id == "fake.med")
    assert medium.subject == "/a" and medium.check_id == "fake"
    assert medium.evidence["_params"] == {"name": "127.0.0.1"}
    assert len(medium.fingerprint) == 64


def test_fixed_then_reopened(exposure_world: ExposureWorld,
                             session_factory: sessionmaker[Session]) -> None:
    # Given a finding
    exposure_world.a_server.issues = {"fake.med": ""}
    scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    # When the next scan no longer sees it
    exposure_world.a_server.issues = {}
    fixed_scan = scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    # Then it is fixed
    (finding,) = _findings(session_factory)
    assert finding.status == "fixed" and finding.fixed_at is not None
    assert _scan(session_factory, fixed_scan).findings_fixed == 1
    # When it comes back
    exposure_world.a_server.issues = {"fake.med": ""}
    again = scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    # Then it is open again, counted as reopened, with a new due date
    (finding,) = _findings(session_factory)
    assert finding.status == "open" and finding.fixed_at is None
    assert finding.reopened_count == 1
    assert _scan(session_factory, again).findings_reopened == 1
    assert finding.due_at is not None
    assert abs((finding.due_at - finding.last_seen) - dt.timedelta(days=90)) \
        < dt.timedelta(seconds=5)


def test_a_failed_check_does_not_fix_findings(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session]) -> None:
    # Given an open finding
    exposure_world.a_server.issues = {"fake.med": ""}
    scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    # When the endpoint is unreachable at the next scan
    exposure_world.a_server.hang = True
    scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    # Then the finding stays open (the check said nothing about it)
    (finding,) = _findings(session_factory)
    assert finding.status == "open"


def test_accepted_and_false_positive_stay_but_last_seen_moves(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session]) -> None:
    # Given two findings, one accepted and one marked a false positive
    exposure_world.a_server.issues = {"fake.med": "", "fake.low": ""}
    scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    med, low = _findings(session_factory)
    with session_factory.begin() as session:
        service.triage_finding(session=session, actor=ADMIN, finding_id=med.id,
                               data=FindingTriage(status="accepted", reason="Compensé",
                                                 version=med.version))
        service.triage_finding(session=session, actor=ADMIN, finding_id=low.id,
                               data=FindingTriage(status="false_positive", reason="Faux",
                                                 version=low.version))
    # When they are seen again, then one disappears
    scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    exposure_world.a_server.issues = {"fake.low": ""}
    scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    # Then the decisions stand, last seen moved for the one seen
    med2, low2 = _findings(session_factory)
    assert (med2.status, low2.status) == ("accepted", "false_positive")
    assert med2.status_reason == "Compensé"
    assert low2.last_seen > low.last_seen


def test_due_dates_by_severity() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert findings.due_date(Severity.CRITICAL, now) == now + dt.timedelta(days=7)
    assert findings.due_date("high", now) == now + dt.timedelta(days=30)
    assert findings.due_date("medium", now) == now + dt.timedelta(days=90)
    assert findings.due_date("low", now) == now + dt.timedelta(days=180)
    assert findings.due_date("info", now) is None


def test_score_formula() -> None:
    assert findings.score_of({}) == 0.0
    assert findings.score_of({"critical": 1}) == 50.0
    assert findings.score_of({"critical": 2}) == 75.0
    assert findings.score_of({"high": 1}) == 20.0
    assert findings.score_of({"info": 40}) == 0.0
    assert 0 < findings.score_of({"low": 10}) < findings.score_of({"medium": 10}) < 100


def test_scores_are_stored_after_each_scan(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session]) -> None:
    # Given a critical issue at A, nothing at B
    exposure_world.a_server.issues = {"fake.crit": ""}
    exposure_world.settings = exposure_world.settings.model_copy(
        update={"exposure_auto_case": False})
    # When everything is scanned, then A is fixed and scanned again
    scan_now(exposure_world, session_factory)
    exposure_world.a_server.issues = {}
    scan_now(exposure_world, session_factory)
    # Then the score history holds both points, and B scored 0
    with session_factory() as session:
        rows = list(session.scalars(select(ExposureScore).order_by(ExposureScore.id)))
    a_scores = [r.score for r in rows if r.institution_id == exposure_world.a]
    assert a_scores == [50.0, 0.0]
    assert [r.score for r in rows if r.institution_id == exposure_world.b] == [0.0, 0.0]
    assert rows[0].open_counts["critical"] == 1 and rows[0].endpoints == 1


def test_evidence_is_capped() -> None:
    small = findings.cap_evidence({"a": "x"})
    assert small == {"a": "x"}
    long = findings.cap_evidence({"body": "y" * 50_000})
    assert len(long["body"]) < 1100
    huge = findings.cap_evidence({f"k{i}": "z" * 1000 for i in range(100)})
    assert huge["truncated"] is True
    assert len(str(huge)) < findings.EVIDENCE_MAX + 200

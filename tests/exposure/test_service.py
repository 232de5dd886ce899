"""Exposure services: scope of scan requests (refused before anything is queued), reads
scoped by institution, triage, and the institution and national views."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit.models import AuditEntry
from lakana.core.auth import service as auth_service
from lakana.core.auth.rbac import Actor, Role
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from lakana.core.jobs.models import Job
from lakana.monitoring.exposure import service
from lakana.monitoring.exposure.models import ExposureScan
from lakana.monitoring.exposure.schemas import FindingQuery, FindingTriage, ScanRequest
from tests.conftest import Factory
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


def _actor(factory: Factory, role: Role, institution_id: int | None = None) -> Actor:
    return auth_service.actor_for(factory.user(role, institution_id=institution_id))


def _count(session_factory: sessionmaker[Session], model: type) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_focal_point_scans_its_institution_with_the_bodies_under_it(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session],
        factory: Factory) -> None:
    from tests.exposure.service_fixtures import make_system

    make_system(session_factory, exposure_world.a_child, "Intranet", ["https://dir.example.ml/"])
    focal = _actor(factory, Role.FOCAL_POINT, exposure_world.a)
    # When the focal point of A asks for a scan without saying what
    with session_factory.begin() as session:
        scan = service.request_scan(session=session, actor=focal, data=ScanRequest(),
                                    trigger="ui")
        targets = service.targets_for(session=session, actor=ADMIN,
                                      institution_id=exposure_world.a)
    # Then it covers A only; the centre's view of A includes the body under it
    assert scan.institution_id == exposure_world.a and scan.targets_total == 1
    assert {t.host for t in targets} == {"127.0.0.1", "dir.example.ml"}
    assert [t.port for t in targets if t.host == "dir.example.ml"] == [443]
    # And the job is queued, the request ledgered
    with session_factory() as session:
        job = session.scalars(select(Job)).one()
        assert job.name == "exposure.scan" and job.payload == {"scan_id": scan.id}
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "exposure.scan.request")) == 1


def test_out_of_scope_requests_are_refused_before_anything_is_queued(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session],
        factory: Factory) -> None:
    focal = _actor(factory, Role.FOCAL_POINT, exposure_world.a)
    viewer = _actor(factory, Role.INSTITUTION_VIEWER, exposure_world.a)
    with session_factory() as session:
        # A system of B: not found for A's focal point
        with pytest.raises(NotFound):
            service.request_scan(session=session, actor=focal,
                                 data=ScanRequest(system_id=exposure_world.b_system),
                                 trigger="ui")
        # Institution B: forbidden
        with pytest.raises(Forbidden):
            service.request_scan(session=session, actor=focal,
                                 data=ScanRequest(institution_id=exposure_world.b), trigger="ui")
        # No scan permission
        with pytest.raises(Forbidden):
            service.request_scan(session=session, actor=viewer, data=ScanRequest(),
                                 trigger="ui")
        # Unknown check
        with pytest.raises(Invalid):
            service.request_scan(session=session, actor=ADMIN,
                                 data=ScanRequest(checks=["nope"]), trigger="api")
        session.rollback()
    # Then nothing was queued, nothing contacted
    assert _count(session_factory, ExposureScan) == 0 and _count(session_factory, Job) == 0
    assert exposure_world.b_server.connections == 0


def test_nothing_to_scan_is_refused(factory: Factory, session_factory: sessionmaker[Session],
                                    fake_checks: object) -> None:
    inst = factory.institution("VIDE")
    with session_factory() as session, pytest.raises(Invalid):
        service.request_scan(session=session, actor=ADMIN,
                             data=ScanRequest(institution_id=inst), trigger="api")


def test_reads_are_scoped_by_institution(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session],
        factory: Factory) -> None:
    # Given findings at A and B after a national scan, and A's own scan
    exposure_world.a_server.issues = {"fake.med": ""}
    exposure_world.b_server.issues = {"fake.low": ""}
    national = scan_now(exposure_world, session_factory)
    own = scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    focal = _actor(factory, Role.FOCAL_POINT, exposure_world.a)
    with session_factory() as session:
        # Then A's focal point sees A's findings and scans only
        mine = service.list_findings(session=session, actor=focal, query=FindingQuery())
        assert {f.institution_id for f in mine} == {exposure_world.a}
        assert service.count_findings(session=session, actor=ADMIN, query=FindingQuery()) == 2
        assert [s.id for s in service.list_scans(session=session, actor=focal)] == [own]
        with pytest.raises(NotFound):
            service.get_scan(session=session, actor=focal, scan_id=national)
        theirs = service.list_findings(session=session, actor=ADMIN, query=FindingQuery(
            institution_id=exposure_world.b))[0]
        with pytest.raises(NotFound):
            service.get_finding(session=session, actor=focal, finding_id=theirs.id)
        # Filters
        assert service.count_findings(session=session, actor=ADMIN, query=FindingQuery(
            severity="medium", q="fake.MED")) == 1
        assert service.count_findings(session=session, actor=ADMIN,
                                      query=FindingQuery(overdue=True)) == 0
        assert len(service.scan_results(session=session, actor=ADMIN, scan_id=national)) == 2
        assert service.count_open_critical(session, ADMIN) == 0


def test_triage_needs_a_reason_a_version_and_the_permission(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session],
        factory: Factory) -> None:
    exposure_world.a_server.issues = {"fake.med": ""}
    scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    focal = _actor(factory, Role.FOCAL_POINT, exposure_world.a)
    with session_factory.begin() as session:
        (finding,) = service.list_findings(session=session, actor=ADMIN, query=FindingQuery())
        with pytest.raises(Forbidden):
            service.triage_finding(session=session, actor=focal, finding_id=finding.id,
                                   data=FindingTriage(status="accepted", reason="x",
                                                      version=finding.version))
        with pytest.raises(Invalid):
            service.triage_finding(session=session, actor=ADMIN, finding_id=finding.id,
                                   data=FindingTriage(status="accepted", reason=" ",
                                                      version=finding.version))
        with pytest.raises(Conflict):
            service.triage_finding(session=session, actor=ADMIN, finding_id=finding.id,
                                   data=FindingTriage(status="accepted", reason="x",
                                                      version=finding.version + 5))
        done = service.triage_finding(session=session, actor=ADMIN, finding_id=finding.id,
                                      data=FindingTriage(status="accepted", reason="Compensé",
                                                         version=finding.version))
        assert done.status == "accepted"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "exposure.finding.triage")) == 1


def test_institution_and_national_views(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session],
        factory: Factory) -> None:
    # Given a critical issue at A, a low one at B, scanned twice
    exposure_world.settings = exposure_world.settings.model_copy(
        update={"exposure_auto_case": False})
    exposure_world.a_server.issues = {"fake.crit": "", "fake.med": ""}
    exposure_world.b_server.issues = {"fake.low": ""}
    scan_now(exposure_world, session_factory)
    scan_now(exposure_world, session_factory)
    with session_factory() as session:
        page = service.institution_exposure(session=session, actor=ADMIN,
                                            institution_id=exposure_world.a)
        rows = service.national_exposure(session=session, actor=ADMIN)
        focal = _actor(factory, Role.FOCAL_POINT, exposure_world.a)
        with pytest.raises(Forbidden):
            service.national_exposure(session=session, actor=focal)
        with pytest.raises(NotFound):
            service.institution_exposure(session=session, actor=focal,
                                         institution_id=exposure_world.b)
        assert service.count_open_critical(session, focal) == 1
    # Then the page has the score, counts, trend and the endpoint's latest result
    assert page.score == 52.5 and page.open_counts["critical"] == 1
    assert [score for _, score in page.trend] == [52.5, 52.5]
    assert len(page.endpoints) == 1 and page.endpoints[0].open_findings == 2
    # And the national list is worst first, the never-scanned child last
    assert [r.institution_id for r in rows] == [exposure_world.a, exposure_world.b,
                                                exposure_world.a_child]
    assert rows[2].score is None


def test_catalogue_lookups(fake_checks: object) -> None:
    issue = service.issue_of("fake.crit")
    assert issue is not None and issue.requirements == ("net-1",)
    assert service.issue_of("nope") is None
    assert service.check_titles() == {"fake": "Fake check"}

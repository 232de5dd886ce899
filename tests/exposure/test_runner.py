"""The scan runner against real loopback servers: concurrency, deadlines, failures, scope,
progress. Fake checks stand in for the real ones (tested by their own files)."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.monitoring.exposure import service
from lakana.monitoring.exposure.models import ExposureScan, ScanResult
from lakana.monitoring.exposure.runner import parse_nameservers
from tests.exposure import service_fixtures
from tests.exposure.service_fixtures import (
    ALL_FAKES,
    BoomCheck,
    ExposureWorld,
    FakeCheck,
    HangCheck,
    StrayCheck,
    make_system,
    scan_now,
    start_server,
    stop_server,
)

#: Fixtures shared by the exposure service tests.
exposure_world = service_fixtures.exposure_world
fake_checks = service_fixtures.fake_checks
scan_settings = service_fixtures.scan_settings


def _results(session_factory: sessionmaker[Session], scan_id: int) -> list[ScanResult]:
    with session_factory() as session:
        return list(session.scalars(select(ScanResult).where(ScanResult.scan_id == scan_id)
                                    .order_by(ScanResult.target)))


def test_a_scan_runs_every_target_and_stores_results(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session]) -> None:
    # Given two institutions' endpoints, one reporting a low issue
    exposure_world.a_server.issues = {"fake.low": "x"}
    seen: list[tuple[int, int]] = []
    # When the centre scans everything, following progress
    with session_factory.begin() as session:
        from lakana.core.auth.rbac import system_actor
        from lakana.monitoring.exposure.schemas import ScanRequest

        scan_id = service.request_scan(session=session, actor=system_actor("t"),
                                       data=ScanRequest(), trigger="api").id
    service.run_scan(settings=exposure_world.settings, session_factory=session_factory,
                     scan_id=scan_id, checks={"fake": FakeCheck},
                     progress=lambda done, total: seen.append((done, total)))
    # Then the scan is done, both targets counted, progress reported as targets finished
    with session_factory() as session:
        scan = session.get(ExposureScan, scan_id)
        assert scan is not None and scan.status == "done"
        assert (scan.targets_total, scan.targets_done, scan.findings_new) == (2, 2, 1)
        assert scan.started_at is not None and scan.finished_at is not None
    assert seen == [(1, 2), (2, 2)]
    results = _results(session_factory, scan_id)
    assert [r.status for r in results] == ["ok", "ok"]
    assert results[0].facts["fake"] == {"score": 50, "grade": "C"}
    # (only the ``http`` check's facts fill the Observatory columns)
    assert results[0].observatory_grade is None


def test_a_raising_check_is_an_error_not_a_crash(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session]) -> None:
    # Given a buggy plugin next to a good one
    exposure_world.a_server.issues = {"fake.med": ""}
    # When scanning
    scan_id = scan_now(exposure_world, session_factory, institution_id=exposure_world.a,
                       checks={"fake": FakeCheck, "boom": BoomCheck})
    # Then the scan finishes; the result is partial with the bug as an error
    results = _results(session_factory, scan_id)
    assert len(results) == 1 and results[0].status == "partial"
    assert results[0].errors == {"boom": "check failed: RuntimeError"}
    with session_factory() as session:
        scan = session.get(ExposureScan, scan_id)
        assert scan is not None and scan.status == "done" and scan.findings_new == 1


def test_a_hanging_target_hits_the_deadline(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session]) -> None:
    # Given a server that accepts and never answers, and a check without its own timeout
    hang = start_server(hang=True)
    try:
        system = make_system(session_factory, exposure_world.b, "Muet", [hang.url])
        started = time.monotonic()
        # When scanning that system (deadline 6 × 0.5 s)
        scan_id = scan_now(exposure_world, session_factory, system_id=system,
                           checks={"hang": HangCheck})
        elapsed = time.monotonic() - started
    finally:
        stop_server(hang)
    # Then the target was cut off at its deadline and the scan still finished
    results = _results(session_factory, scan_id)
    assert results[0].status == "unreachable"
    assert results[0].errors == {"hang": "deadline exceeded"}
    assert 2.5 < elapsed < 10
    assert hang.connections == 1


def test_a_connection_outside_the_allow_list_is_refused_before_any_packet(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session]) -> None:
    # Given a server, and a check that tries it on 127.0.0.2 (not a registered endpoint)
    stray = start_server()
    StrayCheck.port = stray.port
    try:
        # When the scan runs the stray check
        scan_id = scan_now(exposure_world, session_factory, institution_id=exposure_world.a,
                           checks={"stray": StrayCheck})
    finally:
        stop_server(stray)
    # Then the guard refused it: nothing reached any server, the result says "refused"
    results = _results(session_factory, scan_id)
    assert results[0].status == "refused"
    assert results[0].errors["stray"].startswith("out of scope")
    assert stray.connections == 0


def test_private_addresses_are_refused_unless_allowed(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session]) -> None:
    # Given the default settings (no private addresses)
    exposure_world.settings = exposure_world.settings.model_copy(
        update={"exposure_allow_private": False})
    # When scanning a loopback endpoint
    scan_id = scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    # Then nothing was contacted
    assert _results(session_factory, scan_id)[0].status == "refused"
    assert exposure_world.a_server.connections == 0


def test_many_targets_run_concurrently(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session]) -> None:
    # Given 12 hanging endpoints (each would take its whole 3 s deadline)
    servers = [start_server(hang=True) for _ in range(12)]
    try:
        system = make_system(session_factory, exposure_world.b, "Ferme",
                             [s.url for s in servers])
        started = time.monotonic()
        # When scanning with a concurrency of 8... (8 + 4 in two waves)
        scan_now(exposure_world, session_factory, system_id=system,
                 checks={"hang": HangCheck})
        elapsed = time.monotonic() - started
    finally:
        for server in servers:
            stop_server(server)
    # Then it took about two deadlines, not twelve
    assert elapsed < 12


def test_a_finished_scan_is_not_run_twice(
        exposure_world: ExposureWorld, session_factory: sessionmaker[Session]) -> None:
    scan_id = scan_now(exposure_world, session_factory, institution_id=exposure_world.a)
    before = exposure_world.a_server.connections
    service.run_scan(settings=exposure_world.settings, session_factory=session_factory,
                     scan_id=scan_id, checks=ALL_FAKES)
    assert exposure_world.a_server.connections == before


def test_nameservers_are_parsed() -> None:
    assert parse_nameservers("") == ()
    assert parse_nameservers("127.0.0.1:5353, 10.0.0.1,[::1]:53,::1") == (
        ("127.0.0.1", 5353), ("10.0.0.1", 53), ("::1", 53), ("::1", 53))

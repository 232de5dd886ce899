"""The demo data: scans, findings in every state, a trend and a KEV import, no network."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.rbac import system_actor
from lakana.monitoring.exposure import demo
from lakana.monitoring.exposure.models import (
    ExposureFinding,
    ExposureScan,
    ExposureScore,
    FeedImport,
    KnownVulnerability,
    ScanResult,
)
from lakana.registry import demo as registry_demo


def test_demo_loads_every_state_once(session_factory: sessionmaker[Session]) -> None:
    # Given the registry's demo institutions
    actor = system_actor("lakana demo", "cli")
    with session_factory.begin() as session:
        registry_demo.load_demo(session=session, actor=actor)
    # When the exposure demo is loaded twice
    with session_factory.begin() as session:
        counts = demo.load_demo(session=session, actor=actor)
    with session_factory.begin() as session:
        again = demo.load_demo(session=session, actor=actor)
    # Then scans, results with grades, findings in every state, scores and the KEV are there
    assert counts["scans"] == len(demo.SCAN_DAYS_AGO) and counts["feeds"] == 1
    assert again == {"scans": 0, "findings": 0, "feeds": 0}
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ExposureScan)) == 5
        grades = set(session.scalars(select(ScanResult.observatory_grade)))
        assert {"B", "C"} & grades
        statuses = set(session.scalars(select(ExposureFinding.status)))
        assert {"open", "fixed", "accepted"} <= statuses
        assert session.scalar(select(func.max(ExposureFinding.reopened_count))) >= 1
        severities = set(session.scalars(select(ExposureFinding.severity)))
        assert {"critical", "high", "medium", "low"} <= severities
        points = session.scalars(select(ExposureScore.taken_at)).all()
        assert len({p.date() for p in points}) == 5
        assert session.scalar(select(func.count()).select_from(FeedImport)) == 1
        cves = set(session.scalars(select(KnownVulnerability.cve_id)))
        assert "CVE-2021-41773" in cves

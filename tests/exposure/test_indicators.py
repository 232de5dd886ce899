"""The exposure figures the national strategy follows: time to fix critical findings, and
critical findings open at a period's end."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.rbac import system_actor
from lakana.core.indicators import Measurement, Period
from lakana.monitoring.exposure import indicators
from lakana.monitoring.exposure.plugin import PLUGIN
from tests.conftest import Factory
from tests.exposure.test_api import make_finding, make_scan

ADMIN = system_actor("tests")


def _at(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, 9, tzinfo=dt.UTC)


@pytest.fixture
def findings(factory: Factory, session_factory: sessionmaker[Session]) -> None:
    """Critical findings with known dates (and others that never count)."""
    a, b = factory.institution("AAA"), factory.institution("BBB")
    make_scan(session_factory, a, created_at=_at(2024, 12, 1))
    rows = [
        # (institution, severity, status, first seen, fixed at)
        (a, "critical", "fixed", _at(2025, 1, 10), _at(2025, 1, 20)),   # 10 days
        (a, "critical", "fixed", _at(2025, 2, 1), _at(2025, 3, 3)),     # 30 days
        (b, "critical", "fixed", _at(2024, 11, 1), _at(2025, 6, 1)),    # 212 days
        (b, "critical", "fixed", _at(2025, 12, 1), _at(2026, 1, 5)),    # fixed in 2026
        (a, "high", "fixed", _at(2025, 1, 1), _at(2025, 12, 1)),        # not critical
        (a, "critical", "open", _at(2025, 4, 1), None),                 # still open
        (b, "critical", "accepted", _at(2025, 5, 1), None),             # accepted risk
        (b, "critical", "open", _at(2026, 3, 1), None),                 # seen in 2026
    ]
    for inst, severity, status, seen, fixed in rows:
        make_finding(session_factory, inst, severity=severity, status=status,
                     first_seen=seen, last_seen=fixed or seen, fixed_at=fixed)


def _measure(session: Session, key: str, period: Period) -> Measurement:
    source = {s.key: s for s in PLUGIN.indicator_sources}[key]
    return source.compute(session, ADMIN, period)


@pytest.mark.usefixtures("findings")
def test_median_days_to_fix_critical_over_findings_fixed_in_the_period(db: Session) -> None:
    # Given critical findings fixed in 2025 after 10, 30 and 212 days (one fixed in 2026, a
    # high one, open and accepted ones never count)
    found = _measure(db, "monitoring.exposure.median_days_to_fix_critical", Period.year(2025))
    # Then the median is 30 days, over three findings
    assert found.value == 30.0
    assert found.inputs == {"findings_fixed": 3}
    # And the first quarter has the first two only: (10 + 30) / 2 = 20
    q1 = _measure(db, "monitoring.exposure.median_days_to_fix_critical",
                  Period(dt.date(2025, 1, 1), dt.date(2025, 3, 31)))
    assert q1.value == 20.0
    # And 2026 the one fixed then (35 days)
    assert _measure(db, "monitoring.exposure.median_days_to_fix_critical",
                    Period.year(2026)).value == 35.0


@pytest.mark.usefixtures("findings")
def test_no_fix_in_the_period_gives_no_value(db: Session) -> None:
    found = _measure(db, "monitoring.exposure.median_days_to_fix_critical", Period.year(2024))
    assert found.value is None
    assert found.reason == indicators.NO_FIX


@pytest.mark.usefixtures("findings")
def test_critical_findings_open_at_the_period_end(db: Session) -> None:
    # At the end of 2025: the one first seen in December 2025 (fixed in 2026) and the one
    # still open; the others were fixed by then, accepted, or seen later
    found = _measure(db, "monitoring.exposure.critical_findings_open", Period.year(2025))
    assert found.value == 2
    # At the end of 2024: the one first seen in November 2024, fixed in June 2025
    assert _measure(db, "monitoring.exposure.critical_findings_open",
                    Period.year(2024)).value == 1


def test_no_scan_gives_no_value(db: Session, factory: Factory) -> None:
    # Given an institution never scanned / Then no figure (never a made-up 0)
    factory.institution("AAA")
    for key, reason in (("monitoring.exposure.critical_findings_open", indicators.NO_SCAN),
                        ("monitoring.exposure.median_days_to_fix_critical", indicators.NO_FIX)):
        found = _measure(db, key, Period.year(2025))
        assert found.value is None
        assert found.reason == reason


def test_the_plugin_declares_the_keys() -> None:
    keys = {s.key: s for s in PLUGIN.indicator_sources}
    assert keys["monitoring.exposure.median_days_to_fix_critical"].direction == "lower"
    assert keys["monitoring.exposure.critical_findings_open"].direction == "lower"

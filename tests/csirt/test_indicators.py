"""The incident figures the national strategy follows: cases closed, MTTR, cases reported."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.indicators import Measurement, Period
from lakana.csirt import indicators
from lakana.csirt.models import Case
from lakana.csirt.plugin import PLUGIN
from tests.csirt.conftest import ADMIN, Institutions

YEAR = 2025
START = dt.datetime(YEAR, 3, 3, 8, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


def _set(session_factory: sessionmaker[Session], case_id: int, **fields: Any) -> None:
    with session_factory.begin() as session:
        case = session.get(Case, case_id)
        assert case is not None
        for key, value in fields.items():
            setattr(case, key, value)


@pytest.fixture
def cases(csirt_institutions: Institutions, make_case: Callable[..., int],
          session_factory: sessionmaker[Session]) -> None:
    """Cases of 2025 with known dates, one of 2024 closed in 2025, one of 2026."""
    a, b = csirt_institutions.a, csirt_institutions.b
    rows = [
        # (institution, reported, closed after, closure reason)
        (a, START, 2 * D, "resolved"),                       # 2 days
        (a, START + 10 * D, 4 * D, "resolved"),              # 4 days
        (b, START + 20 * D, 9 * D, "resolved"),              # 9 days
        (b, START + 30 * D, 1 * D, "false_positive"),        # left out of MTTR and closures
        (a, START + 40 * D, None, None),                     # still open
        # Reported in 2024, closed in 2025: closed in the period, not in its MTTR.
        (a, dt.datetime(2024, 12, 20, tzinfo=dt.UTC), 30 * D, "resolved"),
        # Reported and closed in 2026: never counted for 2025.
        (b, dt.datetime(2026, 1, 5, tzinfo=dt.UTC), 1 * D, "resolved"),
        # Reported in 2025, closed in 2026: reported in 2025 (MTTR 300 days), closed in 2026.
        (b, dt.datetime(2025, 12, 1, tzinfo=dt.UTC), 300 * D, "duplicate"),
    ]
    for inst, reported, after, reason in rows:
        case_id = make_case(inst)
        closed = None if after is None else reported + after
        _set(session_factory, case_id, reported_at=reported, acknowledged_at=reported + H,
             closed_at=closed, status="closed" if closed else "in_progress",
             closure_reason=reason)


def _measure(session: Session, key: str, period: Period) -> Measurement:
    source = {s.key: s for s in PLUGIN.indicator_sources}[key]
    return source.compute(session, ADMIN, period)


@pytest.mark.usefixtures("cases")
def test_cases_closed_counts_closures_of_the_period_without_false_positives(db: Session) -> None:
    # Given four cases closed in 2025, one of them a false positive (the 2024 case included)
    # When the closures of 2025 are counted
    found = _measure(db, "csirt.cases_closed", Period.year(YEAR))
    # Then 2 + 4 + 9 days cases and the 2024 case count: 4; the false positive does not
    assert found.value == 4
    assert found.inputs == {"closed": 5, "false_positive_or_duplicate": 1}
    # And the first quarter counts only its own closures: the 2024 case (closed 19 January),
    # the first (5 March) and the second (17 March); the third closes on 1 April
    q1 = _measure(db, "csirt.cases_closed", Period(dt.date(YEAR, 1, 1), dt.date(YEAR, 3, 31)))
    assert q1.value == 3


@pytest.mark.usefixtures("cases")
def test_mttr_is_the_median_of_cases_reported_in_the_period(db: Session) -> None:
    # Given cases reported in 2025 resolved in 2, 4 and 9 days (plus a false positive, a
    # duplicate and an open case, which do not count)
    found = _measure(db, "csirt.mttr_days", Period.year(YEAR))
    # Then the median is 4 days, over three resolved cases of the six reported
    assert found.value == 4.0
    assert found.inputs["cases_resolved"] == 3
    assert found.inputs["cases_reported"] == 6


@pytest.mark.usefixtures("cases")
def test_incidents_total_counts_cases_reported_in_the_period(
        db: Session, session_factory: sessionmaker[Session]) -> None:
    # Given two of the 2025 cases classified as abusive content
    first, second = db.scalars(select(Case.id).order_by(Case.id).limit(2))
    _set(session_factory, first, taxonomy_class="abusive-content")
    _set(session_factory, second, taxonomy_class="abusive-content")
    db.expire_all()
    by_class = _measure(db, "csirt.incidents_total", Period.year(YEAR)).inputs
    assert by_class["class:abusive-content"] == 2
    found = _measure(db, "csirt.incidents_total", Period.year(YEAR))
    assert found.value == 6
    # With the count by class of the taxonomy in the inputs
    assert sum(v for k, v in found.inputs.items() if str(k).startswith("class:")) == 6
    assert _measure(db, "csirt.incidents_total", Period.year(2026)).value == 1


def test_no_case_gives_no_value(db: Session, csirt_institutions: Institutions) -> None:
    # Given no case at all
    for key, reason in (("csirt.cases_closed", indicators.NO_CASE_YET),
                        ("csirt.incidents_total", indicators.NO_CASE_YET),
                        ("csirt.mttr_days", indicators.NO_CASE_REPORTED)):
        found = _measure(db, key, Period.year(YEAR))
        # Then no value, and the reason (never a made-up 0)
        assert found.value is None, key
        assert found.reason == reason


@pytest.mark.usefixtures("cases")
def test_a_period_without_closure_is_zero_once_cases_exist(db: Session) -> None:
    # Given cases exist but none was closed in 2024 (the 2024 case closed in 2025)
    closed = _measure(db, "csirt.cases_closed", Period.year(2024))
    assert closed.value == 0
    # And the 2024 case, reported in 2024, gives 2024 its time to resolve (30 days)
    mttr = _measure(db, "csirt.mttr_days", Period.year(2024))
    assert mttr.value == 30.0
    # A period before any case has no value
    assert _measure(db, "csirt.cases_closed", Period.year(2023)).value is None
    # And a day with an open case only: reported but not resolved
    open_only = _measure(db, "csirt.mttr_days",
                         Period(dt.date(YEAR, 4, 12), dt.date(YEAR, 4, 12)))
    assert open_only.value is None
    assert open_only.reason == indicators.NO_CASE_RESOLVED


def test_the_plugin_declares_the_keys() -> None:
    keys = {s.key for s in PLUGIN.indicator_sources}
    assert {"csirt.cases_closed", "csirt.mttr_days", "csirt.incidents_total"} <= keys
    mttr = next(s for s in PLUGIN.indicator_sources if s.key == "csirt.mttr_days")
    assert (mttr.unit, mttr.direction) == ("jours", "lower")

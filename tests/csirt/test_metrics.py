"""Incident metrics: response times, weekly series, the national dashboard, monthly report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.errors import Forbidden, Invalid
from lakana.csirt import metrics
from lakana.csirt.models import Case
from tests.csirt.conftest import Institutions, actor_of

H = dt.timedelta(hours=1)
#: A Monday morning well inside the default period (the last 90 days).
BASE = dt.datetime.combine(
    dt.date.today() - dt.timedelta(days=dt.date.today().weekday() + 14), dt.time(8),
    tzinfo=dt.UTC)
PERIOD = metrics.Period(BASE.date(), BASE.date() + dt.timedelta(days=6))


def _set(session_factory: sessionmaker[Session], case_id: int, **fields: Any) -> None:
    with session_factory.begin() as session:
        case = session.get(Case, case_id)
        assert case is not None
        for key, value in fields.items():
            setattr(case, key, value)


@pytest.fixture
def timed_cases(csirt_institutions: Institutions, make_case: Callable[..., int],
                session_factory: sessionmaker[Session]) -> dict[str, int]:
    """Five cases with known timestamps (four in PERIOD, one before it)."""
    a, b = csirt_institutions.a, csirt_institutions.b
    rows = {
        # malicious-code / high, institution a: acknowledged 2 h, contained 10 h, closed 30 h.
        "one": (a, "malicious-code", "high", 2, 10, 30, "resolved", 0),
        # malicious-code / high, a: 4 h, 20 h, 50 h.
        "two": (a, "malicious-code", "high", 4, 20, 50, "resolved", 0),
        # malicious-code / low, a: 1 h, never contained, closed as a false positive at 5 h.
        "three": (a, "malicious-code", "low", 1, None, 5, "false_positive", 0),
        # availability / critical, b: 0.75 h, never contained, closed as a duplicate at 7 h.
        "four": (b, "availability", "critical", 0.75, None, 7, "duplicate", 0),
        # Reported before the period: never counted.
        "old": (a, "malicious-code", "high", 100, 100, 100, "resolved", -30),
    }
    ids = {}
    for name, (inst, klass, level, ack, contain, close, reason, days) in rows.items():
        ids[name] = make_case(inst, severity=level)
        start = BASE + dt.timedelta(days=days)
        _set(session_factory, ids[name], taxonomy_class=klass, taxonomy_type=None,
             reported_at=start, acknowledged_at=start + ack * H,
             contained_at=None if contain is None else start + contain * H,
             closed_at=start + close * H, status="closed", closure_reason=reason)
    return ids


def _by_key(found: metrics.Metrics) -> dict[str | None, metrics.MetricRow]:
    return {row.key: row for row in found.rows}


def test_response_times_by_class_severity_and_institution(
        timed_cases: dict[str, int], analyst: User, csirt_institutions: Institutions,
        session_factory: sessionmaker[Session]) -> None:
    actor = actor_of(analyst)
    with session_factory() as session:
        by_class = _by_key(metrics.national_metrics(session=session, actor=actor,
                                                    period=PERIOD, group="class"))
        by_level = _by_key(metrics.national_metrics(session=session, actor=actor,
                                                    period=PERIOD, group="severity"))
        by_inst = metrics.national_metrics(session=session, actor=actor, period=PERIOD,
                                           group="institution")
    code = by_class["malicious-code"]
    assert code.cases == 3
    # MTTA over 2, 4, 1 h: mean 7/3, median 2.
    assert code.mtta == metrics.Stat(3, 2.3, 2.0)
    # MTTC over 10 and 20 h (the false positive was never contained).
    assert code.mttc == metrics.Stat(2, 15.0, 15.0)
    # MTTR over 30 and 50 h: the false positive (5 h) is left out.
    assert code.mttr == metrics.Stat(2, 40.0, 40.0)
    avail = by_class["availability"]
    assert (avail.cases, avail.mtta, avail.mttc, avail.mttr) == (
        1, metrics.Stat(1, 0.8, 0.8), metrics.Stat(0, None, None), metrics.Stat(0, None, None))

    assert list(by_level) == ["critical", "high", "low"]
    assert by_level["high"].mtta == metrics.Stat(2, 3.0, 3.0)
    assert by_level["high"].mttr == metrics.Stat(2, 40.0, 40.0)
    assert by_level["low"].mtta == metrics.Stat(1, 1.0, 1.0)
    assert by_level["low"].mttr == metrics.Stat(0, None, None)

    inst = _by_key(by_inst)
    assert inst[str(csirt_institutions.a)].cases == 3
    assert inst[str(csirt_institutions.a)].label == "INSTA"
    assert inst[str(csirt_institutions.b)].cases == 1
    # Overall: MTTA over 2, 4, 1, 0.75 h: mean 1.9375, median 1.5; the old case is not in.
    assert by_inst.total.cases == 4
    assert by_inst.total.mtta == metrics.Stat(4, 1.9, 1.5)
    assert by_inst.total.mttr == metrics.Stat(2, 40.0, 40.0)


def test_institution_figures_cover_the_readers_institution_only(
        timed_cases: dict[str, int], focal_a: User, focal_b: User,
        session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        mine = metrics.institution_metrics(session=session, actor=actor_of(focal_b),
                                           period=PERIOD, group="severity")
        with pytest.raises(Forbidden):
            metrics.national_metrics(session=session, actor=actor_of(focal_a), period=PERIOD)
    assert mine.total.cases == 1
    assert [row.key for row in mine.rows] == ["critical"]


def test_api_gives_national_figures_to_the_centre_only(
        timed_cases: dict[str, int], analyst: User, focal_a: User,
        api_as: Callable[[User], TestClient]) -> None:
    query = f"from={PERIOD.start}&to={PERIOD.end}&group=class"
    answer = api_as(analyst).get(f"/api/v1/csirt/metrics?{query}")
    assert answer.status_code == 200, answer.text
    rows = {row["key"]: row for row in answer.json()["rows"]}
    assert rows["malicious-code"]["mttr"] == {"count": 2, "mean_hours": 40.0,
                                              "median_hours": 40.0}
    assert api_as(focal_a).get(f"/api/v1/csirt/metrics?{query}").status_code == 403
    assert api_as(focal_a).get("/api/v1/csirt/metrics/weekly").status_code == 403
    own = api_as(focal_a).get(f"/api/v1/csirt/metrics/institution?{query}")
    assert own.status_code == 200
    assert own.json()["total"]["cases"] == 3


@pytest.mark.parametrize("query", ["group=colour", "from=2026-02-30",
                                   "from=2026-03-10&to=2026-03-01"])
def test_api_rejects_bad_parameters(query: str, analyst: User,
                                    api_as: Callable[[User], TestClient]) -> None:
    answer = api_as(analyst).get(f"/api/v1/csirt/metrics?{query}")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_weekly_series_across_a_week_boundary(
        csirt_institutions: Institutions, make_case: Callable[..., int], analyst: User,
        session_factory: sessionmaker[Session]) -> None:
    monday = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)  # ISO week 2026-W10
    sunday_night = monday + dt.timedelta(days=6, hours=23)
    crossing = make_case(csirt_institutions.a, severity="high")
    _set(session_factory, crossing, reported_at=sunday_night, status="closed",
         closed_at=sunday_night + 2 * H, closure_reason="resolved")
    still_open = make_case(csirt_institutions.b, severity="low")
    _set(session_factory, still_open, reported_at=monday + dt.timedelta(days=8))
    with session_factory() as session:
        weeks = metrics.weekly_series(session=session, actor=actor_of(analyst), weeks=2,
                                      today=dt.date(2026, 3, 12))
        with pytest.raises(Invalid):
            metrics.weekly_series(session=session, actor=actor_of(analyst), weeks=0)
    assert [w.label for w in weeks] == ["2026-W10", "2026-W11"]
    first, second = weeks
    assert first.new == {"critical": 0, "high": 1, "medium": 0, "low": 0}
    assert (first.closed_total, first.open) == (
        0, {"critical": 0, "high": 1, "medium": 0, "low": 0})
    assert second.new == {"critical": 0, "high": 0, "medium": 0, "low": 1}
    assert second.closed == {"critical": 0, "high": 1, "medium": 0, "low": 0}
    assert second.open == {"critical": 0, "high": 0, "medium": 0, "low": 1}


def test_dashboard_page_shows_the_figures(
        timed_cases: dict[str, int], csirt_institutions: Institutions,
        make_case: Callable[..., int], analyst: User, focal_a: User,
        login_as: Callable[[User], TestClient]) -> None:
    make_case(csirt_institutions.b, severity="critical")  # open, reported now
    make_case(csirt_institutions.b, severity="medium")
    page = login_as(analyst).get(f"/csirt/dashboard?from={PERIOD.start}&to={PERIOD.end}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "Tableau de bord national des incidents" in html
    assert '<div class="stat" id="open-critical">1</div>' in html
    assert '<div class="stat" id="open-total">2</div>' in html
    assert '<div class="stat" id="new-week">2</div>' in html
    assert "<svg" in html and "bar-new" in html and "style=" not in html.split("<main", 1)[-1]
    # Response times by class: the mean MTTR of malicious code (40.0 h) is shown.
    assert "40.0" in html
    assert "INSTB" in html
    assert login_as(focal_a).get("/csirt/dashboard").status_code == 403


def test_monthly_report_page_and_pdf(
        timed_cases: dict[str, int], analyst: User, focal_a: User,
        login_as: Callable[[User], TestClient],
        session_factory: sessionmaker[Session]) -> None:
    month = f"{BASE:%Y-%m}"
    client = login_as(analyst)
    page = client.get(f"/csirt/reports/monthly?month={month}")
    assert page.status_code == 200
    assert f"Rapport mensuel des incidents — {month}" in page.text
    pdf = client.get(f"/csirt/reports/monthly.pdf?month={month}")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    with session_factory() as session:
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "csirt_monthly_report.read")).all()
    assert [e.object_id for e in entries] == [month]
    assert login_as(focal_a).get(f"/csirt/reports/monthly.pdf?month={month}").status_code == 403


def test_a_bad_month_is_refused_in_french(analyst: User,
                                          login_as: Callable[[User], TestClient]) -> None:
    with pytest.raises(Invalid):
        metrics.parse_month("2026-13")
    assert metrics.parse_month("2026-02") == metrics.Period(dt.date(2026, 2, 1),
                                                            dt.date(2026, 2, 28))
    answer = login_as(analyst).get("/csirt/reports/monthly.pdf?month=2026-13")
    assert answer.status_code == 422
    assert "AAAA-MM" in answer.text


def test_institution_metrics_page_shows_own_figures_and_lets_the_centre_choose(
        timed_cases: dict[str, int], csirt_institutions: Institutions, analyst: User,
        focal_a: User, focal_b: User, login_as: Callable[[User], TestClient]) -> None:
    query = f"from={PERIOD.start}&to={PERIOD.end}"
    # A focal point of B sees B's single case (critical), not A's, and no institution picker
    staff = login_as(focal_b)
    page = staff.get(f"/csirt/metrics/institution?{query}")
    assert page.status_code == 200, page.text
    assert "INSTB" in page.text and 'name="institution_id"' not in page.text
    assert "Critique" in page.text and "Élevée" not in page.text
    # Naming another institution changes nothing for institution staff
    page = staff.get(
        f"/csirt/metrics/institution?{query}&institution_id={csirt_institutions.a}")
    assert "Élevée" not in page.text
    # The centre picks A: A's high cases and their mean time to resolve (40.0 h)
    centre = login_as(analyst)
    page = centre.get(
        f"/csirt/metrics/institution?{query}&institution_id={csirt_institutions.a}")
    assert page.status_code == 200
    assert 'name="institution_id"' in page.text and "40.0" in page.text
    assert "Critique" not in page.text.split("<main", 1)[-1].split("</form>", 1)[-1]
    # A bad id is a clear 422, not a crash
    bad = centre.get("/csirt/metrics/institution?institution_id=abc")
    assert bad.status_code == 422

"""Indicators measured: computed through a domain's declared source (with its formula), manual
values with evidence, and every case without a value giving its reason, never a number."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.rbac import Actor, Role
from lakana.core.errors import Forbidden
from lakana.core.indicators import IndicatorSource, Measurement, Period
from lakana.core.plugins import indicator_sources
from lakana.strategy import measures, service, tracking
from lakana.strategy.models import StrategyIndicator
from tests.awareness.campaigns.conftest import actor_of
from tests.conftest import Factory
from tests.strategy.conftest import ADMIN, SMALL_PLAN

TODAY = dt.date(2026, 11, 24)
COMPUTED_PLAN = SMALL_PLAN + """\
    - code: IND-02
      name: Incidents traités
      unit: incidents
      baseline: {value: 10, year: 2025}
      source: {kind: computed, key: tests.days_in_period}
      targets: {2026: 400, 2027: 500}
    - code: IND-03
      name: Source absente
      unit: '%'
      source: {kind: computed, key: nowhere.to_be_found}
      targets: {2026: 50}
    - code: IND-04
      name: Source en panne
      unit: '%'
      source: {kind: computed, key: tests.broken}
      targets: {2026: 50}
    - code: IND-05
      name: Rien à mesurer
      unit: '%'
      source: {kind: computed, key: tests.empty}
      targets: {2026: 50}
"""


def _days(session: Session, actor: Actor, period: Period) -> Measurement:
    """A real computation on the database: the period's length in days, as SQL sees it."""
    count = session.execute(text("SELECT :end - :start"), {
        "start": period.start.toordinal(), "end": period.end.toordinal()}).scalar_one()
    return Measurement(value=count + 1, inputs={"start": period.start.isoformat(),
                                                "end": period.end.isoformat()})


def _broken(session: Session, actor: Actor, period: Period) -> Measurement:
    session.execute(text("SELECT * FROM no_such_table"))
    return Measurement(value=1)


def _empty(session: Session, actor: Actor, period: Period) -> Measurement:
    return Measurement.none("No institution is active in the registry.")


SOURCES = {
    "tests.days_in_period": IndicatorSource("tests.days_in_period", "Days", "days counted",
                                            "jours", _days),
    "tests.broken": IndicatorSource("tests.broken", "Broken", "reads a missing table", "%",
                                    _broken),
    "tests.empty": IndicatorSource("tests.empty", "Empty", "nothing", "%", _empty),
}


@pytest.fixture
def plan(factory: Factory, session_factory: sessionmaker[Session]) -> None:
    for acronym in ("MJDH", "ANSSI-ML", "MEF"):
        factory.institution(acronym)
    with session_factory.begin() as session:
        service.import_plan(session=session, actor=ADMIN, content=COMPUTED_PLAN.encode(),
                            filename="plan.yaml")


def _evaluate(sf: sessionmaker[Session], year: int = 2026,
              actor: Actor = ADMIN) -> dict[str, measures.Evaluation]:
    with sf() as session:
        found = measures.evaluate(session=session, actor=actor, year=year, today=TODAY,
                                  sources=SOURCES)
        return {e.code: e for e in found}


@pytest.mark.parametrize(("value", "target", "baseline", "direction", "expected"), [
    (3, 3, 1, "higher", "met"), (4, 3, 1, "higher", "met"),
    (2.5, 3, 1, "higher", "near"), (2, 3, 1, "higher", "off"),
    (10, 14, 21, "lower", "met"), (15, 14, 21, "lower", "near"),
    (19, 14, 21, "lower", "off"), (None, 3, 1, "higher", "none"),
    (3, None, 1, "higher", "none"), (95, 100, None, "higher", "near"),
    (80, 100, None, "higher", "off"), (0.05, 0, None, "lower", "near"),
    (0.5, 0, None, "lower", "off"),
])
def test_traffic_light(value: float | None, target: float | None, baseline: float | None,
                       direction: str, expected: str) -> None:
    assert measures.status_of(value, target, baseline, direction) == expected


def test_each_indicator_gets_a_value_or_its_reason(
        plan: None, session_factory: sessionmaker[Session]) -> None:
    found = _evaluate(session_factory)
    # A computed indicator: the source's answer for the year to date, with its formula
    days = found["IND-02"]
    assert days.value == (TODAY - dt.date(2026, 1, 1)).days + 1 == 328
    assert days.formula == "days counted" and days.status == "near"  # (328-10)/(400-10)
    assert days.inputs == {"start": "2026-01-01", "end": "2026-11-24"}
    # A key no domain declares, a failing source, a source with nothing: no value, a reason
    assert found["IND-03"].value is None and found["IND-03"].status == "none"
    assert found["IND-03"].reason == measures.NO_SOURCE
    assert found["IND-03"].reason_args == {"key": "nowhere.to_be_found"}
    assert found["IND-04"].value is None and found["IND-04"].reason == measures.FAILED
    assert found["IND-04"].reason_args == {"error": "OperationalError"} or \
        found["IND-04"].reason_args == {"error": "ProgrammingError"}
    assert found["IND-05"].value is None
    assert found["IND-05"].reason == "No institution is active in the registry."
    # A manual indicator with nothing entered
    assert found["IND-01"].value is None and found["IND-01"].reason == measures.NO_MANUAL
    # A year not begun
    later = _evaluate(session_factory, 2027)
    assert later["IND-02"].value is None and later["IND-02"].reason == measures.NOT_BEGUN


def test_a_failing_source_does_not_spoil_the_transaction(
        plan: None, session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        measures.evaluate(session=session, actor=ADMIN, year=2026, today=TODAY,
                          sources=SOURCES)
        # The session still works after the failing source (its savepoint was rolled back)
        assert session.scalar(select(StrategyIndicator.code).where(
            StrategyIndicator.code == "IND-04")) == "IND-04"


def test_manual_values_latest_within_the_year_counts(
        plan: None, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        tracking.enter_value(session=session, actor=ADMIN, code="IND-01", data=tracking.ValueEntry(
            year=2026, quarter=2, value=2, evidence="Loi 2026-01 promulguée"))
        tracking.enter_value(session=session, actor=ADMIN, code="IND-01", data=tracking.ValueEntry(
            year=2026, quarter=3, value=3, evidence="Décret 2026-77 publié"))
        tracking.enter_value(session=session, actor=ADMIN, code="IND-01", data=tracking.ValueEntry(
            year=2027, value=9, evidence="Plus tard"))
    found = _evaluate(session_factory)["IND-01"]
    assert found.value == 3 and found.status == "met"
    assert found.evidence is not None and found.evidence.note == "Décret 2026-77 publié"
    assert found.evidence.period_end == "2026-09-30"


def test_installed_domains_declare_the_plan_s_sources(app: object) -> None:
    # The application registers every domain's sources; the draft plan's keys are among them
    import yaml

    from lakana.strategy.demo import DRAFT_PLAN

    plan = yaml.safe_load(DRAFT_PLAN.read_text(encoding="utf-8"))
    keys = {ind["source"]["key"] for axis in plan["axes"] for o in axis["objectives"]
            for ind in o["indicators"] if ind["source"]["kind"] == "computed"}
    assert keys and keys <= set(indicator_sources())


def test_reading_needs_the_plan_permission(
        plan: None, session_factory: sessionmaker[Session]) -> None:
    citizen = Actor(user_id=None, name="x", role=Role.FOCAL_POINT, permissions=frozenset())
    with pytest.raises(Forbidden):
        _evaluate(session_factory, actor=citizen)
    # A focal point reads the national figures
    assert _evaluate(session_factory, actor=actor_of(Role.FOCAL_POINT, 1))["IND-02"].value

"""The awareness figures the national strategy follows: staff trained, phishing click rate,
institutions with a security officer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from lakana.awareness import indicators
from lakana.awareness.phishing import service as phishing
from lakana.awareness.phishing.models import PhishingExercise
from lakana.awareness.phishing.schemas import EventKind
from lakana.awareness.plugin import PLUGIN
from lakana.awareness.training import service as training
from lakana.awareness.training.models import Trainee
from lakana.awareness.training.schemas import (
    CourseCreate,
    CourseKind,
    EnrolmentCreate,
    EnrolmentResult,
    Outcome,
    SessionCreate,
    TraineeCreate,
)
from lakana.core.indicators import Measurement, Period
from tests.awareness.phishing.conftest import make_exercise  # noqa: F401  (fixture)
from tests.awareness.skills.conftest import make_holder  # noqa: F401  (fixture)
from tests.awareness.training.conftest import ADMIN
from tests.conftest import Factory


def _measure(session: Session, key: str, period: Period) -> Measurement:
    source = {s.key: s for s in PLUGIN.indicator_sources}[key]
    return source.compute(session, ADMIN, period)


def _quarter_end(year: int, quarter: int) -> Period:
    start = dt.date(year, 3 * quarter - 2, 1)
    end = (dt.date(year, 3 * quarter, 28) + dt.timedelta(days=4)).replace(day=1)
    return Period(start, end - dt.timedelta(days=1))


# --- training ----------------------------------------------------------------------------

def _session_ending(db: Session, ends_on: dt.date) -> int:
    course = training.create_course(session=db, actor=ADMIN, data=CourseCreate(
        kind=CourseKind.CLASSROOM, title=f"Cours {ends_on}", duration_hours=7))
    return training.create_session(session=db, actor=ADMIN, data=SessionCreate(
        course_id=course.id, starts_on=ends_on - dt.timedelta(days=1), ends_on=ends_on,
        seats=10)).id


def _trainee(db: Session, institution_id: int, n: int, created: dt.date) -> int:
    trainee = training.create_trainee(session=db, actor=ADMIN, data=TraineeCreate(
        institution_id=institution_id, full_name=f"Agent {n}", email=f"agent{n}@example.ml"))
    db.flush()
    db.execute(update(Trainee).where(Trainee.id == trainee.id).values(
        created_at=dt.datetime.combine(created, dt.time(9), tzinfo=dt.UTC)))
    return trainee.id


def _result(db: Session, session_id: int, trainee_id: int, outcome: Outcome) -> None:
    enrolment = training.enrol(session=db, actor=ADMIN, data=EnrolmentCreate(
        session_id=session_id, trainee_id=trainee_id))
    training.record_result(session=db, actor=ADMIN, enrolment_id=enrolment.id,
                           data=EnrolmentResult(outcome=outcome, version=enrolment.version))


@pytest.fixture
def trained(db: Session, factory: Factory) -> None:
    """Six trainees: t1–t4 registered in January 2025, t5 in February 2026, t6 in June 2026
    (with a 2025 completion imported afterwards). Completions: t1 (March 2025, April 2026),
    t3 (November 2025), t5 (April 2026), t6 (March 2025); t2 failed; t4 never enrolled."""
    aaa, bbb = factory.institution("AAA"), factory.institution("BBB")
    march, november = _session_ending(db, dt.date(2025, 3, 10)), _session_ending(
        db, dt.date(2025, 11, 20))
    april = _session_ending(db, dt.date(2026, 4, 2))
    t = {n: _trainee(db, aaa if n % 2 else bbb, n, dt.date(2025, 1, 15)) for n in range(1, 5)}
    t[5] = _trainee(db, aaa, 5, dt.date(2026, 2, 1))
    t[6] = _trainee(db, bbb, 6, dt.date(2026, 6, 1))
    _result(db, march, t[1], Outcome.COMPLETED)
    _result(db, march, t[2], Outcome.FAILED)
    _result(db, november, t[3], Outcome.COMPLETED)
    _result(db, april, t[1], Outcome.COMPLETED)
    _result(db, april, t[5], Outcome.COMPLETED)
    _result(db, march, t[6], Outcome.COMPLETED)
    db.commit()


@pytest.mark.usefixtures("trained")
def test_trained_share_counts_people_trained_by_the_period_end(db: Session) -> None:
    # Given the trainees above / When the share is computed for 2025
    found = _measure(db, "awareness.training.trained_share", Period.year(2025))
    # Then t1, t3 and t6 of t1–t4 and t6 (registered or trained by then): 3 / 5
    assert found.value == 60.0
    assert found.inputs == {"numerator": 3, "denominator": 5}
    # And the first quarter has t1 and t6 trained (t3 trains in November): 2 / 5
    assert _measure(db, "awareness.training.trained_share",
                    _quarter_end(2025, 1)).value == 40.0
    # And by the end of 2026 every trainee but t2 and t4: 4 / 6 (t1 counted once)
    assert _measure(db, "awareness.training.trained_share", Period.year(2026)).value == 66.7


@pytest.mark.usefixtures("trained")
def test_no_trainee_by_the_period_end_gives_no_value(db: Session) -> None:
    found = _measure(db, "awareness.training.trained_share", Period.year(2024))
    assert found.value is None
    assert found.reason == indicators.NO_TRAINEE


# --- phishing ----------------------------------------------------------------------------

def _sent(db: Session, make: Callable[..., int], institution_id: int,
          sent_at: dt.datetime | None, clicks: int) -> None:
    """An exercise of three people sent at ``sent_at`` (None: a draft), ``clicks`` of them
    clicking."""
    exercise_id = make(institution_id)
    exercise = db.get(PhishingExercise, exercise_id)
    assert exercise is not None
    exercise.sent_at = sent_at
    for n, target in enumerate(phishing.targets_of(db, exercise_id)):
        kinds = [EventKind.SENT, EventKind.OPENED] if sent_at else []
        if sent_at and n < clicks:
            kinds.append(EventKind.CLICKED)
        phishing.add_events(db, target, kinds)
    db.commit()


@pytest.fixture
def exercises(db: Session, factory: Factory,
              make_exercise: Callable[..., int]) -> None:  # noqa: F811
    """Three people mailed in each exercise: May 2025 (1 click), October 2025 (2 clicks),
    January 2026 (3 clicks), and a draft never sent."""
    aaa, bbb = factory.institution("AAA"), factory.institution("BBB")
    _sent(db, make_exercise, aaa, dt.datetime(2025, 5, 4, 9, tzinfo=dt.UTC), 1)
    _sent(db, make_exercise, bbb, dt.datetime(2025, 10, 1, 9, tzinfo=dt.UTC), 2)
    _sent(db, make_exercise, aaa, dt.datetime(2026, 1, 10, 9, tzinfo=dt.UTC), 3)
    _sent(db, make_exercise, bbb, None, 0)


@pytest.mark.usefixtures("exercises")
def test_click_rate_over_people_mailed_in_the_period(db: Session) -> None:
    # Given two exercises sent in 2025: 3 people clicked of 6 mailed
    found = _measure(db, "awareness.phishing.click_rate", Period.year(2025))
    assert found.value == 50.0
    assert found.inputs == {"numerator": 3, "denominator": 6, "exercises": 2}
    # And the second quarter has the May exercise only (1 of 3); 2026 the January one
    assert _measure(db, "awareness.phishing.click_rate", _quarter_end(2025, 2)).value == 33.3
    assert _measure(db, "awareness.phishing.click_rate", Period.year(2026)).value == 100.0


@pytest.mark.usefixtures("exercises")
def test_no_exercise_sent_in_the_period_gives_no_value(db: Session) -> None:
    found = _measure(db, "awareness.phishing.click_rate", Period.year(2024))
    assert found.value is None
    assert found.reason == indicators.NO_EXERCISE


# --- skills ------------------------------------------------------------------------------

@pytest.fixture
def officers(factory: Factory, make_holder: Callable[..., int]) -> None:  # noqa: F811
    """Tier 1: AAA (CISO since 2024), CCC (CISO from July 2025 to March 2026), DDD (none);
    tier 2: BBB (CISO since 2024)."""
    aaa = factory.institution("AAA", criticality_tier=1)
    bbb = factory.institution("BBB", criticality_tier=2)
    ccc = factory.institution("CCC", criticality_tier=1)
    ddd = factory.institution("DDD", criticality_tier=1)
    make_holder(aaa)
    make_holder(aaa, profile_id="implementer", name="Moussa Diarra")
    make_holder(bbb)
    make_holder(ccc, since=dt.date(2025, 7, 1), until=dt.date(2026, 3, 31))
    make_holder(ddd, profile_id="risk-manager", name="Fanta Keïta")


@pytest.mark.usefixtures("officers")
def test_ciso_share_of_critical_institutions_on_the_period_end(db: Session) -> None:
    # On 31 December 2025: AAA and CCC of the three tier 1 institutions
    found = _measure(db, "awareness.skills.ciso_share", Period.year(2025))
    assert found.value == 66.7
    assert found.inputs == {"numerator": 2, "denominator": 3, "as_of": "2025-12-31"}
    # On 30 June 2025 and 31 December 2026: AAA only
    assert _measure(db, "awareness.skills.ciso_share", _quarter_end(2025, 2)).value == 33.3
    assert _measure(db, "awareness.skills.ciso_share", Period.year(2026)).value == 33.3
    # Every tier, end of 2025: AAA, BBB and CCC of four
    assert _measure(db, "awareness.skills.ciso_share_all", Period.year(2025)).value == 75.0


def test_no_institution_gives_no_ciso_share(db: Session, factory: Factory) -> None:
    found = _measure(db, "awareness.skills.ciso_share_all", Period.year(2025))
    assert (found.value, found.reason) == (None, indicators.NO_INSTITUTION)
    # Given a tier 2 institution only / Then no critical institution to measure
    factory.institution("BBB", criticality_tier=2)
    found = _measure(db, "awareness.skills.ciso_share", Period.year(2025))
    assert (found.value, found.reason) == (None, indicators.NO_CRITICAL_INSTITUTION)


def test_the_plugin_declares_the_keys() -> None:
    keys = {s.key: s for s in PLUGIN.indicator_sources}
    assert {"awareness.training.trained_share", "awareness.phishing.click_rate",
            "awareness.skills.ciso_share"} <= set(keys)
    assert keys["awareness.phishing.click_rate"].direction == "lower"

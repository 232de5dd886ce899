"""The overdue-deadline job: the right people are warned, each clock once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.models import User
from lakana.core.config import Settings
from lakana.core.jobs.service import enqueue, registered_tasks, schedules
from lakana.core.jobs.worker import run_worker
from lakana.core.notifications.models import Notification
from lakana.csirt import clock_tasks, clocks
from lakana.csirt.models import Case, CaseClock, CaseEvent
from tests.csirt.conftest import Institutions


def _overdue_case(session_factory: sessionmaker[Session], institution_id: int,
                  assignee_id: int | None, days: int = 4) -> int:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    with session_factory.begin() as session:
        case = Case(title="Serveur compromis", source="institution",
                    institution_id=institution_id, reported_at=old, detected_at=old,
                    assignee_id=assignee_id, created_at=old, updated_at=old)
        session.add(case)
        session.flush()
        case.reference = f"INC-2026-{case.id:05d}"
        clocks.start_for_case(session, case)
        return case.id


def _run(settings: Settings, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        enqueue(session, clock_tasks.OVERDUE)
    run_worker(settings, once=True, session_factory=session_factory)


def test_the_job_is_registered_every_15_minutes() -> None:
    # Given the plugin loaded / Then the task and its schedule are known
    assert clock_tasks.OVERDUE in registered_tasks()
    assert any(s.name == clock_tasks.OVERDUE and s.every == dt.timedelta(minutes=15)
               for s in schedules())


def test_overdue_clocks_are_notified_once(settings: Settings,
                                          session_factory: sessionmaker[Session],
                                          csirt_institutions: Institutions, analyst: User,
                                          analyst2: User, focal_a: User, focal_b: User,
                                          viewer_a: User) -> None:
    # Given a case of a, assigned to an analyst, with three clocks overdue
    case_id = _overdue_case(session_factory, csirt_institutions.a, analyst.id)
    # When the job runs twice
    _run(settings, session_factory)
    with session_factory() as session:
        first = sorted((n.user_id, n.params["clock"]) for n in
                       session.scalars(select(Notification)))
    _run(settings, session_factory)
    with session_factory() as session:
        second = sorted((n.user_id, n.params["clock"]) for n in
                        session.scalars(select(Notification)))
        clocks_rows = {c.clock: c for c in session.scalars(select(CaseClock).where(
            CaseClock.case_id == case_id))}
        events = session.scalars(select(CaseEvent.message).where(
            CaseEvent.case_id == case_id, CaseEvent.kind == "clock")).all()
    # Then the acknowledgement went to the assignee and analysts, the institution's clocks
    # to its focal point and the assignee (French titles: everyone speaks French), once
    ack = "Accusé de réception du signalement (24 h)"
    early = "Alerte précoce de l'institution (24 h)"
    full = "Notification complète de l'incident (72 h)"
    assert first == second
    assert first == sorted([(analyst.id, ack), (analyst2.id, ack), (analyst.id, early),
                            (focal_a.id, early), (analyst.id, full), (focal_a.id, full)])
    assert clocks_rows["acknowledgement"].overdue_notified_at is not None
    assert clocks_rows["final-report"].overdue_notified_at is None  # not due yet
    assert sum("overdue" in m for m in events) == 3
    assert focal_b.id not in {u for u, _ in first} and viewer_a.id not in {u for u, _ in first}


def test_a_clock_met_meanwhile_is_not_notified(settings: Settings,
                                               session_factory: sessionmaker[Session],
                                               csirt_institutions: Institutions,
                                               analyst: User) -> None:
    # Given an overdue case that was acknowledged (the clock not written down yet)
    case_id = _overdue_case(session_factory, csirt_institutions.a, None)
    with session_factory.begin() as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.acknowledged_at = case.reported_at + dt.timedelta(hours=1)
        case.status = "triage"
    # When the job runs
    with session_factory.begin() as session:
        warned = clock_tasks.warn_overdue(session)
    # Then the acknowledgement is written down as met and nobody hears of it
    with session_factory() as session:
        ack = session.execute(select(CaseClock).where(
            CaseClock.case_id == case_id, CaseClock.clock == "acknowledgement")).scalar_one()
        titles = {n.params["clock"] for n in session.scalars(select(Notification))}
    assert ack.met_at is not None and ack.overdue_notified_at is None
    assert warned == 2
    assert "Accusé de réception du signalement (24 h)" not in titles


def test_two_overlapping_runs_warn_once(session_factory: sessionmaker[Session],
                                        csirt_institutions: Institutions,
                                        analyst: User) -> None:
    # Given an overdue case, and a run that read the candidates before another committed
    _overdue_case(session_factory, csirt_institutions.a, analyst.id)
    with session_factory.begin() as session:
        assert clock_tasks.warn_overdue(session) == 3
    # When a second run comes after (its claim finds the clocks taken)
    with session_factory.begin() as session:
        assert clock_tasks.warn_overdue(session) == 0
        ids = session.scalars(select(CaseClock.id).where(
            CaseClock.overdue_notified_at.is_not(None))).all()
        assert len(ids) == 3
        # and even a forced claim of an already warned clock is refused
        assert not any(clock_tasks._claim(session, i, dt.datetime.now(dt.UTC)) for i in ids)

"""Demo data of the plan: the shipped draft, loaded once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from lakana.registry import demo as registry_demo
from lakana.strategy import demo, gci, measures, service, tracking
from lakana.strategy.schemas import FIRST_YEAR
from tests.strategy.conftest import ADMIN, plan_acronyms


def test_demo_loads_the_draft_plan_once(session_factory: sessionmaker[Session]) -> None:
    # Given the registry's demo institutions (every acronym of the plan among them)
    with session_factory.begin() as session:
        registry_demo.load_demo(session=session, actor=ADMIN)
    # When the demo step runs twice
    with session_factory.begin() as session:
        first = demo.load_demo(session=session, actor=ADMIN)
    with session_factory.begin() as session:
        second = demo.load_demo(session=session, actor=ADMIN)
    # Then the plan is loaded once, with the manual values and a snapshot per ended quarter
    ended = sum(1 for q in range(1, 5)
                if tracking.quarter_bounds(FIRST_YEAR, q)[1] < dt.date.today())
    assert first["created"] > 50 and second == {"created": 0}
    assert first["values"] == 3 and first["snapshots"] == ended
    with session_factory() as session:
        plan = service.get_plan(session=session, actor=ADMIN)
        leads = {a.lead for axis in plan.axes for o in axis.objectives for a in o.actions}
        assert None not in leads and leads <= plan_acronyms()
    with session_factory() as session:
        figures = {e.code: e for e in measures.evaluate(session=session, actor=ADMIN,
                                                        year=FIRST_YEAR)}
        assert figures["IND-01"].value == 2 and figures["IND-01"].evidence is not None
        assert len(tracking.list_snapshots(session=session, actor=ADMIN)) == ended
        assessment = gci.self_assessment(session=session, actor=ADMIN, year=FIRST_YEAR)
        assert all(p.answered for p in assessment.pillars) and assessment.score > 0

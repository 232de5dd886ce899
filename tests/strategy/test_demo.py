"""Demo data of the plan: the shipped draft, loaded once."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from lakana.registry import demo as registry_demo
from lakana.strategy import demo, service
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
    # Then the plan is loaded once
    assert first["created"] > 50 and second == {"created": 0}
    with session_factory() as session:
        plan = service.get_plan(session=session, actor=ADMIN)
        leads = {a.lead for axis in plan.axes for o in axis.objectives for a in o.actions}
        assert None not in leads and leads <= plan_acronyms()

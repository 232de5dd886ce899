"""Objects for tests/core/test_route_permissions.py's OBJECT_MAKERS (the plan is national:
it belongs to no institution)."""

from __future__ import annotations

from sqlalchemy import select

from lakana.core.auth.rbac import system_actor
from lakana.strategy import service
from lakana.strategy.models import StrategyAction
from tests.conftest import Factory
from tests.strategy.conftest import SMALL_PLAN


def make_action(factory: Factory, institution_id: int) -> int:
    """An action of a small plan (its institutions created when missing)."""
    with factory.session_factory() as session:
        found = session.scalar(select(StrategyAction.id).where(
            StrategyAction.code == "A1.O1.AC1"))
    if found is not None:
        return found
    for acronym in ("MJDH", "ANSSI-ML", "MEF"):
        factory.institution(acronym)
    with factory.session_factory.begin() as session:
        service.import_plan(session=session, actor=system_actor("tests"),
                            content=SMALL_PLAN.encode(), filename="plan.yaml")
        return session.scalar(select(StrategyAction.id).where(
            StrategyAction.code == "A1.O1.AC1")) or 0


def make_snapshot(factory: Factory, institution_id: int) -> str:
    """The label of a quarterly snapshot (2026-T1) of the small plan."""
    import datetime as dt

    from lakana.strategy import tracking
    from lakana.strategy.models import StrategySnapshot

    make_action(factory, institution_id)
    with factory.session_factory.begin() as session:
        if session.scalar(select(StrategySnapshot.id).where(StrategySnapshot.label
                                                            == "2026-T1")) is None:
            tracking.take_snapshot(session=session, actor=system_actor("tests"),
                                   kind="quarterly", year=2026, quarter=1,
                                   today=dt.date(2026, 4, 2))
    return "2026-T1"


def make_indicator(factory: Factory, institution_id: int) -> str:
    """The code of an indicator of the small plan (a manual one)."""
    make_action(factory, institution_id)
    return "IND-01"


def make_axis(factory: Factory, institution_id: int) -> str:
    """The code of an axis of the small plan."""
    make_action(factory, institution_id)
    return "A1"


def make_objective(factory: Factory, institution_id: int) -> str:
    """The code of an objective of the small plan."""
    make_action(factory, institution_id)
    return "A1.O1"

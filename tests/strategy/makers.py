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

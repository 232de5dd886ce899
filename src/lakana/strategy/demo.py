"""Demo data: the draft action plan shipped with Lakana (``data/plan-mali-2026.yaml``), built
from the national strategy's three published axes.

Loaded only while no plan exists, so that the agency's edits are never overwritten.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from lakana.core.auth.rbac import Actor
from lakana.strategy import service

DRAFT_PLAN = Path(__file__).parent / "data" / "plan-mali-2026.yaml"


def load_demo(*, session: Session, actor: Actor) -> dict[str, int]:
    """Import the shipped draft plan when no plan exists yet."""
    if not service.is_empty(session):
        return {"created": 0}
    result = service.import_plan(session=session, actor=actor,
                                 content=DRAFT_PLAN.read_bytes(), filename=DRAFT_PLAN.name)
    return {"created": result.created}

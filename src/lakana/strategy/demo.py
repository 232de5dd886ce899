"""Demo data: the draft action plan shipped with Lakana (``data/plan-mali-2026.yaml``), built
from the national strategy's three published axes.

Loaded only while no plan exists, so that the agency's edits are never overwritten. With
it come values of the manual indicators (each with its evidence) and a snapshot of each
quarter of the plan that has ended, so the dashboard, the history and the reports are alive.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.orm import Session

from lakana.core.auth.rbac import Actor
from lakana.strategy import service, tracking
from lakana.strategy.schemas import FIRST_YEAR

#: Values of the draft plan's manual indicators for 2026, with fictitious evidence.
MANUAL_VALUES = (
    ("IND-01", 2, "Loi n° 2026-031 relative à la cybersécurité promulguée le 14 juillet 2026 "
                  "(Journal officiel, n° 27)."),
    ("IND-02", 9.5, "Situation d'exécution budgétaire au 30 septembre 2026 transmise par la "
                    "Direction générale du budget."),
    ("IND-11", 3, "Mémorandum d'entente signé avec l'agence nationale de la sécurité des "
                  "systèmes d'information du Sénégal le 2 mai 2026."),
)

DRAFT_PLAN = Path(__file__).parent / "data" / "plan-mali-2026.yaml"


def load_demo(*, session: Session, actor: Actor) -> dict[str, int]:
    """Import the shipped draft plan when no plan exists yet."""
    if not service.is_empty(session):
        return {"created": 0}
    result = service.import_plan(session=session, actor=actor,
                                 content=DRAFT_PLAN.read_bytes(), filename=DRAFT_PLAN.name)
    today = dt.date.today()
    values = 0
    if today.year >= FIRST_YEAR:
        for code, value, evidence in MANUAL_VALUES:
            tracking.enter_value(session=session, actor=actor, code=code, data=tracking.ValueEntry(
                year=FIRST_YEAR, value=value, evidence=evidence))
            values += 1
    snapshots = 0
    for quarter in range(1, 5):
        _label, _start, end = tracking.period_of("quarterly", FIRST_YEAR, quarter)
        if end < today:
            tracking.take_snapshot(session=session, actor=actor, kind="quarterly",
                                   year=FIRST_YEAR, quarter=quarter, today=today)
            snapshots += 1
    return {"created": result.created, "values": values, "snapshots": snapshots}

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
from lakana.strategy import gci, service, tracking
from lakana.strategy.gci_schemas import GciAnswerIn
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

#: Answers of the GCI self-assessment, with fictitious evidence.
GCI_ANSWERS: tuple[tuple[str, str, str, list[str]], ...] = (
    ("LEG-1", "yes", "Loi n° 2019-056 portant répression de la cybercriminalité.", ["IND-01"]),
    ("LEG-2", "yes", "Loi n° 2013-015 sur la protection des données à caractère personnel ; "
                     "autorité de protection des données en fonction.", []),
    ("LEG-3", "partial", "Projet de décret sur les opérateurs d'importance vitale en cours "
                         "d'adoption.", ["IND-01"]),
    ("TEC-1", "yes", "CSIRT national en service, incidents suivis dans Lakana.",
     ["IND-06", "IND-07"]),
    ("TEC-3", "partial", "Référentiel national publié ; évaluations de référence engagées.",
     ["IND-08", "IND-09"]),
    ("ORG-1", "yes", "Stratégie nationale de cybersécurité 2026–2030 adoptée en Conseil des "
                     "ministres, plan d'action chiffré.", []),
    ("ORG-3", "yes", "Indicateurs du plan calculés dans Lakana ; rapports trimestriels.", []),
    ("CAP-1", "partial", "Campagnes nationales de sensibilisation (radio, SMS) en 2026.",
     ["IND-03"]),
    ("CAP-3", "partial", "Parcours de formation des agents publics ouverts en 2026.",
     ["IND-04", "IND-05"]),
    ("COO-1", "yes", "Mémorandum d'entente avec l'agence sénégalaise, mai 2026.", ["IND-11"]),
    ("COO-2", "no", "", []),
)


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
    for code, answer, evidence, indicators in GCI_ANSWERS:
        gci.save_answer(session=session, actor=actor, code=code, version=0,
                        data=GciAnswerIn(answer=answer, evidence_note=evidence,
                                         indicator_codes=indicators))
    snapshots = 0
    for quarter in range(1, 5):
        _label, _start, end = tracking.period_of("quarterly", FIRST_YEAR, quarter)
        if end < today:
            tracking.take_snapshot(session=session, actor=actor, kind="quarterly",
                                   year=FIRST_YEAR, quarter=quarter, today=today)
            snapshots += 1
    return {"created": result.created, "values": values, "snapshots": snapshots}

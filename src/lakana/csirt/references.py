"""Human references of cases: ``INC-2026-00042``, ``PUB-2026-00007``."""

from __future__ import annotations

from sqlalchemy.orm import Session

from lakana.csirt.models import Case

PREFIXES = {"public": "PUB"}


def assign_reference(session: Session, case: Case) -> str:
    """Give ``case`` its reference from its id and report year (flushes to get the id)."""
    if case.id is None:
        session.add(case)
        session.flush()
    prefix = PREFIXES.get(case.source, "INC")
    case.reference = f"{prefix}-{case.reported_at.year}-{case.id:05d}"
    return case.reference

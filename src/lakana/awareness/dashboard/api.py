"""JSON API of the awareness overview."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter

from lakana.awareness.dashboard import service
from lakana.core.auth.deps import CurrentActor, DbSession

router = APIRouter(prefix="/awareness", tags=["awareness: dashboard"])


def _row(row: service.OverviewRow) -> dict[str, Any]:
    found = dataclasses.asdict(row)
    found["phishing"] |= {"click_rate": row.phishing.click_rate,
                          "report_rate": row.phishing.report_rate}
    return found


@router.get("/overview")
def overview(session: DbSession, actor: CurrentActor) -> dict[str, Any]:
    """Per institution and for the nation: trainees and people trained, role seats required
    and filled, phishing exercises with click and report rates (percent); quarterly trends."""
    found = service.overview(session=session, actor=actor)
    return {"as_of": found.as_of.isoformat(),
            "institutions": [_row(r) for r in found.institutions],
            "total": _row(found.total),
            "quarters": [{"quarter": q.quarter, "completions": q.completions,
                          "phishing_targets": q.phishing.targets,
                          "click_rate": q.phishing.click_rate,
                          "report_rate": q.phishing.report_rate} for q in found.quarters]}

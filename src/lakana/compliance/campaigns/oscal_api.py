"""JSON API: campaign self-assessments as OSCAL assessment results (mounted under
``/api/v1``); the same scope as the assessments themselves applies."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Response

from lakana.compliance.campaigns import oscal_results
from lakana.core.auth.deps import CurrentActor, DbSession

router = APIRouter(prefix="/compliance", tags=["compliance-oscal"])
MEDIA_TYPE = "application/json"


def _download(doc: dict[str, Any], filename: str) -> Response:
    body = (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    return Response(body, media_type=MEDIA_TYPE, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Content-Type-Options": "nosniff"})


@router.get("/assessments/{assessment_id}/assessment-results", response_class=Response)
def assessment_results(assessment_id: int, session: DbSession, actor: CurrentActor
                       ) -> Response:
    """One assessment as an OSCAL assessment-results document (OSCAL 1.2.3)."""
    doc = oscal_results.assessment_results(session=session, actor=actor,
                                           assessment_id=assessment_id)
    return _download(doc, f"assessment-results-assessment-{assessment_id}.json")


@router.get("/campaigns/{campaign_id}/assessment-results", response_class=Response)
def campaign_results(campaign_id: int, session: DbSession, actor: CurrentActor) -> Response:
    """A campaign as an OSCAL assessment-results document: one result per assessment the
    actor may see."""
    doc = oscal_results.campaign_results(session=session, actor=actor, campaign_id=campaign_id)
    return _download(doc, f"assessment-results-campaign-{campaign_id}.json")

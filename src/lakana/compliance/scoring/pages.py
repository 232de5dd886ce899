"""HTML page of the national heatmap: institutions × domains, each cell linking to the
assessment it is computed from."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lakana.compliance.campaigns import service as campaign_service
from lakana.compliance.scoring import service
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.web.templating import render

router = APIRouter(prefix="/compliance")


@router.get("/campaigns/{campaign_id}/heatmap")
def heatmap_page(request: Request, campaign_id: int, session: DbSession,
                 actor: CurrentActor) -> Response:
    """The heatmap of a campaign with its national and per-domain summary."""
    campaign = campaign_service.get_campaign(session=session, actor=actor,
                                             campaign_id=campaign_id)
    return render(request, "compliance/scoring/heatmap.html", {
        "campaign": campaign, "heatmap": service.heatmap(session=session, actor=actor,
                                                         campaign_id=campaign_id),
        "band": service.band})

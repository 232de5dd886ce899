"""JSON API of campaign scores (mounted under ``/api/v1``)."""

from __future__ import annotations

from fastapi import APIRouter

from lakana.compliance.scoring import service
from lakana.core.auth.deps import CurrentActor, DbSession

router = APIRouter(prefix="/compliance", tags=["compliance-scoring"])


@router.get("/campaigns/{campaign_id}/scores", response_model=service.Scores)
def campaign_scores(campaign_id: int, session: DbSession, actor: CurrentActor) -> service.Scores:
    """National, per-domain, per-CSF-function (and finer) scores, each with its answer count."""
    return service.scores(session=session, actor=actor, campaign_id=campaign_id)


@router.get("/campaigns/{campaign_id}/heatmap", response_model=service.Heatmap)
def campaign_heatmap(campaign_id: int, session: DbSession,
                     actor: CurrentActor) -> service.Heatmap:
    """The institutions × domains matrix of scores (institution roles: their own row)."""
    return service.heatmap(session=session, actor=actor, campaign_id=campaign_id)

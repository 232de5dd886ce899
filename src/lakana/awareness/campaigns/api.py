"""JSON API of awareness campaigns (mounted under ``/api/v1``): campaigns, their reach and
outcome indicators, and reach totals against the target.

Optimistic concurrency as elsewhere: ``GET`` answers an ``ETag`` with the version; ``PATCH``
needs it back in ``version`` or ``If-Match``; a stale one gets 409. Writes check the
permission before the body, so a reader learns nothing from validation errors.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy.orm import Session

from lakana.awareness.campaigns import service
from lakana.awareness.campaigns.models import AwarenessCampaign
from lakana.awareness.campaigns.permissions import CampaignPermission
from lakana.awareness.campaigns.schemas import (
    CampaignCreate,
    CampaignOut,
    CampaignQuery,
    CampaignUpdate,
    OutcomeCreate,
    OutcomeOut,
    ReachCreate,
    ReachOut,
    ReachSummary,
)
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.concurrency import parse_if_match

router = APIRouter(prefix="/awareness/campaigns", tags=["awareness: campaigns"])

IfMatch = Annotated[str | None, Header(max_length=40)]


def _manager(actor: CurrentActor) -> Actor:
    """The caller, once known to manage campaigns (checked before the body is read)."""
    actor.require(CampaignPermission.CAMPAIGNS_MANAGE)
    return actor


Manager = Annotated[Actor, Depends(_manager)]


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def campaign_out(session: Session, found: AwarenessCampaign) -> CampaignOut:
    """A campaign with the people it reached."""
    return CampaignOut.model_validate(found).model_copy(
        update={"people_reached": service.people_reached(session, [found.id])[found.id]})


@router.get("", response_model=list[CampaignOut])
def list_campaigns(session: DbSession, actor: CurrentActor,
                   query: Annotated[CampaignQuery, Query()]) -> list[CampaignOut]:
    """Campaigns, latest first; filters ``status, audience``."""
    found = service.list_campaigns(session=session, actor=actor, query=query)
    reached = service.people_reached(session, [c.id for c in found])
    return [CampaignOut.model_validate(c).model_copy(update={"people_reached": reached[c.id]})
            for c in found]


@router.post("", response_model=CampaignOut, status_code=201)
def create_campaign(body: CampaignCreate, session: DbSession, actor: Manager,
                    response: Response) -> CampaignOut:
    """Plan a campaign (the agency)."""
    found = service.create_campaign(session=session, actor=actor, data=body)
    _etag(response, found.version)
    return campaign_out(session, found)


@router.get("/{awareness_campaign_id}", response_model=CampaignOut)
def get_campaign(awareness_campaign_id: int, session: DbSession, actor: CurrentActor,
                 response: Response) -> CampaignOut:
    """One campaign, with the people it reached."""
    found = service.get_campaign(session=session, actor=actor,
                                 campaign_id=awareness_campaign_id)
    _etag(response, found.version)
    return campaign_out(session, found)


@router.patch("/{awareness_campaign_id}", response_model=CampaignOut)
def update_campaign(awareness_campaign_id: int, body: CampaignUpdate, session: DbSession,
                    actor: Manager, response: Response,
                    if_match: IfMatch = None) -> CampaignOut:
    """Change a campaign; send the version you read."""
    if body.version is None and if_match is not None:
        body = body.model_copy(update={"version": parse_if_match(if_match)})
    found = service.update_campaign(session=session, actor=actor,
                                    campaign_id=awareness_campaign_id, data=body)
    _etag(response, found.version)
    return campaign_out(session, found)


@router.get("/{awareness_campaign_id}/summary", response_model=ReachSummary)
def reach_summary(awareness_campaign_id: int, session: DbSession,
                  actor: CurrentActor) -> ReachSummary:
    """People reached against the target, in total and per channel."""
    return service.reach_summary(session=session, actor=actor,
                                 campaign_id=awareness_campaign_id)


@router.get("/{awareness_campaign_id}/reach", response_model=list[ReachOut])
def list_reach(awareness_campaign_id: int, session: DbSession,
               actor: CurrentActor) -> list[ReachOut]:
    """A campaign's reach records, by date."""
    return [ReachOut.model_validate(r) for r in service.list_reach(
        session=session, actor=actor, campaign_id=awareness_campaign_id)]


@router.post("/{awareness_campaign_id}/reach", response_model=ReachOut, status_code=201)
def add_reach(awareness_campaign_id: int, body: ReachCreate, session: DbSession,
              actor: Manager) -> ReachOut:
    """Record people reached on a channel of the campaign, within its period."""
    return ReachOut.model_validate(service.add_reach(
        session=session, actor=actor, campaign_id=awareness_campaign_id, data=body))


@router.delete("/reach/{reach_id}", status_code=204)
def delete_reach(reach_id: int, session: DbSession, actor: CurrentActor) -> None:
    """Remove a reach record entered by mistake."""
    service.delete_reach(session=session, actor=actor, reach_id=reach_id)


@router.get("/{awareness_campaign_id}/outcomes", response_model=list[OutcomeOut])
def list_outcomes(awareness_campaign_id: int, session: DbSession,
                  actor: CurrentActor) -> list[OutcomeOut]:
    """A campaign's outcome indicators."""
    return [OutcomeOut.model_validate(o) for o in service.list_outcomes(
        session=session, actor=actor, campaign_id=awareness_campaign_id)]


@router.post("/{awareness_campaign_id}/outcomes", response_model=OutcomeOut, status_code=201)
def add_outcome(awareness_campaign_id: int, body: OutcomeCreate, session: DbSession,
                actor: Manager) -> OutcomeOut:
    """Record an outcome indicator (a quiz pass rate, reports received during it...)."""
    return OutcomeOut.model_validate(service.add_outcome(
        session=session, actor=actor, campaign_id=awareness_campaign_id, data=body))


@router.delete("/outcomes/{outcome_id}", status_code=204)
def delete_outcome(outcome_id: int, session: DbSession, actor: CurrentActor) -> None:
    """Remove an outcome indicator entered by mistake."""
    service.delete_outcome(session=session, actor=actor, outcome_id=outcome_id)

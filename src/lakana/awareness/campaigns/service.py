"""Awareness campaign services: campaigns (kept by the agency, read by every staff member),
the reach recorded on their channels, their outcome indicators, and reach totals against the
target, in total and per channel.

Campaigns are national: they belong to no institution (a lead institution is informative),
so reading needs only the permission. Services never commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakana.awareness.campaigns.models import AwarenessCampaign, CampaignOutcome, CampaignReach
from lakana.awareness.campaigns.permissions import CampaignPermission as P
from lakana.awareness.campaigns.schemas import (
    CampaignCreate,
    CampaignQuery,
    CampaignStatus,
    CampaignUpdate,
    Channel,
    ChannelTotal,
    OutcomeCreate,
    ReachCreate,
    ReachSummary,
)
from lakana.core import audit
from lakana.core.auth.rbac import Actor
from lakana.core.concurrency import check_version as _check_version
from lakana.core.concurrency import flush_or_conflict as _flush
from lakana.core.db import utcnow
from lakana.core.errors import Invalid, NotFound
from lakana.core.i18n import Msg
from lakana.registry import service as registry

CAMPAIGN_FIELDS = ("title", "message", "audience", "channels", "languages", "starts_on",
                   "ends_on", "lead_institution_id", "target_reach", "status")
REACH_FIELDS = ("reached_on", "channel", "people", "impressions", "note", "source")
OUTCOME_FIELDS = ("name", "value", "unit", "evidence")


def _state(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for name in names:
        value = getattr(obj, name)
        state[name] = value.isoformat() if isinstance(value, dt.date) else value
    return state


def _not_found(what: str) -> NotFound:
    return NotFound("This %(what)s does not exist or is not visible to you.", what=Msg(what))


def _check_institution(session: Session, institution_id: int | None) -> None:
    if institution_id is None:
        return
    known = {ident for ident, _text in registry.institution_choices(session=session)}
    if institution_id not in known:
        raise Invalid("The institution %(id)s does not exist.", id=institution_id,
                      errors=[{"field": "lead_institution_id",
                               "message": "This institution does not exist."}])


def _check_period(starts_on: dt.date, ends_on: dt.date) -> None:
    if ends_on < starts_on:
        raise Invalid("The end date may not be before the start date.",
                      errors=[{"field": "ends_on",
                               "message": "The end date may not be before the start date."}])


# --- campaigns --------------------------------------------------------------------------

def get_campaign(*, session: Session, actor: Actor, campaign_id: int) -> AwarenessCampaign:
    """One campaign."""
    actor.require(P.CAMPAIGNS_READ)
    found = session.get(AwarenessCampaign, campaign_id)
    if found is None:
        raise _not_found("campaign")
    return found


def list_campaigns(*, session: Session, actor: Actor,
                   query: CampaignQuery | None = None) -> list[AwarenessCampaign]:
    """Campaigns, latest start first, filtered by status or audience."""
    actor.require(P.CAMPAIGNS_READ)
    query = query or CampaignQuery()
    stmt = select(AwarenessCampaign)
    if query.status is not None:
        stmt = stmt.where(AwarenessCampaign.status == query.status.value)
    if query.audience is not None:
        stmt = stmt.where(AwarenessCampaign.audience == query.audience.value)
    return list(session.scalars(stmt.order_by(AwarenessCampaign.starts_on.desc(),
                                              AwarenessCampaign.id.desc())))


def _stored(data: CampaignCreate | CampaignUpdate, key: str) -> Any:
    value = getattr(data, key)
    if isinstance(value, list):
        return [str(v) for v in value]
    return value.value if hasattr(value, "value") else value


def create_campaign(*, session: Session, actor: Actor,
                    data: CampaignCreate) -> AwarenessCampaign:
    """Plan a campaign (the agency)."""
    actor.require(P.CAMPAIGNS_MANAGE)
    _check_institution(session, data.lead_institution_id)
    found = AwarenessCampaign(created_by=actor.name,
                              **{key: _stored(data, key) for key in CAMPAIGN_FIELDS})
    session.add(found)
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.campaign.create",
                 object_type="awareness_campaign", object_id=found.id, object_repr=found.title,
                 after=_state(found, CAMPAIGN_FIELDS))
    return found


def update_campaign(*, session: Session, actor: Actor, campaign_id: int,
                    data: CampaignUpdate) -> AwarenessCampaign:
    """Change a campaign; a stale ``version`` is refused with 409."""
    actor.require(P.CAMPAIGNS_MANAGE)
    found = get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    _check_version(found.version, data.version)
    before = _state(found, CAMPAIGN_FIELDS)
    # Read before changing anything: a query would autoflush and bump the version twice.
    first, last = session.execute(
        select(func.min(CampaignReach.reached_on), func.max(CampaignReach.reached_on))
        .where(CampaignReach.campaign_id == found.id)).one()
    if "lead_institution_id" in data.model_fields_set:
        _check_institution(session, data.lead_institution_id)
    for key in data.model_fields_set - {"version"}:
        value = _stored(data, key)
        if value is None and key != "lead_institution_id":
            raise Invalid("The field %(field)s cannot be empty.", field=key,
                          errors=[{"field": key, "message": "This field cannot be empty."}])
        setattr(found, key, value)
    _check_period(found.starts_on, found.ends_on)
    if first is not None and last is not None and (first < found.starts_on
                                                   or last > found.ends_on):
        raise Invalid("Reach was recorded from %(first)s to %(last)s: the period must include "
                      "these dates.", first=first.isoformat(), last=last.isoformat(),
                      errors=[{"field": "starts_on", "message": "The period must include the "
                                                                "reach recorded."}])
    after = _state(found, CAMPAIGN_FIELDS)
    if after == before:
        return found
    found.updated_at = utcnow()
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.campaign.update",
                 object_type="awareness_campaign", object_id=found.id, object_repr=found.title,
                 before=before, after=after)
    return found


# --- reach ------------------------------------------------------------------------------

def list_reach(*, session: Session, actor: Actor, campaign_id: int) -> list[CampaignReach]:
    """A campaign's reach records, by date."""
    found = get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    return list(session.scalars(select(CampaignReach)
                                .where(CampaignReach.campaign_id == found.id)
                                .order_by(CampaignReach.reached_on, CampaignReach.id)))


def add_reach(*, session: Session, actor: Actor, campaign_id: int,
              data: ReachCreate) -> CampaignReach:
    """Record people reached on a channel of the campaign, on a date within its period."""
    actor.require(P.CAMPAIGNS_MANAGE)
    found = get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    if data.channel.value not in found.channels:
        raise Invalid("This campaign does not use the channel %(channel)s.",
                      channel=data.channel.value,
                      errors=[{"field": "channel",
                               "message": "This campaign does not use this channel."}])
    if not found.starts_on <= data.reached_on <= found.ends_on:
        raise Invalid("The date must fall within the campaign (%(start)s to %(end)s).",
                      start=found.starts_on.isoformat(), end=found.ends_on.isoformat(),
                      errors=[{"field": "reached_on",
                               "message": "The date must fall within the campaign."}])
    record = CampaignReach(campaign_id=found.id, created_by=actor.name,
                           **{key: _reach_value(data, key) for key in REACH_FIELDS})
    session.add(record)
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.campaign.reach.add",
                 object_type="awareness_campaign_reach", object_id=record.id,
                 object_repr=f"{found.title} — {record.channel} {record.reached_on.isoformat()}",
                 after=_state(record, REACH_FIELDS))
    return record


def _reach_value(data: ReachCreate, key: str) -> Any:
    value = getattr(data, key)
    return value.value if isinstance(value, Channel) else value


def delete_reach(*, session: Session, actor: Actor, reach_id: int) -> int:
    """Remove a reach record entered by mistake; returns its campaign's id."""
    actor.require(P.CAMPAIGNS_MANAGE)
    record = session.get(CampaignReach, reach_id)
    if record is None:
        raise _not_found("reach record")
    before = _state(record, REACH_FIELDS)
    session.delete(record)
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.campaign.reach.delete",
                 object_type="awareness_campaign_reach", object_id=reach_id,
                 object_repr=f"reach {reach_id} of campaign {record.campaign_id}",
                 before=before)
    return record.campaign_id


def reach_summary(*, session: Session, actor: Actor, campaign_id: int) -> ReachSummary:
    """People reached and impressions against the target, in total and per channel (the
    campaign's channels first, in its order)."""
    found = get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    rows = session.execute(
        select(CampaignReach.channel, func.coalesce(func.sum(CampaignReach.people), 0),
               func.coalesce(func.sum(CampaignReach.impressions), 0), func.count())
        .where(CampaignReach.campaign_id == found.id).group_by(CampaignReach.channel)).all()
    totals = {str(channel): (int(people or 0), int(shown or 0), int(count))
              for channel, people, shown, count in rows}
    order = [*found.channels, *sorted(set(totals) - set(found.channels))]
    channels = [ChannelTotal(channel=Channel(name), people=totals.get(name, (0, 0, 0))[0],
                             impressions=totals.get(name, (0, 0, 0))[1],
                             records=totals.get(name, (0, 0, 0))[2]) for name in order]
    people = sum(c.people for c in channels)
    return ReachSummary(
        campaign_id=found.id, target_reach=found.target_reach, people_reached=people,
        impressions=sum(c.impressions for c in channels),
        progress=people * 100 // found.target_reach if found.target_reach else None,
        channels=channels)


def people_reached(session: Session, campaign_ids: list[int]) -> dict[int, int]:
    """People reached by each of the given campaigns (no permission check: totals of
    campaigns the caller already holds)."""
    if not campaign_ids:
        return {}
    rows = session.execute(select(CampaignReach.campaign_id, func.sum(CampaignReach.people))
                           .where(CampaignReach.campaign_id.in_(campaign_ids))
                           .group_by(CampaignReach.campaign_id)).all()
    found = {int(ident): int(total or 0) for ident, total in rows}
    return {ident: found.get(ident, 0) for ident in campaign_ids}


# --- outcomes ---------------------------------------------------------------------------

def list_outcomes(*, session: Session, actor: Actor,
                  campaign_id: int) -> list[CampaignOutcome]:
    """A campaign's outcome indicators, in the order recorded."""
    found = get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    return list(session.scalars(select(CampaignOutcome)
                                .where(CampaignOutcome.campaign_id == found.id)
                                .order_by(CampaignOutcome.id)))


def add_outcome(*, session: Session, actor: Actor, campaign_id: int,
                data: OutcomeCreate) -> CampaignOutcome:
    """Record an outcome indicator of a campaign (a quiz pass rate, reports received...)."""
    actor.require(P.CAMPAIGNS_MANAGE)
    found = get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    record = CampaignOutcome(campaign_id=found.id, created_by=actor.name, **data.model_dump())
    session.add(record)
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.campaign.outcome.add",
                 object_type="awareness_campaign_outcome", object_id=record.id,
                 object_repr=f"{found.title} — {record.name}",
                 after=_state(record, OUTCOME_FIELDS))
    return record


def delete_outcome(*, session: Session, actor: Actor, outcome_id: int) -> int:
    """Remove an outcome indicator entered by mistake; returns its campaign's id."""
    actor.require(P.CAMPAIGNS_MANAGE)
    record = session.get(CampaignOutcome, outcome_id)
    if record is None:
        raise _not_found("outcome")
    before = _state(record, OUTCOME_FIELDS)
    session.delete(record)
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.campaign.outcome.delete",
                 object_type="awareness_campaign_outcome", object_id=outcome_id,
                 object_repr=f"outcome {outcome_id} of campaign {record.campaign_id}",
                 before=before)
    return record.campaign_id


def count_running(session: Session, actor: Actor) -> int:
    """Campaigns running now (for the dashboard)."""
    actor.require(P.CAMPAIGNS_READ)
    return session.scalar(select(func.count()).select_from(AwarenessCampaign)
                          .where(AwarenessCampaign.status == CampaignStatus.RUNNING.value)) or 0

"""Objects for tests/core/test_route_permissions.py's OBJECT_MAKERS (campaigns are national:
they belong to no institution)."""

from __future__ import annotations

import datetime as dt

from lakana.awareness.campaigns import service
from lakana.awareness.campaigns.schemas import (
    Audience,
    CampaignCreate,
    Channel,
    Language,
    OutcomeCreate,
    ReachCreate,
)
from lakana.core.auth.rbac import system_actor
from tests.conftest import Factory


def make_campaign(factory: Factory, institution_id: int) -> int:
    """A radio campaign in October 2026."""
    with factory.session_factory.begin() as session:
        return service.create_campaign(session=session, actor=system_actor("tests"),
                                       data=CampaignCreate(
            title="Arnaques par SMS", audience=Audience.GENERAL_PUBLIC,
            channels=[Channel.RADIO], languages=[Language.BAMBARA],
            starts_on=dt.date(2026, 10, 1), ends_on=dt.date(2026, 10, 31),
            target_reach=1000)).id


def make_reach(factory: Factory, institution_id: int) -> int:
    """A reach record of a new campaign."""
    campaign_id = make_campaign(factory, institution_id)
    with factory.session_factory.begin() as session:
        return service.add_reach(session=session, actor=system_actor("tests"),
                                 campaign_id=campaign_id, data=ReachCreate(
            reached_on=dt.date(2026, 10, 2), channel=Channel.RADIO, people=500)).id


def make_outcome(factory: Factory, institution_id: int) -> int:
    """An outcome indicator of a new campaign."""
    campaign_id = make_campaign(factory, institution_id)
    with factory.session_factory.begin() as session:
        return service.add_outcome(session=session, actor=system_actor("tests"),
                                   campaign_id=campaign_id, data=OutcomeCreate(
            name="Signalements reçus", value=12, unit="signalements")).id

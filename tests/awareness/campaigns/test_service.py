"""Campaign services: validation (period, channels, sizes), reach within the period and on
the campaign's channels, totals against the target and per channel, permissions, versions
and the ledger."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakana.awareness.campaigns import service
from lakana.awareness.campaigns.models import CampaignReach
from lakana.awareness.campaigns.schemas import (
    CampaignQuery,
    CampaignStatus,
    CampaignUpdate,
    Channel,
    OutcomeCreate,
    ReachCreate,
)
from lakana.core.audit import ledger
from lakana.core.auth.rbac import Role
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from tests.awareness.campaigns.conftest import ADMIN, actor_of, campaign_data
from tests.conftest import Factory


def test_a_campaign_needs_a_sound_period_channels_and_sizes() -> None:
    # Given inputs with an end before the start, no channel, a negative target, a long title
    # Then each is refused with a clear message
    with pytest.raises(ValidationError, match="end date may not be before the start"):
        campaign_data(ends_on=dt.date(2026, 9, 30))
    with pytest.raises(ValidationError, match="channels"):
        campaign_data(channels=[])
    with pytest.raises(ValidationError, match="target_reach"):
        campaign_data(target_reach=-1)
    with pytest.raises(ValidationError, match="title"):
        campaign_data(title="x" * 201)
    with pytest.raises(ValidationError, match="channels"):
        campaign_data(channels=["pigeon"])
    # And repeated channels are kept once
    assert campaign_data(channels=["radio", "radio", "sms"]).channels == [Channel.RADIO,
                                                                          Channel.SMS]
    with pytest.raises(ValidationError, match="people"):
        ReachCreate(reached_on=dt.date(2026, 10, 2), channel=Channel.RADIO, people=-5)


def test_reach_totals_against_target_and_per_channel(db: Session) -> None:
    # Given a campaign on radio and SMS with a target of 1000
    found = service.create_campaign(session=db, actor=ADMIN, data=campaign_data())
    # When reach is recorded on both channels
    for day, channel, people, shown in ((2, Channel.RADIO, 400, 900), (3, Channel.SMS, 250, None),
                                        (9, Channel.RADIO, 100, 100)):
        service.add_reach(session=db, actor=ADMIN, campaign_id=found.id, data=ReachCreate(
            reached_on=dt.date(2026, 10, day), channel=channel, people=people,
            impressions=shown, source="ORTM"))
    # Then the totals are against the target and per channel, in the campaign's order
    summary = service.reach_summary(session=db, actor=ADMIN, campaign_id=found.id)
    assert (summary.people_reached, summary.impressions, summary.progress) == (750, 1000, 75)
    assert [(c.channel, c.people, c.records) for c in summary.channels] == [
        (Channel.RADIO, 500, 2), (Channel.SMS, 250, 1)]
    assert service.people_reached(db, [found.id]) == {found.id: 750}
    # And a campaign without a target has no progress
    other = service.create_campaign(session=db, actor=ADMIN,
                                    data=campaign_data(title="Sans cible", target_reach=0))
    assert service.reach_summary(session=db, actor=ADMIN, campaign_id=other.id).progress is None


def test_reach_must_be_on_a_channel_of_the_campaign_and_within_its_period(db: Session) -> None:
    found = service.create_campaign(session=db, actor=ADMIN, data=campaign_data())
    # When reach is recorded on television (not a channel of it), or after it ended
    with pytest.raises(Invalid, match="does not use the channel"):
        service.add_reach(session=db, actor=ADMIN, campaign_id=found.id, data=ReachCreate(
            reached_on=dt.date(2026, 10, 2), channel=Channel.TELEVISION, people=10))
    with pytest.raises(Invalid, match="within the campaign"):
        service.add_reach(session=db, actor=ADMIN, campaign_id=found.id, data=ReachCreate(
            reached_on=dt.date(2026, 11, 2), channel=Channel.RADIO, people=10))
    # Then nothing was recorded
    assert db.scalar(select(func.count()).select_from(CampaignReach)) == 0
    # And a period that would leave recorded reach outside is refused
    service.add_reach(session=db, actor=ADMIN, campaign_id=found.id, data=ReachCreate(
        reached_on=dt.date(2026, 10, 20), channel=Channel.RADIO, people=10))
    with pytest.raises(Invalid, match="period must include"):
        service.update_campaign(session=db, actor=ADMIN, campaign_id=found.id,
                                data=CampaignUpdate(ends_on=dt.date(2026, 10, 10),
                                                    version=found.version))


def test_update_needs_the_current_version_and_keeps_the_period_sound(db: Session) -> None:
    found = service.create_campaign(session=db, actor=ADMIN, data=campaign_data())
    with pytest.raises(Invalid, match="Send the version"):
        service.update_campaign(session=db, actor=ADMIN, campaign_id=found.id,
                                data=CampaignUpdate(status=CampaignStatus.RUNNING))
    with pytest.raises(Conflict):
        service.update_campaign(session=db, actor=ADMIN, campaign_id=found.id,
                                data=CampaignUpdate(status=CampaignStatus.RUNNING, version=9))
    with pytest.raises(Invalid, match="end date"):
        service.update_campaign(session=db, actor=ADMIN, campaign_id=found.id,
                                data=CampaignUpdate(starts_on=dt.date(2026, 12, 1),
                                                    version=found.version))
    db.rollback()
    found = service.create_campaign(session=db, actor=ADMIN, data=campaign_data())
    updated = service.update_campaign(session=db, actor=ADMIN, campaign_id=found.id,
                                      data=CampaignUpdate(status=CampaignStatus.RUNNING,
                                                          version=found.version))
    assert updated.status == "running" and updated.version == 2
    running = service.list_campaigns(session=db, actor=ADMIN,
                                     query=CampaignQuery(status=CampaignStatus.RUNNING))
    assert [c.id for c in running] == [found.id]
    assert service.count_running(db, ADMIN) == 1


def test_lead_institution_must_exist(db: Session, factory: Factory) -> None:
    inst = factory.institution("AAA")
    assert service.create_campaign(session=db, actor=ADMIN, data=campaign_data(
        lead_institution_id=inst)).lead_institution_id == inst
    with pytest.raises(Invalid, match="institution 99999 does not exist"):
        service.create_campaign(session=db, actor=ADMIN,
                                data=campaign_data(lead_institution_id=99999))


def test_focal_points_read_and_only_the_agency_manages(
        db: Session, factory: Factory, make_campaign: Callable[..., int]) -> None:
    inst = factory.institution("AAA")
    campaign_id = make_campaign()
    focal = actor_of(Role.FOCAL_POINT, inst)
    # A focal point reads campaigns and their reach
    assert service.get_campaign(session=db, actor=focal, campaign_id=campaign_id).id == \
        campaign_id
    assert service.reach_summary(session=db, actor=focal, campaign_id=campaign_id)
    # But may not plan one nor record reach or outcomes
    with pytest.raises(Forbidden):
        service.create_campaign(session=db, actor=focal, data=campaign_data())
    with pytest.raises(Forbidden):
        service.add_reach(session=db, actor=focal, campaign_id=campaign_id, data=ReachCreate(
            reached_on=dt.date(2026, 10, 2), channel=Channel.RADIO, people=10))
    with pytest.raises(Forbidden):
        service.add_outcome(session=db, actor=focal, campaign_id=campaign_id,
                            data=OutcomeCreate(name="Quiz", value=70, unit="%"))
    # The agency may; a partner CERT reads nothing
    agency = actor_of(Role.AGENCY_OFFICER)
    service.add_outcome(session=db, actor=agency, campaign_id=campaign_id,
                        data=OutcomeCreate(name="Quiz", value=70, unit="%"))
    with pytest.raises(Forbidden):
        service.list_campaigns(session=db, actor=actor_of(Role.PARTNER))
    with pytest.raises(NotFound):
        service.get_campaign(session=db, actor=agency, campaign_id=999999)


def test_every_change_is_ledgered_and_records_can_be_removed(db: Session) -> None:
    found = service.create_campaign(session=db, actor=ADMIN, data=campaign_data())
    reach = service.add_reach(session=db, actor=ADMIN, campaign_id=found.id, data=ReachCreate(
        reached_on=dt.date(2026, 10, 2), channel=Channel.RADIO, people=10))
    outcome = service.add_outcome(session=db, actor=ADMIN, campaign_id=found.id,
                                  data=OutcomeCreate(name="Signalements", value=3))
    service.delete_reach(session=db, actor=ADMIN, reach_id=reach.id)
    service.delete_outcome(session=db, actor=ADMIN, outcome_id=outcome.id)
    assert ledger.pending_count(db) == 5
    assert service.list_reach(session=db, actor=ADMIN, campaign_id=found.id) == []
    with pytest.raises(NotFound):
        service.delete_reach(session=db, actor=ADMIN, reach_id=reach.id)

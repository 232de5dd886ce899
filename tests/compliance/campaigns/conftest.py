"""Campaign fixtures: the campaign tables and permissions, a small profile, a hierarchy.

The models are imported first so that ``metadata.create_all`` (tests/conftest.py's engine
fixture) creates the campaign tables even before the lead wires them in lakana/models.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance.campaigns import models as _campaign_models  # noqa: F401
from lakana.compliance.campaigns import permissions, service
from lakana.compliance.campaigns.schemas import CampaignCreate
from lakana.core.auth.rbac import system_actor
from tests.compliance.conftest import catalog_doc, load, profile_doc
from tests.conftest import Factory

permissions.register()
ADMIN = system_actor("tests")


@dataclass
class World:
    """A ministry with two bodies (one with a sub-body) and an unrelated institution."""

    profile_id: int
    ministry: int
    body_a: int
    body_b: int
    sub_a: int
    other: int


@pytest.fixture
def world(session_factory: sessionmaker[Session], factory: Factory) -> World:
    """The small test profile (4 requirements: gov-1..3, net-1) and an institution tree."""
    load(session_factory, catalog_doc())
    profile_id = load(session_factory, profile_doc())
    ministry = factory.institution("MIN")
    body_a = factory.institution("BODA", parent_id=ministry, kind="agency")
    body_b = factory.institution("BODB", parent_id=ministry, kind="agency")
    sub_a = factory.institution("SUBA", parent_id=body_a, kind="agency")
    other = factory.institution("OTHER")
    return World(profile_id, ministry, body_a, body_b, sub_a, other)


def make_campaign(session_factory: sessionmaker[Session], world: World, *,
                  institution_ids: list[int] | None = None, subtree_ids: list[int] | None = None,
                  launch: bool = True, year: int = 2026,
                  deadline: dt.date | None = None) -> int:
    """Create (and launch) a campaign, committed; returns its id."""
    with session_factory.begin() as session:
        campaign = service.create_campaign(session=session, actor=ADMIN, data=CampaignCreate(
            name=f"Campagne {year}", year=year, profile_id=world.profile_id,
            deadline=deadline or dt.date(year, 12, 31),
            institution_ids=institution_ids if institution_ids is not None else [world.other],
            subtree_ids=subtree_ids or []))
        if launch:
            service.launch_campaign(session=session, actor=ADMIN, campaign_id=campaign.id,
                                    version=campaign.version)
        return campaign.id

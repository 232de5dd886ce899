"""Campaign fixtures: actors, and a factory for committed campaigns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lakana.awareness.campaigns import permissions, service
from lakana.awareness.campaigns.schemas import Audience, CampaignCreate, Channel, Language
from lakana.core.auth.rbac import Actor, Role, permissions_for, system_actor

permissions.register()  # before the system actor below collects every permission
ADMIN = system_actor("tests")


def actor_of(role: Role, institution_id: int | None = None) -> Actor:
    """An actor holding ``role``, without a database user."""
    return Actor(user_id=None, name=f"{role.value}@tests", role=role,
                 institution_id=institution_id, permissions=permissions_for(role))


def campaign_data(**fields: Any) -> CampaignCreate:
    """A valid October campaign on radio and SMS, in French and Bambara."""
    values: dict[str, Any] = {
        "title": "Mois de la cybersécurité", "message": "Activez la double authentification.",
        "audience": Audience.GENERAL_PUBLIC, "channels": [Channel.RADIO, Channel.SMS],
        "languages": [Language.FRENCH, Language.BAMBARA], "starts_on": dt.date(2026, 10, 1),
        "ends_on": dt.date(2026, 10, 31), "target_reach": 1000}
    values.update(fields)
    return CampaignCreate(**values)


@pytest.fixture
def make_campaign(session_factory: sessionmaker[Session]) -> Callable[..., int]:
    """Create a committed campaign; returns its id."""

    def _make(**fields: Any) -> int:
        with session_factory.begin() as session:
            return service.create_campaign(session=session, actor=ADMIN,
                                           data=campaign_data(**fields)).id
    return _make

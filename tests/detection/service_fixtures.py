"""A small detection world for the service tests: two institutions, a system each, a focal
point per institution, a CSIRT analyst, and real log samples."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth import service as auth_service
from lakana.core.auth.rbac import Actor, Role, system_actor
from lakana.monitoring.detection import permissions, rules
from lakana.registry import service as registry_service
from lakana.registry.schemas import SystemCreate
from tests.conftest import Factory

# The plugin grants these when the app is built; the service tests need them either way
# (grant is idempotent).
permissions.register()

SAMPLES = Path("/work/shared/data/logs")
OPENSSH = SAMPLES / "OpenSSH_2k.log"
needs_samples = pytest.mark.skipif(not OPENSSH.exists(), reason="shared log samples absent")


@dataclass
class World:
    """Who and what the tests act on."""

    a: int
    b: int
    a_system: int
    b_system: int
    focal_a: Actor
    focal_b: Actor
    analyst: Actor
    centre: Actor


def _system(session_factory: sessionmaker[Session], institution_id: int, name: str) -> int:
    with session_factory.begin() as session:
        system = registry_service.create_system(
            session=session, actor=system_actor("tests"), data=SystemCreate(
                name=name, institution_id=institution_id, criticality="high",
                data_classification="internal", hosting="own_premises"))
        return system.id


@pytest.fixture
def world(factory: Factory, session_factory: sessionmaker[Session]) -> World:
    """Two institutions with a system and a focal point each, and a CSIRT analyst."""
    rules.clear_cache()
    rules.configure(None)
    a, b = factory.institution("DGI"), factory.institution("ANSI")
    return World(
        a=a, b=b, a_system=_system(session_factory, a, "Portail fiscal"),
        b_system=_system(session_factory, b, "Messagerie"),
        focal_a=auth_service.actor_for(factory.user(Role.FOCAL_POINT, institution_id=a)),
        focal_b=auth_service.actor_for(factory.user(Role.FOCAL_POINT, institution_id=b)),
        analyst=auth_service.actor_for(factory.user(Role.CSIRT_ANALYST)),
        centre=system_actor("tests"))

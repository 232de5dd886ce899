"""Skills register fixtures: actors and a role holder factory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lakana.awareness.skills import permissions, service
from lakana.awareness.skills.schemas import CertificationCreate, HolderCreate
from lakana.core.auth.rbac import Actor, Role, permissions_for, system_actor

permissions.register()  # before the system actor below collects every permission
ADMIN = system_actor("tests")
DAY = dt.date(2026, 11, 23)


def actor_of(role: Role, institution_id: int | None = None) -> Actor:
    """An actor holding ``role``, without a database user."""
    return Actor(user_id=None, name=f"{role.value}@tests", role=role,
                 institution_id=institution_id, permissions=permissions_for(role))


@pytest.fixture
def make_holder(session_factory: sessionmaker[Session]) -> Callable[..., int]:
    """Create a committed role holder (a CISO since 2024 unless told otherwise), optionally
    with certifications given as ``(name, expires_on)``; returns its id."""

    def _make(institution_id: int, profile_id: str = "ciso", name: str = "Awa Traoré",
              certs: tuple[tuple[str, dt.date | None], ...] = (), **fields: Any) -> int:
        fields.setdefault("since", dt.date(2024, 1, 1))
        with session_factory.begin() as session:
            holder = service.create_holder(session=session, actor=ADMIN, data=HolderCreate(
                institution_id=institution_id, profile_id=profile_id, full_name=name,
                **fields))
            for cert, expires in certs:
                service.add_certification(session=session, actor=ADMIN, holder_id=holder.id,
                                          data=CertificationCreate(
                                              name=cert, obtained_on=dt.date(2023, 1, 1),
                                              expires_on=expires))
            return holder.id
    return _make

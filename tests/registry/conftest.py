"""Registry fixtures: actors of each role, and systems made through the service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Actor, Role, permissions_for, system_actor
from lakana.registry import service
from lakana.registry.schemas import SystemCreate

ADMIN = system_actor("tests")


def actor_of(role: Role, institution_id: int | None = None) -> Actor:
    """An actor holding ``role`` (and its institution), without a database user."""
    return Actor(user_id=None, name=f"{role.value}@tests", role=role,
                 institution_id=institution_id, permissions=permissions_for(role))


@pytest.fixture
def make_system(session_factory: sessionmaker[Session]) -> Callable[..., int]:
    """Create a committed system of an institution; returns its id."""

    def _make(institution_id: int, name: str = "Messagerie", **fields: Any) -> int:
        data: dict[str, Any] = {"name": name, "institution_id": institution_id,
                                "criticality": "high", "data_classification": "internal",
                                "hosting": "own_premises"}
        data.update(fields)
        with session_factory.begin() as session:
            return service.create_system(session=session, actor=ADMIN,
                                         data=SystemCreate(**data)).id

    return _make


def ledger_count(session: Session, action: str | None = None) -> int:
    """How many ledger entries exist (of one action, if given)."""
    stmt = select(func.count()).select_from(AuditEntry)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return session.scalar(stmt) or 0

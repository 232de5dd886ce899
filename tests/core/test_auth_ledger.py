"""Log-ins are ledgered with the address they came from."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Role
from tests.conftest import Factory


def test_login_with_mfa_is_ledgered_with_source_address(
        factory: Factory, login_as: Callable[..., TestClient], db: Session) -> None:
    """Given an agency user with MFA, when they log in, the success entry names their address."""
    user = factory.user(Role.AGENCY_OFFICER)
    login_as(user)
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "core.login.success",
                                                AuditEntry.actor_id == user.id)).one()
    assert entry.source_ip == "testclient"
    assert entry.via == "login"

"""Remediation fixtures: the tables and routes (until the lead wires them), and a gap answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

import lakana.app
from lakana.compliance.campaigns import models as _campaign_models  # noqa: F401
from lakana.compliance.campaigns import permissions as campaign_permissions
from lakana.compliance.campaigns.models import Answer
from lakana.compliance.remediation import api, models, pages, permissions, tasks  # noqa: F401
from lakana.core.auth.rbac import system_actor
from lakana.core.plugins import DomainPlugin
from tests.compliance.campaigns.makers import make_answer
from tests.conftest import Factory

campaign_permissions.register()
permissions.register()  # before the system actor collects every permission
ADMIN = system_actor("tests")


@pytest.fixture(autouse=True)
def remediation_routes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Mount the remediation routers when the compliance plugin does not list them yet."""
    original = lakana.app.domains
    if not any(api.router in p.api_routers for p in original()):
        extra = DomainPlugin(name="compliance-remediation",
                             register_permissions=permissions.register,
                             api_routers=(api.router,), pages_routers=(pages.router,))
        monkeypatch.setattr(lakana.app, "domains", lambda: [*original(), extra])
    yield


def gap_answer(factory: Factory, institution_id: int, status: str = "partial") -> int:
    """An answer of ``institution_id`` rated ``status``; returns its id."""
    answer_id = make_answer(factory, institution_id)
    with factory.session_factory.begin() as session:
        session.execute(update(Answer).where(Answer.id == answer_id).values(status=status))
    return answer_id

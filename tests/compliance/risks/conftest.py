"""Risk register fixtures: the tables, the routes (until the domain's plugin lists them),
actors and a small risk factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

import lakana.app
from lakana.compliance.risks import api, models, pages, permissions, service  # noqa: F401
from lakana.compliance.risks.schemas import PriorityCreate, RiskCreate
from lakana.core.auth.rbac import Actor, Role, permissions_for, system_actor
from lakana.core.plugins import DomainPlugin

permissions.register()  # before the system actor below collects every permission
ADMIN = system_actor("tests")


def actor_of(role: Role, institution_id: int | None = None) -> Actor:
    """An actor holding ``role``, without a database user."""
    return Actor(user_id=None, name=f"{role.value}@tests", role=role,
                 institution_id=institution_id, permissions=permissions_for(role))


@pytest.fixture(autouse=True)
def risk_routes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Mount the risk routers in the test application when the compliance plugin does not
    list them yet (the lead wires them into ``compliance/plugin.py``)."""
    original = lakana.app.domains
    wired = any(api.router in p.api_routers for p in original())
    if not wired:
        extra = DomainPlugin(name="compliance-risks",
                             register_permissions=permissions.register,
                             api_routers=(api.router,), pages_routers=(pages.router,))
        monkeypatch.setattr(lakana.app, "domains", lambda: [*original(), extra])
    yield


def risk_data(institution_id: int, **fields: Any) -> RiskCreate:
    """A valid new risk (likelihood 4 × impact 5, residual 2 × 3) with ``fields`` changed."""
    data: dict[str, Any] = {"institution_id": institution_id, "title": "Rançongiciel",
                            "asset": "Serveur de paie", "threat": "Chiffrement des données",
                            "likelihood": 4, "impact": 5, "residual_likelihood": 2,
                            "residual_impact": 3, "owner": "Awa Traoré"}
    data.update(fields)
    return RiskCreate(**data)


@pytest.fixture
def make_risk(session_factory: sessionmaker[Session]) -> Callable[..., int]:
    """Create a committed risk of an institution; returns its id."""

    def _make(institution_id: int, **fields: Any) -> int:
        with session_factory.begin() as session:
            return service.create_risk(session=session, actor=ADMIN,
                                       data=risk_data(institution_id, **fields)).id
    return _make


@pytest.fixture
def make_priority(session_factory: sessionmaker[Session]) -> Callable[..., int]:
    """Create a committed national priority from risk ids; returns its id."""

    def _make(risk_ids: list[int], title: str = "Priorité nationale") -> int:
        with session_factory.begin() as session:
            return service.create_priority(session=session, actor=ADMIN, data=PriorityCreate(
                title=title, risk_ids=risk_ids)).id
    return _make

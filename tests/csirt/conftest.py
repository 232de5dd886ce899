"""Shared fixtures of the incident response centre's tests (read by every CSIRT test file:
keep their names and behaviour stable).

* ``csirt_institutions`` — two institutions, ``.a`` (tier 2, acronym ``INSTA``) and ``.b``
  (tier 1, acronym ``INSTB``), as ids; ``.a_system`` / ``.b_system`` — one information
  system of each.
* ``analyst`` (a ``csirt_analyst``), ``analyst2`` (another one), ``focal_a`` (focal point of
  a), ``focal_a2`` (another focal point of a), ``viewer_a`` (institution viewer of a),
  ``focal_b`` (focal point of b): committed :class:`User` objects.
* ``make_case(institution_id, **fields) -> int`` — a committed case made through
  :func:`lakana.csirt.service.report_case` with a system actor (source ``analyst``, TLP
  AMBER, title "Rançongiciel sur le serveur de paie" unless given). ``fields`` may hold any
  :class:`~lakana.csirt.schemas.CaseReport` field, plus these set directly on the row after
  reporting: ``status``, ``assignee_id``, ``reporter_user_id``, ``source``, ``severity``,
  ``tlp`` (stored as given, lower-case).
* ``ADMIN`` — the system actor; ``actor_of(user)`` — the actor of a user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth import service as auth_service
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Actor, Role, system_actor
from lakana.csirt import service
from lakana.csirt.models import Case
from lakana.csirt.schemas import CaseReport
from lakana.registry import service as registry_service
from lakana.registry.schemas import SystemCreate
from tests.conftest import Factory

ADMIN = system_actor("tests")
#: Fields make_case sets on the row after reporting (not part of a report).
ROW_FIELDS = ("status", "assignee_id", "reporter_user_id", "source", "severity", "tlp")


def actor_of(user: User) -> Actor:
    """The actor of ``user`` (as in a web session)."""
    return auth_service.actor_for(user)


@dataclass(frozen=True)
class Institutions:
    """Two institutions and one system of each."""

    a: int
    b: int
    a_system: int
    b_system: int


def _system(session_factory: sessionmaker[Session], institution_id: int, name: str) -> int:
    with session_factory.begin() as session:
        return registry_service.create_system(
            session=session, actor=system_actor("tests"), data=SystemCreate(
                institution_id=institution_id, name=name, criticality="high",
                data_classification="restricted", hosting="own_premises")).id


@pytest.fixture
def csirt_institutions(factory: Factory,
                       session_factory: sessionmaker[Session]) -> Institutions:
    """Institution a (tier 2) and b (tier 1), with one system each."""
    a = factory.institution("INSTA", criticality_tier=2)
    b = factory.institution("INSTB", criticality_tier=1)
    return Institutions(a=a, b=b, a_system=_system(session_factory, a, "Paie"),
                        b_system=_system(session_factory, b, "Portail"))


@pytest.fixture
def analyst(factory: Factory) -> User:
    """A CSIRT analyst (MFA enabled, as agency roles are)."""
    return factory.user(Role.CSIRT_ANALYST, email="analyst@example.ml")


@pytest.fixture
def analyst2(factory: Factory) -> User:
    """A second CSIRT analyst."""
    return factory.user(Role.CSIRT_ANALYST, email="analyst2@example.ml")


@pytest.fixture
def focal_a(factory: Factory, csirt_institutions: Institutions) -> User:
    """The focal point of institution a."""
    return factory.user(Role.FOCAL_POINT, institution_id=csirt_institutions.a,
                        email="focal.a@example.ml")


@pytest.fixture
def focal_a2(factory: Factory, csirt_institutions: Institutions) -> User:
    """Another focal point of institution a."""
    return factory.user(Role.FOCAL_POINT, institution_id=csirt_institutions.a,
                        email="focal.a2@example.ml")


@pytest.fixture
def viewer_a(factory: Factory, csirt_institutions: Institutions) -> User:
    """An institution viewer of institution a."""
    return factory.user(Role.INSTITUTION_VIEWER, institution_id=csirt_institutions.a,
                        email="viewer.a@example.ml")


@pytest.fixture
def focal_b(factory: Factory, csirt_institutions: Institutions) -> User:
    """The focal point of institution b."""
    return factory.user(Role.FOCAL_POINT, institution_id=csirt_institutions.b,
                        email="focal.b@example.ml")


def case_report(institution_id: int | None, **fields: Any) -> CaseReport:
    """A valid report for ``institution_id`` with ``fields`` changed."""
    data: dict[str, Any] = {"institution_id": institution_id,
                            "title": "Rançongiciel sur le serveur de paie",
                            "description": "Les fichiers du serveur de paie sont chiffrés.",
                            "taxonomy_class": "malicious-code",
                            "taxonomy_type": "infected-system", "tlp": "amber"}
    data.update(fields)
    return CaseReport(**data)


@pytest.fixture
def make_case(session_factory: sessionmaker[Session]) -> Callable[..., int]:
    """Create a committed case of an institution through the service; returns its id."""

    def _make(institution_id: int | None, **fields: Any) -> int:
        row = {k: fields.pop(k) for k in ROW_FIELDS if k in fields}
        with session_factory.begin() as session:
            case = service.report_case(session=session, actor=ADMIN,
                                       data=case_report(institution_id, **fields))
            for key, value in row.items():
                setattr(case, key, value)
            return case.id
    return _make


def load_case(session_factory: sessionmaker[Session], case_id: int) -> Case:
    """A fresh, detached copy of a case (for assertions)."""
    with session_factory() as session:
        case = session.get(Case, case_id)
        assert case is not None
        session.expunge(case)
        return case

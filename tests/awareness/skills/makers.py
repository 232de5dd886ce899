"""Objects of a given institution for tests/core/test_route_permissions.py's OBJECT_MAKERS."""

from __future__ import annotations

import datetime as dt

from lakana.awareness.skills import service
from lakana.awareness.skills.schemas import CertificationCreate, HolderCreate
from lakana.core.auth.rbac import system_actor
from tests.conftest import Factory


def make_holder(factory: Factory, institution_id: int) -> int:
    """A CISO of the institution, in post since 2024."""
    with factory.session_factory.begin() as session:
        return service.create_holder(session=session, actor=system_actor("tests"),
                                     data=HolderCreate(
            institution_id=institution_id, profile_id="ciso", full_name="Awa Traoré",
            since=dt.date(2024, 1, 1))).id


def make_certification(factory: Factory, institution_id: int) -> int:
    """A certification of a new holder of the institution."""
    holder_id = make_holder(factory, institution_id)
    with factory.session_factory.begin() as session:
        return service.add_certification(
            session=session, actor=system_actor("tests"), holder_id=holder_id,
            data=CertificationCreate(name="CISSP", obtained_on=dt.date(2024, 2, 1))).id

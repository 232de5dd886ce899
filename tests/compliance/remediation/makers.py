"""Objects of a given institution for tests/core/test_route_permissions.py's OBJECT_MAKERS."""

from __future__ import annotations

from lakana.compliance.remediation.schemas import ActionCreate
from lakana.compliance.remediation.service import create_action
from lakana.core.auth.rbac import system_actor
from tests.conftest import Factory


def make_action(factory: Factory, institution_id: int) -> int:
    """A free remediation action of ``institution_id``."""
    with factory.session_factory.begin() as session:
        return create_action(session=session, actor=system_actor("tests"),
                             data=ActionCreate(institution_id=institution_id,
                                               title="Action")).id

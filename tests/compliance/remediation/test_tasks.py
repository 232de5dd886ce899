"""The daily digest: focal points of institutions with overdue actions, once a day."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance.remediation import service, tasks
from lakana.compliance.remediation.schemas import ActionCreate
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from lakana.core.jobs.service import enqueue
from lakana.core.jobs.worker import run_worker
from lakana.core.notifications.models import Notification
from tests.compliance.remediation.conftest import ADMIN
from tests.conftest import Factory


def _run_digest(settings: Settings, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        enqueue(session, tasks.DIGEST)
    run_worker(settings, once=True, session_factory=session_factory)


def test_digest_notifies_focal_points_once_a_day(
        factory: Factory, settings: Settings, session_factory: sessionmaker[Session]) -> None:
    # Given A with an overdue action, B with one not yet due, C without actions
    a, b = factory.institution("AAA"), factory.institution("BBB")
    focal_a = factory.user(Role.FOCAL_POINT, institution_id=a)
    viewer_a = factory.user(Role.INSTITUTION_VIEWER, institution_id=a)
    focal_b = factory.user(Role.FOCAL_POINT, institution_id=b)
    with session_factory.begin() as session:
        for title, inst, days in (("Retard 1", a, -5), ("Retard 2", a, -1), ("Futur", b, 7),
                                  ("Sans date", b, None)):
            due = service.today() + dt.timedelta(days=days) if days is not None else None
            service.create_action(session=session, actor=ADMIN, data=ActionCreate(
                institution_id=inst, title=title, due_date=due))
    # When the digest runs twice the same day
    _run_digest(settings, session_factory)
    _run_digest(settings, session_factory)
    # Then only A's focal point got one notification, with the count in its params
    with session_factory() as session:
        found = list(session.scalars(select(Notification)))
    assert [n.user_id for n in found] == [focal_a.id]
    assert found[0].params["count"] == 2 and found[0].link == "/compliance/actions?overdue=true"
    assert found[0].title == "%(count)s overdue remediation actions"
    assert viewer_a.id != focal_b.id

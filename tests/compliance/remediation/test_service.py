"""Remediation services: gap → action, one per answer, overdue, scope, concurrency."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance.remediation import service
from lakana.compliance.remediation.schemas import ActionCreate, ActionQuery, ActionUpdate
from lakana.core.auth.rbac import Actor, Role, permissions_for
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from tests.compliance.remediation.conftest import ADMIN, gap_answer
from tests.conftest import Factory


def actor_of(role: Role, institution_id: int | None = None) -> Actor:
    """An actor holding ``role``, without a database user."""
    return Actor(user_id=None, name=f"{role.value}@tests", role=role,
                 institution_id=institution_id, permissions=permissions_for(role))


def test_gap_becomes_one_action(factory: Factory,
                                session_factory: sessionmaker[Session]) -> None:
    a = factory.institution("AAA")
    answer_id = gap_answer(factory, a, "not_implemented")
    focal = actor_of(Role.FOCAL_POINT, a)
    with session_factory.begin() as session:
        action = service.create_from_gap(session=session, actor=focal, answer_id=answer_id)
        assert action.institution_id == a and action.control_id
        assert action.title.startswith(action.control_id) and action.status == "open"
    with session_factory.begin() as session, pytest.raises(Conflict):
        service.create_from_gap(session=session, actor=focal, answer_id=answer_id)


def test_non_gap_is_refused_and_other_institution_is_hidden(
        factory: Factory, session_factory: sessionmaker[Session]) -> None:
    a, b = factory.institution("AAA"), factory.institution("BBB")
    implemented = gap_answer(factory, a, "implemented")
    with session_factory.begin() as session, pytest.raises(Invalid):
        service.create_from_gap(session=session, actor=ADMIN, answer_id=implemented)
    gap = gap_answer(factory, a)
    with session_factory.begin() as session, pytest.raises(NotFound):
        service.create_from_gap(session=session, actor=actor_of(Role.FOCAL_POINT, b),
                                answer_id=gap)
    with session_factory.begin() as session:
        action = service.create_action(session=session, actor=ADMIN, data=ActionCreate(
            institution_id=a, title="Chiffrer les sauvegardes"))
        action_id = action.id
    with session_factory() as session:
        with pytest.raises(NotFound):
            service.get_action(session=session, actor=actor_of(Role.FOCAL_POINT, b),
                               action_id=action_id)
        viewer = actor_of(Role.INSTITUTION_VIEWER, a)
        assert service.get_action(session=session, actor=viewer, action_id=action_id)
        assert service.get_action(session=session, actor=actor_of(Role.AUDITOR),
                                  action_id=action_id)
        with pytest.raises(Forbidden):
            service.update_action(session=session, actor=viewer, action_id=action_id,
                                  data=ActionUpdate(status="done", version=1))


def test_overdue_update_and_stale_version(factory: Factory,
                                          session_factory: sessionmaker[Session]) -> None:
    a = factory.institution("AAA")
    past = service.today() - dt.timedelta(days=3)
    with session_factory.begin() as session:
        late = service.create_action(session=session, actor=ADMIN, data=ActionCreate(
            institution_id=a, title="En retard", due_date=past, priority="high")).id
        service.create_action(session=session, actor=ADMIN, data=ActionCreate(
            institution_id=a, title="À venir", due_date=service.today()))
    with session_factory() as session:
        rows, total = service.list_actions(session=session, actor=ADMIN,
                                           query=ActionQuery(overdue=True))
        assert total == 1 and rows[0].id == late
        assert service.count_overdue(session, actor_of(Role.FOCAL_POINT, a)) == 1
        assert service.count_overdue(session, actor_of(Role.FOCAL_POINT, 999)) == 0
    with session_factory.begin() as session:
        done = service.update_action(session=session, actor=actor_of(Role.FOCAL_POINT, a),
                                     action_id=late, data=ActionUpdate(status="done",
                                                                       version=1))
        assert done.closed_at is not None and done.version == 2
    with session_factory.begin() as session, pytest.raises(Conflict):
        service.update_action(session=session, actor=ADMIN, action_id=late,
                              data=ActionUpdate(owner="Awa", version=1))
    with session_factory() as session:
        assert service.count_overdue(session, ADMIN) == 0

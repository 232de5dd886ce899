"""Training fixtures: actors, and factories for courses, sessions and trainees."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lakana.awareness.training import permissions, service
from lakana.awareness.training.schemas import (
    CourseCreate,
    CourseKind,
    SessionCreate,
    TraineeCreate,
)
from lakana.core.auth.rbac import Actor, Role, permissions_for, system_actor

permissions.register()  # before the system actor below collects every permission
ADMIN = system_actor("tests")


def actor_of(role: Role, institution_id: int | None = None) -> Actor:
    """An actor holding ``role``, without a database user."""
    return Actor(user_id=None, name=f"{role.value}@tests", role=role,
                 institution_id=institution_id, permissions=permissions_for(role))


@pytest.fixture
def make_session(session_factory: sessionmaker[Session]) -> Callable[..., int]:
    """Create a committed classroom course with one session (3 seats unless told); returns
    the session's id."""

    def _make(seats: int = 3, title: str = "Gestion des incidents") -> int:
        with session_factory.begin() as session:
            course = service.create_course(session=session, actor=ADMIN, data=CourseCreate(
                kind=CourseKind.CLASSROOM, title=title, duration_hours=21,
                provider="ANSSI-ML"))
            return service.create_session(session=session, actor=ADMIN, data=SessionCreate(
                course_id=course.id, starts_on=dt.date(2026, 10, 5),
                ends_on=dt.date(2026, 10, 7), place="Bamako", seats=seats)).id
    return _make


@pytest.fixture
def make_trainee(session_factory: sessionmaker[Session]) -> Callable[..., int]:
    """Create a committed trainee of an institution; returns their id."""

    def _make(institution_id: int, email: str, name: str = "Awa Traoré",
              **fields: Any) -> int:
        with session_factory.begin() as session:
            return service.create_trainee(session=session, actor=ADMIN, data=TraineeCreate(
                institution_id=institution_id, full_name=name, email=email, **fields)).id
    return _make

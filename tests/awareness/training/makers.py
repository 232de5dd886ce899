"""Objects of a given institution for tests/core/test_route_permissions.py's OBJECT_MAKERS
(courses and sessions are national: the catalogue belongs to no institution)."""

from __future__ import annotations

import datetime as dt
import itertools

from lakana.awareness.training import service
from lakana.awareness.training.schemas import (
    CourseCreate,
    CourseKind,
    EnrolmentCreate,
    EnrolmentResult,
    Outcome,
    SessionCreate,
    TraineeCreate,
)
from lakana.core.auth.rbac import system_actor
from tests.conftest import Factory

_serial = itertools.count(1)


def make_course(factory: Factory, institution_id: int) -> int:
    """A classroom course of the catalogue."""
    with factory.session_factory.begin() as session:
        return service.create_course(session=session, actor=system_actor("tests"),
                                     data=CourseCreate(kind=CourseKind.CLASSROOM,
                                                       title="Hygiène numérique",
                                                       duration_hours=3)).id


def make_session(factory: Factory, institution_id: int) -> int:
    """A session of a new course, with ten seats."""
    course_id = make_course(factory, institution_id)
    with factory.session_factory.begin() as session:
        return service.create_session(session=session, actor=system_actor("tests"),
                                      data=SessionCreate(
            course_id=course_id, starts_on=dt.date(2026, 10, 5), ends_on=dt.date(2026, 10, 6),
            seats=10)).id


def make_trainee(factory: Factory, institution_id: int) -> int:
    """A public servant of the institution."""
    with factory.session_factory.begin() as session:
        return service.create_trainee(session=session, actor=system_actor("tests"),
                                      data=TraineeCreate(
            institution_id=institution_id, full_name="Awa Traoré",
            email=f"trainee{next(_serial)}@example.ml")).id


def make_enrolment(factory: Factory, institution_id: int) -> int:
    """An enrolment (without outcome) of a trainee of the institution."""
    trainee_id = make_trainee(factory, institution_id)
    session_id = make_session(factory, institution_id)
    with factory.session_factory.begin() as session:
        return service.enrol(session=session, actor=system_actor("tests"), data=EnrolmentCreate(
            session_id=session_id, trainee_id=trainee_id)).id


def make_certificate(factory: Factory, institution_id: int) -> int:
    """The certificate of a completed enrolment of a trainee of the institution."""
    enrolment_id = make_enrolment(factory, institution_id)
    with factory.session_factory.begin() as session:
        found = service.record_result(session=session, actor=system_actor("tests"),
                                      enrolment_id=enrolment_id,
                                      data=EnrolmentResult(
                                          version=1, outcome=Outcome.COMPLETED,
                                                           score=90))
        assert found.certificate is not None
        return found.certificate.id

"""Training services: catalogue, trainees, enrolment with a seat limit, outcomes issuing and
revoking certificates, completion rates, scope and optimistic versions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.awareness.training import certificates, service
from lakana.awareness.training.models import Enrolment
from lakana.awareness.training.schemas import (
    CourseCreate,
    CourseKind,
    CourseUpdate,
    EnrolmentCreate,
    EnrolmentResult,
    Outcome,
    SessionUpdate,
    TraineeCreate,
    TraineeUpdate,
)
from lakana.core.audit import ledger
from lakana.core.auth.rbac import Role
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from tests.awareness.training.conftest import ADMIN, actor_of
from tests.conftest import Factory


def test_an_elearning_course_needs_its_link() -> None:
    # Given an e-learning course without a link / Then it is refused; with one it is fine
    with pytest.raises(ValidationError, match="e-learning course needs its link"):
        CourseCreate(kind=CourseKind.ELEARNING, title="Hygiène", duration_hours=2)
    assert CourseCreate(kind="elearning", title="Hygiène", duration_hours=2,  # type: ignore[arg-type]
                        url="https://formation.example.ml").url


def test_only_the_agency_keeps_the_catalogue(db: Session, factory: Factory) -> None:
    # Given a focal point
    inst = factory.institution("AAA")
    focal = actor_of(Role.FOCAL_POINT, inst)
    data = CourseCreate(kind=CourseKind.CLASSROOM, title="Hygiène", duration_hours=2)
    # Then it may read the catalogue but not add a course
    with pytest.raises(Forbidden):
        service.create_course(session=db, actor=focal, data=data)
    course = service.create_course(session=db, actor=actor_of(Role.AGENCY_OFFICER), data=data)
    assert [c.id for c in service.list_courses(session=db, actor=focal)] == [course.id]


def test_course_update_is_versioned_and_ledgered(db: Session) -> None:
    course = service.create_course(session=db, actor=ADMIN, data=CourseCreate(
        kind=CourseKind.CLASSROOM, title="Hygiène", duration_hours=2))
    db.flush()
    service.update_course(session=db, actor=ADMIN, course_id=course.id,
                          data=CourseUpdate(duration_hours=4, version=1))
    assert course.version == 2
    with pytest.raises(Conflict):
        service.update_course(session=db, actor=ADMIN, course_id=course.id,
                              data=CourseUpdate(title="Autre", version=1))
    # Every change waits in the ledger of this transaction (the refused one is not there)
    assert ledger.pending_count(db) == 2


def test_a_full_session_refuses_one_more_enrolment(
        db: Session, factory: Factory, make_session: Callable[..., int],
        make_trainee: Callable[..., int]) -> None:
    # Given a session of two seats and three trainees
    inst = factory.institution("AAA")
    session_id = make_session(seats=2)
    people = [make_trainee(inst, f"p{i}@example.ml") for i in range(3)]
    for person in people[:2]:
        service.enrol(session=db, actor=ADMIN, data=EnrolmentCreate(
            session_id=session_id, trainee_id=person))
    # When a third is enrolled / Then it is refused with 409 and the seats stay at two
    with pytest.raises(Conflict, match="This session is full"):
        service.enrol(session=db, actor=ADMIN, data=EnrolmentCreate(
            session_id=session_id, trainee_id=people[2]))
    assert service.seats_taken(db, session_id) == 2
    # And enrolling the same person twice is refused
    with pytest.raises(Conflict, match="already enrolled"):
        service.enrol(session=db, actor=ADMIN, data=EnrolmentCreate(
            session_id=session_id, trainee_id=people[0]))
    # And the session cannot shrink below its enrolments
    with pytest.raises(Invalid):
        service.update_session(session=db, actor=ADMIN, session_id=session_id,
                               data=SessionUpdate(seats=1))


def test_completion_issues_a_certificate_and_a_change_revokes_it(
        db: Session, factory: Factory, make_session: Callable[..., int],
        make_trainee: Callable[..., int]) -> None:
    # Given an enrolment
    inst = factory.institution("AAA")
    enrolment = service.enrol(session=db, actor=ADMIN, data=EnrolmentCreate(
        session_id=make_session(), trainee_id=make_trainee(inst, "awa@example.ml")))
    # When it is completed with 87
    service.record_result(session=db, actor=ADMIN, enrolment_id=enrolment.id,
                          data=EnrolmentResult(
                              version=enrolment.version, outcome=Outcome.COMPLETED, score=87))
    # Then a certificate with a random 16-symbol code exists and verifies
    cert = enrolment.certificate
    assert cert is not None and len(cert.code) == 16
    assert set(cert.code) <= set(certificates.ALPHABET)
    assert enrolment.attended is True
    checked = certificates.verify(session=db, code=certificates.display_code(cert.code).lower())
    assert checked.full_name == "Awa Traoré" and not checked.revoked
    # When the outcome becomes a failure, the certificate is revoked (and restored later)
    service.record_result(session=db, actor=ADMIN, enrolment_id=enrolment.id,
                          data=EnrolmentResult(
                              version=enrolment.version, outcome=Outcome.FAILED, score=30))
    assert certificates.verify(session=db, code=cert.code).revoked
    service.record_result(session=db, actor=ADMIN, enrolment_id=enrolment.id,
                          data=EnrolmentResult(
                              version=enrolment.version, outcome=Outcome.COMPLETED, score=75))
    assert not certificates.verify(session=db, code=cert.code).revoked
    # And a forged code is not found
    with pytest.raises(NotFound):
        certificates.verify(session=db, code="ABCD-EFGH-JKMN-PQRS")
    with pytest.raises(NotFound):
        certificates.verify(session=db, code="'; drop table --")


def test_codes_are_random_and_unique() -> None:
    codes = {certificates.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert certificates.normalize_code("abcd-efgh ijkl-mnop") == "ABCD EFGH1JK1MN0P".replace(
        " ", "")


def test_a_no_show_has_no_score() -> None:
    with pytest.raises(ValidationError, match="no-show has no score"):
        EnrolmentResult(outcome=Outcome.NO_SHOW, score=10)
    with pytest.raises(ValidationError):
        EnrolmentResult(outcome=Outcome.COMPLETED, score=101)


def test_scope_hides_other_institutions_trainees(
        db: Session, factory: Factory, make_trainee: Callable[..., int]) -> None:
    # Given trainees of A and B
    a = factory.institution("AAA")
    b = factory.institution("BBB")
    make_trainee(a, "a@example.ml")
    other = make_trainee(b, "b@example.ml")
    focal = actor_of(Role.FOCAL_POINT, a)
    # Then the focal point of A lists only A's, and B's is "not found"
    rows, total = service.list_trainees(session=db, actor=focal)
    assert total == 1 and rows[0].email == "a@example.ml"
    with pytest.raises(NotFound):
        service.get_trainee(session=db, actor=focal, trainee_id=other)
    # And it may not register a trainee of B
    with pytest.raises(NotFound):
        service.create_trainee(session=db, actor=focal, data=TraineeCreate(
            institution_id=b, full_name="Moussa Keïta", email="m@example.ml"))
    # And an e-mail address is registered once
    with pytest.raises(Conflict):
        service.create_trainee(session=db, actor=focal, data=TraineeCreate(
            institution_id=a, full_name="Moussa Keïta", email="A@Example.ML"))
    # And a viewer may read but not change
    viewer = actor_of(Role.INSTITUTION_VIEWER, b)
    with pytest.raises(Forbidden):
        service.update_trainee(session=db, actor=viewer, trainee_id=other,
                               data=TraineeUpdate(full_name="X Y"))


def test_completion_rates_per_institution_and_nation(
        db: Session, factory: Factory, make_session: Callable[..., int],
        make_trainee: Callable[..., int]) -> None:
    # Given A with three trainees (two completed, one failed) and B with one no-show
    a = factory.institution("AAA")
    b = factory.institution("BBB")
    session_id = make_session(seats=10)
    outcomes = [(a, Outcome.COMPLETED), (a, Outcome.COMPLETED), (a, Outcome.FAILED),
                (b, Outcome.NO_SHOW)]
    people = [make_trainee(inst, f"t{index}@example.ml")
              for index, (inst, _outcome) in enumerate(outcomes)]
    make_trainee(b, "untrained@example.ml")
    for person, (_inst, outcome) in zip(people, outcomes, strict=True):
        enrolment = service.enrol(session=db, actor=ADMIN, data=EnrolmentCreate(
            session_id=session_id, trainee_id=person))
        service.record_result(session=db, actor=ADMIN, enrolment_id=enrolment.id,
                              data=EnrolmentResult(
                                  version=enrolment.version, outcome=outcome))
    # When the table is computed
    table = service.completion_table(session=db, actor=ADMIN)
    rows = {r.acronym: r for r in table.institutions}
    # Then A: 3 trainees, 2 trained, 66 %; B: 2 trainees, none trained, 0 %
    assert rows["AAA"].model_dump() | {"name": ""} == {
        "institution_id": a, "acronym": "AAA", "name": "", "trainees": 3, "enrolments": 3,
        "people_trained": 2, "completions": 2, "failed": 1, "no_show": 0,
        "completion_rate": 66, "coverage": 66}
    assert rows["BBB"].completion_rate == 0 and rows["BBB"].coverage == 0
    assert table.institutions[0].acronym == "AAA"
    assert (table.total.trainees, table.total.people_trained, table.total.completion_rate) \
        == (5, 2, 50)
    # And a focal point of B sees only B
    focal = service.completion_table(session=db, actor=actor_of(Role.FOCAL_POINT, b))
    assert [r.acronym for r in focal.institutions] == ["BBB"]
    assert service.institution_completion(session=db, actor=ADMIN,
                                          institution_id=a).people_trained == 2


def test_an_enrolment_with_an_outcome_is_not_cancelled(
        db: Session, factory: Factory, make_session: Callable[..., int],
        make_trainee: Callable[..., int]) -> None:
    inst = factory.institution("AAA")
    session_id = make_session()
    a, b = make_trainee(inst, "a@example.ml"), make_trainee(inst, "b@example.ml")
    first = service.enrol(session=db, actor=ADMIN, data=EnrolmentCreate(
        session_id=session_id, trainee_id=a))
    second = service.enrol(session=db, actor=ADMIN, data=EnrolmentCreate(
        session_id=session_id, trainee_id=b))
    service.record_result(session=db, actor=ADMIN, enrolment_id=first.id,
                          data=EnrolmentResult(
                              version=first.version, outcome=Outcome.NO_SHOW))
    with pytest.raises(Conflict):
        service.cancel_enrolment(session=db, actor=ADMIN, enrolment_id=first.id)
    service.cancel_enrolment(session=db, actor=ADMIN, enrolment_id=second.id)
    assert db.scalar(select(Enrolment).where(Enrolment.id == second.id)) is None
    assert first.attended is False


def test_session_period_is_checked(db: Session, make_session: Callable[..., int]) -> None:
    session_id = make_session()
    with pytest.raises(Invalid):
        service.update_session(session=db, actor=ADMIN, session_id=session_id,
                               data=SessionUpdate(ends_on=dt.date(2020, 1, 1)))

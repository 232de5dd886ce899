"""JSON API of training (mounted under ``/api/v1``): the catalogue, trainees, enrolments,
attendance sheets, completion rates and certificates.

Optimistic concurrency as elsewhere: ``GET`` answers an ``ETag`` with the version; ``PATCH``
needs it back in ``version`` or ``If-Match``; a stale one gets 409.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from lakana.awareness.training import certificates, service, sheets
from lakana.awareness.training.models import CourseSession, Enrolment
from lakana.awareness.training.permissions import TrainingPermission
from lakana.awareness.training.schemas import (
    CompletionRow,
    CompletionTable,
    CourseCreate,
    CourseOut,
    CourseUpdate,
    EnrolmentCreate,
    EnrolmentOut,
    EnrolmentResult,
    ImportReport,
    SessionCreate,
    SessionOut,
    SessionUpdate,
    TraineeCreate,
    TraineeOut,
    TraineeQuery,
    TraineeUpdate,
)
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.concurrency import parse_if_match
from lakana.core.web.pagination import Page

router = APIRouter(prefix="/awareness/training", tags=["awareness: training"])

IfMatch = Annotated[str | None, Header(max_length=40)]


async def raw_body(request: Request) -> bytes:
    """The request's body as sent (an attendance sheet, CSV or XLSX)."""
    return await request.body()


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def session_out(db: DbSession, found: CourseSession) -> SessionOut:
    """A session with its seats taken."""
    return SessionOut.model_validate(found).model_copy(
        update={"taken": service.seats_taken(db, found.id)})


def enrolment_out(found: Enrolment) -> EnrolmentOut:
    """An enrolment with its certificate, when one was issued and not revoked."""
    out = EnrolmentOut.model_validate(found)
    cert = found.certificate
    if cert is not None and cert.revoked_on is None:
        out.certificate_id, out.certificate_code = cert.id, certificates.display_code(cert.code)
    return out


@router.get("/courses", response_model=list[CourseOut])
def list_courses(session: DbSession, actor: CurrentActor) -> list[CourseOut]:
    """The catalogue."""
    return [CourseOut.model_validate(c)
            for c in service.list_courses(session=session, actor=actor)]


@router.post("/courses", response_model=CourseOut, status_code=201)
def create_course(body: CourseCreate, session: DbSession, actor: CurrentActor,
                  response: Response) -> CourseOut:
    """Add a course to the catalogue (the agency)."""
    course = service.create_course(session=session, actor=actor, data=body)
    _etag(response, course.version)
    return CourseOut.model_validate(course)


@router.get("/courses/{course_id}", response_model=CourseOut)
def get_course(course_id: int, session: DbSession, actor: CurrentActor,
               response: Response) -> CourseOut:
    """One course."""
    course = service.get_course(session=session, actor=actor, course_id=course_id)
    _etag(response, course.version)
    return CourseOut.model_validate(course)


@router.patch("/courses/{course_id}", response_model=CourseOut)
def update_course(course_id: int, body: CourseUpdate, session: DbSession, actor: CurrentActor,
                  response: Response, if_match: IfMatch = None) -> CourseOut:
    """Change a course; send the version you read."""
    if body.version is None and if_match is not None:
        body = body.model_copy(update={"version": parse_if_match(if_match)})
    course = service.update_course(session=session, actor=actor, course_id=course_id,
                                   data=body)
    _etag(response, course.version)
    return CourseOut.model_validate(course)


@router.get("/sessions", response_model=list[SessionOut])
def list_sessions(session: DbSession, actor: CurrentActor,
                  course_id: int | None = None) -> list[SessionOut]:
    """Sessions, latest first (of one course with ``course_id``)."""
    return [session_out(session, s) for s in
            service.list_sessions(session=session, actor=actor, course_id=course_id)]


@router.post("/sessions", response_model=SessionOut, status_code=201)
def create_session(body: SessionCreate, session: DbSession, actor: CurrentActor,
                   response: Response) -> SessionOut:
    """Schedule a session of a course (the agency)."""
    found = service.create_session(session=session, actor=actor, data=body)
    _etag(response, found.version)
    return session_out(session, found)


@router.get("/sessions/{session_id}", response_model=SessionOut)
def get_session(session_id: int, session: DbSession, actor: CurrentActor,
                response: Response) -> SessionOut:
    """One session, with its seats taken."""
    found = service.get_session(session=session, actor=actor, session_id=session_id)
    _etag(response, found.version)
    return session_out(session, found)


@router.patch("/sessions/{session_id}", response_model=SessionOut)
def update_session(session_id: int, body: SessionUpdate, session: DbSession,
                   actor: CurrentActor, response: Response,
                   if_match: IfMatch = None) -> SessionOut:
    """Change a session (never fewer seats than enrolments); send the version you read."""
    if body.version is None and if_match is not None:
        body = body.model_copy(update={"version": parse_if_match(if_match)})
    found = service.update_session(session=session, actor=actor, session_id=session_id,
                                   data=body)
    _etag(response, found.version)
    return session_out(session, found)


@router.post("/sessions/{session_id}/attendance", response_model=ImportReport)
def import_attendance(session_id: int, session: DbSession, actor: CurrentActor,
                      data: Annotated[bytes, Depends(raw_body)]) -> ImportReport:
    """Record an attendance sheet sent as the body (CSV UTF-8 or XLSX): all rows or none;
    a refusal lists each problem's row and column."""
    actor.require(TrainingPermission.TRAINING_MANAGE)
    return sheets.import_attendance(session=session, actor=actor, session_id=session_id,
                                    data=data)


@router.get("/trainees", response_model=Page[TraineeOut])
def list_trainees(session: DbSession, actor: CurrentActor,
                  query: Annotated[TraineeQuery, Query()]) -> Page[TraineeOut]:
    """Trainees the caller may see; filters ``institution_id, q``."""
    rows, total = service.list_trainees(session=session, actor=actor, query=query)
    return Page[TraineeOut](items=[TraineeOut.model_validate(t) for t in rows], total=total,
                            limit=query.limit, offset=query.offset)


@router.post("/trainees", response_model=TraineeOut, status_code=201)
def create_trainee(body: TraineeCreate, session: DbSession, actor: CurrentActor,
                   response: Response) -> TraineeOut:
    """Register a public servant for training."""
    trainee = service.create_trainee(session=session, actor=actor, data=body)
    _etag(response, trainee.version)
    return TraineeOut.model_validate(trainee)


@router.get("/trainees/{trainee_id}", response_model=TraineeOut)
def get_trainee(trainee_id: int, session: DbSession, actor: CurrentActor,
                response: Response) -> TraineeOut:
    """One trainee."""
    trainee = service.get_trainee(session=session, actor=actor, trainee_id=trainee_id)
    _etag(response, trainee.version)
    return TraineeOut.model_validate(trainee)


@router.patch("/trainees/{trainee_id}", response_model=TraineeOut)
def update_trainee(trainee_id: int, body: TraineeUpdate, session: DbSession,
                   actor: CurrentActor, response: Response,
                   if_match: IfMatch = None) -> TraineeOut:
    """Change a trainee; send the version you read."""
    if body.version is None and if_match is not None:
        body = body.model_copy(update={"version": parse_if_match(if_match)})
    trainee = service.update_trainee(session=session, actor=actor, trainee_id=trainee_id,
                                     data=body)
    _etag(response, trainee.version)
    return TraineeOut.model_validate(trainee)


@router.get("/enrolments", response_model=list[EnrolmentOut])
def list_enrolments(session: DbSession, actor: CurrentActor, session_id: int | None = None,
                    trainee_id: int | None = None) -> list[EnrolmentOut]:
    """Enrolments the caller may see, of a session or a trainee."""
    return [enrolment_out(e) for e in service.list_enrolments(
        session=session, actor=actor, session_id=session_id, trainee_id=trainee_id)]


@router.post("/enrolments", response_model=EnrolmentOut, status_code=201)
def enrol(body: EnrolmentCreate, session: DbSession, actor: CurrentActor,
          response: Response) -> EnrolmentOut:
    """Enrol a trainee in a session; a full session answers 409."""
    found = service.enrol(session=session, actor=actor, data=body)
    _etag(response, found.version)
    return enrolment_out(found)


@router.patch("/enrolments/{enrolment_id}", response_model=EnrolmentOut)
def record_result(enrolment_id: int, body: EnrolmentResult, session: DbSession,
                  actor: CurrentActor, response: Response,
                  if_match: IfMatch = None) -> EnrolmentOut:
    """Record attendance, outcome and score; a completion issues the certificate."""
    if body.version is None and if_match is not None:
        body = body.model_copy(update={"version": parse_if_match(if_match)})
    found = service.record_result(session=session, actor=actor, enrolment_id=enrolment_id,
                                  data=body)
    _etag(response, found.version)
    return enrolment_out(found)


@router.delete("/enrolments/{enrolment_id}", status_code=204)
def cancel_enrolment(enrolment_id: int, session: DbSession, actor: CurrentActor) -> None:
    """Free the seat of an enrolment without an outcome."""
    service.cancel_enrolment(session=session, actor=actor, enrolment_id=enrolment_id)


@router.get("/completion", response_model=CompletionTable)
def completion(session: DbSession, actor: CurrentActor) -> CompletionTable:
    """Completion per institution the caller sees, and the national total."""
    return service.completion_table(session=session, actor=actor)


@router.get("/completion/{institution_id}", response_model=CompletionRow)
def institution_completion(institution_id: int, session: DbSession,
                           actor: CurrentActor) -> CompletionRow:
    """One institution's completion figures."""
    return service.institution_completion(session=session, actor=actor,
                                          institution_id=institution_id)


@router.get("/certificates/{certificate_id}/pdf", response_class=Response)
def certificate_pdf(certificate_id: int, session: DbSession, actor: CurrentActor) -> Response:
    """A certificate as PDF."""
    data, filename = certificates.certificate_pdf(session=session, actor=actor,
                                                  certificate_id=certificate_id)
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})

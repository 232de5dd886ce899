"""HTML pages of training: the catalogue and its sessions, a session's enrolments (with the
attendance sheet upload), trainees, completion rates and certificate downloads.

Forms carry the CSRF token and the record's version; problems show the page again with the
person's input and inline messages. Scope comes from the services, never from here. The
public certificate checker is in :mod:`lakana.awareness.training.public_pages`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from lakana.awareness.training import certificates, service, sheets
from lakana.awareness.training.models import CourseSession, Trainee
from lakana.awareness.training.permissions import TrainingPermission as P
from lakana.awareness.training.schemas import (
    KIND_LABELS,
    OUTCOME_LABELS,
    CourseCreate,
    CourseUpdate,
    EnrolmentCreate,
    EnrolmentResult,
    SessionCreate,
    TraineeCreate,
    TraineeQuery,
    TraineeUpdate,
)
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import LakanaError
from lakana.core.i18n import gettext as _
from lakana.core.i18n import translate
from lakana.core.web.errors import validation_message
from lakana.core.web.forms import Form
from lakana.core.web.templating import render

router = APIRouter(prefix="/awareness/training")

COURSE_FIELDS = ("kind", "title", "description", "duration_hours", "provider", "url")
SESSION_FIELDS = ("starts_on", "ends_on", "place", "seats")
TRAINEE_FIELDS = ("full_name", "email", "staff_number")


def _values(form: FormData, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: str(form.get(name, "")).strip() for name in names if name in form}


def _validation_errors(exc: ValidationError, whole: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in exc.errors():
        key = str(item["loc"][0]) if item.get("loc") else whole
        message = validation_message(dict(item))
        found[key] = f"{found[key]} {message}" if key in found else message
    return found


def _domain_errors(exc: LakanaError) -> dict[str, str]:
    return {str(e["field"]): translate(str(e["message"])) for e in exc.errors if "field" in e}


def _labels() -> dict[str, Any]:
    return {"kinds": [(k.value, _(label)) for k, label in KIND_LABELS.items()],
            "kind_label": lambda k: _(str(KIND_LABELS.get(k, k))),
            "outcomes": [(o.value, _(label)) for o, label in OUTCOME_LABELS.items()],
            "outcome_label": _outcome_label}


def _outcome_label(outcome: str | None) -> str:
    for key, label in OUTCOME_LABELS.items():
        if key.value == outcome:
            return _(label)
    return "—"


# --- catalogue --------------------------------------------------------------------------

def _catalogue(request: Request, session: Session, actor: Actor, *,
               values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
               status_code: int = 200) -> Response:
    return render(request, "awareness/training/catalogue.html", {
        "courses": service.list_courses(session=session, actor=actor),
        "sessions": service.list_sessions(session=session, actor=actor)[:20],
        "can_manage": actor.can(P.TRAINING_MANAGE), "values": values or {"kind": "classroom"},
        "errors": errors or {}, **_labels()}, status_code=status_code)


@router.get("")
def catalogue(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The catalogue of courses and the latest sessions, with the form to add a course."""
    return _catalogue(request, session, actor)


@router.post("/courses")
def course_create(request: Request, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Add a course, or show the catalogue again with the problems."""
    actor.require(P.TRAINING_MANAGE)
    values = _values(form, COURSE_FIELDS)
    try:
        course = service.create_course(session=session, actor=actor,
                                       data=CourseCreate(**values))
    except ValidationError as exc:
        return _catalogue(request, session, actor, values=values,
                          errors=_validation_errors(exc, "url"), status_code=422)
    return RedirectResponse(f"/awareness/training/courses/{course.id}", status_code=303)


def _course_page(request: Request, session: Session, actor: Actor, course_id: int, *,
                 values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                 session_values: dict[str, Any] | None = None,
                 session_errors: dict[str, str] | None = None, error: str | None = None,
                 status_code: int = 200) -> Response:
    course = service.get_course(session=session, actor=actor, course_id=course_id)
    shown = values or {name: getattr(course, name) for name in COURSE_FIELDS}
    shown.setdefault("version", course.version)
    sessions = service.list_sessions(session=session, actor=actor, course_id=course.id)
    return render(request, "awareness/training/course.html", {
        "course": course, "sessions": sessions,
        "taken": {s.id: service.seats_taken(session, s.id) for s in sessions},
        "values": shown, "errors": errors or {}, "session_values": session_values or {},
        "session_errors": session_errors or {}, "error": error,
        "can_manage": actor.can(P.TRAINING_MANAGE), **_labels()}, status_code=status_code)


@router.get("/courses/{course_id}")
def course_detail(request: Request, course_id: int, session: DbSession,
                  actor: CurrentActor) -> Response:
    """A course, its sessions, and the forms to change it and schedule a session."""
    return _course_page(request, session, actor, course_id)


@router.post("/courses/{course_id}")
def course_update(request: Request, course_id: int, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Save a course, or show it again (409 when someone saved it meanwhile)."""
    actor.require(P.TRAINING_MANAGE)
    values = _values(form, COURSE_FIELDS)
    version = str(form.get("version", "")).strip()
    shown = {**values, "version": version}
    try:
        service.update_course(session=session, actor=actor, course_id=course_id,
                              data=CourseUpdate(**values, version=version or None))
    except ValidationError as exc:
        return _course_page(request, session, actor, course_id, values=shown,
                            errors=_validation_errors(exc, "url"), status_code=422)
    except LakanaError as exc:
        session.rollback()
        if exc.status == 404:
            raise
        return _course_page(request, session, actor, course_id, values=shown,
                            errors=_domain_errors(exc), error=_(exc.message, **exc.params),
                            status_code=exc.status)
    return RedirectResponse(f"/awareness/training/courses/{course_id}", status_code=303)


@router.post("/courses/{course_id}/sessions")
def session_create(request: Request, course_id: int, session: DbSession,
                   actor: CurrentActor, form: Form) -> Response:
    """Schedule a session, or show the course again with the problems."""
    actor.require(P.TRAINING_MANAGE)
    values = _values(form, SESSION_FIELDS)
    try:
        found = service.create_session(session=session, actor=actor,
                                       data=SessionCreate(course_id=course_id, **values))
    except ValidationError as exc:
        return _course_page(request, session, actor, course_id, session_values=values,
                            session_errors=_validation_errors(exc, "ends_on"),
                            status_code=422)
    return RedirectResponse(f"/awareness/training/sessions/{found.id}", status_code=303)


# --- sessions and enrolments ------------------------------------------------------------

def _session_page(request: Request, session: Session, actor: Actor, session_id: int, *,
                  error: str | None = None, problems: list[dict[str, Any]] | None = None,
                  notice: str | None = None, status_code: int = 200) -> Response:
    found: CourseSession = service.get_session(session=session, actor=actor,
                                               session_id=session_id)
    enrolments = service.list_enrolments(session=session, actor=actor, session_id=found.id)
    trainees: list[Trainee] = []
    if actor.can(P.TRAINING_WRITE):
        trainees, _total = service.list_trainees(session=session, actor=actor,
                                                 query=TraineeQuery(limit=500))
        enrolled = {e.trainee_id for e in enrolments}
        trainees = [t for t in trainees if t.id not in enrolled]
    return render(request, "awareness/training/session.html", {
        "found": found, "course": found.course, "enrolments": enrolments,
        "taken": service.seats_taken(session, found.id), "trainees": trainees,
        "can_write": actor.can(P.TRAINING_WRITE), "can_manage": actor.can(P.TRAINING_MANAGE),
        "error": error, "problems": [{**p, "message": translate(str(p["message"]))}
                                     for p in problems or []],
        "notice": notice, "display_code": certificates.display_code, **_labels()},
        status_code=status_code)


@router.get("/sessions/{session_id}")
def session_detail(request: Request, session_id: int, session: DbSession,
                   actor: CurrentActor) -> Response:
    """A session: seats, the enrolments the person may see, the forms to enrol someone,
    import the attendance sheet and record outcomes."""
    return _session_page(request, session, actor, session_id)


@router.post("/sessions/{session_id}/attendance")
def attendance_import(request: Request, session_id: int, session: DbSession,
                      actor: CurrentActor, form: Form) -> Response:
    """Import an attendance sheet: all rows, or none with each problem's row and column."""
    actor.require(P.TRAINING_MANAGE)
    upload = form.get("sheet")
    data = upload.file.read(sheets.MAX_BYTES + 1) if isinstance(upload, UploadFile) else b""
    try:
        report = sheets.import_attendance(session=session, actor=actor,
                                          session_id=session_id, data=data)
    except LakanaError as exc:
        session.rollback()
        if exc.status == 404:
            raise
        return _session_page(request, session, actor, session_id,
                             error=_(exc.message, **exc.params), problems=exc.errors,
                             status_code=exc.status)
    return _session_page(request, session, actor, session_id, notice=_(
        "Sheet recorded: %(rows)s rows, %(enrolled)s new enrolments, %(certificates)s "
        "certificates issued.", rows=report.rows, enrolled=report.enrolled,
        certificates=report.certificates))


@router.post("/enrolments")
def enrol(request: Request, session: DbSession, actor: CurrentActor, form: Form) -> Response:
    """Enrol a trainee in a session; a full session shows the page again with a message."""
    actor.require(P.TRAINING_WRITE)
    session_id = str(form.get("session_id", "")).strip()
    try:
        data = EnrolmentCreate.model_validate({
            "session_id": session_id, "trainee_id": str(form.get("trainee_id", "")).strip()})
    except ValidationError:
        if not session_id.isdigit():
            raise
        return _session_page(request, session, actor, int(session_id), status_code=422,
                             error=_("Choose a person to enrol."))
    try:
        service.enrol(session=session, actor=actor, data=data)
    except LakanaError as exc:
        session.rollback()
        if exc.status == 404:
            raise
        return _session_page(request, session, actor, data.session_id,
                             error=_(exc.message, **exc.params), status_code=exc.status)
    return RedirectResponse(f"/awareness/training/sessions/{data.session_id}",
                            status_code=303)


@router.post("/enrolments/{enrolment_id}")
def record_result(request: Request, enrolment_id: int, session: DbSession,
                  actor: CurrentActor, form: Form) -> Response:
    """Record attendance, outcome and score of an enrolment."""
    found = service.get_enrolment(session=session, actor=actor, enrolment_id=enrolment_id,
                                  permission=P.TRAINING_MANAGE)
    session_id = found.session_id
    values = {"outcome": str(form.get("outcome", "")).strip(),
              "score": str(form.get("score", "")).strip(),
              "version": str(form.get("version", "")).strip() or None}
    try:
        service.record_result(session=session, actor=actor, enrolment_id=enrolment_id,
                              data=EnrolmentResult(**values))
    except ValidationError as exc:
        message = " ".join(validation_message(dict(e)) for e in exc.errors())
        return _session_page(request, session, actor, session_id, error=message,
                             status_code=422)
    except LakanaError as exc:
        session.rollback()
        return _session_page(request, session, actor, session_id,
                             error=_(exc.message, **exc.params), status_code=exc.status)
    return RedirectResponse(f"/awareness/training/sessions/{session_id}", status_code=303)


# --- trainees ---------------------------------------------------------------------------

def _trainees_page(request: Request, session: Session, actor: Actor, *, q: str = "",
                   values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                   error: str | None = None, status_code: int = 200) -> Response:
    rows, total = service.list_trainees(session=session, actor=actor,
                                        query=TraineeQuery(q=q or None, limit=500))
    names = service.institution_acronyms(session=session)
    choices = sorted((i, n) for i, n in names.items()
                     if actor.is_national or i == actor.institution_id)
    return render(request, "awareness/training/trainees.html", {
        "trainees": rows, "total": total, "q": q, "names": names, "choices": choices,
        "can_write": actor.can(P.TRAINING_WRITE), "values": values or {},
        "errors": errors or {}, "error": error}, status_code=status_code)


@router.get("/trainees")
def trainees(request: Request, session: DbSession, actor: CurrentActor,
             q: str = "") -> Response:
    """Trainees the person may see, and the form to register one."""
    return _trainees_page(request, session, actor, q=q[:200])


@router.post("/trainees")
def trainee_create(request: Request, session: DbSession, actor: CurrentActor,
                   form: Form) -> Response:
    """Register a public servant, or show the list again with the problems."""
    actor.require(P.TRAINING_WRITE)
    values = _values(form, (*TRAINEE_FIELDS, "institution_id"))
    if not actor.is_national:
        values["institution_id"] = str(actor.institution_id or "")
    try:
        trainee = service.create_trainee(session=session, actor=actor,
                                         data=TraineeCreate(**values))
    except ValidationError as exc:
        return _trainees_page(request, session, actor, values=values,
                              errors=_validation_errors(exc, "email"), status_code=422)
    except LakanaError as exc:
        session.rollback()
        if exc.status == 404:
            raise
        return _trainees_page(request, session, actor, values=values,
                              errors=_domain_errors(exc), error=_(exc.message, **exc.params),
                              status_code=exc.status)
    return RedirectResponse(f"/awareness/training/trainees/{trainee.id}", status_code=303)


def _trainee_page(request: Request, session: Session, actor: Actor, trainee: Trainee, *,
                  values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                  error: str | None = None, status_code: int = 200) -> Response:
    shown = values or {name: getattr(trainee, name) for name in TRAINEE_FIELDS}
    shown.setdefault("version", trainee.version)
    return render(request, "awareness/training/trainee.html", {
        "trainee": trainee, "values": shown, "errors": errors or {}, "error": error,
        "acronym": service.institution_acronyms(session=session).get(trainee.institution_id,
                                                                     ""),
        "enrolments": service.list_enrolments(session=session, actor=actor,
                                              trainee_id=trainee.id),
        "can_write": actor.can(P.TRAINING_WRITE), "display_code": certificates.display_code,
        **_labels()}, status_code=status_code)


@router.get("/trainees/{trainee_id}")
def trainee_detail(request: Request, trainee_id: int, session: DbSession,
                   actor: CurrentActor) -> Response:
    """A trainee: their enrolments, outcomes and certificates, with the form to change them."""
    trainee = service.get_trainee(session=session, actor=actor, trainee_id=trainee_id)
    return _trainee_page(request, session, actor, trainee)


@router.post("/trainees/{trainee_id}")
def trainee_update(request: Request, trainee_id: int, session: DbSession,
                   actor: CurrentActor, form: Form) -> Response:
    """Save a trainee, or show the page again (409 when someone saved it meanwhile)."""
    trainee = service.get_trainee(session=session, actor=actor, trainee_id=trainee_id,
                                  permission=P.TRAINING_WRITE)
    values = _values(form, TRAINEE_FIELDS)
    version = str(form.get("version", "")).strip()
    shown = {**values, "version": version}
    try:
        service.update_trainee(session=session, actor=actor, trainee_id=trainee.id,
                               data=TraineeUpdate(**values, version=version or None))
    except ValidationError as exc:
        return _trainee_page(request, session, actor, trainee, values=shown,
                             errors=_validation_errors(exc, "email"), status_code=422)
    except LakanaError as exc:
        session.rollback()
        trainee = service.get_trainee(session=session, actor=actor, trainee_id=trainee_id)
        return _trainee_page(request, session, actor, trainee, values=shown,
                             errors=_domain_errors(exc), error=_(exc.message, **exc.params),
                             status_code=exc.status)
    return RedirectResponse(f"/awareness/training/trainees/{trainee.id}", status_code=303)


# --- completion and certificates --------------------------------------------------------

@router.get("/completion")
def completion(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """Completion per institution the person sees, and the national total."""
    return render(request, "awareness/training/completion.html", {
        "table": service.completion_table(session=session, actor=actor)})


@router.get("/certificates/{certificate_id}/pdf")
def certificate_pdf(certificate_id: int, session: DbSession, actor: CurrentActor) -> Response:
    """A certificate as PDF."""
    data, filename = certificates.certificate_pdf(session=session, actor=actor,
                                                  certificate_id=certificate_id)
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})

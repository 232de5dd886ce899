"""HTML pages of phishing exercises: the list (with the forms to add a template and an
exercise), an exercise with its results (names for the exercise team, pseudonyms for the
institution's managers), the target list and GoPhish uploads, sending and closing.

Forms carry the CSRF token; a refused form shows the page again with the problem (and each
bad line of a file). Scope comes from the services. The tracking routes without an account
are in :mod:`lakana.awareness.phishing.public_pages`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from lakana.awareness.phishing import service
from lakana.awareness.phishing.imports import MAX_ROWS
from lakana.awareness.phishing.permissions import PhishingPermission as P
from lakana.awareness.phishing.schemas import (
    EVENT_LABELS,
    STATUS_LABELS,
    ExerciseCreate,
    TemplateCreate,
)
from lakana.awareness.training import service as training
from lakana.awareness.training.schemas import CourseKind
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import LakanaError
from lakana.core.i18n import N_
from lakana.core.i18n import gettext as _
from lakana.core.web.forms import Form, problem_of, text_field
from lakana.core.web.templating import render

router = APIRouter(prefix="/awareness/phishing")

TEMPLATE_FIELDS = ("name", "subject", "sender_name", "body", "landing_text")
EXERCISE_FIELDS = ("institution_id", "template_id", "name", "followup_course_id", "starts_on",
                   "ends_on")
MAX_BYTES = MAX_ROWS * 400


def _labels() -> dict[str, Any]:
    return {"status_label": lambda s: _(str(STATUS_LABELS.get(s, s))),
            "events": [(k.value, _(label)) for k, label in EVENT_LABELS.items()]}


def _list_page(request: Request, session: Session, actor: Actor, *, error: str | None = None,
               values: dict[str, str] | None = None, status_code: int = 200) -> Response:
    exercises = service.list_exercises(session=session, actor=actor)
    manage = actor.can(P.PHISHING_MANAGE)
    courses = [c for c in training.list_courses(session=session, actor=actor)
               if c.kind == CourseKind.ELEARNING] if manage else []
    return render(request, "awareness/phishing/list.html", {
        "exercises": exercises, "can_manage": manage,
        "summary": service.results_summary(session, [e.id for e in exercises]),
        "names": training.institution_acronyms(session=session),
        "templates": service.list_templates(session=session, actor=actor) if manage else [],
        "courses": courses, "error": error, "values": values or {}, **_labels()},
        status_code=status_code)


@router.get("")
def exercises(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The exercises the person may see; the exercise team's forms."""
    return _list_page(request, session, actor)


@router.post("/templates")
def template_create(request: Request, session: DbSession, actor: CurrentActor,
                    form: Form) -> Response:
    """Add a message template, or show the list again with the problem."""
    actor.require(P.PHISHING_MANAGE)
    values = {name: text_field(form, name) for name in TEMPLATE_FIELDS}
    try:
        service.create_template(session=session, actor=actor, data=TemplateCreate(**values))
    except ValidationError as exc:
        message, status = problem_of(exc)
        return _list_page(request, session, actor, error=message, values=values,
                          status_code=status)
    return RedirectResponse("/awareness/phishing", status_code=303)


@router.post("/exercises")
def exercise_create(request: Request, session: DbSession, actor: CurrentActor,
                    form: Form) -> Response:
    """Prepare an exercise, or show the list again with the problem."""
    actor.require(P.PHISHING_MANAGE)
    values = {name: text_field(form, name) for name in EXERCISE_FIELDS}
    try:
        found = service.create_exercise(session=session, actor=actor,
                                        data=ExerciseCreate.model_validate(values))
    except (ValidationError, LakanaError) as exc:
        if isinstance(exc, LakanaError):
            session.rollback()
        message, status = problem_of(exc)
        return _list_page(request, session, actor, error=message, values=values,
                          status_code=status)
    return RedirectResponse(f"/awareness/phishing/exercises/{found.id}", status_code=303)


def _exercise_page(request: Request, session: Session, actor: Actor, exercise_id: int, *,
                   error: str | None = None, problems: list[dict[str, Any]] | None = None,
                   notice: str | None = None, status_code: int = 200) -> Response:
    found = service.get_exercise(session=session, actor=actor, exercise_id=exercise_id)
    return render(request, "awareness/phishing/exercise.html", {
        "found": found, "results": service.results(session=session, actor=actor,
                                                   exercise_id=found.id),
        "institution": training.institution_acronyms(session=session).get(
            found.institution_id, ""),
        "can_manage": actor.can(P.PHISHING_MANAGE), "error": error,
        "problems": problems or [], "notice": notice, **_labels()}, status_code=status_code)


@router.get("/exercises/{exercise_id}")
def exercise_detail(request: Request, exercise_id: int, session: DbSession,
                    actor: CurrentActor) -> Response:
    """An exercise and its results."""
    return _exercise_page(request, session, actor, exercise_id)


def _upload(form: Any) -> bytes:
    upload = form.get("file")
    return upload.file.read(MAX_BYTES + 1) if isinstance(upload, UploadFile) else b""


def _act(request: Request, session: Session, actor: Actor, exercise_id: int, action: Any,
         notice: str) -> Response:
    try:
        outcome = action()
    except LakanaError as exc:
        session.rollback()
        if exc.status == 404:
            raise
        return _exercise_page(request, session, actor, exercise_id,
                              error=_(exc.message, **exc.params), problems=exc.errors,
                              status_code=exc.status)
    params = outcome.model_dump() if hasattr(outcome, "model_dump") else {"jobs": outcome}
    return _exercise_page(request, session, actor, exercise_id, notice=_(notice, **params))


@router.post("/exercises/{exercise_id}/targets")
def targets_import(request: Request, exercise_id: int, session: DbSession,
                   actor: CurrentActor, form: Form) -> Response:
    """Import a target list (CSV UTF-8): all lines, or none with each bad line."""
    data = _upload(form)
    return _act(request, session, actor, exercise_id, lambda: service.import_targets(
        session=session, actor=actor, exercise_id=exercise_id, data=data),
        N_("Targets imported: %(added)s."))


@router.post("/exercises/{exercise_id}/gophish")
def gophish_import(request: Request, exercise_id: int, session: DbSession,
                   actor: CurrentActor, form: Form) -> Response:
    """Import a GoPhish results export (CSV or JSON)."""
    data = _upload(form)
    return _act(request, session, actor, exercise_id, lambda: service.import_gophish(
        session=session, actor=actor, exercise_id=exercise_id, data=data),
        N_("GoPhish results imported: %(rows)s people, %(events)s events."))


@router.post("/exercises/{exercise_id}/send")
def send(request: Request, exercise_id: int, session: DbSession,
         actor: CurrentActor) -> Response:
    """Send the exercise (messages leave in batches through the job queue)."""
    return _act(request, session, actor, exercise_id, lambda: service.send_exercise(
        session=session, actor=actor, exercise_id=exercise_id),
        N_("The exercise is being sent (%(jobs)s batches)."))


@router.post("/exercises/{exercise_id}/close")
def close(request: Request, exercise_id: int, session: DbSession,
          actor: CurrentActor) -> Response:
    """Close the exercise."""
    service.close_exercise(session=session, actor=actor, exercise_id=exercise_id)
    return RedirectResponse(f"/awareness/phishing/exercises/{exercise_id}", status_code=303)

"""JSON API of phishing exercises (mounted under ``/api/v1``): templates, exercises, target
lists and GoPhish exports sent as the body, sending, results, and the public report of a
message by its token (for a mail client's "report phishing" button)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from lakana.awareness.phishing import service
from lakana.awareness.phishing.schemas import (
    EventKind,
    ExerciseCreate,
    ExerciseOut,
    ImportReport,
    Results,
    TemplateCreate,
    TemplateOut,
    TokenIn,
)
from lakana.core.auth.deps import CurrentActor, DbSession, get_settings

router = APIRouter(prefix="/awareness/phishing", tags=["awareness: phishing"])


async def raw_body(request: Request) -> bytes:
    """The request's body as sent (a CSV or JSON file)."""
    return await request.body()


Body = Annotated[bytes, Depends(raw_body)]


@router.get("/templates", response_model=list[TemplateOut])
def list_templates(session: DbSession, actor: CurrentActor) -> list[TemplateOut]:
    """Message templates (the exercise team)."""
    return [TemplateOut.model_validate(t)
            for t in service.list_templates(session=session, actor=actor)]


@router.post("/templates", response_model=TemplateOut, status_code=201)
def create_template(body: TemplateCreate, session: DbSession,
                    actor: CurrentActor) -> TemplateOut:
    """Add a message template (French, with the {{lien}} placeholder)."""
    return TemplateOut.model_validate(service.create_template(session=session, actor=actor,
                                                              data=body))


@router.get("/exercises", response_model=list[ExerciseOut])
def list_exercises(session: DbSession, actor: CurrentActor) -> list[ExerciseOut]:
    """Exercises the caller may see."""
    return [ExerciseOut.model_validate(e)
            for e in service.list_exercises(session=session, actor=actor)]


@router.post("/exercises", response_model=ExerciseOut, status_code=201)
def create_exercise(body: ExerciseCreate, session: DbSession,
                    actor: CurrentActor) -> ExerciseOut:
    """Prepare an exercise for an institution."""
    return ExerciseOut.model_validate(service.create_exercise(session=session, actor=actor,
                                                              data=body))


@router.get("/exercises/{exercise_id}", response_model=ExerciseOut)
def get_exercise(exercise_id: int, session: DbSession, actor: CurrentActor) -> ExerciseOut:
    """One exercise."""
    return ExerciseOut.model_validate(service.get_exercise(session=session, actor=actor,
                                                           exercise_id=exercise_id))


@router.get("/exercises/{exercise_id}/results", response_model=Results)
def results(exercise_id: int, session: DbSession, actor: CurrentActor) -> Results:
    """Figures and rows (pseudonymised unless the caller runs exercises)."""
    return service.results(session=session, actor=actor, exercise_id=exercise_id)


@router.post("/exercises/{exercise_id}/targets", response_model=ImportReport)
def import_targets(exercise_id: int, session: DbSession, actor: CurrentActor,
                   data: Body) -> ImportReport:
    """Add targets from a CSV (UTF-8) sent as the body: all lines or none (422 with lines)."""
    return service.import_targets(session=session, actor=actor, exercise_id=exercise_id,
                                  data=data)


@router.post("/exercises/{exercise_id}/send", response_model=ExerciseOut)
def send(exercise_id: int, session: DbSession, actor: CurrentActor) -> ExerciseOut:
    """Send the exercise (jobs mail the targets in batches)."""
    service.send_exercise(session=session, actor=actor, exercise_id=exercise_id)
    return ExerciseOut.model_validate(service.get_exercise(session=session, actor=actor,
                                                           exercise_id=exercise_id))


@router.post("/exercises/{exercise_id}/close", response_model=ExerciseOut)
def close(exercise_id: int, session: DbSession, actor: CurrentActor) -> ExerciseOut:
    """Close the exercise: nothing more is recorded."""
    return ExerciseOut.model_validate(service.close_exercise(session=session, actor=actor,
                                                             exercise_id=exercise_id))


@router.post("/exercises/{exercise_id}/gophish", response_model=ImportReport)
def import_gophish(exercise_id: int, session: DbSession, actor: CurrentActor,
                   data: Body) -> ImportReport:
    """Record a GoPhish results export (CSV or JSON) sent as the body."""
    return service.import_gophish(session=session, actor=actor, exercise_id=exercise_id,
                                  data=data)


@router.post("/report", status_code=204)
def report(body: TokenIn, request: Request, session: DbSession) -> None:
    """Public (no account): the person reported the message; an unknown token is 404."""
    service.record_event(session=session, settings=get_settings(request), token=body.token,
                         kind=EventKind.REPORTED)

"""JSON API of the lifecycle (under ``/api/v1/biometry``): ``GET /adjudications`` (the open
queue), ``POST /adjudications/{adjudication_id}/decision``, ``POST
/persons/{person_id}/death``, ``POST /persons/{person_id}/deletion`` and ``GET
/persons/{person_id}`` (status, region, lifecycle dates; demographics only with
``biometry:person:read``, and that read is ledgered). Never an image or a template."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from lakana.biometry import lifecycle, runtime
from lakana.biometry.models import Adjudication
from lakana.biometry.schemas import Demographics
from lakana.core.auth.deps import CurrentActor, DbSession, get_settings

router = APIRouter(prefix="/biometry", tags=["biometry"])


class CandidateOut(BaseModel):
    """A possible duplicate: the person and the scores (fused, per finger)."""

    person_id: int
    score: float
    scores: dict[str, float]


class AdjudicationOut(BaseModel):
    """An adjudication and its candidates."""

    id: int
    enrollment_id: int
    person_id: int
    state: str
    decision: str | None
    duplicate_of_person_id: int | None
    reason: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    candidates: list[CandidateOut]


class DecisionIn(BaseModel):
    """An adjudicator's decision."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["duplicate", "distinct"]
    duplicate_of: int | None = None
    reason: str = Field(min_length=1, max_length=4000)


class DeathIn(BaseModel):
    """A death, from a civil registry act."""

    model_config = ConfigDict(extra="forbid")

    date_of_death: dt.date | None = None
    reference: str = Field(default="", max_length=200)


class DeletionIn(BaseModel):
    """A lawful deletion and its legal reason."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class DeletionOut(BaseModel):
    """What a deletion removed."""

    person_id: int
    status: str
    objects_deleted: int


class PersonOut(BaseModel):
    """A person's status and lifecycle (demographics with ``biometry:person:read``)."""

    id: int
    status: str
    region: str
    locked_modalities: str
    created_at: dt.datetime
    issued_at: dt.datetime | None
    deceased_at: dt.datetime | None
    delete_after: dt.datetime | None
    deleted_at: dt.datetime | None
    deletion_reason: str
    demographics: Demographics | None = None


def _adjudication_out(adjudication: Adjudication, person_id: int
                      ) -> AdjudicationOut:
    return AdjudicationOut(
        id=adjudication.id, enrollment_id=adjudication.enrollment_id, person_id=person_id,
        state=adjudication.state, decision=adjudication.decision,
        duplicate_of_person_id=adjudication.duplicate_of_person_id,
        reason=adjudication.reason, created_at=adjudication.created_at,
        decided_at=adjudication.decided_at,
        candidates=[CandidateOut(**c) for c in lifecycle.candidates_of(adjudication)])


def _person_out(view: lifecycle.PersonView) -> PersonOut:
    p = view.person
    return PersonOut(id=p.id, status=p.status, region=p.region,
                     locked_modalities=p.locked_modalities, created_at=p.created_at,
                     issued_at=p.issued_at, deceased_at=p.deceased_at,
                     delete_after=p.delete_after, deleted_at=p.deleted_at,
                     deletion_reason=p.deletion_reason, demographics=view.demographics)


@router.get("/adjudications", response_model=list[AdjudicationOut])
def adjudications(session: DbSession, actor: CurrentActor) -> list[AdjudicationOut]:
    """The open adjudications, oldest first."""
    return [_adjudication_out(a, e.person_id)
            for a, e in lifecycle.list_adjudications(session=session, actor=actor)]


@router.post("/adjudications/{adjudication_id}/decision", response_model=AdjudicationOut)
def decide(adjudication_id: int, body: DecisionIn, request: Request, session: DbSession,
           actor: CurrentActor) -> AdjudicationOut:
    """Decide: ``duplicate`` (of ``duplicate_of``) rejects the enrollment, ``distinct``
    issues the identity. 409 once decided."""
    adjudication = lifecycle.decide(
        session=session, actor=actor, settings=get_settings(request),
        adjudication_id=adjudication_id, decision=body.decision,
        duplicate_of=body.duplicate_of, reason=body.reason)
    view = lifecycle.get_adjudication(session=session, actor=actor,
                                      adjudication_id=adjudication.id)
    return _adjudication_out(adjudication, view.enrollment.person_id)


@router.post("/persons/{person_id}/death", response_model=PersonOut)
def death(person_id: int, body: DeathIn, request: Request, session: DbSession,
          actor: CurrentActor) -> PersonOut:
    """Record a death; the data is deleted once the deceased-retention period ends."""
    lifecycle.record_death(session=session, actor=actor, settings=get_settings(request),
                           person_id=person_id, date_of_death=body.date_of_death,
                           reference=body.reference)
    return _person_out(lifecycle.view_person(
        session=session, actor=actor, store=runtime.keystore(get_settings(request)),
        person_id=person_id, details=False))


@router.post("/persons/{person_id}/deletion", response_model=DeletionOut)
def deletion(person_id: int, body: DeletionIn, session: DbSession,
             actor: CurrentActor) -> DeletionOut:
    """Lawfully delete the person's images, templates and demographics now."""
    count = lifecycle.lawful_deletion(session=session, actor=actor, person_id=person_id,
                                      reason=body.reason)
    return DeletionOut(person_id=person_id, status="deleted", objects_deleted=count)


@router.get("/persons/{person_id}", response_model=PersonOut)
def person(person_id: int, request: Request, session: DbSession,
           actor: CurrentActor) -> PersonOut:
    """A person's status and lifecycle dates (demographics with person:read, ledgered)."""
    return _person_out(lifecycle.view_person(
        session=session, actor=actor, store=runtime.keystore(get_settings(request)),
        person_id=person_id, details=False))

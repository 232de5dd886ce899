"""JSON API of the registry's oversight (under ``/api/v1/biometry``).

``GET /statistics`` is public (no account): issued identities by region and enrollments by
state, counts below 10 given as the string ``"< 10"``. The others need
``biometry:oversight:read`` (complaint handling ``biometry:complaint:handle``):
``GET /oversight/accesses?days=N``, ``GET /oversight/complaints``,
``POST /oversight/complaints/{complaint_id}``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from lakana.biometry import oversight
from lakana.core.audit import signing
from lakana.core.auth.deps import CurrentActor, DbSession, get_settings

router = APIRouter(prefix="/biometry", tags=["biometry"])


class CountOut(BaseModel):
    """One published cell: a count, or ``"< 10"``."""

    key: str
    count: int | str


class StatisticsOut(BaseModel):
    """Public statistics of the registry."""

    persons_by_region: list[CountOut]
    enrollments_by_state: list[CountOut]
    suppressed_below: int
    generated_at: dt.datetime


class AccessCountOut(BaseModel):
    """Accesses of one service for one purpose."""

    service: str
    purpose: str
    total: int
    refused: int
    outcomes: dict[str, int]


class ComplaintOut(BaseModel):
    """A complaint as the authority reads it."""

    id: int
    reference: str
    person_id: int | None
    service: str | None
    body: str
    state: str
    response: str
    created_at: dt.datetime
    closed_at: dt.datetime | None


class ComplaintHandleIn(BaseModel):
    """The authority's handling of a complaint."""

    state: Literal["in_review", "closed"]
    response: str = Field(default="", max_length=4000)


def _complaint_out(row: oversight.ComplaintRow) -> ComplaintOut:
    c = row.complaint
    return ComplaintOut(id=c.id, reference=c.reference, person_id=c.person_id,
                        service=row.service, body=c.body, state=c.state, response=c.response,
                        created_at=c.created_at, closed_at=c.closed_at)


@router.get("/statistics", response_model=StatisticsOut)
def statistics(session: DbSession) -> StatisticsOut:
    """Public statistics (no account): small counts are given as ``"< 10"``."""
    stats = oversight.public_statistics(session=session)
    return StatisticsOut(
        persons_by_region=[CountOut(key=k, count=v) for k, v in stats.persons_by_region],
        enrollments_by_state=[CountOut(key=k, count=v) for k, v in stats.enrollments_by_state],
        suppressed_below=oversight.SUPPRESS_BELOW, generated_at=stats.generated_at)


@router.get("/oversight/accesses", response_model=list[AccessCountOut])
def accesses(session: DbSession, actor: CurrentActor,
             days: Annotated[int, Query(ge=1, le=oversight.MAX_DAYS)] = 30
             ) -> list[AccessCountOut]:
    """Accesses by service and purpose over the last ``days`` days."""
    return [AccessCountOut(service=a.service, purpose=a.purpose, total=a.total,
                           refused=a.refused, outcomes=a.outcomes)
            for a in oversight.accesses_by_service(session=session, actor=actor, days=days)]


@router.get("/oversight/complaints", response_model=list[ComplaintOut])
def complaints(session: DbSession, actor: CurrentActor,
               state: Annotated[Literal["open", "in_review", "closed"] | None, Query()] = None
               ) -> list[ComplaintOut]:
    """Citizens' complaints, open first."""
    return [_complaint_out(r) for r in oversight.list_complaints(session=session, actor=actor,
                                                                 state=state)]


@router.post("/oversight/complaints/{complaint_id}", response_model=ComplaintOut)
def handle(complaint_id: int, data: ComplaintHandleIn, session: DbSession,
           actor: CurrentActor) -> ComplaintOut:
    """Set a complaint in review or closed, with the response (ledgered)."""
    oversight.handle_complaint(session=session, actor=actor, complaint_id=complaint_id,
                               state=data.state, response=data.response)
    return _complaint_out(oversight.get_complaint(session=session, actor=actor,
                                                  complaint_id=complaint_id))


@router.get("/oversight/ledger-export")
def ledger_export(request: Request, session: DbSession, actor: CurrentActor,
                  from_seq: Annotated[int | None, Query(ge=1)] = None,
                  to_seq: Annotated[int | None, Query(ge=1)] = None) -> JSONResponse:
    """The ledger with its proof, disclosing the registry's entries only (the others keep
    their sequence and hashes): for the data protection authority, checked offline with
    ``lakana audit verify-export``."""
    path = get_settings(request).effective_ledger_key_path
    document = oversight.ledger_export(
        session=session, actor=actor, key=signing.load_private_key(path),
        known_keys=signing.trusted_keys(path), from_seq=from_seq, to_seq=to_seq)
    name = f"lakana-registry-ledger-{document['first_seq']}-{document['last_seq']}.json"
    return JSONResponse(document, headers={
        "Content-Disposition": f'attachment; filename="{name}"'})

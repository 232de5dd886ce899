"""JSON API of the risk register and national priorities (mounted under ``/api/v1``).

Optimistic concurrency as elsewhere: ``GET`` answers an ``ETag`` with the version; ``PATCH``
needs it back in ``version`` or ``If-Match``; a stale one gets 409.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response

from lakana.compliance.risks import service
from lakana.compliance.risks.models import Priority, Risk
from lakana.compliance.risks.schemas import (
    AttachRisks,
    MatrixOut,
    PriorityCreate,
    PriorityOut,
    PriorityUpdate,
    RiskCreate,
    RiskOut,
    RiskQuery,
    RiskUpdate,
)
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Invalid
from lakana.core.web.pagination import Page

router = APIRouter(prefix="/compliance", tags=["compliance: risks"])

IfMatch = Annotated[str | None, Header(max_length=40)]


def parse_if_match(value: str | None) -> int | None:
    """The version in an ``If-Match`` header (``"3"``, ``W/"3"`` or ``3``)."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise Invalid("The If-Match header must hold the version you read, such as \"3\".")
    return int(text)


def risk_out(risk: Risk, names: dict[int, str]) -> RiskOut:
    """A risk with its institution's acronym."""
    out = RiskOut.model_validate(risk)
    out.institution_acronym = names.get(risk.institution_id, "")
    return out


def priority_out(priority: Priority, actor: Actor, names: dict[int, str]) -> PriorityOut:
    """A priority with the risks the actor may see (and how many feed it in all)."""
    out = PriorityOut.model_validate(priority)
    out.risk_count = len(priority.risks)
    out.risks = [risk_out(r, names) for r in service.visible_risks(actor=actor,
                                                                   priority=priority)]
    return out


def _csv(text: str, filename: str) -> Response:
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/risks", response_model=Page[RiskOut])
def list_risks(session: DbSession, actor: CurrentActor,
               query: Annotated[RiskQuery, Query()]) -> Page[RiskOut]:
    """Risks the caller may see: filters ``institution_id, level`` (residual), ``status,
    treatment, q``; ``sort`` takes ``score, residual, due, updated, title``."""
    rows, total = service.list_risks(session=session, actor=actor, query=query)
    names = service.institution_names(session=session)
    return Page[RiskOut](items=[risk_out(r, names) for r in rows], total=total,
                         limit=query.limit, offset=query.offset)


@router.post("/risks", response_model=RiskOut, status_code=201)
def create_risk(body: RiskCreate, session: DbSession, actor: CurrentActor,
                response: Response) -> RiskOut:
    """Add a risk to an institution's register."""
    risk = service.create_risk(session=session, actor=actor, data=body)
    response.headers["ETag"] = f'"{risk.version}"'
    return risk_out(risk, service.institution_names(session=session))


@router.get("/risks/top", response_model=list[RiskOut])
def top_risks(session: DbSession, actor: CurrentActor,
              limit: Annotated[int, Query(ge=1, le=200)] = 10) -> list[RiskOut]:
    """The highest residual risks (then inherent) across the institutions the caller sees."""
    names = service.institution_names(session=session)
    return [risk_out(r, names) for r in service.top_risks(session=session, actor=actor,
                                                           limit=limit)]


@router.get("/risks/matrix", response_model=MatrixOut)
def risk_matrix(session: DbSession, actor: CurrentActor, institution_id: int | None = None,
                basis: Literal["inherent", "residual"] = "inherent") -> MatrixOut:
    """A 5×5 count of open risks per likelihood × impact, for one institution or the nation."""
    cells = service.heat_matrix(session=session, actor=actor, institution_id=institution_id,
                                residual=basis == "residual")
    return MatrixOut(basis=basis, institution_id=institution_id, cells=cells,
                     total=sum(map(sum, cells)))


@router.get("/risks/export", response_class=Response)
def export_risks(session: DbSession, actor: CurrentActor,
                 institution_id: int | None = None) -> Response:
    """An institution's register (or every visible risk) as CSV, UTF-8 with BOM."""
    text = service.export_csv(session=session, actor=actor, institution_id=institution_id)
    return _csv(text, f"risks-{institution_id or 'all'}.csv")


@router.get("/risks/{risk_id}", response_model=RiskOut)
def get_risk(risk_id: int, session: DbSession, actor: CurrentActor,
             response: Response) -> RiskOut:
    """One risk."""
    risk = service.get_risk(session=session, actor=actor, risk_id=risk_id)
    response.headers["ETag"] = f'"{risk.version}"'
    return risk_out(risk, service.institution_names(session=session))


@router.patch("/risks/{risk_id}", response_model=RiskOut)
def update_risk(risk_id: int, body: RiskUpdate, session: DbSession, actor: CurrentActor,
                response: Response, if_match: IfMatch = None) -> RiskOut:
    """Change a risk; send the version you read (409 when stale)."""
    if body.version is None and if_match is not None:
        body = body.model_copy(update={"version": parse_if_match(if_match)})
    risk = service.update_risk(session=session, actor=actor, risk_id=risk_id, data=body)
    response.headers["ETag"] = f'"{risk.version}"'
    return risk_out(risk, service.institution_names(session=session))


@router.delete("/risks/{risk_id}", status_code=204)
def delete_risk(risk_id: int, session: DbSession, actor: CurrentActor,
                if_match: IfMatch = None) -> None:
    """Remove a risk from its register."""
    service.delete_risk(session=session, actor=actor, risk_id=risk_id,
                        version=parse_if_match(if_match))


@router.get("/priorities", response_model=list[PriorityOut])
def list_priorities(session: DbSession, actor: CurrentActor) -> list[PriorityOut]:
    """Every national priority, newest first."""
    names = service.institution_names(session=session)
    return [priority_out(p, actor, names)
            for p in service.list_priorities(session=session, actor=actor)]


@router.post("/priorities", response_model=PriorityOut, status_code=201)
def create_priority(body: PriorityCreate, session: DbSession, actor: CurrentActor,
                    response: Response) -> PriorityOut:
    """Turn selected risks (``risk_ids``) into a national priority (the agency)."""
    priority = service.create_priority(session=session, actor=actor, data=body)
    response.headers["ETag"] = f'"{priority.version}"'
    return priority_out(priority, actor, service.institution_names(session=session))


@router.get("/priorities/{priority_id}", response_model=PriorityOut)
def get_priority(priority_id: int, session: DbSession, actor: CurrentActor,
                 response: Response) -> PriorityOut:
    """One national priority with the risks the caller may see."""
    priority = service.get_priority(session=session, actor=actor, priority_id=priority_id)
    response.headers["ETag"] = f'"{priority.version}"'
    return priority_out(priority, actor, service.institution_names(session=session))


@router.patch("/priorities/{priority_id}", response_model=PriorityOut)
def update_priority(priority_id: int, body: PriorityUpdate, session: DbSession,
                    actor: CurrentActor, response: Response,
                    if_match: IfMatch = None) -> PriorityOut:
    """Change a priority's title or description (the agency; 409 when stale)."""
    if body.version is None and if_match is not None:
        body = body.model_copy(update={"version": parse_if_match(if_match)})
    priority = service.update_priority(session=session, actor=actor, priority_id=priority_id,
                                       data=body)
    response.headers["ETag"] = f'"{priority.version}"'
    return priority_out(priority, actor, service.institution_names(session=session))


@router.post("/priorities/{priority_id}/risks", response_model=PriorityOut)
def attach_risks(priority_id: int, body: AttachRisks, session: DbSession,
                 actor: CurrentActor) -> PriorityOut:
    """Attach more risks to a priority (the agency)."""
    priority = service.attach_risks(session=session, actor=actor, priority_id=priority_id,
                                    data=body)
    return priority_out(priority, actor, service.institution_names(session=session))

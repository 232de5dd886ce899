"""JSON API of the audit ledger: entries, verification, export with proof."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from lakana.core.audit import service, signing
from lakana.core.audit.schemas import AuditEntryOut, EntryFilter, VerifyReportOut
from lakana.core.audit.verify import VerifyReport
from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.auth.rbac import Actor
from lakana.core.web.pagination import Page

router = APIRouter(prefix="/audit", tags=["audit"])


def report_out(report: VerifyReport) -> VerifyReportOut:
    """The API shape of a verification report."""
    return VerifyReportOut.model_validate(report.as_dict())


@router.get("/entries", response_model=Page[AuditEntryOut])
def list_entries(
    session: DbSession, actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    who: Annotated[str | None, Query(alias="actor", max_length=254,
                                     description="Part of the actor's name.")] = None,
    action: Annotated[str | None, Query(max_length=60, description="Action prefix.")] = None,
    object_type: Annotated[str | None, Query(max_length=60)] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    institution_id: Annotated[int | None, Query(ge=1)] = None,
    since: Annotated[dt.date | None, Query(description="From this day (UTC).")] = None,
    until: Annotated[dt.date | None, Query(description="Up to this day (UTC).")] = None,
) -> Page[AuditEntryOut]:
    """Ledger entries the caller may see, newest first."""
    filters = EntryFilter(actor=who, action=action, object_type=object_type,
                          object_id=object_id, institution_id=institution_id, since=since,
                          until=until)
    rows, total = service.list_entries(session=session, actor=actor, filters=filters,
                                       limit=limit, offset=offset)
    return Page[AuditEntryOut](items=[AuditEntryOut.model_validate(r) for r in rows],
                               total=total, limit=limit, offset=offset)


@router.get("/verify", response_model=VerifyReportOut)
@router.post("/verify", response_model=VerifyReportOut)
def verify(request: Request, session: DbSession, actor: CurrentActor) -> VerifyReportOut:
    """Recompute the whole chain and its checkpoints; report the first problem."""
    keys = signing.trusted_keys(get_settings(request).effective_ledger_key_path)
    return report_out(service.verify_ledger(session=session, actor=actor, public_keys=keys))


@router.get("/export")
def export(request: Request, session: DbSession, actor: CurrentActor,
           from_seq: Annotated[int, Query(ge=1)], to_seq: Annotated[int, Query(ge=1)]
           ) -> JSONResponse:
    """Entries ``from_seq`` to ``to_seq`` with their proof (``lakana audit verify-export``)."""
    return export_response(request, session, actor, from_seq, to_seq)


def export_response(request: Request, session: Session, actor: Actor, from_seq: int,
                    to_seq: int) -> JSONResponse:
    """Build the export and send it as a JSON download (shared with the auditor page)."""
    path = get_settings(request).effective_ledger_key_path
    document = service.export_range(session=session, actor=actor,
                                    key=signing.load_private_key(path), from_seq=from_seq,
                                    to_seq=to_seq, known_keys=signing.trusted_keys(path))
    name = f"lakana-ledger-{from_seq}-{to_seq}.json"
    return JSONResponse(document, headers={
        "Content-Disposition": f'attachment; filename="{name}"'})

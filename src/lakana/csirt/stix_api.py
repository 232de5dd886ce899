"""JSON API of STIX 2.1 exchange (mounted under ``/api/v1``).

* ``GET /csirt/cases/{case_id}/stix`` — one case's bundle, for whoever reads the case;
* ``GET /csirt/stix/export?since=`` — every case the centre may share, streamed
  (``application/stix+json;version=2.1``), for the centre (coordination permission);
* ``POST /csirt/stix/import`` — a bundle as the JSON body or a multipart ``file``, with an
  optional ``institution_id``: all of it is imported or nothing (the refused values listed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Invalid, TooLarge
from lakana.csirt import stix_export, stix_import
from lakana.csirt.permissions import CsirtPermission

router = APIRouter(prefix="/csirt", tags=["csirt: STIX"])


class ImportOut(BaseModel):
    """What an import did."""

    bundle_id: str
    cases_created: list[str]
    cases_updated: list[str]
    case_ids: list[int]
    observables_added: int
    observables_known: int
    skipped: list[dict[str, str]]


def import_out(result: stix_import.ImportResult) -> ImportOut:
    """The API's view of an import."""
    return ImportOut(bundle_id=result.bundle_id, cases_created=result.cases_created,
                     cases_updated=result.cases_updated, case_ids=result.case_ids,
                     observables_added=result.observables_added,
                     observables_known=result.observables_known, skipped=result.skipped)


@router.get("/cases/{case_id}/stix")
def case_stix(case_id: int, session: DbSession, actor: CurrentActor) -> JSONResponse:
    """One case as a STIX 2.1 bundle (422 for a TLP:AMBER+STRICT or TLP:RED case)."""
    bundle = stix_export.export_case(session=session, actor=actor, case_id=case_id)
    return JSONResponse(bundle, media_type=stix_export.MEDIA_TYPE)


def _stream(factory: sessionmaker[Session], actor: Actor,
            since: dt.datetime | None) -> Iterator[str]:
    """The bundle's text, read in its own session (the request's one is closed by the time
    the body is sent); the export is ledgered at the end, complete or cut short."""
    stats = stix_export.ExportStats()
    complete = False
    with factory() as session:
        try:
            yield from stix_export.iter_bundle(session, actor=actor, stats=stats, since=since)
            complete = True
        finally:
            stix_export.record_export(session=session, actor=actor, stats=stats, since=since,
                                      complete=complete)
            session.commit()


@router.get("/stix/export")
def export_stix(request: Request, actor: CurrentActor,
                since: Annotated[dt.datetime | None, Query()] = None) -> StreamingResponse:
    """Every shareable case the centre sees, changed since ``since`` when given, as one
    streamed bundle (cases under TLP:AMBER+STRICT or TLP:RED are left out)."""
    actor.require(CsirtPermission.COORDINATE)
    return StreamingResponse(_stream(request.app.state.session_factory, actor, since),
                             media_type=stix_export.MEDIA_TYPE,
                             headers={"Content-Disposition":
                                      'attachment; filename="lakana-stix.json"'})


async def _body(request: Request) -> bytes:
    """The bundle's bytes: the multipart ``file`` or the raw body (JSON)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Invalid("Send the STIX bundle as the file field \"file\".")
        data = await upload.read(stix_import.MAX_BYTES + 1)
    else:
        data = await request.body()
    if len(data) > stix_import.MAX_BYTES:
        raise TooLarge("%(what)s is larger than %(max)s bytes.", what=stix_import.WHAT,
                       max=stix_import.MAX_BYTES)
    if not data:
        raise Invalid("Send a STIX bundle (JSON body or file).")
    return data


@router.post("/stix/import", response_model=ImportOut)
async def import_stix(request: Request, session: DbSession, actor: CurrentActor,
                      institution_id: Annotated[int | None, Query()] = None) -> Any:
    """Import a STIX 2.1 bundle (the centre): cases for its incidents and reports, their
    indicators as observables; all or nothing; importing it again adds only what is new."""
    actor.require(CsirtPermission.COORDINATE)
    data = await _body(request)
    result = await run_in_threadpool(stix_import.import_bundle, session=session, actor=actor,
                                     data=data, institution_id=institution_id)
    return import_out(result)

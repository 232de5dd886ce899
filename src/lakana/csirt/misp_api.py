"""JSON API of MISP exchange (mounted under ``/api/v1``).

``GET /csirt/cases/{id}/misp`` downloads a case as a MISP event (``{"Event": …}``) for
whoever sees the case; a case labelled AMBER+STRICT or RED is refused with 403.
``POST /csirt/misp/import`` (the centre) takes a MISP document as the JSON body or as the
``file`` of a multipart upload; ``institution_id`` and ``skip_invalid`` are query parameters.
It answers 201 when a case was created, 200 when every event had been imported before; a
malformed document is a 422 (or 413) problem naming each JSON path and nothing is written.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.errors import Invalid
from lakana.core.i18n import translate
from lakana.csirt import misp
from lakana.csirt.misp import ImportResult
from lakana.csirt.permissions import CsirtPermission

router = APIRouter(prefix="/csirt", tags=["csirt: MISP"])


class SkippedOut(BaseModel):
    """Attributes of a type Lakana keeps no indicator for, and how many."""

    type: str
    count: int


class InvalidOut(BaseModel):
    """An attribute left out because its value is not valid for its type."""

    field: str
    type: str
    value: str
    message: str


class EventOut(BaseModel):
    """One imported event and its case."""

    event_uuid: str
    producer: str
    case_id: int
    reference: str
    title: str
    created: bool
    added: int
    already: int
    skipped: list[SkippedOut]
    invalid: list[InvalidOut]


class ImportOut(BaseModel):
    """What a MISP document gave."""

    events: list[EventOut]
    skipped: list[SkippedOut]


def import_out(result: ImportResult) -> ImportOut:
    """The API's view of an import (messages in the caller's language)."""
    def invalid(items: list[dict[str, Any]]) -> list[InvalidOut]:
        return [InvalidOut(field=i["field"], type=i["type"], value=i["value"],
                           message=translate(i["message"], **i["params"])) for i in items]
    return ImportOut(
        events=[EventOut(event_uuid=e.event_uuid, producer=e.producer, case_id=e.case_id,
                         reference=e.reference, title=e.title, created=e.created,
                         added=e.added, already=e.already,
                         skipped=[SkippedOut(type=k, count=v) for k, v in e.skipped.items()],
                         invalid=invalid(e.invalid)) for e in result.events],
        skipped=[SkippedOut(type=k, count=v) for k, v in result.skipped.items()])


@router.get("/cases/{case_id}/misp", response_class=Response,
            responses={200: {"content": {"application/json": {}},
                             "description": "The case as a MISP event document"}})
def export_misp(case_id: int, session: DbSession, actor: CurrentActor) -> Response:
    """The case as a MISP event (indicators labelled AMBER+STRICT or RED left out)."""
    doc = misp.export_case(session=session, actor=actor, case_id=case_id)
    return Response(misp.export_json(doc), media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{misp.export_filename(case_id, doc)}"',
        "X-Content-Type-Options": "nosniff"})


async def _document(request: Request) -> bytes:
    """The raw JSON body, or the ``file`` of a multipart upload (the app caps the size)."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        upload = (await request.form(max_files=1, max_fields=10)).get("file")
        if not isinstance(upload, UploadFile):
            raise Invalid("Choose a file to import.")
        return await upload.read(misp.MAX_BYTES + 1)
    return await request.body()


@router.post("/misp/import", response_model=ImportOut, status_code=201,
             responses={200: {"description": "Every event had been imported before"}})
async def import_misp(request: Request, session: DbSession, actor: CurrentActor,
                      response: Response,
                      institution_id: Annotated[int | None, Query(ge=1)] = None,
                      skip_invalid: bool = False) -> ImportOut:
    """Import MISP events as cases (source ``partner``), idempotent by event UUID."""
    actor.require(CsirtPermission.COORDINATE)  # refuse before reading anything
    data = await _document(request)
    result = await run_in_threadpool(misp.import_events, session=session, actor=actor,
                                     data=data, institution_id=institution_id,
                                     skip_invalid=skip_invalid)
    response.status_code = 201 if any(e.created for e in result.events) else 200
    return import_out(result)

"""JSON API of the registry: institutions, information systems, CSV import and export.

Optimistic concurrency: ``GET`` answers an ``ETag`` holding the record's version; ``PATCH``
needs that version back, in the body (``version``) or in ``If-Match``; a stale one gets 409.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Query, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.errors import Invalid
from lakana.core.web.cached import cached_json
from lakana.core.web.pagination import Page
from lakana.registry import csv_io, service
from lakana.registry.schemas import (
    ImportReportOut,
    InstitutionCreate,
    InstitutionOut,
    InstitutionQuery,
    InstitutionUpdate,
    SystemCreate,
    SystemOut,
    SystemQuery,
    SystemUpdate,
)

router = APIRouter(prefix="/registry", tags=["registry"])

IfMatch = Annotated[str | None, Header(max_length=40)]


def parse_if_match(value: str | None) -> int | None:
    """The version in an ``If-Match`` header (``"3"``, ``W/"3"`` or ``3``)."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise Invalid("The If-Match header must hold the version you read, such as \"3\".")
    return int(text)


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def _csv(text: str, filename: str) -> Response:
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


async def _upload(request: Request, file: UploadFile) -> bytes:
    limit = get_settings(request).max_upload_bytes
    return await file.read(limit + 1)


# --- institutions -----------------------------------------------------------------------

@router.get("/institutions", response_model=Page[InstitutionOut])
async def list_institutions(request: Request, session: DbSession, actor: CurrentActor,
                      query: Annotated[InstitutionQuery, Query()]) -> Response:
    """Institutions the caller may see: ``q`` searches name and acronym; ``sort`` takes
    ``name, acronym, kind, region, sector, tier, updated`` (``-`` for descending)."""

    def build() -> Page[InstitutionOut]:
        rows, total = service.list_institutions(session=session, actor=actor, query=query)
        return Page[InstitutionOut](items=[InstitutionOut.model_validate(r) for r in rows],
                                    total=total, limit=query.limit, offset=query.offset)

    return await cached_json(request, session, actor, build)


@router.post("/institutions", response_model=InstitutionOut, status_code=201)
def create_institution(body: InstitutionCreate, session: DbSession, actor: CurrentActor,
                       response: Response) -> InstitutionOut:
    """Register an institution (the agency)."""
    inst = service.create_institution(session=session, actor=actor, data=body)
    _etag(response, inst.version)
    return InstitutionOut.model_validate(inst)


@router.get("/institutions/export", response_class=Response)
def export_institutions(session: DbSession, actor: CurrentActor) -> Response:
    """Every visible institution as CSV (UTF-8 with BOM)."""
    return _csv(csv_io.export_institutions(session=session, actor=actor), "institutions.csv")


@router.post("/institutions/import", response_model=ImportReportOut)
async def import_institutions(request: Request, session: DbSession, actor: CurrentActor,
                              file: Annotated[UploadFile, File()],
                              skip_invalid: Annotated[bool, Form()] = False) -> ImportReportOut:
    """Create or update institutions from CSV; 422 with the row errors if nothing was written."""
    content = await _upload(request, file)
    # The import writes: run it in the thread pool, never on the event loop.
    report = await run_in_threadpool(
        csv_io.import_institutions, session=session, actor=actor, content=content,
        skip_invalid=skip_invalid, max_bytes=get_settings(request).max_upload_bytes)
    return report.out()


@router.get("/institutions/{institution_id}", response_model=InstitutionOut)
def get_institution(institution_id: int, session: DbSession, actor: CurrentActor,
                    response: Response) -> InstitutionOut:
    """One institution."""
    inst = service.get_institution(session=session, actor=actor, institution_id=institution_id)
    _etag(response, inst.version)
    return InstitutionOut.model_validate(inst)


@router.get("/institutions/{institution_id}/children", response_model=list[InstitutionOut])
def institution_children(institution_id: int, session: DbSession, actor: CurrentActor
                         ) -> list[InstitutionOut]:
    """The direct sub-institutions of an institution."""
    return [InstitutionOut.model_validate(i) for i in service.children(
        session=session, actor=actor, institution_id=institution_id)]


@router.patch("/institutions/{institution_id}", response_model=InstitutionOut)
def update_institution(institution_id: int, body: InstitutionUpdate, session: DbSession,
                       actor: CurrentActor, response: Response,
                       if_match: IfMatch = None) -> InstitutionOut:
    """Change an institution; send the version you read (409 when stale)."""
    if body.version is None and if_match is not None:
        body = body.model_copy(update={"version": parse_if_match(if_match)})
    inst = service.update_institution(session=session, actor=actor,
                                      institution_id=institution_id, data=body)
    _etag(response, inst.version)
    return InstitutionOut.model_validate(inst)


@router.delete("/institutions/{institution_id}", status_code=204)
def delete_institution(institution_id: int, session: DbSession, actor: CurrentActor,
                       if_match: IfMatch = None) -> None:
    """Delete an institution without sub-institutions, systems or accounts (409 otherwise)."""
    service.delete_institution(session=session, actor=actor, institution_id=institution_id,
                               version=parse_if_match(if_match))


# --- systems ----------------------------------------------------------------------------

@router.get("/systems", response_model=Page[SystemOut])
async def list_systems(request: Request, session: DbSession, actor: CurrentActor,
                 query: Annotated[SystemQuery, Query()]) -> Response:
    """Systems the caller may see: ``q`` searches name, owner acronym and endpoints; ``sort``
    takes ``name, institution, criticality, classification, hosting, updated``."""

    def build() -> Page[SystemOut]:
        rows, total = service.list_systems(session=session, actor=actor, query=query)
        return Page[SystemOut](items=[SystemOut.model_validate(r) for r in rows], total=total,
                               limit=query.limit, offset=query.offset)

    return await cached_json(request, session, actor, build)


@router.post("/systems", response_model=SystemOut, status_code=201)
def create_system(body: SystemCreate, session: DbSession, actor: CurrentActor,
                  response: Response) -> SystemOut:
    """Register an information system."""
    system = service.create_system(session=session, actor=actor, data=body)
    _etag(response, system.version)
    return SystemOut.model_validate(system)


@router.get("/systems/export", response_class=Response)
def export_systems(session: DbSession, actor: CurrentActor) -> Response:
    """Every visible information system as CSV (UTF-8 with BOM)."""
    return _csv(csv_io.export_systems(session=session, actor=actor), "systems.csv")


@router.post("/systems/import", response_model=ImportReportOut)
async def import_systems(request: Request, session: DbSession, actor: CurrentActor,
                         file: Annotated[UploadFile, File()],
                         skip_invalid: Annotated[bool, Form()] = False) -> ImportReportOut:
    """Create or update systems from CSV; 422 with the row errors if nothing was written."""
    content = await _upload(request, file)
    report = await run_in_threadpool(
        csv_io.import_systems, session=session, actor=actor, content=content,
        skip_invalid=skip_invalid, max_bytes=get_settings(request).max_upload_bytes)
    return report.out()


@router.get("/systems/{system_id}", response_model=SystemOut)
def get_system(system_id: int, session: DbSession, actor: CurrentActor,
               response: Response) -> SystemOut:
    """One information system."""
    system = service.get_system(session=session, actor=actor, system_id=system_id)
    _etag(response, system.version)
    return SystemOut.model_validate(system)


@router.patch("/systems/{system_id}", response_model=SystemOut)
def update_system(system_id: int, body: SystemUpdate, session: DbSession, actor: CurrentActor,
                  response: Response, if_match: IfMatch = None) -> SystemOut:
    """Change a system; send the version you read (409 when stale)."""
    if body.version is None and if_match is not None:
        body = body.model_copy(update={"version": parse_if_match(if_match)})
    system = service.update_system(session=session, actor=actor, system_id=system_id,
                                   data=body)
    _etag(response, system.version)
    return SystemOut.model_validate(system)


@router.delete("/systems/{system_id}", status_code=204)
def delete_system(system_id: int, session: DbSession, actor: CurrentActor,
                  if_match: IfMatch = None) -> None:
    """Delete an information system."""
    service.delete_system(session=session, actor=actor, system_id=system_id,
                          version=parse_if_match(if_match))

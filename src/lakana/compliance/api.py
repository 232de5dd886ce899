"""JSON API of the compliance domain: catalogs, requirements and profiles (OSCAL in and out).

Objects are addressed by integer ids (``catalog_version_id``, ``requirement_id``,
``profile_id``); profiles name catalog versions as ``<catalog-id>@<version>``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from lakana.compliance import service, spreadsheet
from lakana.compliance.models import CatalogVersion, Profile
from lakana.compliance.permissions import CompliancePermission as P
from lakana.compliance.schemas import (
    CatalogOut,
    CatalogVersionDetailOut,
    CatalogVersionOut,
    DomainOut,
    ExportFormat,
    ImportResultOut,
    MaturityLevelOut,
    ProfileDetailOut,
    ProfileOut,
    RequirementOut,
    RequirementQuery,
)
from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Invalid
from lakana.core.web.pagination import Page

router = APIRouter(prefix="/compliance", tags=["compliance"])


def version_out(version: CatalogVersion, count: int) -> CatalogVersionOut:
    """A catalog version with its requirement count."""
    return CatalogVersionOut.model_validate(version).model_copy(update={"requirements": count})


def profile_out(session: Session, actor: Actor, profile: Profile, *, detail: bool = False
                ) -> ProfileOut:
    """A profile with its counts (and, for ``detail``, its difference from the baseline)."""
    resolved, base = service.profile_counts(session=session, profile=profile)
    data: dict[str, Any] = {
        "id": profile.id, "profile_id": profile.profile_id, "version": profile.version,
        "key": profile.key, "title_fr": profile.title_fr, "title_en": profile.title_en,
        "oscal_version": profile.oscal_version, "imports": profile.imports,
        "base_version_id": profile.base_version_id, "imported_at": profile.imported_at,
        "requirements": resolved, "baseline_requirements": base}
    if not detail:
        return ProfileOut(**data)
    added, dropped = service.profile_diff(session=session, actor=actor, profile_id=profile.id)
    return ProfileDetailOut(**data, added=added, dropped=dropped)


def _attachment(content: bytes, media_type: str, filename: str) -> Response:
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _json_file(doc: dict[str, Any], filename: str) -> Response:
    body = json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")
    return _attachment(body, "application/json", filename)


async def _document(request: Request, actor: Actor) -> bytes:
    """The OSCAL document: the raw JSON body, or the ``file`` of a multipart upload."""
    actor.require(P.CATALOG_MANAGE)  # refuse before reading anything
    limit = get_settings(request).max_upload_bytes
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        upload = (await request.form()).get("file")
        if not isinstance(upload, StarletteUpload):
            raise Invalid("Choose a file to import.")
        return await upload.read(limit + 1)
    return await request.body()


# --- catalogs ------------------------------------------------------------------------------

@router.get("/catalogs", response_model=list[CatalogOut])
def list_catalogs(session: DbSession, actor: CurrentActor) -> list[CatalogOut]:
    """Every catalog with its versions (oldest first) and their requirement counts."""
    catalogs = service.list_catalogs(session=session, actor=actor)
    counts = service.requirement_counts(
        session=session, catalog_version_ids=[v.id for c in catalogs for v in c.versions])
    return [CatalogOut(id=c.id, catalog_id=c.catalog_id, title_fr=c.title_fr,
                       title_en=c.title_en,
                       versions=[version_out(v, counts.get(v.id, 0)) for v in c.versions])
            for c in catalogs]


@router.post("/catalogs", response_model=ImportResultOut, status_code=201,
             responses={200: {"description": "Already imported with the same content"}})
async def import_catalog(request: Request, session: DbSession, actor: CurrentActor,
                         response: Response) -> ImportResultOut:
    """Import an OSCAL catalog (JSON body, or multipart ``file``) as a new catalog version:
    201 when created, 200 when the same content was already there, 409 when the version
    exists with other content, 422 with JSON paths when the document is invalid."""
    content = await _document(request, actor)
    version, created = await run_in_threadpool(service.import_catalog, session=session,
                                               actor=actor, content=content)
    response.status_code = 201 if created else 200
    return ImportResultOut(created=created, id=version.id, key=version.key)


@router.post("/catalogs/spreadsheet", response_model=ImportResultOut, status_code=201)
async def import_spreadsheet(request: Request, session: DbSession, actor: CurrentActor,
                             response: Response, file: Annotated[UploadFile, File()],
                             catalog_id: Annotated[str, Form(max_length=80)],
                             version: Annotated[str, Form(max_length=60)],
                             title_fr: Annotated[str | None, Form(max_length=300)] = None,
                             title_en: Annotated[str | None, Form(max_length=300)] = None,
                             ) -> ImportResultOut:
    """Import an XLSX or CSV file as a new catalog version (422 with rows and columns)."""
    actor.require(P.CATALOG_MANAGE)
    limit = get_settings(request).max_upload_bytes
    content = await file.read(limit + 1)
    created_version, created = await run_in_threadpool(
        spreadsheet.import_spreadsheet, session=session, actor=actor, content=content,
        filename=file.filename or "", catalog_id=catalog_id.strip(), version=version.strip(),
        title_fr=title_fr, title_en=title_en, max_bytes=limit)
    response.status_code = 201 if created else 200
    return ImportResultOut(created=created, id=created_version.id, key=created_version.key)


@router.get("/catalog-versions/{catalog_version_id}", response_model=CatalogVersionDetailOut)
def get_catalog_version(catalog_version_id: int, session: DbSession, actor: CurrentActor
                        ) -> CatalogVersionDetailOut:
    """One catalog version with its domains and maturity scale."""
    version = service.get_catalog_version(session=session, actor=actor,
                                          catalog_version_id=catalog_version_id)
    count = service.requirement_counts(session=session, catalog_version_ids=[version.id])
    return CatalogVersionDetailOut(
        **version_out(version, count.get(version.id, 0)).model_dump(),
        domains=[DomainOut.model_validate(d) for d in version.domains],
        maturity_levels=[MaturityLevelOut.model_validate(m) for m in version.maturity_levels])


@router.get("/catalog-versions/{catalog_version_id}/requirements",
            response_model=Page[RequirementOut])
def list_requirements(catalog_version_id: int, session: DbSession, actor: CurrentActor,
                      query: Annotated[RequirementQuery, Query()]) -> Page[RequirementOut]:
    """Requirements of a version: ``q`` searches ids, titles and statements (both languages);
    filters ``domain``, ``tier``, ``kind`` and ``ref`` (ISO/CSF reference prefix)."""
    rows, total = service.list_requirements(session=session, actor=actor,
                                            catalog_version_id=catalog_version_id, query=query)
    return Page[RequirementOut](items=[RequirementOut.model_validate(r) for r in rows],
                                total=total, limit=query.limit, offset=query.offset)


@router.get("/catalog-versions/{catalog_version_id}/export", response_class=Response)
def export_catalog(catalog_version_id: int, session: DbSession, actor: CurrentActor,
                   format: ExportFormat = ExportFormat.OSCAL) -> Response:  # noqa: A002
    """The version as OSCAL JSON (as imported), XLSX or CSV."""
    version = service.get_catalog_version(session=session, actor=actor,
                                          catalog_version_id=catalog_version_id)
    name = f"{version.catalog_id}-{version.version}"
    if format is ExportFormat.XLSX:
        return _attachment(spreadsheet.export_xlsx(session=session, actor=actor,
                                                   catalog_version_id=version.id),
                           spreadsheet.XLSX_MEDIA_TYPE, f"{name}.xlsx")
    if format is ExportFormat.CSV:
        text = spreadsheet.export_csv(session=session, actor=actor,
                                      catalog_version_id=version.id)
        return _attachment(text.encode("utf-8"), "text/csv; charset=utf-8", f"{name}.csv")
    return _json_file(service.export_catalog(session=session, actor=actor,
                                             catalog_version_id=version.id), f"{name}.json")


@router.get("/requirements/{requirement_id}", response_model=RequirementOut)
def get_requirement(requirement_id: int, session: DbSession, actor: CurrentActor
                    ) -> RequirementOut:
    """One requirement."""
    return RequirementOut.model_validate(service.get_requirement(
        session=session, actor=actor, requirement_id=requirement_id))


# --- profiles ------------------------------------------------------------------------------

@router.get("/profiles", response_model=list[ProfileOut])
def list_profiles(session: DbSession, actor: CurrentActor) -> list[ProfileOut]:
    """Every profile with the size of its resolved set and of its baseline."""
    return [profile_out(session, actor, p)
            for p in service.list_profiles(session=session, actor=actor)]


@router.post("/profiles", response_model=ImportResultOut, status_code=201)
async def import_profile(request: Request, session: DbSession, actor: CurrentActor,
                         response: Response) -> ImportResultOut:
    """Import an OSCAL profile (JSON body or multipart ``file``); its imports must name known
    catalog versions (422 with the JSON path otherwise)."""
    content = await _document(request, actor)
    profile, created = await run_in_threadpool(service.import_profile, session=session,
                                               actor=actor, content=content)
    response.status_code = 201 if created else 200
    return ImportResultOut(created=created, id=profile.id, key=profile.key)


@router.get("/profiles/{profile_id}", response_model=ProfileDetailOut)
def get_profile(profile_id: int, session: DbSession, actor: CurrentActor) -> ProfileOut:
    """One profile with its difference from its baseline (added and dropped ids)."""
    profile = service.get_profile(session=session, actor=actor, profile_id=profile_id)
    return profile_out(session, actor, profile, detail=True)


@router.get("/profiles/{profile_id}/requirements", response_model=Page[RequirementOut])
def list_profile_requirements(profile_id: int, session: DbSession, actor: CurrentActor,
                              query: Annotated[RequirementQuery, Query()]
                              ) -> Page[RequirementOut]:
    """The profile's resolved requirements, with the same filters as a catalog version."""
    rows, total = service.list_profile_requirements(session=session, actor=actor,
                                                    profile_id=profile_id, query=query)
    return Page[RequirementOut](items=[RequirementOut.model_validate(r) for r in rows],
                                total=total, limit=query.limit, offset=query.offset)


@router.get("/profiles/{profile_id}/export", response_class=Response)
def export_profile(profile_id: int, session: DbSession, actor: CurrentActor,
                   resolved: bool = False) -> Response:
    """The OSCAL profile as imported, or (``resolved=true``) its resolved OSCAL catalog."""
    profile = service.get_profile(session=session, actor=actor, profile_id=profile_id)
    doc = service.export_profile(session=session, actor=actor, profile_id=profile.id,
                                 resolved=resolved)
    suffix = "-resolved" if resolved else ""
    return _json_file(doc, f"{profile.profile_id}-{profile.version}{suffix}.json")

"""JSON API of exposure monitoring (under ``/api/v1/exposure``).

Findings: ``GET /findings`` (filters of :class:`FindingQuery`, paged), ``GET /findings.csv``,
``GET /findings/{id}``, ``POST /findings/{id}/triage``, ``POST /findings/{id}/case`` (a CSIRT
case in one click). Scans: ``GET/POST /scans`` (202: the scan is queued), ``GET /scans/{id}``
(progress and results per endpoint). Views: ``GET /institutions/{id}``, ``GET /national``.
Feeds: ``POST /feeds/{source}`` (a CISA KEV or NVD CVE JSON 2.0 file, as multipart ``file``
or the raw body) and ``GET /feeds``.

Scope and permissions are the service's: a focal point reading another institution's
finding gets 404, as for any unknown one.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Invalid, TooLarge
from lakana.core.web.pagination import Page
from lakana.monitoring.exposure import exports, feeds, flows, service
from lakana.monitoring.exposure.models import ExposureFinding
from lakana.monitoring.exposure.permissions import ExposurePermission as P
from lakana.monitoring.exposure.schemas import (
    FindingOut,
    FindingQuery,
    FindingTriage,
    InstitutionExposure,
    NationalRow,
    ScanOut,
    ScanRequest,
    ScanResultOut,
)
from lakana.registry import service as registry_service

router = APIRouter(prefix="/exposure", tags=["exposure"])  # mounted under /api/v1

FEED_SOURCES = ("kev", "nvd")


class ScanDetailOut(BaseModel):
    """A scan with its progress (0 to 1) and what it saw on each endpoint."""

    scan: ScanOut
    progress: float
    results: list[ScanResultOut]


class CaseOpened(BaseModel):
    """The CSIRT case a finding now points to."""

    case_reference: str
    finding: FindingOut


class FeedImportOut(BaseModel):
    """A vulnerability feed file imported."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    filename: str
    sha256: str
    feed_version: str
    entries: int
    imported_by: str
    imported_at: dt.datetime


def finding_out(finding: ExposureFinding) -> FindingOut:
    """The API view of a finding, with its issue's English title."""
    out = FindingOut.model_validate(finding)
    out.title = exports.issue_title(finding)
    return out


def progress_of(scan: ScanOut) -> float:
    """The share of targets done (1 when the scan has finished)."""
    if scan.status in ("done", "failed", "cancelled"):
        return 1.0
    return round(scan.targets_done / scan.targets_total, 3) if scan.targets_total else 0.0


def institution_names(session: Session) -> dict[int, str]:
    """Institution labels by id, for exports."""
    return dict(registry_service.institution_choices(session=session))


# --- findings ---------------------------------------------------------------------------------

@router.get("/findings", response_model=Page[FindingOut])
def list_findings(session: DbSession, actor: CurrentActor,
                  query: Annotated[FindingQuery, Query()]) -> Page[FindingOut]:
    """Findings the caller reads: ``institution_id, system_id, status, severity, check_id,
    q, overdue``, paged by ``limit`` and ``offset``."""
    rows = service.list_findings(session=session, actor=actor, query=query)
    total = service.count_findings(session=session, actor=actor, query=query)
    return Page[FindingOut](items=[finding_out(f) for f in rows], total=total,
                            limit=query.limit, offset=query.offset)


@router.get("/findings.csv")
def findings_csv(session: DbSession, actor: CurrentActor,
                 query: Annotated[FindingQuery, Query()]) -> Response:
    """The findings matching the filters as CSV (every page); the download is ledgered."""
    text, name = exports.findings_csv(session=session, actor=actor, query=query,
                                      names=institution_names(session))
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/findings/{finding_id}", response_model=FindingOut)
def get_finding(finding_id: int, session: DbSession, actor: CurrentActor) -> FindingOut:
    """One finding, with its latest evidence."""
    return finding_out(service.get_finding(session=session, actor=actor, finding_id=finding_id))


@router.post("/findings/{finding_id}/triage", response_model=FindingOut)
def triage_finding(finding_id: int, body: FindingTriage, session: DbSession,
                   actor: CurrentActor) -> FindingOut:
    """Reopen a finding, accept its risk or mark it a false positive (with a reason);
    ``version`` is the one read (409 when stale)."""
    service.get_finding(session=session, actor=actor, finding_id=finding_id)  # 404 first
    finding = service.triage_finding(session=session, actor=actor, finding_id=finding_id,
                                     data=body)
    return finding_out(finding)


@router.post("/findings/{finding_id}/case", response_model=CaseOpened)
def open_case(finding_id: int, session: DbSession, actor: CurrentActor) -> CaseOpened:
    """Open a CSIRT case for a finding (or return the one already opened)."""
    service.get_finding(session=session, actor=actor, finding_id=finding_id)  # 404 first
    reference = flows.open_case(session=session, actor=actor, finding_id=finding_id)
    finding = service.get_finding(session=session, actor=actor, finding_id=finding_id)
    return CaseOpened(case_reference=reference, finding=finding_out(finding))


# --- scans ------------------------------------------------------------------------------------

@router.get("/scans", response_model=list[ScanOut])
def list_scans(session: DbSession, actor: CurrentActor,
               institution_id: Annotated[int | None, Query(ge=1)] = None,
               limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[ScanOut]:
    """Recent scans the caller reads, newest first."""
    scans = service.list_scans(session=session, actor=actor, institution_id=institution_id,
                               limit=limit)
    return [ScanOut.model_validate(s) for s in scans]


@router.post("/scans", response_model=ScanOut, status_code=202)
def request_scan(body: ScanRequest, session: DbSession, actor: CurrentActor,
                 response: Response) -> ScanOut:
    """Queue a scan of one system, one institution, or everything in the caller's scope."""
    scan = service.request_scan(session=session, actor=actor, data=body, trigger="api")
    response.headers["Location"] = f"/api/v1/exposure/scans/{scan.id}"
    return ScanOut.model_validate(scan)


@router.get("/scans/{scan_id}", response_model=ScanDetailOut)
def get_scan(scan_id: int, session: DbSession, actor: CurrentActor) -> ScanDetailOut:
    """A scan's status, progress and results per endpoint."""
    scan = ScanOut.model_validate(service.get_scan(session=session, actor=actor,
                                                   scan_id=scan_id))
    results = service.scan_results(session=session, actor=actor, scan_id=scan_id)
    return ScanDetailOut(scan=scan, progress=progress_of(scan),
                         results=[ScanResultOut.model_validate(r) for r in results])


# --- views ------------------------------------------------------------------------------------

@router.get("/institutions/{institution_id}", response_model=InstitutionExposure)
def institution_exposure(institution_id: int, session: DbSession, actor: CurrentActor
                         ) -> InstitutionExposure:
    """An institution's exposure: score, open findings by severity, trend, endpoints."""
    return service.institution_exposure(session=session, actor=actor,
                                        institution_id=institution_id)


@router.get("/national", response_model=list[NationalRow])
def national(session: DbSession, actor: CurrentActor) -> list[NationalRow]:
    """Every institution's exposure, worst first (national roles)."""
    return service.national_exposure(session=session, actor=actor)


# --- feeds ------------------------------------------------------------------------------------

async def read_feed(request: Request, actor: Actor) -> tuple[bytes, str]:
    """The uploaded feed file and its name: multipart ``file``, or the raw body. Refused
    before anything is read without the permission; over the upload limit: 413."""
    actor.require(P.FEEDS_MANAGE)
    limit = get_settings(request).max_upload_bytes
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        upload = (await request.form()).get("file")
        if not isinstance(upload, UploadFile):
            raise Invalid("Choose a file to import.")
        data, name = await upload.read(limit + 1), upload.filename or "feed.json"
    else:
        data = await request.body()
        name = request.headers.get("x-filename", "feed.json")[:200]
    if len(data) > limit:
        raise TooLarge("The request body is larger than %(size)s bytes.", size=limit)
    if not data:
        raise Invalid("The file is empty.")
    return data, name


def check_source(source: str) -> str:
    """``kev`` or ``nvd``; anything else is refused with the choices."""
    if source not in FEED_SOURCES:
        raise Invalid("Unknown feed %(value)s; allowed: %(allowed)s.", value=source[:40],
                      allowed=", ".join(FEED_SOURCES))
    return source


@router.post("/feeds/{source}", response_model=FeedImportOut, status_code=201)
async def import_feed(source: str, request: Request, session: DbSession,
                      actor: CurrentActor) -> FeedImportOut:
    """Import a CISA KEV (``kev``) or NVD CVE JSON 2.0 (``nvd``) file; a malformed file is
    refused (422) with the position of the problem."""
    data, name = await read_feed(request, actor)
    check_source(source)
    imported = await run_in_threadpool(feeds.import_feed, session=session, actor=actor,
                                       source=source, data=data, filename=name)
    return FeedImportOut.model_validate(imported)


@router.get("/feeds", response_model=list[FeedImportOut])
def list_feeds(session: DbSession, actor: CurrentActor) -> list[FeedImportOut]:
    """The feed files imported, newest first."""
    return [FeedImportOut.model_validate(f)
            for f in feeds.list_imports(session=session, actor=actor)]

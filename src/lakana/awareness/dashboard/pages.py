"""The awareness dashboard page and its downloads (scope comes from the services)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lakana.awareness.dashboard import exports, service
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.web.templating import render

router = APIRouter(prefix="/awareness/dashboard")


@router.get("")
def dashboard(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """Training coverage, role coverage and phishing rates per institution and over time."""
    found = service.overview(session=session, actor=actor)
    peak = max([q.completions for q in found.quarters] or [0])
    return render(request, "awareness/dashboard/overview.html",
                  {"overview": found, "peak": peak})


def _download(fmt: str, request: Request, session: DbSession, actor: Actor) -> Response:
    language = getattr(request.state, "language", None)
    data, name, media_type = exports.export(session=session, actor=actor, fmt=fmt,
                                            language=language)
    return Response(data, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/export.csv")
def download_csv(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The overview as CSV (UTF-8 with BOM)."""
    return _download("csv", request, session, actor)


@router.get("/export.xlsx")
def download_xlsx(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The overview as an XLSX workbook."""
    return _download("xlsx", request, session, actor)


@router.get("/export.pdf")
def download_pdf(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The overview as a PDF report."""
    return _download("pdf", request, session, actor)

"""HTML routes of the strategy's follow-up reports: a snapshot's report as a page in the site
layout, and as a PDF download (readers of the plan; every report taken is ledgered)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.i18n import DEFAULT_LANGUAGE
from lakana.core.web.templating import render
from lakana.strategy import report, tracking

router = APIRouter(prefix="/strategy")


def _language(request: Request) -> str:
    return str(getattr(request.state, "language", DEFAULT_LANGUAGE))


def download(data: bytes, filename: str, fmt: str) -> Response:
    """A report as a file to save."""
    return Response(data, media_type=report.MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/snapshots/{snapshot_label}/report")
def report_page(request: Request, snapshot_label: str, session: DbSession,
                actor: CurrentActor) -> Response:
    """A snapshot's report as a printable page, with its PDF link."""
    snapshot = tracking.get_snapshot(session=session, actor=actor, label=snapshot_label)
    report.ledger_download(session=session, actor=actor, snapshot=snapshot, fmt="page")
    return render(request, report.REPORT_PAGE, report.build_context(snapshot))


@router.get("/snapshots/{snapshot_label}/report.pdf", response_class=Response)
async def report_pdf(request: Request, snapshot_label: str, session: DbSession,
                     actor: CurrentActor) -> Response:
    """A snapshot's report as PDF (drawn in a worker thread: it takes a second or so)."""
    data, filename = await run_in_threadpool(
        report.report, session=session, actor=actor, env=request.app.state.jinja,
        label=snapshot_label, fmt="pdf", language=_language(request))
    return download(data, filename, "pdf")

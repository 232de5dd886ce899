"""JSON API side of the strategy's follow-up reports (mounted under ``/api/v1``): a
snapshot's report as PDF or standalone HTML (readers of the plan; ledgered)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.i18n import DEFAULT_LANGUAGE
from lakana.strategy import report
from lakana.strategy.report_pages import download

router = APIRouter(prefix="/strategy", tags=["strategy"])


@router.get("/snapshots/{snapshot_label}/report", response_class=Response)
async def get_report(request: Request, snapshot_label: str, session: DbSession,
                     actor: CurrentActor,
                     format: Annotated[Literal["pdf", "html"], Query()] = "pdf") -> Response:
    """The report of a snapshot (``2026-T3``, ``2026``) as PDF or standalone HTML; every
    figure comes from the snapshot, whose digest it states."""
    data, filename = await run_in_threadpool(
        report.report, session=session, actor=actor, env=request.app.state.jinja,
        label=snapshot_label, fmt=format,
        language=str(getattr(request.state, "language", DEFAULT_LANGUAGE)))
    return download(data, filename, format)

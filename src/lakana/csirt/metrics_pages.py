"""HTML pages of incident metrics.

* ``GET /csirt/dashboard?from=&to=`` — the national incident dashboard (national roles);
* ``GET /csirt/reports/monthly?month=YYYY-MM`` — the monthly report page, and
  ``GET /csirt/reports/monthly.pdf?month=YYYY-MM`` — the same, printable (French PDF).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.web.templating import render
from lakana.csirt import metrics, severity

router = APIRouter(prefix="/csirt")

#: Bar chart geometry (SVG user units).
CHART_HEIGHT = 160
BAR_WIDTH = 14
#: Bar colours by severity (SVG ``fill`` attributes: the CSP forbids inline styles).
SEVERITY_FILLS = {"critical": "#8b0000", "high": "#d2491c", "medium": "#e0a100",
                  "low": "#4f7a28"}
CLOSED_FILL = "#6b7280"


@router.get("/dashboard")
def dashboard(request: Request, session: DbSession, actor: CurrentActor,
              date_from: Annotated[str | None, Query(alias="from")] = None,
              to: str | None = None) -> Response:
    """The national incident dashboard."""
    period = metrics.parse_period(date_from, to)
    board = metrics.dashboard(session=session, actor=actor, period=period)
    peak = max([max(w.new_total, w.closed_total) for w in board.weeks] + [1])
    return render(request, "csirt/metrics/dashboard.html", {
        "board": board, "period": period, "severities": metrics.SEVERITIES,
        "severity_labels": severity.LABELS, "fills": SEVERITY_FILLS,
        "closed_fill": CLOSED_FILL, "chart_height": CHART_HEIGHT, "bar_width": BAR_WIDTH,
        "scale": CHART_HEIGHT / peak, "peak": peak})


@router.get("/reports/monthly")
def monthly(request: Request, session: DbSession, actor: CurrentActor,
            month: str | None = None) -> Response:
    """The monthly incident report (page)."""
    report = metrics.monthly_report(session=session, actor=actor,
                                    period=metrics.parse_month(month))
    return render(request, "csirt/metrics/monthly_page.html", metrics.monthly_context(report))


@router.get("/reports/monthly.pdf")
def monthly_pdf(session: DbSession, actor: CurrentActor, month: str | None = None) -> Response:
    """The monthly incident report as PDF (French)."""
    data, name = metrics.monthly_pdf(session=session, actor=actor,
                                     period=metrics.parse_month(month))
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})

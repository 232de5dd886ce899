"""HTML pages of incident metrics.

* ``GET /csirt/dashboard?from=&to=`` — the national incident dashboard (national roles);
* ``GET /csirt/metrics/institution?from=&to=&institution_id=`` — one institution's response
  times and weekly cases (its own staff; national readers choose the institution);
* ``GET /csirt/reports/monthly?month=YYYY-MM`` — the monthly report page, and
  ``GET /csirt/reports/monthly.pdf?month=YYYY-MM`` — the same, printable (French PDF).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.errors import Invalid
from lakana.core.web.templating import render
from lakana.csirt import metrics, service, severity

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


@router.get("/metrics/institution")
def institution(request: Request, session: DbSession, actor: CurrentActor,
                date_from: Annotated[str | None, Query(alias="from")] = None,
                to: str | None = None,
                institution_id: Annotated[str | None, Query()] = None) -> Response:
    """One institution's incident metrics: response times by severity and class, and weekly
    cases. Institution staff see their own; national readers pick one (or see all cases)."""
    period = metrics.parse_period(date_from, to)
    chosen = _institution_param(institution_id) if actor.is_national else None
    by_severity = metrics.institution_metrics(session=session, actor=actor, period=period,
                                              group="severity", institution_id=chosen)
    by_class = metrics.institution_metrics(session=session, actor=actor, period=period,
                                           group="class", institution_id=chosen)
    weeks = metrics.institution_weekly_series(session=session, actor=actor,
                                              institution_id=chosen)
    names = service.institution_names(session=session)
    own = actor.institution_id if not actor.is_national else chosen
    return render(request, "csirt/metrics/institution.html", {
        "period": period, "by_severity": by_severity, "by_class": by_class, "weeks": weeks,
        "institution_name": names.get(own) if own is not None else None,
        "choices": sorted(names.items(), key=lambda item: item[1]) if actor.is_national
        else [], "chosen": chosen})


def _institution_param(value: str | None) -> int | None:
    # An empty select means "every institution"; anything else must be an id.
    if value is None or not value.strip():
        return None
    if not value.strip().isdigit() or len(value.strip()) > 12:
        raise Invalid("Unknown institution.")
    return int(value)


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

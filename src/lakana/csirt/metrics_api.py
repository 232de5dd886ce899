"""JSON API of incident metrics (mounted under ``/api/v1``).

* ``GET /csirt/metrics?from=&to=&group=institution|class|severity`` — national response
  times (national roles);
* ``GET /csirt/metrics/institution?from=&to=&group=`` — the reader's own institution's
  (any role that reads cases; a national reader may add ``institution_id``);
* ``GET /csirt/metrics/weekly?weeks=12`` — the national weekly series.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.csirt import metrics

router = APIRouter(prefix="/csirt", tags=["csirt: metrics"])

From = Annotated[str | None, Query(alias="from", description="First day (YYYY-MM-DD).")]
To = Annotated[str | None, Query(description="Last day, included (YYYY-MM-DD).")]
GroupBy = Annotated[str, Query(description="institution, class or severity.")]


class StatOut(BaseModel):
    """One response time: how many cases it is computed from, mean and median hours."""

    count: int
    mean_hours: float | None
    median_hours: float | None


class MetricRowOut(BaseModel):
    """The response times of one group."""

    key: str | None
    label: str
    cases: int
    mtta: StatOut
    mttc: StatOut
    mttr: StatOut


class MetricsOut(BaseModel):
    """Response times over a period, by group."""

    date_from: dt.date
    date_to: dt.date
    group: str
    rows: list[MetricRowOut]
    total: MetricRowOut


class WeekOut(BaseModel):
    """One ISO week: cases reported, closed and open at its end, by severity."""

    week: str
    start: dt.date
    new: dict[str, int]
    closed: dict[str, int]
    open: dict[str, int]


def _row(row: metrics.MetricRow) -> MetricRowOut:
    return MetricRowOut(key=row.key, label=row.label, cases=row.cases,
                        mtta=StatOut(**vars(row.mtta)), mttc=StatOut(**vars(row.mttc)),
                        mttr=StatOut(**vars(row.mttr)))


def _out(found: metrics.Metrics) -> MetricsOut:
    return MetricsOut(date_from=found.period.start, date_to=found.period.end,
                      group=found.group, rows=[_row(r) for r in found.rows],
                      total=_row(found.total))


@router.get("/metrics")
def national_metrics(session: DbSession, actor: CurrentActor, date_from: From = None,
                     to: To = None, group: GroupBy = "class") -> MetricsOut:
    """MTTA, MTTC and MTTR (mean, median, count) of the cases reported in the period."""
    period = metrics.parse_period(date_from, to)
    return _out(metrics.national_metrics(session=session, actor=actor, period=period,
                                         group=metrics.check_group(group)))


@router.get("/metrics/institution")
def institution_metrics(session: DbSession, actor: CurrentActor, date_from: From = None,
                        to: To = None, group: GroupBy = "class",
                        institution_id: int | None = None) -> MetricsOut:
    """The same figures for the reader's own institution."""
    period = metrics.parse_period(date_from, to)
    return _out(metrics.institution_metrics(session=session, actor=actor, period=period,
                                            group=metrics.check_group(group),
                                            institution_id=institution_id))


@router.get("/metrics/weekly")
def weekly(session: DbSession, actor: CurrentActor,
           weeks: Annotated[int, Query(ge=1, le=metrics.MAX_WEEKS)] = 12) -> list[WeekOut]:
    """New, closed and open-at-end cases per ISO week, by severity (the current week last)."""
    return [WeekOut(week=w.label, start=w.start, new=w.new, closed=w.closed, open=w.open)
            for w in metrics.weekly_series(session=session, actor=actor, weeks=weeks)]

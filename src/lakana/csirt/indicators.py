"""The incident figures the national strategy follows (see :mod:`lakana.core.indicators`).

Computed with the definitions of :mod:`lakana.csirt.metrics` (national scope, the same
closure reasons left out of the time to resolve), so that an indicator never disagrees with
the incident dashboard or the monthly report for the same period.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakana.core.auth.rbac import Actor
from lakana.core.i18n import N_
from lakana.core.indicators import IndicatorSource, Measurement, Period
from lakana.csirt import access, metrics
from lakana.csirt.models import Case
from lakana.csirt.permissions import CsirtPermission

NO_CASE_YET = N_("No incident had been recorded by the end of the period.")
NO_CASE_RESOLVED = N_("No incident reported in the period has been resolved yet.")
NO_CASE_REPORTED = N_("No incident was reported in the period.")


def _period(period: Period) -> metrics.Period:
    return metrics.Period(period.start, period.end)


def _national(actor: Actor) -> Any:
    """The cases a national reader sees (as the national incident metrics)."""
    return access.restrict_cases(select(Case.id), actor, CsirtPermission.NATIONAL_READ)


def _recorded_by_end(session: Session, actor: Actor, period: Period) -> bool:
    """Whether any case had been reported before the period's end: without one, a count of
    zero would say the platform was not in use, not that nothing happened."""
    stmt = _national(actor).where(Case.reported_at < period.until).limit(1)
    return session.execute(stmt).first() is not None


def cases_closed(session: Session, actor: Actor, period: Period) -> Measurement:
    """Cases closed in ``period``, false positives and duplicates left out."""
    stmt = _national(actor).with_only_columns(Case.closure_reason, func.count()).where(
        Case.closed_at >= period.since, Case.closed_at < period.until
    ).group_by(Case.closure_reason)
    by_reason = {reason: int(n) for reason, n in session.execute(stmt)}
    closed = sum(by_reason.values())
    excluded = sum(by_reason.get(reason, 0) for reason in metrics.NOT_RESOLVED)
    if not closed and not _recorded_by_end(session, actor, period):
        return Measurement.none(NO_CASE_YET)
    return Measurement(value=closed - excluded,
                       inputs={"closed": closed, "false_positive_or_duplicate": excluded})


def mttr_days(session: Session, actor: Actor, period: Period) -> Measurement:
    """Median time to resolve, in days, of the cases reported in ``period`` (the MTTR of
    the incident metrics)."""
    total = metrics.national_metrics(session=session, actor=actor, period=_period(period),
                                     group="severity").total
    if total.mttr.median_hours is None:
        return Measurement.none(NO_CASE_RESOLVED if total.cases else NO_CASE_REPORTED)
    return Measurement(value=round(total.mttr.median_hours / 24, 1),
                       inputs={"cases_resolved": total.mttr.count, "cases_reported": total.cases,
                               "median_hours": total.mttr.median_hours})


def incidents_total(session: Session, actor: Actor, period: Period) -> Measurement:
    """Cases reported in ``period`` (every closure reason), with their count by class of the
    incident taxonomy in the inputs (``class:<id>``; ``class:none`` for unclassified)."""
    found = metrics.national_metrics(session=session, actor=actor, period=_period(period),
                                     group="class")
    total = found.total
    if not total.cases and not _recorded_by_end(session, actor, period):
        return Measurement.none(NO_CASE_YET)
    by_class = {f"class:{row.key or 'none'}": row.cases for row in found.rows}
    return Measurement(value=total.cases, inputs={"cases_reported": total.cases, **by_class})


SOURCES: tuple[IndicatorSource, ...] = (
    IndicatorSource(
        key="csirt.cases_closed", label=N_("Incidents handled"),
        formula=N_("Cases closed during the period, excluding those closed as false positive "
                   "or duplicate."),
        unit="incidents", compute=cases_closed, direction="higher"),
    IndicatorSource(
        key="csirt.mttr_days", label=N_("Median time to resolve incidents"),
        formula=N_("Median, in days, of the time between report and closure of the cases "
                   "reported during the period and closed since, excluding false positives "
                   "and duplicates."),
        unit="jours", compute=mttr_days, direction="lower"),
    IndicatorSource(
        key="csirt.incidents_total", label=N_("Incidents reported"),
        formula=N_("Cases reported to the national CSIRT during the period, whatever their "
                   "outcome; the inputs give the count for each class of the taxonomy."),
        unit="incidents", compute=incidents_total, direction="higher"),
)

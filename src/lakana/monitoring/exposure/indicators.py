"""The exposure figures the national strategy follows (see :mod:`lakana.core.indicators`).

A finding's history is kept in its own columns (``first_seen``, ``fixed_at``), not in a log:
the time to fix is measured on findings fixed *during* the period, and "open at the period's
end" is reconstructed from those two dates. Findings accepted as a risk or marked as false
positives are left out of both (nothing was fixed, and nothing is left to fix).
"""

from __future__ import annotations

import statistics
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lakana.core.auth.rbac import Actor, restrict
from lakana.core.db import as_utc
from lakana.core.i18n import N_
from lakana.core.indicators import IndicatorSource, Measurement, Period
from lakana.monitoring.exposure.checks.base import Severity
from lakana.monitoring.exposure.models import ExposureFinding, ExposureScan
from lakana.monitoring.exposure.permissions import ExposurePermission as P

NO_FIX = N_("No critical exposure finding was fixed in the period.")
NO_SCAN = N_("No exposure scan had been run by the end of the period.")
_SECONDS_PER_DAY = 86400


def _critical(actor: Actor, *columns: Any) -> Any:
    """``select(columns)`` over the critical findings in the actor's scope."""
    return restrict(select(*columns), actor=actor, permission=P.READ,
                    scope=ExposureFinding.institution_id).where(
        ExposureFinding.severity == Severity.CRITICAL.value)


def median_days_to_fix_critical(session: Session, actor: Actor, period: Period) -> Measurement:
    """Median days from first seen to fixed, over critical findings fixed in ``period``."""
    stmt = _critical(actor, ExposureFinding.first_seen, ExposureFinding.fixed_at).where(
        ExposureFinding.status == "fixed", ExposureFinding.fixed_at >= period.since,
        ExposureFinding.fixed_at < period.until)
    days = [max(0.0, (as_utc(fixed) - as_utc(seen)).total_seconds() / _SECONDS_PER_DAY)
            for seen, fixed in session.execute(stmt) if fixed is not None]
    if not days:
        return Measurement.none(NO_FIX)
    return Measurement(value=round(statistics.median(days), 1),
                       inputs={"findings_fixed": len(days)})


def critical_findings_open(session: Session, actor: Actor, period: Period) -> Measurement:
    """Critical findings open at the end of ``period``."""
    scanned = restrict(select(ExposureScan.id), actor=actor, permission=P.READ,
                       scope=ExposureScan.institution_id).where(
        ExposureScan.created_at < period.until).limit(1)
    if session.execute(scanned).first() is None:
        return Measurement.none(NO_SCAN)
    stmt = _critical(actor, func.count()).where(
        ExposureFinding.status.in_(("open", "fixed")),
        ExposureFinding.first_seen < period.until,
        or_(ExposureFinding.fixed_at.is_(None), ExposureFinding.fixed_at >= period.until))
    count = int(session.execute(stmt).scalar_one())
    return Measurement(value=count, inputs={"findings_open": count})


SOURCES: tuple[IndicatorSource, ...] = (
    IndicatorSource(
        key="monitoring.exposure.median_days_to_fix_critical",
        label=N_("Median time to fix a critical exposed vulnerability"),
        formula=N_("Median, in days, of the time between first detection and fix of the "
                   "critical exposure findings fixed during the period."),
        unit="jours", compute=median_days_to_fix_critical, direction="lower"),
    IndicatorSource(
        key="monitoring.exposure.critical_findings_open",
        label=N_("Critical exposure findings open"),
        formula=N_("Critical exposure findings detected before the end of the period and not "
                   "fixed by then (accepted risks and false positives left out)."),
        unit="vulnérabilités", compute=critical_findings_open, direction="lower"),
)

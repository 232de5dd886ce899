"""The plan's indicators measured: computed from the other domains' live data, or entered by
hand with evidence, and compared with their yearly target.

A *computed* indicator names a source key (``csirt.mttr_days``); the domain that owns it
declares an :class:`~lakana.core.indicators.IndicatorSource` in its plugin, and the value is
the source's answer for the period, with the source's formula shown beside it. A key no
installed domain declares, a source that finds nothing to measure, and a source that fails
each give no value and a reason: never a made-up number.

A *manual* indicator takes the latest value entered for a period of the year that has begun
by the measuring day (a quarter, or the whole year), each with its evidence (a note, and a
file if any): laws adopted, budget spent.

Status, the traffic light of the dashboard:

* ``met`` (green): the value reaches the year's target (at or above it when higher is
  better, at or below when lower is better);
* ``near`` (amber): not met, but at least 75 % of the way from the baseline to the target
  (within 10 % of the target when the indicator has no baseline);
* ``off`` (red): further away;
* ``none`` (grey): no value, or no target for the year.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.i18n import N_
from lakana.core.indicators import IndicatorSource, Measurement, Period
from lakana.core.plugins import indicator_sources
from lakana.strategy.models import StrategyIndicator, StrategyIndicatorValue
from lakana.strategy.schemas import FIRST_YEAR, LAST_YEAR

log = logging.getLogger(__name__)

#: Share of the way from baseline to target from which a missed target shows amber.
NEAR_SHARE = 0.75
#: Without a baseline: how close to the target (relative) shows amber.
NEAR_RELATIVE = 0.10
STATUSES = ("met", "near", "off", "none")
STATUS_NAMES = {"met": N_("Target met"), "near": N_("Close to target"),
                "off": N_("Off track"), "none": N_("No data")}

#: Words for the inputs the installed sources give (others are shown as their key).
INPUT_LABELS = {
    "numerator": N_("counted"), "denominator": N_("out of"),
    "exercises": N_("exercises"), "as_of": N_("on"), "closed": N_("cases closed"),
    "false_positive_or_duplicate": N_("false positives or duplicates"),
    "cases_resolved": N_("cases resolved"), "cases_reported": N_("cases reported"),
    "median_hours": N_("median in hours"), "findings_fixed": N_("findings fixed"),
    "findings_open": N_("findings open"), "institutions_scored": N_("institutions scored"),
    "institutions_assessed": N_("institutions assessed"), "answers": N_("answers"),
}

NO_SOURCE = N_("No installed domain computes “%(key)s”: no data.")
NO_KEY = N_("This computed indicator names no source: no data.")
FAILED = N_("The formula failed (%(error)s): no value is shown.")
NO_MANUAL = N_("No value has been entered for this year.")
NOT_BEGUN = N_("The year %(year)s has not begun.")


@dataclass(frozen=True)
class Evidence:
    """What backs a value entered by hand."""

    note: str
    file_name: str
    file_sha256: str
    entered_by: str
    entered_at: str
    period_start: str
    period_end: str


@dataclass(frozen=True)
class Evaluation:
    """One indicator measured for one year, against that year's target."""

    code: str
    name: str
    unit: str
    direction: str
    source_kind: str
    source_key: str
    #: The source's formula (a msgid), "" for manual indicators.
    formula: str
    year: int
    period_start: dt.date
    period_end: dt.date
    value: float | None
    target: float | None
    baseline: float | None
    status: str
    #: Why there is no value (a msgid, with ``reason_args``), "" when there is one.
    reason: str = ""
    reason_args: Mapping[str, str | int] = field(default_factory=dict)
    inputs: Mapping[str, float | int | str] = field(default_factory=dict)
    evidence: Evidence | None = None

    def as_dict(self) -> dict[str, Any]:
        """The evaluation as plain JSON (what a snapshot freezes)."""
        return {
            "code": self.code, "name": self.name, "unit": self.unit,
            "direction": self.direction, "source_kind": self.source_kind,
            "source_key": self.source_key, "formula": self.formula, "year": self.year,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(), "value": self.value,
            "target": self.target, "baseline": self.baseline, "status": self.status,
            "reason": self.reason, "reason_args": dict(self.reason_args),
            "inputs": dict(self.inputs),
            "evidence": None if self.evidence is None else vars(self.evidence).copy()}


def status_of(value: float | None, target: float | None, baseline: float | None,
              direction: str) -> str:
    """The traffic light for ``value`` against ``target`` (see the module's docstring)."""
    if value is None or target is None:
        return "none"
    sign = -1.0 if direction == "lower" else 1.0
    if sign * (value - target) >= 0:
        return "met"
    if baseline is not None and sign * (target - baseline) > 0:
        share = (value - baseline) / (target - baseline)
        return "near" if share >= NEAR_SHARE else "off"
    scale = abs(target) if target else 1.0
    return "near" if abs(value - target) <= NEAR_RELATIVE * scale else "off"


def year_period(year: int, today: dt.date) -> Period | None:
    """The year as measured on ``today``: up to today for the current year, ``None`` for a
    year not begun."""
    if year > today.year:
        return None
    return Period(dt.date(year, 1, 1), min(dt.date(year, 12, 31), today))


def _computed(session: Session, actor: Actor, indicator: StrategyIndicator, period: Period,
              sources: Mapping[str, IndicatorSource]) -> tuple[Measurement, str]:
    if not indicator.source_key:
        return Measurement.none(NO_KEY), ""
    source = sources.get(indicator.source_key)
    if source is None:
        return Measurement.none(NO_SOURCE, key=indicator.source_key), ""
    try:
        # A savepoint: a failing query must not spoil the caller's transaction.
        with session.begin_nested():
            measured = source.compute(session, actor, period)
    except Exception as exc:  # noqa: BLE001 - any failure of a source is shown, not raised
        log.warning("indicator source %s failed", source.key, exc_info=True)
        return Measurement.none(FAILED, error=type(exc).__name__), source.formula
    if measured.value is not None:
        measured = Measurement(value=round(float(measured.value), 2), inputs=measured.inputs)
    return measured, source.formula


def _manual_values(session: Session, indicator_ids: list[int], period: Period
                   ) -> dict[int, StrategyIndicatorValue]:
    """By indicator, the latest value entered for a period of ``period``'s year that has
    begun by ``period``'s end (a value for the whole year counts from its first day)."""
    found: dict[int, StrategyIndicatorValue] = {}
    year_end = dt.date(period.start.year, 12, 31)
    rows = session.scalars(
        select(StrategyIndicatorValue)
        .where(StrategyIndicatorValue.indicator_id.in_(indicator_ids),
               StrategyIndicatorValue.period_end >= period.start,
               StrategyIndicatorValue.period_end <= year_end,
               StrategyIndicatorValue.period_start <= period.end)
        .order_by(StrategyIndicatorValue.period_end, StrategyIndicatorValue.entered_at,
                  StrategyIndicatorValue.id))
    for row in rows:
        found[row.indicator_id] = row
    return found


def _evidence(row: StrategyIndicatorValue) -> Evidence:
    return Evidence(note=row.evidence, file_name=row.file_name, file_sha256=row.file_sha256,
                    entered_by=row.entered_by, entered_at=row.entered_at.isoformat(),
                    period_start=row.period_start.isoformat(),
                    period_end=row.period_end.isoformat())


def evaluate(*, session: Session, actor: Actor, year: int, today: dt.date | None = None,
             indicators: list[StrategyIndicator] | None = None,
             sources: Mapping[str, IndicatorSource] | None = None) -> list[Evaluation]:
    """Every indicator of the plan (or ``indicators``) measured for ``year``, in plan order.

    The actor must be able to read the plan. The figures are national aggregates: sources
    compute them as a national reader, whoever asks, and never show a row
    of any institution."""
    from lakana.strategy.permissions import StrategyPermission

    actor.require(StrategyPermission.PLAN_READ)
    reader = system_actor("strategy indicators", "strategy")
    today = today or dt.date.today()
    sources = indicator_sources() if sources is None else sources
    if indicators is None:
        indicators = all_indicators(session)
    period = year_period(year, today)
    manual = {} if period is None else _manual_values(
        session, [i.id for i in indicators if i.source_kind == "manual"], period)
    found: list[Evaluation] = []
    for indicator in indicators:
        target = next((t.value for t in indicator.targets if t.year == year), None)
        formula = ""
        evidence = None
        if period is None:
            measured = Measurement.none(NOT_BEGUN, year=year)
            start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
        else:
            start, end = period.start, period.end
            if indicator.source_kind == "computed":
                measured, formula = _computed(session, reader, indicator, period, sources)
            elif (row := manual.get(indicator.id)) is not None:
                measured = Measurement(value=row.value)
                evidence = _evidence(row)
            else:
                measured = Measurement.none(NO_MANUAL)
        found.append(Evaluation(
            code=indicator.code, name=indicator.name, unit=indicator.unit,
            direction=indicator.direction, source_kind=indicator.source_kind,
            source_key=indicator.source_key, formula=formula, year=year,
            period_start=start, period_end=end, value=measured.value, target=target,
            baseline=indicator.baseline_value,
            status=status_of(measured.value, target, indicator.baseline_value,
                             indicator.direction),
            reason=measured.reason, reason_args=dict(measured.reason_args),
            inputs=dict(measured.inputs), evidence=evidence))
    return found


def all_indicators(session: Session) -> list[StrategyIndicator]:
    """Every indicator of the plan, in plan order (axis, objective, position)."""
    from lakana.strategy.models import StrategyAxis, StrategyObjective

    return list(session.scalars(
        select(StrategyIndicator)
        .join(StrategyObjective, StrategyIndicator.objective_id == StrategyObjective.id)
        .join(StrategyAxis, StrategyObjective.axis_id == StrategyAxis.id)
        .order_by(StrategyAxis.position, StrategyObjective.position,
                  StrategyIndicator.position)))


def plan_years(today: dt.date | None = None) -> list[int]:
    """The plan's years up to the current one (at least the first)."""
    today = today or dt.date.today()
    return list(range(FIRST_YEAR, max(FIRST_YEAR, min(LAST_YEAR, today.year)) + 1))

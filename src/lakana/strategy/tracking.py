"""Following the plan's indicators over time: values entered by hand with their evidence,
snapshots frozen at each reporting date, and each indicator's history.

A *snapshot* freezes every indicator's evaluation at the end of a quarter (``2026-T3``) or a
year (``2026``): the year to date measured on the period's last day, against the year's
target. Its content is canonical JSON and its SHA-256 is kept; a snapshot is never changed
and reports name the snapshot (and digest) they were built from. Only a period that has
ended can be frozen, and only once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lakana.core import audit
from lakana.core.auth.rbac import Actor
from lakana.core.config import Settings
from lakana.core.db import utcnow
from lakana.core.errors import Conflict, Invalid, NotFound
from lakana.core.files import service as files
from lakana.core.indicators import IndicatorSource
from lakana.strategy import gci, measures, service
from lakana.strategy.models import StrategyIndicator, StrategyIndicatorValue, StrategySnapshot
from lakana.strategy.permissions import StrategyPermission as P
from lakana.strategy.schemas import FIRST_YEAR, LAST_YEAR

KINDS = ("quarterly", "annual")
#: Evidence files accepted with a manual value.
EVIDENCE_TYPES = ("application/pdf", "image/png", "image/jpeg", "text/plain",
                  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document")


class ValueEntry(BaseModel):
    """A value entered by hand for a manual indicator (a year, or a quarter of it)."""

    year: int = Field(ge=FIRST_YEAR, le=LAST_YEAR)
    quarter: int | None = Field(default=None, ge=1, le=4)
    value: float = Field(ge=-1e12, le=1e12, allow_inf_nan=False)
    evidence: str = Field(min_length=1, max_length=5000)


def quarter_bounds(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    """The first and last days of ``quarter`` (1–4) of ``year``."""
    start = dt.date(year, 3 * quarter - 2, 1)
    after = dt.date(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1)
    return start, after - dt.timedelta(days=1)


def period_of(kind: str, year: int, quarter: int | None) -> tuple[str, dt.date, dt.date]:
    """A reporting period's label and bounds: ``("2026-T3", 1 Jul, 30 Sep)``."""
    if kind == "annual":
        return str(year), dt.date(year, 1, 1), dt.date(year, 12, 31)
    if quarter is None:
        raise Invalid("Choose the quarter of a quarterly snapshot.")
    start, end = quarter_bounds(year, quarter)
    return f"{year}-T{quarter}", start, end


def _indicator(session: Session, code: str) -> StrategyIndicator:
    found = session.scalar(select(StrategyIndicator).where(StrategyIndicator.code == code))
    if found is None:
        raise NotFound("No indicator has the code %(code)s.", code=code)
    return found


def enter_value(*, session: Session, actor: Actor, code: str, data: ValueEntry,
                settings: Settings | None = None, file_name: str = "", file_data: bytes = b"",
                file_type: str | None = None) -> StrategyIndicatorValue:
    """Record a value of a manual indicator for a year or quarter, with its evidence (a note
    and, if given, a file kept in the store). A computed indicator refuses (its value comes
    from the platform's data)."""
    actor.require(P.PLAN_MANAGE)
    indicator = _indicator(session, code)
    if indicator.source_kind != "manual":
        raise Invalid("The indicator %(code)s is computed from the platform's data: its "
                      "values cannot be entered by hand.", code=code)
    if not data.evidence.strip():
        raise Invalid("Give the evidence of the value (the text, decision or report it "
                      "comes from).")
    if data.quarter is None:
        start, end = dt.date(data.year, 1, 1), dt.date(data.year, 12, 31)
    else:
        start, end = quarter_bounds(data.year, data.quarter)
    row = StrategyIndicatorValue(
        indicator_id=indicator.id, period_start=start, period_end=end, value=data.value,
        evidence=data.evidence.strip(), entered_by=actor.name, entered_at=utcnow())
    if file_data:
        if settings is None:
            raise RuntimeError("storing an evidence file needs the settings")
        stored = files.store(session=session, actor=actor, settings=settings, data=file_data,
                             name=file_name or "preuve", declared_type=file_type,
                             allowed=EVIDENCE_TYPES)
        row.file_id, row.file_sha256, row.file_name = (stored.id, stored.sha256,
                                                       stored.original_name)
    session.add(row)
    session.flush()
    audit.record(session=session, actor=actor, action="strategy.indicator.value",
                 object_type="strategy_indicator", object_id=indicator.id,
                 object_repr=f"{code} {start.isoformat()}…{end.isoformat()}",
                 after={"value": data.value, "period_start": start.isoformat(),
                        "period_end": end.isoformat(), "evidence": row.evidence,
                        "file_sha256": row.file_sha256})
    return row


def values_of(*, session: Session, actor: Actor, code: str) -> list[StrategyIndicatorValue]:
    """Every value entered for an indicator, corrections included, newest first."""
    actor.require(P.PLAN_READ)
    indicator = _indicator(session, code)
    return list(session.scalars(
        select(StrategyIndicatorValue).where(StrategyIndicatorValue.indicator_id == indicator.id)
        .order_by(StrategyIndicatorValue.period_end.desc(),
                  StrategyIndicatorValue.entered_at.desc(), StrategyIndicatorValue.id.desc())))


def canonical(content: dict[str, Any]) -> bytes:
    """The canonical JSON bytes a snapshot's digest is computed on."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def take_snapshot(*, session: Session, actor: Actor, kind: str, year: int,
                  quarter: int | None = None, today: dt.date | None = None,
                  sources: Mapping[str, IndicatorSource] | None = None) -> StrategySnapshot:
    """Freeze every indicator's figures for an ended quarter or year (once)."""
    actor.require(P.PLAN_MANAGE)
    if kind not in KINDS:
        raise Invalid("A snapshot is quarterly or annual.")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise Invalid("The plan covers %(first)s to %(last)s.", first=FIRST_YEAR,
                      last=LAST_YEAR)
    label, start, end = period_of(kind, year, quarter)
    today = today or dt.date.today()
    if end >= today:
        raise Invalid("The period %(label)s has not ended: it can be frozen from "
                      "%(day)s.", label=label, day=(end + dt.timedelta(days=1)).isoformat())
    if session.scalar(select(StrategySnapshot.id).where(StrategySnapshot.label == label)):
        raise Conflict("The snapshot %(label)s has already been taken; a snapshot is never "
                       "changed.", label=label)
    figures = measures.evaluate(session=session, actor=actor, year=year, today=end,
                                sources=sources)
    content = {"label": label, "kind": kind, "period_start": start.isoformat(),
               "period_end": end.isoformat(),
               "indicators": [f.as_dict() for f in figures],
               # The plan as it stood (actions' status, budget, milestones): what the
               # report's action tables and Gantt are drawn from.
               "plan": service.get_plan(session=session, actor=actor).model_dump(mode="json"),
               # The ITU GCI self-assessment as it stood (answers and their evidence).
               "gci": gci.frozen(session=session, actor=actor)}
    snapshot = StrategySnapshot(label=label, kind=kind, period_start=start, period_end=end,
                                taken_at=utcnow(), taken_by=actor.name,
                                digest=hashlib.sha256(canonical(content)).hexdigest(),
                                content=content)
    session.add(snapshot)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict("The snapshot %(label)s has already been taken; a snapshot is never "
                       "changed.", label=label) from exc
    audit.record(session=session, actor=actor, action="strategy.snapshot.take",
                 object_type="strategy_snapshot", object_id=snapshot.id, object_repr=label,
                 after={"digest": snapshot.digest, "indicators": len(figures)})
    return snapshot


def list_snapshots(*, session: Session, actor: Actor) -> list[StrategySnapshot]:
    """Every snapshot, the latest period first."""
    actor.require(P.PLAN_READ)
    return list(session.scalars(select(StrategySnapshot).order_by(
        StrategySnapshot.period_end.desc(), StrategySnapshot.kind)))


def get_snapshot(*, session: Session, actor: Actor, label: str) -> StrategySnapshot:
    """One snapshot by its label (``2026-T3``, ``2026``)."""
    actor.require(P.PLAN_READ)
    found = session.scalar(select(StrategySnapshot).where(StrategySnapshot.label == label))
    if found is None:
        raise NotFound("No snapshot is labelled %(label)s.", label=label)
    return found


def verify_snapshot(snapshot: StrategySnapshot) -> bool:
    """Whether a snapshot's content still matches the digest taken with it."""
    return hashlib.sha256(canonical(snapshot.content)).hexdigest() == snapshot.digest


@dataclass(frozen=True)
class HistoryPoint:
    """One figure of an indicator's history: live for a year, or frozen in a snapshot."""

    label: str
    frozen: bool
    period_end: str
    value: float | None
    target: float | None
    status: str
    reason: str
    reason_args: dict[str, Any]


def history(*, session: Session, actor: Actor, code: str, today: dt.date | None = None,
            sources: Mapping[str, IndicatorSource] | None = None
            ) -> tuple[StrategyIndicator, list[HistoryPoint]]:
    """An indicator's figures: each plan year measured now, then each snapshot's frozen one
    (oldest first)."""
    actor.require(P.PLAN_READ)
    indicator = _indicator(session, code)
    today = today or dt.date.today()
    points: list[HistoryPoint] = []
    for year in measures.plan_years(today):
        [found] = measures.evaluate(session=session, actor=actor, year=year, today=today,
                                    indicators=[indicator], sources=sources)
        points.append(HistoryPoint(str(year), False, found.period_end.isoformat(), found.value,
                                   found.target, found.status, found.reason,
                                   dict(found.reason_args)))
    for snap in reversed(list_snapshots(session=session, actor=actor)):
        frozen = next((i for i in snap.content.get("indicators", []) if i["code"] == code),
                      None)
        if frozen is not None:
            points.append(HistoryPoint(snap.label, True, snap.content["period_end"],
                                       frozen["value"], frozen["target"], frozen["status"],
                                       frozen["reason"], frozen["reason_args"]))
    return indicator, points

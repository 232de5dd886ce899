"""JSON API of the plan's monitoring (under ``/api/v1``): the indicators measured for a year
against their targets, one indicator's history and values entered by hand, and the
snapshots frozen at each reporting date.

Every figure carries its formula and, when there is no value, the reason, in the caller's
language; a snapshot answers its content with the digest it was frozen with and whether the
content still matches it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.i18n import gettext, translate
from lakana.strategy import measures, tracking
from lakana.strategy.models import StrategyIndicatorValue, StrategySnapshot
from lakana.strategy.permissions import StrategyPermission
from lakana.strategy.schemas import FIRST_YEAR, LAST_YEAR

router = APIRouter(prefix="/strategy", tags=["strategy"])

Year = Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)]


def _manager(actor: CurrentActor) -> Actor:
    """The caller, once known to manage the plan (checked before the body is read)."""
    actor.require(StrategyPermission.PLAN_MANAGE)
    return actor


Manager = Annotated[Actor, Depends(_manager)]


class SnapshotRequest(BaseModel):
    """Which reporting period to freeze."""

    kind: str = Field(pattern="^(quarterly|annual)$")
    year: int = Field(ge=FIRST_YEAR, le=LAST_YEAR)
    quarter: int | None = Field(default=None, ge=1, le=4)


def shown(item: dict[str, Any]) -> dict[str, Any]:
    """An evaluation (live or frozen) with its formula and reason in the caller's language."""
    formula: str = item["formula"]
    return {**item, "formula_text": gettext(formula) if formula else "",
            "reason_text": translate(item["reason"], **item["reason_args"])
            if item["reason"] else ""}


def value_out(row: StrategyIndicatorValue) -> dict[str, Any]:
    """A value entered by hand, with its evidence."""
    return {"period_start": row.period_start.isoformat(),
            "period_end": row.period_end.isoformat(), "value": row.value,
            "evidence": row.evidence, "file_name": row.file_name,
            "file_sha256": row.file_sha256, "entered_by": row.entered_by,
            "entered_at": row.entered_at.isoformat()}


def snapshot_summary(snap: StrategySnapshot) -> dict[str, Any]:
    """A snapshot's label, period, author and digest."""
    return {"label": snap.label, "kind": snap.kind,
            "period_start": snap.period_start.isoformat(),
            "period_end": snap.period_end.isoformat(), "taken_at": snap.taken_at.isoformat(),
            "taken_by": snap.taken_by, "digest": snap.digest}


@router.get("/indicators")
def indicators(session: DbSession, actor: CurrentActor, year: Year = None) -> dict[str, Any]:
    """Every indicator measured for ``year`` (this year by default) against its target."""
    chosen = year or min(max(dt.date.today().year, FIRST_YEAR), LAST_YEAR)
    found = measures.evaluate(session=session, actor=actor, year=chosen)
    return {"year": chosen, "indicators": [shown(e.as_dict()) for e in found]}


@router.get("/indicators/{indicator_code}")
def indicator(indicator_code: str, session: DbSession, actor: CurrentActor) -> dict[str, Any]:
    """One indicator's history (each year now, each snapshot frozen) and values entered."""
    found, points = tracking.history(session=session, actor=actor, code=indicator_code)
    values = tracking.values_of(session=session, actor=actor, code=indicator_code)
    return {"code": found.code, "name": found.name, "unit": found.unit,
            "source_kind": found.source_kind, "source_key": found.source_key,
            "history": [{**vars(p), "reason_text": translate(p.reason, **p.reason_args)
                         if p.reason else ""} for p in points],
            "values": [value_out(v) for v in values]}


@router.post("/indicators/{indicator_code}/values", status_code=201)
def enter_value(indicator_code: str, body: tracking.ValueEntry, request: Request,
                session: DbSession, actor: Manager) -> dict[str, Any]:
    """Enter a manual indicator's value for a year or quarter, with its evidence."""
    row = tracking.enter_value(session=session, actor=actor,
                               settings=request.app.state.settings, code=indicator_code,
                               data=body)
    return value_out(row)


@router.get("/snapshots")
def snapshots(session: DbSession, actor: CurrentActor) -> list[dict[str, Any]]:
    """Every snapshot, the latest period first."""
    return [snapshot_summary(s) for s in tracking.list_snapshots(session=session, actor=actor)]


@router.post("/snapshots", status_code=201)
def take_snapshot(body: SnapshotRequest, session: DbSession, actor: Manager
                  ) -> dict[str, Any]:
    """Freeze every indicator's figures for an ended quarter or year (once)."""
    snap = tracking.take_snapshot(session=session, actor=actor, kind=body.kind, year=body.year,
                                  quarter=body.quarter)
    return snapshot_summary(snap)


@router.get("/snapshots/{snapshot_label}")
def snapshot(snapshot_label: str, session: DbSession, actor: CurrentActor) -> dict[str, Any]:
    """A snapshot's frozen content, its digest and whether the content still matches it."""
    snap = tracking.get_snapshot(session=session, actor=actor, label=snapshot_label)
    return {**snapshot_summary(snap), "verified": tracking.verify_snapshot(snap),
            "indicators": [shown(i) for i in snap.content.get("indicators", [])]}

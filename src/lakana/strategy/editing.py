"""Editing the action plan by the agency, entity by entity, instead of importing a whole file:
an axis's or an objective's title and description, an indicator (definition, baseline,
source, frequency, targets by year), and new objectives, indicators and actions.

The plan's rules are the import's: every change is checked by building the entity's row model
(``schemas.py``) from the merged state, so what the editor accepts an import accepts too, and
the exported plan imports back unchanged. A computed indicator must name a source an installed
domain declares. Edits carry the version read (409 when stale); every change is ledgered with
its before and after. Services never commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from lakana.core import audit
from lakana.core.auth.rbac import Actor
from lakana.core.concurrency import check_version, flush_or_conflict
from lakana.core.errors import Conflict, Invalid, NotFound
from lakana.core.i18n import N_, Msg
from lakana.core.indicators import IndicatorSource
from lakana.core.plugins import indicator_sources
from lakana.core.web.errors import VALIDATION_MESSAGES
from lakana.registry import service as registry
from lakana.strategy.editing_schemas import (
    ActionCreate,
    AxisEditOut,
    IndicatorCreate,
    IndicatorUpdate,
    ObjectiveCreate,
    ObjectiveEditOut,
    TextUpdate,
)
from lakana.strategy.models import (
    StrategyAction,
    StrategyAxis,
    StrategyIndicator,
    StrategyObjective,
    StrategyTarget,
)
from lakana.strategy.permissions import StrategyPermission as P
from lakana.strategy.schemas import (
    FIRST_YEAR,
    LAST_YEAR,
    ActionRow,
    AxisRow,
    IndicatorOut,
    IndicatorRow,
    ObjectiveRow,
    SourceKind,
    TargetRow,
)

INDICATOR_FIELDS = ("name", "definition", "unit", "baseline_value", "baseline_year",
                    "source_kind", "source_key", "frequency", "responsible", "direction",
                    "gci_pillar")
TEXT_FIELDS = ("title", "description")

RowT = TypeVar("RowT", bound=BaseModel)
Positioned = StrategyObjective | StrategyAction | StrategyIndicator


def _json(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return getattr(value, "value", value)


def _problem(error: dict[str, Any], field: str) -> dict[str, Any]:
    """One pydantic error as a problem item: the message id and its parameters, translated
    where it is shown (the API's error handler, or the page)."""
    ctx = dict(error.get("ctx") or {})
    if error.get("type") == "lakana" and "msgid" in ctx:
        msgid = str(ctx.pop("msgid"))
        return {"field": field, "message": msgid,
                "params": {k: str(v) for k, v in ctx.items()}}
    msgid = VALIDATION_MESSAGES.get(str(error.get("type")), N_("Not a valid value: %(value)s."))
    return {"field": field, "message": msgid, "params": {
        "value": str(error.get("input", ""))[:100], "allowed": str(ctx.get("expected", "")),
        "min": str(ctx.get("min_length", ctx.get("ge", ctx.get("gt", "")))),
        "max": str(ctx.get("max_length", ctx.get("le", ctx.get("lt", ""))))}}


def _validate(model: type[RowT], data: dict[str, Any], problems: list[dict[str, Any]],
              prefix: str = "") -> RowT | None:
    """The row model built from ``data``, or None with its problems added to ``problems``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error.get("loc", ()))
            problems.append(_problem(dict(error), prefix + field))
        return None


def _refuse(problems: list[dict[str, Any]]) -> None:
    """Refuse the change (422, nothing written) when any problem was found."""
    if problems:
        raise Invalid("Some fields are missing or invalid: %(fields)s.",
                      fields=", ".join(dict.fromkeys(p["field"] for p in problems)),
                      errors=problems)


def _unique(session: Session, model: type[Any], code: str, what: str) -> None:
    if session.scalar(select(model.id).where(model.code == code)) is not None:
        raise Conflict("The code %(code)s is already used by another %(what)s.", code=code,
                       what=Msg(what), errors=[{"field": "code", "message": N_(
                           "This code is already used."), "params": {}}])


def _ledger(session: Session, actor: Actor, verb: str, found: Any, kind: str,
            before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    label = getattr(found, "title", None) or getattr(found, "name", "")
    audit.record(session=session, actor=actor, action=f"strategy.{kind}.{verb}",
                 object_type=f"strategy_{kind}", object_id=found.id,
                 object_repr=f"{found.code} {label}", before=before, after=after)


def _renumber(session: Session, model: type[Positioned]) -> None:
    """Number a kind's rows in the exported plan's order (axis after axis, as an import of
    that file numbers them), so the exported plan imports back unchanged. Positions are
    bookkeeping: the rows' versions do not change."""
    stmt = select(model.id, model.position)
    if model is StrategyObjective:
        stmt = stmt.join(StrategyAxis, StrategyObjective.axis_id == StrategyAxis.id).order_by(
            StrategyAxis.position, StrategyAxis.id, StrategyObjective.position,
            StrategyObjective.id)
    else:
        child: Any = model
        stmt = stmt.join(StrategyObjective, child.objective_id == StrategyObjective.id).join(
            StrategyAxis, StrategyObjective.axis_id == StrategyAxis.id).order_by(
            StrategyAxis.position, StrategyAxis.id, StrategyObjective.position,
            StrategyObjective.id, child.position, child.id)
    table: Any = model.__table__
    moved = False
    for number, (ident, position) in enumerate(session.execute(stmt).all()):
        if position != number:
            session.execute(table.update().where(table.c.id == ident).values(position=number))
            moved = True
    if moved:
        for obj in list(session.identity_map.values()):
            if isinstance(obj, model):
                session.expire(obj, ["position"])


def _next_position(siblings: list[Any]) -> int:
    return max((s.position for s in siblings), default=-1) + 1


# --- reading --------------------------------------------------------------------------------

def _by_code(session: Session, actor: Actor, model: type[Any], code: str, what: str) -> Any:
    """The plan entity of ``model`` with ``code``; :class:`NotFound` naming ``what``."""
    actor.require(P.PLAN_READ)
    found = session.scalar(select(model).where(model.code == code))
    if found is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg(what))
    return found


def get_axis(*, session: Session, actor: Actor, axis_code: str) -> StrategyAxis:
    """One axis of the plan, by code."""
    found: StrategyAxis = _by_code(session, actor, StrategyAxis, axis_code, "axis")
    return found


def get_objective(*, session: Session, actor: Actor, objective_code: str) -> StrategyObjective:
    """One objective of the plan, by code."""
    found: StrategyObjective = _by_code(session, actor, StrategyObjective, objective_code,
                                        "objective")
    return found


def get_indicator(*, session: Session, actor: Actor, indicator_code: str) -> StrategyIndicator:
    """One indicator of the plan, by code."""
    found: StrategyIndicator = _by_code(session, actor, StrategyIndicator, indicator_code,
                                        "indicator")
    return found


def axis_out(found: StrategyAxis) -> AxisEditOut:
    """An axis as its edit answers it."""
    return AxisEditOut(code=found.code, title=found.title, description=found.description,
                       version=found.version)


def objective_out(found: StrategyObjective) -> ObjectiveEditOut:
    """An objective as its edit answers it."""
    return ObjectiveEditOut(code=found.code, axis=found.axis.code, title=found.title,
                            description=found.description, version=found.version)


def indicator_out(found: StrategyIndicator) -> IndicatorOut:
    """An indicator as the plan's tree shows it (targets by year, version)."""
    return IndicatorOut(
        code=found.code, name=found.name, definition=found.definition, unit=found.unit,
        baseline_value=found.baseline_value, baseline_year=found.baseline_year,
        source_kind=found.source_kind, source_key=found.source_key,
        frequency=found.frequency, responsible=found.responsible, direction=found.direction,
        gci_pillar=found.gci_pillar, version=found.version,
        targets={t.year: t.value for t in sorted(found.targets, key=lambda t: t.year)})


def computed_sources() -> dict[str, IndicatorSource]:
    """The sources a computed indicator may name: those the installed domains declare."""
    return dict(sorted(indicator_sources().items()))


# --- axes and objectives --------------------------------------------------------------------

def _text_state(found: StrategyAxis | StrategyObjective) -> dict[str, Any]:
    return {name: getattr(found, name) for name in TEXT_FIELDS}


def _update_text(session: Session, actor: Actor, found: StrategyAxis | StrategyObjective,
                 data: TextUpdate, row: type[AxisRow | ObjectiveRow],
                 extra: dict[str, Any], kind: str) -> None:
    check_version(found.version, data.version)
    before = _text_state(found)
    wanted = {**before, **{k: getattr(data, k) for k in data.model_fields_set
                           if k in TEXT_FIELDS}}
    problems: list[dict[str, Any]] = []
    checked = _validate(row, {"code": found.code, **extra, **wanted}, problems)
    _refuse(problems)
    assert checked is not None
    for name in TEXT_FIELDS:
        setattr(found, name, getattr(checked, name))
    after = _text_state(found)
    if after == before:
        return
    flush_or_conflict(session)
    _ledger(session, actor, "update", found, kind, before, after)


def update_axis(*, session: Session, actor: Actor, axis_code: str,
                data: TextUpdate) -> StrategyAxis:
    """Change an axis's title or description; a stale ``version`` is refused with 409."""
    actor.require(P.PLAN_MANAGE)
    found = get_axis(session=session, actor=actor, axis_code=axis_code)
    _update_text(session, actor, found, data, AxisRow, {}, "axis")
    return found


def update_objective(*, session: Session, actor: Actor, objective_code: str,
                     data: TextUpdate) -> StrategyObjective:
    """Change an objective's title or description; a stale ``version`` is refused with 409."""
    actor.require(P.PLAN_MANAGE)
    found = get_objective(session=session, actor=actor, objective_code=objective_code)
    _update_text(session, actor, found, data, ObjectiveRow, {"axis": found.axis.code},
                 "objective")
    return found


def create_objective(*, session: Session, actor: Actor, axis_code: str,
                     data: ObjectiveCreate) -> StrategyObjective:
    """Add an objective at the end of an axis (409 when its code is taken)."""
    actor.require(P.PLAN_MANAGE)
    axis = get_axis(session=session, actor=actor, axis_code=axis_code)
    problems: list[dict[str, Any]] = []
    row = _validate(ObjectiveRow, {**data.model_dump(), "axis": axis.code}, problems)
    _refuse(problems)
    assert row is not None
    _unique(session, StrategyObjective, row.code, "objective")
    found = StrategyObjective(code=row.code, title=row.title, description=row.description,
                              position=_next_position(axis.objectives))
    axis.objectives.append(found)
    flush_or_conflict(session)
    _renumber(session, StrategyObjective)
    _ledger(session, actor, "create", found, "objective", None,
            {"axis": axis.code, "code": found.code, **_text_state(found)})
    return found


# --- indicators -----------------------------------------------------------------------------

def _indicator_state(found: StrategyIndicator) -> dict[str, Any]:
    state = {name: _json(getattr(found, name)) for name in INDICATOR_FIELDS}
    state["targets"] = {str(t.year): _json(t.value)
                        for t in sorted(found.targets, key=lambda t: t.year)}
    return state


def _targets(code: str, wanted: dict[int, float | None],
             problems: list[dict[str, Any]]) -> dict[int, float]:
    """The targets by year, each checked as the import checks a target row."""
    found: dict[int, float] = {}
    for year, value in sorted(wanted.items()):
        if value is None:
            continue
        if not FIRST_YEAR <= year <= LAST_YEAR:
            problems.append({"field": f"targets.{year}", "message": N_(
                "The target year %(year)s is outside the plan (%(first)s–%(last)s)."),
                "params": {"year": year, "first": FIRST_YEAR, "last": LAST_YEAR}})
            continue
        row = _validate(TargetRow, {"indicator": code, "year": year, "value": value},
                        problems, prefix=f"targets.{year}.")
        if row is not None:
            found[year] = row.value
    return found


def _check_source(row: IndicatorRow, problems: list[dict[str, Any]]) -> None:
    """A computed indicator names a source an installed domain declares."""
    if row.source_kind != SourceKind.COMPUTED:
        return
    if not row.source_key:
        problems.append({"field": "source_key", "message": N_(
            "Choose the source that computes this indicator."), "params": {}})
    elif row.source_key not in indicator_sources():
        problems.append({"field": "source_key", "message": N_(
            "Unknown computed source %(key)s: no installed domain declares it."),
            "params": {"key": row.source_key}})


def _set_targets(session: Session, found: StrategyIndicator, wanted: dict[int, float]) -> None:
    for target in list(found.targets):
        if target.year not in wanted:
            found.targets.remove(target)
            session.delete(target)
        elif target.value != wanted[target.year]:
            target.value = wanted[target.year]
    have = {t.year for t in found.targets}
    for year, value in sorted(wanted.items()):
        if year not in have:
            found.targets.append(StrategyTarget(year=year, value=value))


def _indicator_values(row: IndicatorRow) -> dict[str, Any]:
    values = {name: _json(getattr(row, name)) for name in INDICATOR_FIELDS}
    values["baseline_value"] = row.baseline_value  # a float, as stored
    if row.source_kind == SourceKind.MANUAL:
        values["source_key"] = ""  # a value entered by hand has no source to compute it
    return values


def update_indicator(*, session: Session, actor: Actor, indicator_code: str,
                     data: IndicatorUpdate) -> StrategyIndicator:
    """Change an indicator's description, source or targets (only the fields sent; the
    ``targets`` sent are the whole set); a stale ``version`` is refused with 409."""
    actor.require(P.PLAN_MANAGE)
    found = get_indicator(session=session, actor=actor, indicator_code=indicator_code)
    check_version(found.version, data.version)
    before = _indicator_state(found)
    sent = data.model_fields_set - {"version", "targets"}
    wanted = {**{name: getattr(found, name) for name in INDICATOR_FIELDS},
              **{name: getattr(data, name) for name in sent}}
    problems: list[dict[str, Any]] = []
    row = _validate(IndicatorRow, {"code": found.code, "objective": found.objective.code,
                                   **wanted}, problems)
    if row is not None and sent & {"source_kind", "source_key"}:
        _check_source(row, problems)
    targets = None
    if "targets" in data.model_fields_set:
        targets = _targets(found.code, data.targets or {}, problems)
    _refuse(problems)
    assert row is not None
    values = _indicator_values(row)
    if not sent & {"source_kind", "source_key"}:
        values["source_key"] = found.source_key
    for name, value in values.items():
        setattr(found, name, value)
    if targets is not None:
        _set_targets(session, found, targets)
    after = _indicator_state(found)
    if after == before:
        return found
    flag_modified(found, "name")  # a change of targets alone still moves the version
    flush_or_conflict(session)
    _ledger(session, actor, "update", found, "indicator", before, after)
    return found


def create_indicator(*, session: Session, actor: Actor, objective_code: str,
                     data: IndicatorCreate) -> StrategyIndicator:
    """Add an indicator at the end of an objective (409 when its code is taken)."""
    actor.require(P.PLAN_MANAGE)
    objective = get_objective(session=session, actor=actor, objective_code=objective_code)
    fields = data.model_dump(exclude={"targets"}, exclude_unset=True)
    problems: list[dict[str, Any]] = []
    row = _validate(IndicatorRow, {**fields, "objective": objective.code}, problems)
    if row is not None:
        _check_source(row, problems)
    targets = _targets(str(fields.get("code", "")), data.targets or {}, problems)
    _refuse(problems)
    assert row is not None
    _unique(session, StrategyIndicator, row.code, "indicator")
    found = StrategyIndicator(code=row.code, position=_next_position(objective.indicators),
                              **_indicator_values(row))
    found.targets = [StrategyTarget(year=year, value=value)
                     for year, value in sorted(targets.items())]
    objective.indicators.append(found)
    flush_or_conflict(session)
    _renumber(session, StrategyIndicator)
    _ledger(session, actor, "create", found, "indicator", None,
            {"objective": objective.code, "code": found.code, **_indicator_state(found)})
    return found


# --- actions --------------------------------------------------------------------------------

def create_action(*, session: Session, actor: Actor, objective_code: str,
                  data: ActionCreate) -> StrategyAction:
    """Add a planned action at the end of an objective: its lead (and partners) must be in
    the registry, its period within the plan's years (409 when its code is taken)."""
    actor.require(P.PLAN_MANAGE)
    objective = get_objective(session=session, actor=actor, objective_code=objective_code)
    problems: list[dict[str, Any]] = []
    row = _validate(ActionRow, {**data.model_dump(), "objective": objective.code}, problems)
    ids: dict[str, int] = {}
    if row is not None:
        for field, acronym in [("lead", row.lead or ""), *(("partners", p)
                                                            for p in row.partners)]:
            ident = registry.get_institution_id_by_acronym(session=session, acronym=acronym)
            if ident is None:
                problems.append({"field": field, "message": N_(
                    "Unknown institution %(acronym)s: it is not in the registry."),
                    "params": {"acronym": acronym}})
            else:
                ids[acronym.upper()] = ident
        for field in ("starts_on", "ends_on"):
            day: dt.date = getattr(row, field)
            if not FIRST_YEAR <= day.year <= LAST_YEAR:
                problems.append({"field": field, "message": N_(
                    "The date %(date)s is outside the plan (%(first)s–%(last)s)."),
                    "params": {"date": day.isoformat(), "first": FIRST_YEAR,
                               "last": LAST_YEAR}})
        if row.ends_on < row.starts_on:
            problems.append({"field": "ends_on", "message": N_(
                "The end date may not be before the start date."), "params": {}})
    _refuse(problems)
    assert row is not None and row.lead is not None
    _unique(session, StrategyAction, row.code, "action")
    found = StrategyAction(
        code=row.code, title=row.title, description=row.description,
        lead_institution_id=ids[row.lead.upper()],
        partners=[p.upper() for p in row.partners], budget_estimate=row.budget_estimate,
        budget_committed=0, starts_on=row.starts_on, ends_on=row.ends_on,
        status=row.status.value, position=_next_position(objective.actions))
    objective.actions.append(found)
    flush_or_conflict(session)
    _renumber(session, StrategyAction)
    _ledger(session, actor, "create", found, "action", None, {
        "objective": objective.code, "code": found.code, "title": found.title,
        "description": found.description, "lead": row.lead.upper(),
        "partners": list(found.partners), "budget_estimate": found.budget_estimate,
        "starts_on": _json(found.starts_on), "ends_on": _json(found.ends_on),
        "status": found.status})
    return found


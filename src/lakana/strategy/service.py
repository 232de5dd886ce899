"""Action plan services: the plan as a tree, an action and its edit (status, dates, budget
committed, milestones done), and the import and export of the whole plan.

The plan is national: reading needs only the permission, every staff member holds it. An
import is all or nothing (every problem with its place, nothing written) and matches
entities by code: it creates, updates and removes what differs, so importing the same file
twice changes nothing. Services never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lakana.core import audit
from lakana.core.auth.rbac import Actor
from lakana.core.concurrency import check_version as _check_version
from lakana.core.concurrency import flush_or_conflict as _flush
from lakana.core.db import utcnow
from lakana.core.errors import Invalid, NotFound
from lakana.core.i18n import Msg
from lakana.registry import service as registry
from lakana.strategy import transfer
from lakana.strategy.models import (
    StrategyAction,
    StrategyAxis,
    StrategyDependency,
    StrategyIndicator,
    StrategyMilestone,
    StrategyObjective,
    StrategyTarget,
)
from lakana.strategy.permissions import StrategyPermission as P
from lakana.strategy.schemas import (
    ActionOut,
    ActionUpdate,
    AxisOut,
    ImportResult,
    IndicatorOut,
    MilestoneOut,
    ObjectiveOut,
    PlanOut,
)

ACTION_FIELDS = ("status", "starts_on", "ends_on", "budget_committed")


def _json(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _acronyms(session: Session) -> dict[int, str]:
    """Every institution's acronym by id (the registry labels are "ACRONYM — name")."""
    return {ident: label.split(" — ", 1)[0]
            for ident, label in registry.institution_choices(session=session)}


# --- reading ------------------------------------------------------------------------------

def _dependencies(session: Session) -> dict[int, list[str]]:
    codes = {row[0]: row[1] for row in
             session.execute(select(StrategyAction.id, StrategyAction.code))}
    found: dict[int, list[str]] = {}
    for action_id, other in session.execute(
            select(StrategyDependency.action_id, StrategyDependency.depends_on_id)
            .order_by(StrategyDependency.id)):
        found.setdefault(action_id, []).append(codes[other])
    return found


def _action_out(found: StrategyAction, acronyms: dict[int, str],
                depends: dict[int, list[str]]) -> ActionOut:
    return ActionOut(
        id=found.id, code=found.code, title=found.title, description=found.description,
        lead=acronyms.get(found.lead_institution_id or -1),
        lead_institution_id=found.lead_institution_id, partners=list(found.partners),
        budget_estimate=found.budget_estimate, budget_committed=found.budget_committed,
        starts_on=found.starts_on, ends_on=found.ends_on, status=found.status,
        depends_on=depends.get(found.id, []),
        milestones=[MilestoneOut.model_validate(m) for m in found.milestones],
        version=found.version)


def _indicator_out(found: StrategyIndicator) -> IndicatorOut:
    return IndicatorOut(
        code=found.code, name=found.name, definition=found.definition, unit=found.unit,
        baseline_value=found.baseline_value, baseline_year=found.baseline_year,
        source_kind=found.source_kind, source_key=found.source_key,
        frequency=found.frequency, responsible=found.responsible, direction=found.direction,
        gci_pillar=found.gci_pillar,
        targets={t.year: t.value for t in found.targets}, version=found.version)


def get_plan(*, session: Session, actor: Actor) -> PlanOut:
    """The whole plan as a tree: axes → objectives → actions and indicators."""
    actor.require(P.PLAN_READ)
    acronyms = _acronyms(session)
    depends = _dependencies(session)
    axes = session.scalars(select(StrategyAxis).order_by(StrategyAxis.position))
    return PlanOut(axes=[AxisOut(
        code=axis.code, title=axis.title, description=axis.description,
        objectives=[ObjectiveOut(
            code=o.code, title=o.title, description=o.description,
            actions=[_action_out(a, acronyms, depends) for a in o.actions],
            indicators=[_indicator_out(i) for i in o.indicators], version=o.version)
            for o in axis.objectives], version=axis.version)
        for axis in axes])


def get_action(*, session: Session, actor: Actor, action_id: int) -> StrategyAction:
    """One action of the plan."""
    actor.require(P.PLAN_READ)
    found = session.get(StrategyAction, action_id)
    if found is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("action"))
    return found


def action_out(*, session: Session, actor: Actor, action_id: int) -> ActionOut:
    """One action as the API shows it (lead acronym, dependencies, milestones)."""
    found = get_action(session=session, actor=actor, action_id=action_id)
    return _action_out(found, _acronyms(session), _dependencies(session))


def count_actions_late(session: Session, actor: Actor) -> int:
    """Actions of the plan marked late (for the dashboard)."""
    actor.require(P.PLAN_READ)
    return session.scalar(select(func.count()).select_from(StrategyAction)
                          .where(StrategyAction.status == "late")) or 0


def is_empty(session: Session) -> bool:
    """Whether no plan was loaded yet."""
    return session.scalar(select(StrategyAxis.id).limit(1)) is None


# --- editing an action ----------------------------------------------------------------------

def _action_state(found: StrategyAction) -> dict[str, Any]:
    state = {name: _json(getattr(found, name)) for name in ACTION_FIELDS}
    state["milestones_done"] = {m.code: _json(m.done_on) for m in found.milestones}
    return state


def update_action(*, session: Session, actor: Actor, action_id: int,
                  data: ActionUpdate) -> StrategyAction:
    """Change an action's status, period, budget committed or milestones done; a stale
    ``version`` is refused with 409."""
    actor.require(P.PLAN_MANAGE)
    found = get_action(session=session, actor=actor, action_id=action_id)
    _check_version(found.version, data.version)
    before = _action_state(found)
    for key in data.model_fields_set & set(ACTION_FIELDS):
        value = getattr(data, key)
        if value is None:
            raise Invalid("The field %(field)s cannot be empty.", field=key,
                          errors=[{"field": key, "message": "This field cannot be empty."}])
        setattr(found, key, getattr(value, "value", value))
    if found.ends_on < found.starts_on:
        raise Invalid("The end date may not be before the start date.",
                      errors=[{"field": "ends_on",
                               "message": "The end date may not be before the start date."}])
    if data.milestones_done is not None:
        done = set(data.milestones_done)
        unknown = done - {m.code for m in found.milestones}
        if unknown:
            raise Invalid("Unknown milestone %(code)s.", code=sorted(unknown)[0])
        today = utcnow().date()
        for milestone in found.milestones:
            if milestone.code in done and milestone.done_on is None:
                milestone.done_on = today
            elif milestone.code not in done:
                milestone.done_on = None
    after = _action_state(found)
    if after == before:
        return found
    found.updated_at = utcnow()
    _flush(session)
    audit.record(session=session, actor=actor, action="strategy.action.update",
                 object_type="strategy_action", object_id=found.id,
                 object_repr=f"{found.code} {found.title}", before=before, after=after)
    return found


# --- export ---------------------------------------------------------------------------------

def export_rows(*, session: Session, actor: Actor) -> dict[str, list[dict[str, Any]]]:
    """The plan as rows of each kind (the columns of the XLSX sheets), in order."""
    actor.require(P.PLAN_READ)
    acronyms = _acronyms(session)
    rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in transfer.COLUMNS}
    codes = {row[0]: row[1] for row in
             session.execute(select(StrategyAction.id, StrategyAction.code))}
    for axis in session.scalars(select(StrategyAxis).order_by(StrategyAxis.position)):
        rows["axes"].append({"code": axis.code, "title": axis.title,
                             "description": axis.description})
        for o in axis.objectives:
            rows["objectives"].append({"code": o.code, "axis": axis.code, "title": o.title,
                                       "description": o.description})
            for a in o.actions:
                rows["actions"].append({
                    "code": a.code, "objective": o.code, "title": a.title,
                    "description": a.description,
                    "lead": acronyms.get(a.lead_institution_id or -1),
                    "partners": list(a.partners), "budget_estimate": a.budget_estimate,
                    "budget_committed": a.budget_committed, "starts_on": a.starts_on,
                    "ends_on": a.ends_on, "status": a.status})
                rows["milestones"] += [{"code": m.code, "action": a.code, "title": m.title,
                                        "due_on": m.due_on, "done_on": m.done_on}
                                       for m in a.milestones]
                rows["dependencies"] += [
                    {"action": a.code, "depends_on": codes[other]}
                    for other in session.scalars(
                        select(StrategyDependency.depends_on_id)
                        .where(StrategyDependency.action_id == a.id)
                        .order_by(StrategyDependency.id))]
            for i in o.indicators:
                rows["indicators"].append({
                    "code": i.code, "objective": o.code, "name": i.name,
                    "definition": i.definition, "unit": i.unit,
                    "baseline_value": _json(i.baseline_value),
                    "baseline_year": i.baseline_year, "source_kind": i.source_kind,
                    "source_key": i.source_key, "frequency": i.frequency,
                    "responsible": i.responsible, "direction": i.direction,
                    "gci_pillar": i.gci_pillar})
                rows["targets"] += [{"indicator": i.code, "year": t.year,
                                     "value": _json(t.value)} for t in i.targets]
    return rows


def export_plan(*, session: Session, actor: Actor, fmt: str) -> bytes:
    """The plan as a YAML or XLSX file."""
    rows = export_rows(session=session, actor=actor)
    if fmt == "xlsx":
        return transfer.write_xlsx(rows)
    if fmt == "yaml":
        return transfer.write_yaml(rows)
    raise Invalid("Unknown format %(format)s; allowed: yaml, xlsx.", format=fmt)


# --- import ---------------------------------------------------------------------------------

class _Sync:
    """Brings one table in line with the wanted rows, ledgering each change."""

    def __init__(self, session: Session, actor: Actor, result: ImportResult) -> None:
        self.session = session
        self.actor = actor
        self.result = result
        self.stale: list[tuple[type[Any], list[int], str]] = []

    def run(self, model: type[Any], existing: dict[Any, Any], wanted: dict[Any, dict[str, Any]],
            label: Callable[[Any], str]) -> dict[Any, int]:
        kind = model.__tablename__
        ids: dict[Any, int] = {}
        for key, values in wanted.items():
            found = existing.get(key)
            after = {k: _json(v) for k, v in values.items()}
            if found is None:
                found = model(**values)
                self.session.add(found)
                _flush(self.session)
                self._record("create", kind, found.id, label(key), None, after)
                self.result.created += 1
            else:
                before = {k: _json(getattr(found, k)) for k in values}
                if before != after:
                    for k, v in values.items():
                        setattr(found, k, v)
                    _flush(self.session)
                    self._record("update", kind, found.id, label(key), before, after)
                    self.result.updated += 1
                else:
                    self.result.unchanged += 1
            ids[key] = found.id
        gone = [(key, obj) for key, obj in existing.items() if key not in wanted]
        for key, obj in gone:
            self._record("delete", kind, obj.id, label(key), {"id": obj.id}, None)
        if gone:
            self.stale.append((model, [obj.id for _key, obj in gone], kind))
            self.result.deleted += len(gone)
        return ids

    def _record(self, verb: str, kind: str, ident: int, text: str,
                before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        audit.record(session=self.session, actor=self.actor,
                     action=f"{kind.replace('_', '.', 1)}.import.{verb}", object_type=kind,
                     object_id=ident, object_repr=text, before=before, after=after)

    def remove_stale(self) -> None:
        """Delete what the file no longer holds, children first."""
        for model, ids, _kind in reversed(self.stale):
            self.session.execute(delete(model).where(model.id.in_(ids)))
        self.session.expire_all()


def _by_code(session: Session, model: type[Any]) -> dict[str, Any]:
    return {obj.code: obj for obj in session.scalars(select(model))}


def _rows(records: Iterable[transfer.Record], kind: str) -> list[Any]:
    return [r.row for r in records if r.kind == kind]


def import_plan(*, session: Session, actor: Actor, content: bytes,
                filename: str = "") -> ImportResult:
    """Import a YAML or XLSX plan: all or nothing, matched by code (idempotent)."""
    actor.require(P.PLAN_MANAGE)
    records = transfer.read(content, filename)
    ids_by_acronym: dict[str, int | None] = {}

    def known(acronym: str) -> bool:
        key = acronym.strip().upper()
        if key not in ids_by_acronym:
            ids_by_acronym[key] = registry.get_institution_id_by_acronym(session=session,
                                                                         acronym=key)
        return ids_by_acronym[key] is not None

    transfer.check(records, known)
    result = ImportResult()
    sync = _Sync(session, actor, result)
    same: Callable[[Any], str] = str
    axes = sync.run(StrategyAxis, _by_code(session, StrategyAxis), {
        r.code: {"code": r.code, "position": n, "title": r.title, "description": r.description}
        for n, r in enumerate(_rows(records, "axes"))}, same)
    objectives = sync.run(StrategyObjective, _by_code(session, StrategyObjective), {
        r.code: {"code": r.code, "axis_id": axes[r.axis], "position": n, "title": r.title,
                 "description": r.description}
        for n, r in enumerate(_rows(records, "objectives"))}, same)
    actions = sync.run(StrategyAction, _by_code(session, StrategyAction), {
        r.code: {"code": r.code, "objective_id": objectives[r.objective], "position": n,
                 "title": r.title, "description": r.description,
                 "lead_institution_id": ids_by_acronym[r.lead.upper()] if r.lead else None,
                 "partners": [p.upper() for p in r.partners],
                 "budget_estimate": r.budget_estimate, "budget_committed": r.budget_committed,
                 "starts_on": r.starts_on, "ends_on": r.ends_on, "status": r.status.value}
        for n, r in enumerate(_rows(records, "actions"))}, same)
    sync.run(StrategyMilestone, _by_code(session, StrategyMilestone), {
        r.code: {"code": r.code, "action_id": actions[r.action], "position": n,
                 "title": r.title, "due_on": r.due_on, "done_on": r.done_on}
        for n, r in enumerate(_rows(records, "milestones"))}, same)
    codes = {ident: code for code, ident in actions.items()}
    sync.run(StrategyDependency, {
        (codes.get(d.action_id), codes.get(d.depends_on_id)): d
        for d in session.scalars(select(StrategyDependency))}, {
        (r.action, r.depends_on): {"action_id": actions[r.action],
                                   "depends_on_id": actions[r.depends_on]}
        for r in _rows(records, "dependencies")}, lambda key: f"{key[0]} → {key[1]}")
    indicators = sync.run(StrategyIndicator, _by_code(session, StrategyIndicator), {
        r.code: {"code": r.code, "objective_id": objectives[r.objective], "position": n,
                 "name": r.name, "definition": r.definition, "unit": r.unit,
                 "baseline_value": r.baseline_value, "baseline_year": r.baseline_year,
                 "source_kind": r.source_kind.value, "source_key": r.source_key,
                 "frequency": r.frequency.value, "responsible": r.responsible,
                 "direction": r.direction.value, "gci_pillar": r.gci_pillar}
        for n, r in enumerate(_rows(records, "indicators"))}, same)
    names = {ident: code for code, ident in indicators.items()}
    sync.run(StrategyTarget, {
        (names.get(t.indicator_id), t.year): t for t in session.scalars(select(StrategyTarget))}, {
        (r.indicator, r.year): {"indicator_id": indicators[r.indicator], "year": r.year,
                                "value": r.value}
        for r in _rows(records, "targets")}, lambda key: f"{key[0]} {key[1]}")
    sync.remove_stale()
    return result

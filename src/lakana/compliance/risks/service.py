"""Risk register services: risks of an institution, national top risks, heat matrix, CSV
export, and the agency's national priorities.

Scope: a risk belongs to its institution; every list goes through :func:`restrict` and every
single risk through :func:`ensure_in_scope`, so a person of institution A gets "not found"
for a risk of B. Priorities are national: everyone who reads risks reads them (with only the
risks they may see), only the agency writes them. Services never commit.
"""

from __future__ import annotations

import csv
import io
from typing import Any, cast

from sqlalchemy import Select, column, func, select, table
from sqlalchemy.orm import Session, selectinload

from lakana.compliance.risks.models import Priority, Risk
from lakana.compliance.risks.permissions import RiskPermission as P
from lakana.compliance.risks.schemas import (
    LEVEL_RANGES,
    AttachRisks,
    PriorityCreate,
    PriorityUpdate,
    RiskCreate,
    RiskQuery,
    RiskUpdate,
    Treatment,
    level_of,
)
from lakana.core import audit
from lakana.core.auth.rbac import Actor, ensure_in_scope, restrict
from lakana.core.concurrency import check_version as _check_version
from lakana.core.concurrency import flush_or_conflict as _flush
from lakana.core.db import count_rows as _count
from lakana.core.db import utcnow
from lakana.core.errors import Invalid, NotFound
from lakana.core.i18n import Msg
from lakana.core.plugins import institution_choices

RISK_SORTS: dict[str, Any] = {
    "score": Risk.inherent_score, "residual": Risk.residual_score, "due": Risk.due_date,
    "updated": Risk.updated_at, "title": Risk.title,
}
EDITABLE = ("system_id", "title", "asset", "threat", "vulnerability", "likelihood", "impact",
            "treatment", "treatment_plan", "acceptance_justification", "owner", "due_date",
            "residual_likelihood", "residual_impact", "status", "control_id")
CSV_COLUMNS = ("id", "institution", "title", "asset", "threat", "vulnerability", "likelihood",
               "impact", "inherent_score", "inherent_level", "treatment", "treatment_plan",
               "acceptance_justification", "owner", "due_date", "residual_likelihood",
               "residual_impact", "residual_score", "residual_level", "status", "control_id",
               "updated_at")
# The registry's system table, read by name (a domain never imports another's models): only
# to check that a system linked to a risk belongs to the risk's institution.
_SYSTEMS = table("registry_system", column("id"), column("institution_id"))


# --- helpers ----------------------------------------------------------------------------

def risk_state(risk: Risk) -> dict[str, Any]:
    """The ledgered state of a risk."""
    state = {name: getattr(risk, name) for name in EDITABLE}
    state["due_date"] = risk.due_date.isoformat() if risk.due_date else None
    state["institution_id"] = risk.institution_id
    return state


def priority_state(priority: Priority) -> dict[str, Any]:
    """The ledgered state of a national priority."""
    return {"title": priority.title, "description": priority.description,
            "risk_ids": sorted(r.id for r in priority.risks)}


def institution_names(*, session: Session) -> dict[int, str]:
    """Acronym of every institution, by id (through the registry's registered choices)."""
    return {ident: text.split(" — ", 1)[0] for ident, text in institution_choices(session)}


def _validate(session: Session, risk: Risk) -> None:
    """Business rules on a risk's merged state; recomputes both scores."""
    risk.inherent_score = risk.likelihood * risk.impact
    risk.residual_score = risk.residual_likelihood * risk.residual_impact
    if risk.residual_score > risk.inherent_score:
        raise Invalid("The residual risk (%(residual)s) may not exceed the inherent risk "
                      "(%(inherent)s).", residual=risk.residual_score,
                      inherent=risk.inherent_score,
                      errors=[{"field": "residual_likelihood",
                               "message": "The residual risk may not exceed the inherent "
                                          "risk."}])
    if risk.treatment == Treatment.ACCEPT and not (risk.acceptance_justification or "").strip():
        raise Invalid("Accepting a risk requires a justification.",
                      errors=[{"field": "acceptance_justification",
                               "message": "Accepting a risk requires a justification."}])
    if risk.system_id is not None:
        owner = session.execute(select(_SYSTEMS.c.institution_id)
                                .where(_SYSTEMS.c.id == risk.system_id)).scalar()
        if owner != risk.institution_id:
            raise Invalid("The information system %(id)s does not belong to this institution.",
                          id=risk.system_id)


# --- risks ------------------------------------------------------------------------------

def get_risk(*, session: Session, actor: Actor, risk_id: int,
             permission: str = P.RISK_READ) -> Risk:
    """One risk the actor may see (404 when absent or out of scope)."""
    risk = session.get(Risk, risk_id)
    ensure_in_scope(actor, risk.institution_id if risk else -1, permission, what=Msg("risk"))
    if risk is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=Msg("risk"))
    return risk


def create_risk(*, session: Session, actor: Actor, data: RiskCreate) -> Risk:
    """Add a risk to an institution's register (its focal point, or the agency)."""
    actor.require(P.RISK_WRITE)
    ensure_in_scope(actor, data.institution_id, P.RISK_WRITE, what=Msg("institution"))
    if data.institution_id not in institution_names(session=session):
        raise Invalid("The institution %(id)s does not exist.", id=data.institution_id)
    values = data.model_dump(exclude={"institution_id"})
    values["residual_likelihood"] = values["residual_likelihood"] or data.likelihood
    values["residual_impact"] = values["residual_impact"] or data.impact
    values["treatment_plan"] = values["treatment_plan"] or ""
    values["owner"] = values["owner"] or ""
    risk = Risk(institution_id=data.institution_id, created_by=actor.name, **values)
    _validate(session, risk)
    session.add(risk)
    _flush(session)
    audit.record(session=session, actor=actor, action="compliance.risk.create",
                 object_type="risk", object_id=risk.id, object_repr=risk.title,
                 after=risk_state(risk), institution_id=risk.institution_id)
    return risk


def update_risk(*, session: Session, actor: Actor, risk_id: int, data: RiskUpdate) -> Risk:
    """Change a risk; a stale ``version`` is refused with 409, bad scores with 422."""
    risk = get_risk(session=session, actor=actor, risk_id=risk_id, permission=P.RISK_WRITE)
    _check_version(risk.version, data.version)
    changes = {k: getattr(data, k) for k in data.model_fields_set if k != "version"}
    for key in ("title", "asset", "threat", "likelihood", "impact", "treatment",
                "residual_likelihood", "residual_impact", "status"):
        if key in changes and changes[key] is None:
            raise Invalid("The field %(field)s cannot be empty.", field=key)
    before = risk_state(risk)
    with session.no_autoflush:
        for key, value in changes.items():
            if key in ("treatment_plan", "owner") and value is None:
                value = ""
            setattr(risk, key, value)
        _validate(session, risk)
    if risk_state(risk) == before:
        return risk
    risk.updated_at = utcnow()
    _flush(session)
    audit.record(session=session, actor=actor, action="compliance.risk.update",
                 object_type="risk", object_id=risk.id, object_repr=risk.title,
                 before=before, after=risk_state(risk), institution_id=risk.institution_id)
    return risk


def delete_risk(*, session: Session, actor: Actor, risk_id: int,
                version: int | None = None) -> None:
    """Remove a risk from its register (its links to priorities go with it)."""
    risk = get_risk(session=session, actor=actor, risk_id=risk_id, permission=P.RISK_WRITE)
    if version is not None:
        _check_version(risk.version, version)
    before = risk_state(risk)
    session.delete(risk)
    _flush(session)
    audit.record(session=session, actor=actor, action="compliance.risk.delete",
                 object_type="risk", object_id=risk_id, object_repr=risk.title,
                 before=before, institution_id=before["institution_id"])


def _risks_stmt(actor: Actor) -> Select[Any]:
    return restrict(select(Risk), actor=actor, permission=P.RISK_READ,
                    scope=Risk.institution_id)


def _filtered(stmt: Select[Any], query: RiskQuery) -> Select[Any]:
    if query.q:
        needle = query.q.lower()
        stmt = stmt.where(func.lower(Risk.title).contains(needle, autoescape=True)
                          | func.lower(Risk.asset).contains(needle, autoescape=True)
                          | func.lower(Risk.threat).contains(needle, autoescape=True))
    if query.institution_id is not None:
        stmt = stmt.where(Risk.institution_id == query.institution_id)
    if query.level is not None:
        low, high = LEVEL_RANGES[query.level]
        stmt = stmt.where(Risk.residual_score.between(low, high))
    if query.status is not None:
        stmt = stmt.where(Risk.status == query.status.value)
    if query.treatment is not None:
        stmt = stmt.where(Risk.treatment == query.treatment.value)
    return stmt


def list_risks(*, session: Session, actor: Actor, query: RiskQuery | None = None
               ) -> tuple[list[Risk], int]:
    """Risks the actor may see, searched, filtered, sorted and paged, with the total."""
    query = query or RiskQuery()
    stmt = _filtered(_risks_stmt(actor), query)
    total = _count(session, stmt)
    key = query.sort or "-residual"
    sort_column = RISK_SORTS.get(key.lstrip("-"))
    if sort_column is None:
        raise Invalid("Unknown sort column %(column)s; allowed: %(allowed)s.",
                      column=key, allowed=", ".join(sorted(RISK_SORTS)))
    order = sort_column.desc() if key.startswith("-") else sort_column.asc()
    stmt = stmt.order_by(order, Risk.inherent_score.desc(), Risk.id)
    rows = session.scalars(stmt.options(selectinload(Risk.priorities))
                           .limit(query.limit).offset(query.offset)).all()
    return list(rows), total


def top_risks(*, session: Session, actor: Actor, limit: int = 10,
              include_closed: bool = False) -> list[Risk]:
    """The highest risks across the institutions the actor may see: by residual score, then
    inherent score (closed risks left out unless asked)."""
    stmt = _risks_stmt(actor)
    if not include_closed:
        stmt = stmt.where(Risk.status != "closed")
    stmt = stmt.order_by(Risk.residual_score.desc(), Risk.inherent_score.desc(),
                         Risk.updated_at.desc(), Risk.id)
    return list(session.scalars(stmt.options(selectinload(Risk.priorities))
                                .limit(max(1, min(limit, 200)))))


def heat_matrix(*, session: Session, actor: Actor, institution_id: int | None = None,
                residual: bool = False) -> list[list[int]]:
    """Counts of open and in-treatment risks per likelihood × impact (``cells[l-1][i-1]``),
    inherent or residual, for one institution or every institution the actor sees."""
    lik = Risk.residual_likelihood if residual else Risk.likelihood
    imp = Risk.residual_impact if residual else Risk.impact
    counts = cast("Select[Any]", select(lik, imp, func.count()))
    stmt = restrict(counts, actor=actor, permission=P.RISK_READ,
                    scope=Risk.institution_id).where(Risk.status != "closed")
    if institution_id is not None:
        stmt = stmt.where(Risk.institution_id == institution_id)
    cells = [[0] * 5 for _ in range(5)]
    for likelihood, impact, count in session.execute(stmt.group_by(lik, imp)).all():
        cells[likelihood - 1][impact - 1] = count
    return cells


def export_csv(*, session: Session, actor: Actor, institution_id: int | None = None) -> str:
    """A register as CSV (UTF-8 with BOM for spreadsheets): one institution's, or every
    visible risk when no institution is given."""
    if institution_id is not None:
        ensure_in_scope(actor, institution_id, P.RISK_READ, what=Msg("institution"))
    stmt = _risks_stmt(actor)
    if institution_id is not None:
        stmt = stmt.where(Risk.institution_id == institution_id)
    names = institution_names(session=session)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for risk in session.scalars(stmt.order_by(Risk.institution_id, Risk.residual_score.desc(),
                                              Risk.id)):
        row = {name: getattr(risk, name, "") for name in CSV_COLUMNS}
        row.update(institution=names.get(risk.institution_id, ""),
                   inherent_level=level_of(risk.inherent_score).value,
                   residual_level=level_of(risk.residual_score).value,
                   due_date=risk.due_date.isoformat() if risk.due_date else "",
                   updated_at=risk.updated_at.isoformat(timespec="seconds"))
        writer.writerow(["" if row[name] is None else row[name] for name in CSV_COLUMNS])
    return "\ufeff" + out.getvalue()


def count_risks(session: Session, actor: Actor) -> int:
    """How many open or in-treatment risks the actor sees (dashboard)."""
    return _count(session, _risks_stmt(actor).where(Risk.status != "closed"))


# --- national priorities ----------------------------------------------------------------

def get_priority(*, session: Session, actor: Actor, priority_id: int) -> Priority:
    """One national priority (every reader of risks sees priorities)."""
    actor.require(P.RISK_READ)
    priority = session.get(Priority, priority_id)
    if priority is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("priority"))
    return priority


def visible_risks(*, actor: Actor, priority: Priority) -> list[Risk]:
    """The risks feeding a priority that the actor may see, highest first."""
    risks = [r for r in priority.risks if actor.is_national
             or r.institution_id == actor.institution_id]
    return sorted(risks, key=lambda r: (-r.residual_score, -r.inherent_score, r.id))


def list_priorities(*, session: Session, actor: Actor) -> list[Priority]:
    """Every national priority, newest first."""
    actor.require(P.RISK_READ)
    stmt = select(Priority).options(selectinload(Priority.risks))
    return list(session.scalars(stmt.order_by(Priority.created_at.desc(), Priority.id.desc())))


def _risks_for(session: Session, actor: Actor, risk_ids: list[int]) -> list[Risk]:
    ids = sorted(set(risk_ids))
    found = list(session.scalars(_risks_stmt(actor).where(Risk.id.in_(ids)))) if ids else []
    missing = sorted(set(ids) - {r.id for r in found})
    if missing:
        raise Invalid("These risks do not exist: %(ids)s.",
                      ids=", ".join(str(i) for i in missing))
    return found


def create_priority(*, session: Session, actor: Actor, data: PriorityCreate) -> Priority:
    """Turn selected risks into a national priority (the agency)."""
    actor.require(P.PRIORITY_MANAGE)
    priority = Priority(title=data.title, description=data.description,
                        created_by=actor.name)
    priority.risks = _risks_for(session, actor, data.risk_ids)
    session.add(priority)
    _flush(session)
    audit.record(session=session, actor=actor, action="compliance.priority.create",
                 object_type="priority", object_id=priority.id, object_repr=priority.title,
                 after=priority_state(priority))
    return priority


def update_priority(*, session: Session, actor: Actor, priority_id: int,
                    data: PriorityUpdate) -> Priority:
    """Change a priority's title or description (the agency; 409 when stale)."""
    actor.require(P.PRIORITY_MANAGE)
    priority = get_priority(session=session, actor=actor, priority_id=priority_id)
    _check_version(priority.version, data.version)
    before = priority_state(priority)
    for key in ("title", "description"):
        value = getattr(data, key)
        if key in data.model_fields_set and value is not None:
            setattr(priority, key, value)
    if priority_state(priority) == before:
        return priority
    priority.updated_at = utcnow()
    _flush(session)
    audit.record(session=session, actor=actor, action="compliance.priority.update",
                 object_type="priority", object_id=priority.id, object_repr=priority.title,
                 before=before, after=priority_state(priority))
    return priority


def attach_risks(*, session: Session, actor: Actor, priority_id: int,
                 data: AttachRisks) -> Priority:
    """Attach more risks to an existing priority (the agency); already linked ones stay."""
    actor.require(P.PRIORITY_MANAGE)
    priority = get_priority(session=session, actor=actor, priority_id=priority_id)
    before = priority_state(priority)
    linked = {r.id for r in priority.risks}
    new = [r for r in _risks_for(session, actor, data.risk_ids) if r.id not in linked]
    if not new:
        return priority
    priority.risks.extend(new)
    priority.updated_at = utcnow()
    _flush(session)
    audit.record(session=session, actor=actor, action="compliance.priority.attach",
                 object_type="priority", object_id=priority.id, object_repr=priority.title,
                 before=before, after=priority_state(priority))
    return priority

"""Remediation services: actions of an institution, created freely or from a gap answer.

Scope: an action belongs to its institution; lists go through :func:`restrict`, single
actions through :func:`ensure_in_scope` (another institution's action answers 404).
A stale ``version`` is refused with 409. Services never commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from lakana.compliance.campaigns import answers as answer_service
from lakana.compliance.remediation.models import Action
from lakana.compliance.remediation.permissions import ActionPermission as P
from lakana.compliance.remediation.schemas import (
    ACTIVE,
    ActionCreate,
    ActionFromGap,
    ActionQuery,
    ActionUpdate,
)
from lakana.core import audit
from lakana.core.auth.rbac import Actor, ensure_in_scope, restrict
from lakana.core.concurrency import check_version as _check_version
from lakana.core.concurrency import flush_or_conflict as _flush
from lakana.core.db import utcnow
from lakana.core.errors import Conflict, Invalid, NotFound
from lakana.core.i18n import Msg
from lakana.core.plugins import institution_choices
from lakana.registry import service as registry_service

#: Answer statuses that are gaps to remedy.
GAP_STATUSES = ("partial", "not_implemented")
EDITABLE = ("title", "description", "owner", "due_date", "priority", "status", "control_id")
_PRIORITY_RANK = case({"critical": 0, "high": 1, "medium": 2, "low": 3},
                      value=Action.priority, else_=4)
SORTS: dict[str, tuple[Any, ...]] = {
    "due": (Action.due_date.is_(None), Action.due_date, Action.id),
    "priority": (_PRIORITY_RANK, Action.due_date.is_(None), Action.due_date, Action.id),
    "updated": (Action.updated_at.desc(), Action.id.desc()),
    "title": (Action.title, Action.id),
}


def today() -> dt.date:
    """Today's date (UTC), the reference for overdue actions."""
    return utcnow().date()


def action_state(action: Action) -> dict[str, Any]:
    """The ledgered state of an action."""
    state = {name: getattr(action, name) for name in EDITABLE}
    state["due_date"] = action.due_date.isoformat() if action.due_date else None
    state["institution_id"] = action.institution_id
    state["answer_id"] = action.answer_id
    return state


def institution_names(*, session: Session) -> dict[int, str]:
    """Acronym of every institution, by id (through the registry's registered choices)."""
    return {ident: text.split(" — ", 1)[0] for ident, text in institution_choices(session)}


def _closed(action: Action) -> None:
    """Stamp (or clear) ``closed_at`` after a status change."""
    if action.status in ACTIVE:
        action.closed_at = None
    elif action.closed_at is None:
        action.closed_at = utcnow()


def _audit_create(session: Session, actor: Actor, action: Action) -> None:
    audit.record(session=session, actor=actor, action="compliance.action.create",
                 object_type="action", object_id=action.id, object_repr=action.title,
                 after=action_state(action), institution_id=action.institution_id)


def get_action(*, session: Session, actor: Actor, action_id: int,
               permission: str = P.ACTION_READ) -> Action:
    """One action the actor may see (404 when absent or out of scope)."""
    action = session.get(Action, action_id)
    ensure_in_scope(actor, action.institution_id if action else -1, permission,
                    what=Msg("action"))
    if action is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("action"))
    return action


def create_action(*, session: Session, actor: Actor, data: ActionCreate) -> Action:
    """Add a free action to an institution (its focal point, or the agency)."""
    actor.require(P.ACTION_WRITE)
    ensure_in_scope(actor, data.institution_id, P.ACTION_WRITE, what=Msg("institution"))
    if data.institution_id not in institution_names(session=session):
        raise Invalid("The institution %(id)s does not exist.", id=data.institution_id)
    action = Action(created_by=actor.name, **data.model_dump())
    session.add(action)
    _flush(session)
    _audit_create(session, actor, action)
    return action


def create_from_gap(*, session: Session, actor: Actor, answer_id: int,
                    data: ActionFromGap | None = None) -> Action:
    """Turn a gap answer (partial or not implemented) into an action; one per answer."""
    data = data or ActionFromGap()
    answer, assessment = answer_service.get_answer(session=session, actor=actor,
                                                   answer_id=answer_id)
    ensure_in_scope(actor, assessment.institution_id, P.ACTION_WRITE, what=Msg("answer"))
    if answer.effective_status not in GAP_STATUSES:
        raise Invalid("Only a partially or not implemented requirement is a gap to remedy.")
    existing = session.scalar(select(Action.id).where(Action.answer_id == answer.id))
    if existing is not None:
        raise Conflict("An action already remedies this gap (action %(id)s).", id=existing)
    requirement = answer.requirement
    priority = data.priority.value
    if "priority" not in data.model_fields_set:
        # Unless the caller chose, the gap's weight and the institution's criticality decide.
        institution = registry_service.get_institution(
            session=session, actor=actor, institution_id=assessment.institution_id)
        priority = answer_service.gap_priority(weight=requirement.weight,
                                               tier=institution.criticality_tier)
    action = Action(institution_id=assessment.institution_id, answer_id=answer.id,
                    control_id=requirement.control_id,
                    title=data.title or f"{requirement.control_id} — {requirement.title_fr}",
                    description=data.description, owner=data.owner, due_date=data.due_date,
                    priority=priority, created_by=actor.name)
    session.add(action)
    _flush(session)
    _audit_create(session, actor, action)
    return action


def update_action(*, session: Session, actor: Actor, action_id: int,
                  data: ActionUpdate) -> Action:
    """Change an action; a stale ``version`` is refused with 409."""
    action = get_action(session=session, actor=actor, action_id=action_id,
                        permission=P.ACTION_WRITE)
    _check_version(action.version, data.version)
    changes = {k: getattr(data, k) for k in data.model_fields_set if k != "version"}
    for key in ("title", "priority", "status"):
        if key in changes and changes[key] is None:
            raise Invalid("The field %(field)s cannot be empty.", field=key)
    before = action_state(action)
    for key, value in changes.items():
        if key in ("description", "owner") and value is None:
            value = ""
        setattr(action, key, value.value if hasattr(value, "value") else value)
    _closed(action)
    if action_state(action) == before:
        return action
    action.updated_at = utcnow()
    _flush(session)
    audit.record(session=session, actor=actor, action="compliance.action.update",
                 object_type="action", object_id=action.id, object_repr=action.title,
                 before=before, after=action_state(action),
                 institution_id=action.institution_id)
    return action


def delete_action(*, session: Session, actor: Actor, action_id: int,
                  version: int | None = None) -> None:
    """Remove an action (its gap may then get a new one)."""
    action = get_action(session=session, actor=actor, action_id=action_id,
                        permission=P.ACTION_WRITE)
    if version is not None:
        _check_version(action.version, version)
    before = action_state(action)
    session.delete(action)
    _flush(session)
    audit.record(session=session, actor=actor, action="compliance.action.delete",
                 object_type="action", object_id=action_id, object_repr=before["title"],
                 before=before, institution_id=before["institution_id"])


def overdue_clause(on: dt.date | None = None) -> Any:
    """SQL condition of an overdue action: past due and still open or in progress."""
    return (Action.due_date < (on or today())) & Action.status.in_(ACTIVE)


def _actions_stmt(actor: Actor) -> Select[Any]:
    return restrict(select(Action), actor=actor, permission=P.ACTION_READ,
                    scope=Action.institution_id)


def list_actions(*, session: Session, actor: Actor, query: ActionQuery | None = None,
                 on: dt.date | None = None) -> tuple[list[Action], int]:
    """Actions the actor may see, filtered, sorted and paged; and how many match."""
    query = query or ActionQuery()
    stmt = _actions_stmt(actor)
    if query.institution_id is not None:
        stmt = stmt.where(Action.institution_id == query.institution_id)
    if query.status is not None:
        stmt = stmt.where(Action.status == query.status.value)
    if query.priority is not None:
        stmt = stmt.where(Action.priority == query.priority.value)
    if query.overdue:
        stmt = stmt.where(overdue_clause(on))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(*SORTS[query.sort])
                           .limit(query.limit).offset(query.offset))
    return list(rows), total


def count_overdue(session: Session, actor: Actor) -> int:
    """How many overdue actions the actor may see (the dashboard card)."""
    if not actor.can(P.ACTION_READ):
        return 0
    stmt = _actions_stmt(actor).where(overdue_clause())
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def overdue_by_institution(*, session: Session, on: dt.date | None = None) -> dict[int, int]:
    """Overdue actions per institution, across the platform (for the digest task)."""
    rows = session.execute(select(Action.institution_id, func.count())
                           .where(overdue_clause(on)).group_by(Action.institution_id))
    return {int(inst): int(num) for inst, num in rows}


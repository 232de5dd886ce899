"""Detection policies: how long each institution's events are kept, and which alerts open a
CSIRT case by themselves.

Retention: an institution keeps its events for its own policy's days, or for
``Settings.detection_retention_days`` without one. :func:`apply_retention` deletes older
events (by the time they were received) in small batches, each in its own transaction, so a
large purge never holds the database's write lock for long; the correlation hits that
point to a deleted event go with it (``ON DELETE CASCADE``, enforced on SQLite by the
``foreign_keys`` pragma). Alerts stay: they are the triage record.

Escalation rules: an open alert without a case escalates when an enabled rule matches it:
the rule's Sigma rule id ("" for any), the alert's level at or above the rule's lowest
level, the rule's institution (none: every institution). :mod:`flows` applies them after
each ingest batch.

Changing either needs :attr:`~DetectionPermission.POLICY_MANAGE` (CSIRT analysts, the
platform administrator); reading, :attr:`~DetectionPermission.READ` (an institution's staff
see their own institution's retention, and the rules that apply to it).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from lakana.core import audit
from lakana.core.auth.rbac import Actor, ensure_in_scope
from lakana.core.db import utcnow
from lakana.core.errors import Conflict, Forbidden, NotFound
from lakana.core.i18n import Msg
from lakana.monitoring.detection.models import (
    CorrelationHit,
    DetectionAlert,
    DetectionEvent,
    EscalationRule,
    RetentionPolicy,
)
from lakana.monitoring.detection.permissions import DetectionPermission as P
from lakana.monitoring.detection.schemas import LEVEL_RANK, REASON_MAX, Level
from lakana.registry import service as registry_service

log = logging.getLogger("lakana.detection")

#: Events deleted per transaction by :func:`apply_retention`.
RETENTION_BATCH = 2_000
MIN_DAYS, MAX_DAYS = 1, 3650
ESCALATION = Msg("escalation rule")


# --- schemas ----------------------------------------------------------------------------

class RetentionIn(BaseModel):
    """An institution's retention: days its events are kept."""

    model_config = ConfigDict(extra="forbid")

    days: int = Field(ge=MIN_DAYS, le=MAX_DAYS)


class RetentionOut(BaseModel):
    """The retention in force for an institution; ``default`` when no policy of its own."""

    institution_id: int
    institution: str = ""
    days: int
    default: bool
    updated_by: str = ""
    updated_at: dt.datetime | None = None


class EscalationRuleIn(BaseModel):
    """A rule that turns alerts into CSIRT cases: of one Sigma rule ("" for any), at or
    above a level, for one institution (none for all), with the reason it exists."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    rule_id: str = Field(default="", max_length=80, pattern=r"^[^\s]*$")
    min_level: Level = Level.CRITICAL
    institution_id: int | None = Field(default=None, ge=1)
    reason: str = Field(min_length=1, max_length=REASON_MAX)

    @field_validator("institution_id", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class EscalationRuleOut(BaseModel):
    """An escalation rule as stored."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    rule_id: str
    min_level: str
    institution_id: int | None
    enabled: bool
    reason: str
    created_by: str
    created_at: dt.datetime


# --- retention --------------------------------------------------------------------------

def _default_days(default_days: int | None) -> int:
    if default_days is not None:
        return default_days
    from lakana.core.config import load_settings

    return load_settings().detection_retention_days


def _policy_state(policy: RetentionPolicy | None, default_days: int) -> dict[str, Any]:
    return {"days": policy.days if policy else default_days, "default": policy is None}


def get_retention(*, session: Session, actor: Actor, institution_id: int,
                  default_days: int | None = None) -> RetentionOut:
    """The retention in force for one institution (404 when absent or another
    institution's)."""
    ensure_in_scope(actor, institution_id, P.READ, what=Msg("institution"))
    names = dict(registry_service.institution_choices(session=session))
    if institution_id not in names:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("institution"))
    policy = session.get(RetentionPolicy, institution_id)
    days = _default_days(default_days)
    return RetentionOut(institution_id=institution_id, institution=names[institution_id],
                        days=policy.days if policy else days, default=policy is None,
                        updated_by=policy.updated_by if policy else "",
                        updated_at=policy.updated_at if policy else None)


def list_retention(*, session: Session, actor: Actor,
                   default_days: int | None = None) -> list[RetentionOut]:
    """The retention in force for every institution the actor sees, by acronym."""
    actor.require(P.READ)
    days = _default_days(default_days)
    policies = {p.institution_id: p for p in session.scalars(select(RetentionPolicy))}
    rows = []
    for institution_id, label in registry_service.institution_choices(session=session):
        if not actor.is_national and institution_id != actor.institution_id:
            continue
        policy = policies.get(institution_id)
        rows.append(RetentionOut(
            institution_id=institution_id, institution=label,
            days=policy.days if policy else days, default=policy is None,
            updated_by=policy.updated_by if policy else "",
            updated_at=policy.updated_at if policy else None))
    return rows


def set_retention(*, session: Session, actor: Actor, institution_id: int, data: RetentionIn,
                  default_days: int | None = None) -> RetentionOut:
    """Set how many days an institution's events are kept (the next purge applies it)."""
    ensure_in_scope(actor, institution_id, P.POLICY_MANAGE, what=Msg("institution"))
    registry_service.get_institution(session=session, actor=actor,
                                     institution_id=institution_id)
    days = _default_days(default_days)
    policy = session.get(RetentionPolicy, institution_id)
    before = _policy_state(policy, days)
    if policy is None:
        policy = RetentionPolicy(institution_id=institution_id, days=data.days)
        session.add(policy)
    policy.days, policy.updated_by, policy.updated_at = data.days, actor.name[:254], utcnow()
    session.flush()
    after = _policy_state(policy, days)
    if after != before:
        audit.record(session=session, actor=actor, action="detection.retention.set",
                     object_type="detection.retention", object_id=institution_id,
                     object_repr=f"{data.days} days", before=before, after=after,
                     institution_id=institution_id)
    return get_retention(session=session, actor=actor, institution_id=institution_id,
                         default_days=days)


def purge_batch(session: Session, institution_id: int, cutoff: dt.datetime,
                limit: int = RETENTION_BATCH) -> int:
    """Delete at most ``limit`` of an institution's events received before ``cutoff``
    (oldest first, through the institution/received index); returns how many. Their
    correlation hits go too."""
    ids = list(session.scalars(
        select(DetectionEvent.id).where(DetectionEvent.institution_id == institution_id,
                                        DetectionEvent.received_at < cutoff)
        .order_by(DetectionEvent.received_at, DetectionEvent.id).limit(limit)))
    if not ids:
        return 0
    # The foreign key cascades too; deleting the hits first says so without relying on it
    # (a database restored without the constraint, or SQLite without the pragma).
    session.execute(delete(CorrelationHit).where(CorrelationHit.event_id.in_(ids)),
                    execution_options={"synchronize_session": False})
    session.execute(delete(DetectionEvent).where(DetectionEvent.id.in_(ids)),
                    execution_options={"synchronize_session": False})
    return len(ids)


def apply_retention(*, session: Session, actor: Actor, now: dt.datetime | None = None,
                    default_days: int | None = None, batch_size: int = RETENTION_BATCH
                    ) -> dict[int, int]:
    """Delete every institution's events older than its retention; returns the events
    deleted per institution (institutions with none left out).

    Commits after each batch of ``batch_size`` events, so that ingestion is never blocked
    behind one long delete; what was deleted before a failure stays deleted and the next
    run goes on. One audit record per institution with the count.
    """
    actor.require(P.POLICY_MANAGE)
    now = now or utcnow()
    days = _default_days(default_days)
    policies = {p.institution_id: p.days for p in session.scalars(select(RetentionPolicy))}
    institutions = [i for i, _ in registry_service.institution_choices(session=session)]
    session.commit()
    deleted: dict[int, int] = {}
    for institution_id in institutions:
        kept = policies.get(institution_id, days)
        cutoff = now - dt.timedelta(days=kept)
        total = 0
        while True:
            count = purge_batch(session, institution_id, cutoff, batch_size)
            total += count
            if count < batch_size:
                break
            session.commit()
        if total:
            deleted[institution_id] = total
            audit.record(session=session, actor=actor, action="detection.retention.apply",
                         object_type="detection.retention", object_id=institution_id,
                         object_repr=f"{total} events", institution_id=institution_id,
                         details={"deleted": total, "days": kept,
                                  "cutoff": cutoff.isoformat()})
            log.info("retention: %s events of institution %s deleted (older than %s days)",
                     total, institution_id, kept)
        session.commit()
    return deleted


# --- escalation rules -------------------------------------------------------------------

def _visible_rules(actor: Actor) -> Any:
    stmt = select(EscalationRule)
    if not actor.is_national:
        # An institution's staff see the rules that apply to it: its own and the global ones.
        stmt = stmt.where(or_(EscalationRule.institution_id.is_(None),
                              EscalationRule.institution_id == actor.institution_id))
    return stmt


def rule_state(rule: EscalationRule) -> dict[str, Any]:
    """The ledgered state of an escalation rule."""
    return {"rule_id": rule.rule_id, "min_level": rule.min_level,
            "institution_id": rule.institution_id, "enabled": rule.enabled}


def list_escalation_rules(*, session: Session, actor: Actor, include_disabled: bool = True
                          ) -> list[EscalationRule]:
    """The escalation rules the actor sees, enabled first, newest first."""
    actor.require(P.READ)
    stmt = _visible_rules(actor)
    if not include_disabled:
        stmt = stmt.where(EscalationRule.enabled.is_(True))
    return list(session.scalars(stmt.order_by(EscalationRule.enabled.desc(),
                                              EscalationRule.id.desc())))


def create_escalation_rule(*, session: Session, actor: Actor,
                           data: EscalationRuleIn) -> EscalationRule:
    """Add an escalation rule (409 when an identical one is already enabled)."""
    actor.require(P.POLICY_MANAGE)
    if data.institution_id is not None:
        registry_service.get_institution(session=session, actor=actor,
                                         institution_id=data.institution_id)
    elif not actor.is_national:
        raise Forbidden("Only the national centre may set rules for every institution.")
    same = session.scalar(select(EscalationRule.id).where(
        EscalationRule.enabled.is_(True), EscalationRule.rule_id == data.rule_id,
        EscalationRule.min_level == data.min_level.value,
        EscalationRule.institution_id.is_(None) if data.institution_id is None
        else EscalationRule.institution_id == data.institution_id).limit(1))
    if same is not None:
        raise Conflict("The same escalation rule is already enabled (#%(id)s).", id=same)
    rule = EscalationRule(rule_id=data.rule_id, min_level=data.min_level.value,
                          institution_id=data.institution_id, enabled=True,
                          reason=data.reason, created_by=actor.name[:254], created_at=utcnow())
    session.add(rule)
    session.flush()
    audit.record(session=session, actor=actor, action="detection.escalation.create",
                 object_type="detection.escalation", object_id=rule.id,
                 object_repr=f"{rule.rule_id or '*'} >= {rule.min_level}"[:300],
                 after=rule_state(rule), institution_id=rule.institution_id)
    return rule


def get_escalation_rule(*, session: Session, actor: Actor, escalation_id: int,
                        permission: str = P.READ) -> EscalationRule:
    """One escalation rule (404 when absent or of another institution)."""
    rule = session.get(EscalationRule, escalation_id)
    scope = (rule.institution_id if rule.institution_id is not None
             else actor.institution_id) if rule else -1
    ensure_in_scope(actor, scope, permission, what=ESCALATION)
    if rule is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=ESCALATION)
    return rule


def disable_escalation_rule(*, session: Session, actor: Actor,
                            escalation_id: int) -> EscalationRule:
    """Disable an escalation rule (kept for the record; disabling twice changes nothing)."""
    rule = get_escalation_rule(session=session, actor=actor, escalation_id=escalation_id,
                               permission=P.POLICY_MANAGE)
    if not rule.enabled:
        return rule
    before = rule_state(rule)
    rule.enabled = False
    session.flush()
    audit.record(session=session, actor=actor, action="detection.escalation.disable",
                 object_type="detection.escalation", object_id=rule.id,
                 object_repr=f"{rule.rule_id or '*'} >= {rule.min_level}"[:300],
                 before=before, after=rule_state(rule), institution_id=rule.institution_id)
    return rule


def enabled_rules(session: Session) -> list[EscalationRule]:
    """Every enabled escalation rule (internal: for the escalation after ingest)."""
    return list(session.scalars(select(EscalationRule).where(EscalationRule.enabled.is_(True))
                                .order_by(EscalationRule.id)))


def matching_rule(rules: Sequence[EscalationRule], alert: DetectionAlert
                  ) -> EscalationRule | None:
    """The first rule that escalates ``alert``, if any: same Sigma rule (or any), level at
    or above the rule's lowest, same institution (or any)."""
    rank = LEVEL_RANK.get(alert.level, len(LEVEL_RANK))
    for rule in rules:
        if rule.rule_id not in ("", alert.rule_id):
            continue
        if rule.institution_id not in (None, alert.institution_id):
            continue
        if rank <= LEVEL_RANK.get(rule.min_level, -1):
            return rule
    return None

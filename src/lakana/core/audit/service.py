"""Audit services: list the ledger within the actor's scope, verify it, export a range."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from lakana.core.audit import export as export_module
from lakana.core.audit.ledger import record
from lakana.core.audit.models import AuditEntry
from lakana.core.audit.schemas import EntryFilter
from lakana.core.audit.verify import VerifyReport, verify_chain
from lakana.core.auth.rbac import Actor, CorePermission, restrict
from lakana.core.errors import Forbidden


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(stmt: Select[Any], filters: EntryFilter) -> Select[Any]:
    if filters.actor:
        stmt = stmt.where(AuditEntry.actor.ilike(f"%{_escape_like(filters.actor)}%",
                                                 escape="\\"))
    if filters.action:
        stmt = stmt.where(AuditEntry.action.like(f"{_escape_like(filters.action)}%",
                                                 escape="\\"))
    if filters.object_type:
        stmt = stmt.where(AuditEntry.object_type == filters.object_type)
    if filters.object_id:
        stmt = stmt.where(AuditEntry.object_id == filters.object_id)
    if filters.institution_id is not None:
        stmt = stmt.where(AuditEntry.institution_id == filters.institution_id)
    # Timestamps are ISO 8601 text in UTC, so they compare as strings.
    if filters.since:
        stmt = stmt.where(AuditEntry.ts >= filters.since.isoformat())
    if filters.until:
        stmt = stmt.where(AuditEntry.ts < (filters.until + dt.timedelta(days=1)).isoformat())
    return stmt


def list_entries(*, session: Session, actor: Actor, filters: EntryFilter, limit: int = 50,
                 offset: int = 0) -> tuple[list[AuditEntry], int]:
    """Ledger entries the actor may see, newest first, with the total count."""
    stmt = restrict(select(AuditEntry), actor=actor, permission=CorePermission.AUDIT_READ,
                    scope=AuditEntry.institution_id)
    stmt = _filtered(stmt, filters)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(AuditEntry.seq.desc()).limit(limit).offset(offset))
    return list(rows), total


def _require_national(actor: Actor, permission: str) -> None:
    actor.require(permission)
    if not actor.is_national:
        # The chain spans every institution: checking or exporting it is a national task.
        raise Forbidden("Only national auditors may verify or export the whole ledger.")


def verify_ledger(*, session: Session, actor: Actor,
                  public_keys: Mapping[str, Ed25519PublicKey],
                  progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Recompute the whole chain and its checkpoints (national auditors and administrators)."""
    _require_national(actor, CorePermission.AUDIT_READ)
    return verify_chain(session.connection(), public_keys=public_keys, progress=progress)


def export_range(*, session: Session, actor: Actor, key: Ed25519PrivateKey, from_seq: int,
                 to_seq: int, known_keys: Mapping[str, Ed25519PublicKey] | None = None
                 ) -> dict[str, Any]:
    """Export entries ``from_seq`` to ``to_seq`` with their proof; the export is ledgered."""
    _require_national(actor, CorePermission.AUDIT_EXPORT)
    document = export_module.build_export(session=session, key=key, from_seq=from_seq,
                                          to_seq=to_seq, known_keys=known_keys)
    record(session=session, actor=actor, action="core.audit.export", object_type="core.audit",
           object_id=f"{from_seq}-{to_seq}", object_repr=f"entries {from_seq}-{to_seq}",
           details={"last_hash": document["last_hash"]})
    return document

"""Recording into the ledger, in the same transaction as the change it describes.

Services call :func:`record` for every state change (and :func:`record_read` for reads of
sensitive records). Entries wait in the session until commit; just before the commit the
session locks the ledger head once, chains the pending entries and inserts them, so the
change and its ledger entries commit or roll back together.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from lakana.core.audit.chain import GENESIS_HASH, canonical_json, chain_hash, state_digest
from lakana.core.audit.models import AuditEntry, LedgerHead
from lakana.core.auth.rbac import Actor

_PENDING_KEY = "lakana_ledger_pending"


@dataclass(frozen=True)
class PendingEntry:
    """An entry recorded in this transaction, waiting for its place in the chain."""

    ts: str
    actor_id: int | None
    actor: str
    via: str
    action: str
    object_type: str
    object_id: str | None
    object_repr: str
    institution_id: int | None
    source_ip: str | None
    before_digest: str | None
    after_digest: str | None
    details: str


def now_iso() -> str:
    """The current UTC time as the ledger writes it (microseconds, ``Z``)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record(
    *,
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object | None,
    object_repr: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    institution_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Ledger a state change (``action`` such as ``"registry.institution.create"``).

    ``before``/``after`` are the object's states; only their digests and the names of the
    changed fields are kept, so personal data never lands in the ledger.
    """
    extra = dict(details or {})
    if before is not None and after is not None:
        extra.setdefault("changed", sorted(
            k for k in set(before) | set(after) if before.get(k) != after.get(k)
        ))
    entry = PendingEntry(
        ts=now_iso(),
        actor_id=actor.user_id,
        actor=actor.name[:254],
        via=actor.via,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        object_repr=object_repr[:300],
        institution_id=institution_id,
        source_ip=actor.source_ip,
        before_digest=state_digest(before),
        after_digest=state_digest(after),
        details=canonical_json(extra),
    )
    session.info.setdefault(_PENDING_KEY, []).append(entry)


def record_read(*, session: Session, actor: Actor, object_type: str, object_id: object,
                object_repr: str, institution_id: int | None = None,
                reason: str | None = None) -> None:
    """Ledger a read of a sensitive record (for example a biometric record)."""
    record(session=session, actor=actor, action=f"{object_type}.read", object_type=object_type,
           object_id=object_id, object_repr=object_repr, institution_id=institution_id,
           details={"reason": reason} if reason else None)


def pending_count(session: Session) -> int:
    """How many entries wait in this session's transaction."""
    return len(session.info.get(_PENDING_KEY, []))


def _lock_head(session: Session) -> tuple[int, str]:
    stmt = select(LedgerHead.seq, LedgerHead.hash).where(LedgerHead.id == 1)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    else:
        # Take SQLite's write lock now so that no other writer reads the same head.
        session.execute(update(LedgerHead).where(LedgerHead.id == 1).values(id=1))
    row = session.execute(stmt).first()
    if row is None:
        session.execute(insert(LedgerHead).values(id=1, seq=0, hash=GENESIS_HASH))
        session.flush()
        return _lock_head(session)
    return int(row[0]), str(row[1])


def flush_pending(session: Session) -> int:
    """Chain and insert this session's pending entries; returns the new head sequence."""
    pending: list[PendingEntry] = session.info.pop(_PENDING_KEY, [])
    if not pending:
        return -1
    seq, prev = _lock_head(session)
    rows: list[dict[str, Any]] = []
    for entry in pending:
        seq += 1
        fields = (seq, entry.ts, entry.actor_id, entry.actor, entry.via, entry.action,
                  entry.object_type, entry.object_id, entry.object_repr, entry.institution_id,
                  entry.source_ip, entry.before_digest, entry.after_digest, entry.details)
        digest = chain_hash(prev, fields)
        rows.append({"seq": seq, "ts": entry.ts, "actor_id": entry.actor_id,
                     "actor": entry.actor, "via": entry.via, "action": entry.action,
                     "object_type": entry.object_type, "object_id": entry.object_id,
                     "object_repr": entry.object_repr, "institution_id": entry.institution_id,
                     "source_ip": entry.source_ip, "before_digest": entry.before_digest,
                     "after_digest": entry.after_digest, "details": entry.details,
                     "prev_hash": prev, "hash": digest})
        prev = digest
    session.execute(insert(AuditEntry), rows)
    session.execute(update(LedgerHead).where(LedgerHead.id == 1).values(seq=seq, hash=prev))
    for hook in _after_append_hooks:
        hook(session, seq, prev)
    return seq


_after_append_hooks: list[Any] = []


def on_append(hook: Any) -> None:
    """Call ``hook(session, seq, hash)`` after entries are appended (used for checkpoints)."""
    _after_append_hooks.append(hook)


@event.listens_for(Session, "before_commit")
def _chain_before_commit(session: Session) -> None:
    if session.info.get(_PENDING_KEY):
        flush_pending(session)


@event.listens_for(Session, "after_rollback")
def _drop_pending_on_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)

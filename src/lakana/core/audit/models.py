"""Tables of the tamper-evident audit ledger."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lakana.core.db import Base


class LedgerHead(Base):
    """The single row holding the chain's last sequence number and hash.

    Writers lock it (``SELECT ... FOR UPDATE`` on PostgreSQL, the write lock on SQLite)
    so that concurrent transactions append to one chain, never fork it.
    """

    __tablename__ = "core_ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    """One ledgered event: who, when, what, from where, and the digest of the new state.

    Names are frozen as strings (NetBox's ``ObjectChange``) so the entry stays readable
    after the actor or the object is gone. ``hash`` = SHA-256(prev_hash || canonical entry).
    """

    __tablename__ = "core_audit_entry"
    # Few indexes on purpose: each one is paid on every write of every domain. Listing is
    # newest first by ``seq`` (filters on action prefixes and names scan backwards from the
    # newest); the institution scope and an object's history are the selective lookups.
    __table_args__ = (Index("ix_core_audit_entry_object", "object_type", "object_id"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(254))
    via: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[str | None] = mapped_column(String(64))
    object_repr: Mapped[str] = mapped_column(String(300))
    institution_id: Mapped[int | None] = mapped_column(Integer, index=True)
    source_ip: Mapped[str | None] = mapped_column(String(64))
    before_digest: Mapped[str | None] = mapped_column(String(64))
    after_digest: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LedgerCheckpoint(Base):
    """An Ed25519 signature over the chain hash at ``seq``."""

    __tablename__ = "core_ledger_checkpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))

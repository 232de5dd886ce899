"""Reads of sensitive records are ledgered like changes, and only when the read commits."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core import audit
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Actor, Role


def _reader() -> Actor:
    return Actor(user_id=7, name="operateur@example.ml", role=Role.AUDITOR, source_ip="127.0.0.9")


def test_sensitive_read_is_ledgered_with_its_reason(
        session_factory: sessionmaker[Session]) -> None:
    """Given a read of a biometric record, when the transaction commits, an entry names it."""
    with session_factory.begin() as session:
        audit.record_read(session=session, actor=_reader(), object_type="biometry.record",
                          object_id=1234, object_repr="dossier 1234", institution_id=3,
                          reason="vérification d'identité électorale")
    with session_factory() as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert entry.action == "biometry.record.read"
    assert (entry.object_type, entry.object_id, entry.institution_id) == \
        ("biometry.record", "1234", 3)
    assert entry.actor == "operateur@example.ml" and entry.source_ip == "127.0.0.9"
    assert json.loads(entry.details) == {"reason": "vérification d'identité électorale"}
    assert entry.after_digest is None  # a read changes no state


def test_read_in_a_rolled_back_transaction_is_not_ledgered(
        session_factory: sessionmaker[Session]) -> None:
    """Given a read recorded in a transaction that fails, nothing reaches the ledger."""
    session = session_factory()
    audit.record_read(session=session, actor=_reader(), object_type="biometry.record",
                      object_id=1, object_repr="dossier 1")
    session.rollback()
    session.commit()  # a later commit must not carry the dropped entry
    session.close()
    with session_factory() as check:
        assert check.scalars(select(AuditEntry)).all() == []

"""The ledger's chain, its signed checkpoints, and verification against real tampering.

Every tampering test edits the real database rows with SQL, as an attacker with database
access would, then checks the exact kind and sequence number the verification reports.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit import configure_ledger, record, signing
from lakana.core.audit.chain import chain_hash
from lakana.core.audit.ledger import checkpoint_head, pending_count
from lakana.core.audit.models import AuditEntry, LedgerCheckpoint
from lakana.core.audit.verify import VerifyReport, verify_chain
from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings

HASHED = ("seq, ts, actor_id, actor, via, action, object_type, object_id, object_repr, "
          "institution_id, source_ip, before_digest, after_digest, details")

Append = Callable[..., None]


@pytest.fixture
def append(session_factory: sessionmaker[Session]) -> Append:
    """Record ``n`` changes, committed in one transaction."""

    def _append(n: int, *, institution_id: int | None = None,
                action: str = "test.thing.update") -> None:
        with session_factory.begin() as session:
            for i in range(n):
                record(session=session, actor=system_actor("tester"), action=action,
                       object_type="test.thing", object_id=i, object_repr=f"Chose n°{i}",
                       before={"i": i - 1}, after={"i": i}, institution_id=institution_id)

    return _append


@pytest.fixture
def verify(engine: Engine, settings: Settings) -> Callable[[], VerifyReport]:
    """Verify the test database with the platform's trusted keys."""

    def _verify() -> VerifyReport:
        keys = signing.trusted_keys(settings.effective_ledger_key_path)
        with engine.connect() as conn:
            return verify_chain(conn, public_keys=keys, batch_size=4)

    return _verify


def sql(engine: Engine, statement: str, **params: object) -> None:
    """Run one tampering statement, committed."""
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def stored(engine: Engine, seq: int) -> tuple[object, ...]:
    """The hashed fields of an entry as stored, then its hash."""
    with engine.connect() as conn:
        row = conn.execute(text(f"SELECT {HASHED}, hash FROM core_audit_entry WHERE seq = :s"),
                           {"s": seq}).one()
    return tuple(row)


def rechain(engine: Engine, first: int) -> None:
    """Recompute hashes from ``first`` to the end, as a careful attacker would, and the head."""
    with engine.begin() as conn:
        prev = conn.execute(text("SELECT hash FROM core_audit_entry WHERE seq = :s"),
                            {"s": first - 1}).scalar_one()
        rows = conn.execute(text(f"SELECT {HASHED} FROM core_audit_entry WHERE seq >= :s "
                                 "ORDER BY seq"), {"s": first}).all()
        for row in rows:
            digest = chain_hash(prev, tuple(row))
            conn.execute(text("UPDATE core_audit_entry SET prev_hash = :p, hash = :h "
                              "WHERE seq = :s"), {"p": prev, "h": digest, "s": row[0]})
            prev = digest
        conn.execute(text("UPDATE core_ledger_head SET seq = :s, hash = :h"),
                     {"s": rows[-1][0], "h": prev})


def problem(report: VerifyReport) -> tuple[str, int] | None:
    """The report's first problem as (kind, seq)."""
    return None if report.problem is None else (str(report.problem.kind), report.problem.seq)


def test_intact_chain_verifies(append: Append, verify: Callable[[], VerifyReport]) -> None:
    # Given ten entries appended in three transactions
    append(3)
    append(5)
    append(2)
    # When the chain is verified
    report = verify()
    # Then it is intact, covers every entry and matches the head
    assert report.ok, report.summary()
    assert (report.entries, report.head_seq) == (10, 10)


def test_empty_ledger_verifies(verify: Callable[[], VerifyReport]) -> None:
    # Given no entry at all / When verified / Then it is intact with nothing in it
    report = verify()
    assert report.ok and report.entries == 0


def test_rollback_drops_pending_entries(session_factory: sessionmaker[Session],
                                        verify: Callable[[], VerifyReport]) -> None:
    # Given a transaction that records a change and then fails
    session = session_factory()
    record(session=session, actor=system_actor("tester"), action="test.thing.create",
           object_type="test.thing", object_id=1, object_repr="x")
    assert pending_count(session) == 1
    session.rollback()
    # When another transaction commits
    session.commit()
    session.close()
    # Then nothing was ledgered
    assert verify().entries == 0


def test_updated_field_is_reported_altered(append: Append, engine: Engine,
                                           verify: Callable[[], VerifyReport]) -> None:
    # Given ten entries and one whose actor was rewritten in the database
    append(10)
    sql(engine, "UPDATE core_audit_entry SET actor = 'Mallory' WHERE seq = 5")
    # When verified / Then entry 5 is reported altered
    assert problem(verify()) == ("altered", 5)


def test_altered_and_rehashed_entry_is_reported_altered(
        append: Append, engine: Engine, verify: Callable[[], VerifyReport]) -> None:
    # Given an entry altered and re-hashed so that it is consistent with itself
    append(10)
    sql(engine, "UPDATE core_audit_entry SET object_repr = 'forged' WHERE seq = 5")
    fields = stored(engine, 5)[:-1]
    with engine.connect() as conn:
        prev = conn.execute(text("SELECT prev_hash FROM core_audit_entry WHERE seq = 5")
                            ).scalar_one()
    sql(engine, "UPDATE core_audit_entry SET hash = :h WHERE seq = 5",
        h=chain_hash(prev, fields))
    # When verified / Then the break is blamed on entry 5, not on its successor
    report = verify()
    assert problem(report) == ("altered", 5)
    assert "re-hashed" in report.problem.reason  # type: ignore[union-attr]


def test_deleted_entry_is_reported(append: Append, engine: Engine,
                                   verify: Callable[[], VerifyReport]) -> None:
    # Given ten entries and the fourth deleted
    append(10)
    sql(engine, "DELETE FROM core_audit_entry WHERE seq = 4")
    # When verified / Then entry 4 is reported deleted
    assert problem(verify()) == ("deleted", 4)


def test_deleted_first_entry_is_reported(append: Append, engine: Engine,
                                         verify: Callable[[], VerifyReport]) -> None:
    # Given the genesis entry deleted
    append(3)
    sql(engine, "DELETE FROM core_audit_entry WHERE seq = 1")
    # When verified / Then entry 1 is reported deleted
    assert problem(verify()) == ("deleted", 1)


def test_forged_entry_after_the_head_is_reported_inserted(
        append: Append, engine: Engine, verify: Callable[[], VerifyReport]) -> None:
    # Given a forged entry correctly chained after the last one, without touching the head
    append(10)
    last_hash = stored(engine, 10)[-1]
    fields = (11, "2030-01-01T00:00:00.000000Z", None, "Mallory", "cli", "test.thing.delete",
              "test.thing", "7", "forged", None, None, None, None, "{}")
    sql(engine, f"INSERT INTO core_audit_entry ({HASHED}, prev_hash, hash) VALUES "
        "(:seq, :ts, NULL, 'Mallory', 'cli', 'test.thing.delete', 'test.thing', '7', "
        "'forged', NULL, NULL, NULL, NULL, '{}', :prev, :hash)",
        seq=11, ts=fields[1], prev=last_hash, hash=chain_hash(str(last_hash), fields))
    # When verified / Then entry 11 is reported inserted
    assert problem(verify()) == ("inserted", 11)


@pytest.mark.parametrize("consistent", [True, False], ids=["rehashed", "naive"])
def test_forged_entry_in_the_middle_is_reported_inserted(
        append: Append, engine: Engine, verify: Callable[[], VerifyReport],
        consistent: bool) -> None:
    # Given entries 6..10 renumbered 7..11 and a forged entry slipped in at 6
    append(10)
    prev = str(stored(engine, 5)[-1])
    sql(engine, "UPDATE core_audit_entry SET seq = seq + 1000 WHERE seq >= 6")
    sql(engine, "UPDATE core_audit_entry SET seq = seq - 999 WHERE seq >= 1000")
    fields = (6, "2030-01-01T00:00:00.000000Z", None, "Mallory", "cli", "test.thing.delete",
              "test.thing", "7", "forged", None, None, None, None, "{}")
    digest = chain_hash(prev, fields) if consistent else "f" * 64
    sql(engine, f"INSERT INTO core_audit_entry ({HASHED}, prev_hash, hash) VALUES "
        "(6, :ts, NULL, 'Mallory', 'cli', 'test.thing.delete', 'test.thing', '7', 'forged', "
        "NULL, NULL, NULL, NULL, '{}', :prev, :hash)", ts=fields[1], prev=prev, hash=digest)
    sql(engine, "UPDATE core_ledger_head SET seq = 11")
    # When verified / Then entry 6 is reported inserted
    assert problem(verify()) == ("inserted", 6)


@pytest.mark.parametrize("a,b", [(5, 6), (3, 8)], ids=["adjacent", "distant"])
def test_swapped_entries_are_reported_reordered(
        append: Append, engine: Engine, verify: Callable[[], VerifyReport], a: int,
        b: int) -> None:
    # Given two entries whose sequence numbers were swapped
    append(10)
    sql(engine, "UPDATE core_audit_entry SET seq = -1 WHERE seq = :a", a=a)
    sql(engine, "UPDATE core_audit_entry SET seq = :a WHERE seq = :b", a=a, b=b)
    sql(engine, "UPDATE core_audit_entry SET seq = :b WHERE seq = -1", b=b)
    # When verified / Then the first of them is reported reordered
    assert problem(verify()) == ("reordered", a)


def test_deleted_tail_is_reported_truncated(append: Append, engine: Engine,
                                            verify: Callable[[], VerifyReport]) -> None:
    # Given the last three entries deleted (the head still says 10)
    append(10)
    sql(engine, "DELETE FROM core_audit_entry WHERE seq > 7")
    # When verified / Then the chain is reported truncated from entry 8
    report = verify()
    assert problem(report) == ("truncated", 8)
    assert report.summary().startswith("truncated at seq 8:")


def test_head_rewound_after_truncation_is_caught_by_a_checkpoint(
        session_factory: sessionmaker[Session], settings: Settings, append: Append,
        engine: Engine, verify: Callable[[], VerifyReport]) -> None:
    # Given checkpoints every 5 entries, then the tail deleted and the head rewound to match
    configure_ledger(session_factory, settings.model_copy(update={"ledger_checkpoint_every": 5}))
    for _ in range(10):
        append(1)
    sql(engine, "DELETE FROM core_audit_entry WHERE seq > 8")
    sql(engine, "UPDATE core_ledger_head SET seq = 8, hash = :h", h=stored(engine, 8)[-1])
    # When verified / Then the signed checkpoint at 10 shows the chain was truncated at 9
    assert problem(verify()) == ("truncated", 9)


def test_rewritten_chain_is_caught_by_a_checkpoint(
        session_factory: sessionmaker[Session], settings: Settings, append: Append,
        engine: Engine, verify: Callable[[], VerifyReport]) -> None:
    # Given checkpoints at 4 and 8, then entry 6 altered and everything after it re-chained
    configure_ledger(session_factory, settings.model_copy(update={"ledger_checkpoint_every": 4}))
    for _ in range(10):
        append(1)
    sql(engine, "UPDATE core_audit_entry SET actor = 'Mallory' WHERE seq = 6")
    rechain(engine, 6)
    # When verified
    report = verify()
    # Then the checkpoint at 8 no longer matches: rewritten after the good checkpoint at 4
    assert problem(report) == ("altered", 8)
    assert report.problem is not None and report.problem.params["after"] == 4


def test_forged_checkpoint_signature_is_reported(
        session_factory: sessionmaker[Session], settings: Settings, append: Append,
        engine: Engine, verify: Callable[[], VerifyReport]) -> None:
    # Given a checkpoint whose hash was changed to match a rewritten chain
    configure_ledger(session_factory, settings.model_copy(update={"ledger_checkpoint_every": 3}))
    append(4)
    sql(engine, "UPDATE core_ledger_checkpoint SET hash = :h", h="a" * 64)
    # When verified / Then its signature no longer verifies
    assert problem(verify()) == ("bad_signature", 4)


def test_checkpoint_from_an_unknown_key_is_reported(
        session_factory: sessionmaker[Session], settings: Settings, append: Append,
        engine: Engine) -> None:
    # Given a checkpoint signed by the platform key
    configure_ledger(session_factory, settings.model_copy(update={"ledger_checkpoint_every": 2}))
    append(2)
    # When verified with no trusted key at all
    with engine.connect() as conn:
        report = verify_chain(conn, public_keys={})
    # Then the checkpoint is refused
    assert problem(report) == ("bad_signature", 2)
    assert "unknown key" in report.summary()


def test_checkpoints_are_signed_every_n_entries(
        session_factory: sessionmaker[Session], settings: Settings, append: Append,
        db: Session, verify: Callable[[], VerifyReport]) -> None:
    # Given the ledger configured to sign every 3 entries
    configure_ledger(session_factory, settings.model_copy(update={"ledger_checkpoint_every": 3}))
    # When 7 single-entry transactions then one of 5 entries commit
    for _ in range(7):
        append(1)
    append(5)
    # Then checkpoints sit at 3, 6 and at the head of the batch that crossed 9 and 12 (12)
    seqs = db.scalars(select(LedgerCheckpoint.seq).order_by(LedgerCheckpoint.seq)).all()
    assert list(seqs) == [3, 6, 12]
    key = signing.load_private_key(settings.effective_ledger_key_path)
    assert set(db.scalars(select(LedgerCheckpoint.key_id))) == {signing.key_id(key)}
    # And the verification checks all three signatures
    report = verify()
    assert report.ok and report.checkpoints == 3


def test_checkpoint_on_demand_signs_the_head(
        session_factory: sessionmaker[Session], settings: Settings, append: Append,
        db: Session) -> None:
    # Given five entries and no automatic checkpoint
    append(5)
    key = signing.load_private_key(settings.effective_ledger_key_path)
    # When the head is signed on demand
    with session_factory.begin() as session:
        info = checkpoint_head(session, key)
    # Then the checkpoint covers entry 5 with its hash and a valid signature
    assert info is not None and info.seq == 5
    assert info.hash == db.scalar(select(AuditEntry.hash).where(AuditEntry.seq == 5))
    assert signing.verify(key.public_key(), signing.checkpoint_message(5, info.hash, info.ts),
                          info.signature)
    assert db.scalar(select(func.count()).select_from(LedgerCheckpoint)) == 1


def test_checkpoint_of_an_empty_ledger_is_refused(session_factory: sessionmaker[Session],
                                                  settings: Settings) -> None:
    # Given an empty ledger / When asked to sign the head / Then nothing is signed
    key = signing.load_private_key(settings.effective_ledger_key_path)
    with session_factory.begin() as session:
        assert checkpoint_head(session, key) is None


def test_retired_keys_stay_trusted(session_factory: sessionmaker[Session], settings: Settings,
                                   append: Append, engine: Engine) -> None:
    # Given checkpoints signed by a key that was then retired and replaced
    configure_ledger(session_factory, settings.model_copy(update={"ledger_checkpoint_every": 2}))
    append(2)
    path = settings.effective_ledger_key_path
    old = signing.load_private_key(path)
    (path.parent / f"ledger-{signing.key_id(old)}.pub.pem").write_text(signing.public_pem(old))
    path.unlink()
    new = signing.create_key(path)
    # When the keys are gathered and the chain verified
    keys = signing.trusted_keys(path)
    with engine.connect() as conn:
        report = verify_chain(conn, public_keys=keys)
    # Then both keys are trusted and the old checkpoint still verifies
    assert set(keys) == {signing.key_id(old), signing.key_id(new)}
    assert report.ok and report.checkpoints == 1


def test_configure_ledger_needs_the_key(session_factory: sessionmaker[Session],
                                        settings: Settings) -> None:
    # Given settings pointing at a key file that does not exist
    missing = settings.model_copy(update={"ledger_key_path": settings.home / "nope.pem"})
    # When the ledger is configured / Then it refuses with a clear reason
    with pytest.raises(RuntimeError, match="ledger key missing"):
        configure_ledger(session_factory, missing)

"""Recompute the ledger from genesis and report the first altered, deleted, inserted,
reordered or truncated entry, or the first checkpoint with a bad signature.

The chain is read in key-set batches of raw rows and checked with as little Python per row
as possible (one comparison of sequence and link, one JSON encoding, one SHA-256), so one
million entries verify in seconds on one core. Only when a row fails does the slow
:func:`_diagnose` look around it to tell an alteration from an insertion or a reordering.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, select

from lakana.core.audit import signing
from lakana.core.audit.chain import GENESIS_HASH, HASHED_FIELDS
from lakana.core.audit.models import AuditEntry, LedgerCheckpoint, LedgerHead

#: Columns read for each entry: the hashed fields, then ``prev_hash`` and ``hash``.
COLUMNS: tuple[str, ...] = (*HASHED_FIELDS, "prev_hash", "hash")
_N = len(HASHED_FIELDS)
_PREV = _N
_HASH = _N + 1
_TABLE = AuditEntry.__tablename__
DEFAULT_BATCH = 20_000

# Same bytes as chain.entry_payload, without building an encoder for every row.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

Row = tuple[Any, ...]


class ProblemKind(StrEnum):
    """What kind of tampering a problem points to."""

    ALTERED = "altered"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    TRUNCATED = "truncated"
    BAD_SIGNATURE = "bad_signature"


#: English labels (gettext message ids) of each kind, for pages.
KIND_LABELS: dict[ProblemKind, str] = {
    ProblemKind.ALTERED: "Altered entry",
    ProblemKind.DELETED: "Deleted entry",
    ProblemKind.INSERTED: "Inserted entry",
    ProblemKind.REORDERED: "Reordered entry",
    ProblemKind.TRUNCATED: "Truncated chain",
    ProblemKind.BAD_SIGNATURE: "Bad checkpoint signature",
}


@dataclass(frozen=True)
class Problem:
    """The first problem found: its kind, the sequence number it concerns, and why.

    ``message`` is an English gettext message id filled with ``params``.
    """

    kind: ProblemKind
    seq: int
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        """The reason in English."""
        return self.message % self.params if self.params else self.message


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of a verification."""

    entries: int
    head_seq: int
    head_hash: str
    checkpoints: int
    problem: Problem | None
    seconds: float

    @property
    def ok(self) -> bool:
        """Whether the whole chain and every checkpoint verified."""
        return self.problem is None

    def summary(self) -> str:
        """One line in English, for the CLI and logs."""
        if self.problem is None:
            return (f"ledger intact: {self.entries} entries, {self.checkpoints} signed "
                    f"checkpoints, head {self.head_hash[:16]}")
        return f"{self.problem.kind} at seq {self.problem.seq}: {self.problem.reason}"

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        problem = None if self.problem is None else {
            "kind": str(self.problem.kind), "seq": self.problem.seq,
            "reason": self.problem.reason}
        return {"ok": self.ok, "entries": self.entries, "head_seq": self.head_seq,
                "head_hash": self.head_hash, "checkpoints": self.checkpoints,
                "problem": problem, "seconds": round(self.seconds, 3)}


def entry_hash(prev_hash: str, row: Row) -> str:
    """The chain hash of a raw row (its first fields in :data:`HASHED_FIELDS` order)."""
    return hashlib.sha256((prev_hash + _encode(row[:_N])).encode()).hexdigest()


def verify_chain(connection: Connection, *, public_keys: Mapping[str, Ed25519PublicKey],
                 batch_size: int = DEFAULT_BATCH,
                 progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Recompute the whole chain, the head row and every checkpoint; report the first problem.

    ``public_keys`` maps key ids to the trusted public keys (the current key and retired
    ones); ``progress`` is called with the number of entries checked after each batch.
    """
    started = time.perf_counter()
    head = connection.execute(
        select(LedgerHead.seq, LedgerHead.hash).where(LedgerHead.id == 1)).first()
    checkpoints: list[tuple[Any, ...]] = [tuple(r) for r in connection.execute(
        select(LedgerCheckpoint.seq, LedgerCheckpoint.hash, LedgerCheckpoint.ts,
               LedgerCheckpoint.key_id, LedgerCheckpoint.signature)
        .order_by(LedgerCheckpoint.seq, LedgerCheckpoint.id))]
    watched = {int(c[0]) for c in checkpoints}
    hashes_at: dict[int, str] = {}
    scan = _scan(connection, batch_size, watched, hashes_at, progress)
    problems = [p for p in (
        scan.problem,
        _checkpoint_problem(checkpoints, public_keys, hashes_at, scan),
        None if scan.problem else _head_problem(head, scan),
    ) if p is not None]
    first = min(problems, key=lambda p: p.seq) if problems else None
    return VerifyReport(
        entries=scan.last_seq, head_seq=int(head[0]) if head else 0,
        head_hash=str(head[1]) if head else GENESIS_HASH,
        checkpoints=0 if first else len(checkpoints), problem=first,
        seconds=time.perf_counter() - started)


@dataclass
class _Scan:
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    problem: Problem | None = None


def _fetch(cursor: Any, after: int, limit: int) -> list[Row]:
    # Integers only are formatted into the statement, so this is safe and paramstyle-free.
    cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM {_TABLE} "
                   f"WHERE seq > {int(after)} ORDER BY seq LIMIT {int(limit)}")
    return list(cursor.fetchall())


def _scan(connection: Connection, batch_size: int, watched: set[int],
          hashes_at: dict[int, str], progress: Callable[[int], None] | None) -> _Scan:
    """The hot loop: walk every entry in order, stop at the first row that does not fit."""
    cursor = connection.connection.cursor()
    sha = hashlib.sha256
    encode = _encode
    n = _N
    expected, prev, pprev = 1, GENESIS_HASH, ""
    try:
        while True:
            batch = _fetch(cursor, expected - 1, batch_size)
            if not batch:
                return _Scan(expected - 1, prev)
            for row in batch:
                if row[0] != expected or row[_PREV] != prev:
                    return _Scan(expected - 1, prev, _diagnose(cursor, row, expected, prev, pprev))
                digest = sha((prev + encode(row[:n])).encode()).hexdigest()
                if digest != row[_HASH]:
                    return _Scan(expected - 1, prev, _diagnose(cursor, row, expected, prev, pprev))
                if expected in watched:
                    hashes_at[expected] = digest
                pprev, prev = prev, digest
                expected += 1
            if progress is not None:
                progress(expected - 1)
    finally:
        cursor.close()


def _diagnose(cursor: Any, row: Row, expected: int, prev: str, pprev: str) -> Problem:
    """Tell what happened at the first row that does not fit the chain (slow path)."""
    seq = int(row[0])
    if seq != expected:
        return Problem(ProblemKind.DELETED, expected,
                       "Entries %(first)s to %(last)s are missing.",
                       {"first": expected, "last": seq - 1})
    if row[_PREV] != prev:
        return _diagnose_link(cursor, row, prev, pprev)
    following = _fetch(cursor, seq, 1)
    successor = following[0] if following and int(following[0][0]) == seq + 1 else None
    if successor is not None and successor[_PREV] == prev:
        return Problem(ProblemKind.INSERTED, seq,
                       "Entry %(seq)s was inserted: the next entry links over it.", {"seq": seq})
    if successor is None or successor[_PREV] != row[_HASH]:
        linked_from = _seq_where(cursor, "prev_hash", row[_HASH])
        if linked_from is not None and linked_from != seq + 1:
            return Problem(ProblemKind.REORDERED, seq,
                           "Entry %(seq)s belongs before entry %(other)s, not here.",
                           {"seq": seq, "other": linked_from})
    return Problem(ProblemKind.ALTERED, seq,
                   "Entry %(seq)s was altered: its content no longer matches its hash.",
                   {"seq": seq})


def _diagnose_link(cursor: Any, row: Row, prev: str, pprev: str) -> Problem:
    seq = int(row[0])
    if entry_hash(prev, row) == row[_HASH]:
        return Problem(ProblemKind.ALTERED, seq,
                       "Entry %(seq)s was altered: its link to the previous entry changed.",
                       {"seq": seq})
    if pprev and row[_PREV] == pprev:
        return Problem(ProblemKind.INSERTED, seq - 1,
                       "Entry %(seq)s was inserted: the next entry links over it.",
                       {"seq": seq - 1})
    follows = _seq_where(cursor, "hash", row[_PREV])
    if follows is not None and follows != seq - 1:
        return Problem(ProblemKind.REORDERED, seq,
                       "Entry %(seq)s follows entry %(other)s in the chain, not entry "
                       "%(previous)s.", {"seq": seq, "other": follows, "previous": seq - 1})
    return Problem(ProblemKind.ALTERED, seq - 1,
                   "Entry %(seq)s was altered and re-hashed: the next entry recorded another "
                   "hash.", {"seq": seq - 1})


def _seq_where(cursor: Any, column: str, value: Any) -> int | None:
    if not isinstance(value, str) or len(value) != 64 or any(
            c not in "0123456789abcdef" for c in value):
        return None  # never put a value that is not a hex digest into SQL
    cursor.execute(f"SELECT seq FROM {_TABLE} WHERE {column} = '{value}' "
                   "ORDER BY seq LIMIT 1")
    found = cursor.fetchone()
    return None if found is None else int(found[0])


def _checkpoint_problem(checkpoints: list[tuple[Any, ...]],
                        public_keys: Mapping[str, Ed25519PublicKey],
                        hashes_at: dict[int, str], scan: _Scan) -> Problem | None:
    """The first checkpoint with a bad signature or a hash the chain does not reach."""
    last_good = 0
    for seq, digest, ts, key_id, signature in checkpoints:
        public = public_keys.get(key_id)
        if public is None:
            return Problem(ProblemKind.BAD_SIGNATURE, seq,
                           "The checkpoint at entry %(seq)s is signed by an unknown key "
                           "(%(key_id)s).", {"seq": seq, "key_id": key_id})
        if not signing.verify(public, signing.checkpoint_message(seq, digest, ts), signature):
            return Problem(ProblemKind.BAD_SIGNATURE, seq,
                           "The signature of the checkpoint at entry %(seq)s is invalid.",
                           {"seq": seq})
        if scan.problem is not None and seq >= scan.problem.seq:
            continue  # the chain is already broken before this checkpoint
        if seq > scan.last_seq:
            return Problem(ProblemKind.TRUNCATED, scan.last_seq + 1,
                           "Entries from %(first)s on are missing: a checkpoint signed entry "
                           "%(seq)s.", {"first": scan.last_seq + 1, "seq": seq})
        if hashes_at.get(seq) != digest:
            return Problem(ProblemKind.ALTERED, seq,
                           "The chain up to entry %(seq)s differs from its signed checkpoint: "
                           "entries after %(after)s were rewritten.",
                           {"seq": seq, "after": last_good})
        last_good = seq
    return None


def _head_problem(head: Any, scan: _Scan) -> Problem | None:
    """Compare the head row with the end of the recomputed chain."""
    head_seq = int(head[0]) if head else 0
    if head_seq > scan.last_seq:
        return Problem(ProblemKind.TRUNCATED, scan.last_seq + 1,
                       "Entries %(first)s to %(last)s are missing at the end of the chain.",
                       {"first": scan.last_seq + 1, "last": head_seq})
    if head_seq < scan.last_seq:
        return Problem(ProblemKind.INSERTED, head_seq + 1,
                       "Entries %(first)s to %(last)s were added after the ledger head.",
                       {"first": head_seq + 1, "last": scan.last_seq})
    if head is not None and head[1] != scan.last_hash:
        return Problem(ProblemKind.ALTERED, head_seq,
                       "Entry %(seq)s does not match the ledger head.", {"seq": head_seq})
    return None

"""Benchmark: ``lakana audit verify`` over 1,000,000 ledger entries on one core (goal < 20 s).

Run with ``uv run python bench/bench_audit_verify.py [ENTRIES]``. The chain is generated
with the reference hashing of ``chain.py`` and bulk-inserted into a temporary SQLite file
(not timed); then the verification is timed, pinned to one CPU core, and a Markdown table
compares the measurement with the goal.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, Table, insert

from lakana.core.audit import signing
from lakana.core.audit.chain import GENESIS_HASH, canonical_json, chain_hash, state_digest
from lakana.core.audit.models import AuditEntry, LedgerCheckpoint, LedgerHead
from lakana.core.audit.verify import verify_chain
from lakana.core.config import Settings
from lakana.core.db import make_engine
from lakana.models import metadata

GOAL_SECONDS = 20.0
CHECKPOINT_EVERY = 1000
BATCH = 50_000


def _generate(engine_path: Path, entries: int) -> tuple[float, Engine, Ed25519PrivateKey]:
    """Fill a fresh database with ``entries`` chained entries; return the time it took."""
    settings = Settings(home=engine_path, database_url=f"sqlite:///{engine_path / 'bench.db'}",
                        secret_key="bench", _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(settings)
    metadata.create_all(engine)
    key = signing.create_key(engine_path / "ledger.pem")
    started = time.perf_counter()
    prev = GENESIS_HASH
    rows: list[dict[str, object]] = []
    checkpoints: list[dict[str, object]] = []
    entry_table = AuditEntry.__table__
    assert isinstance(entry_table, Table)
    with engine.begin() as conn:
        for seq in range(1, entries + 1):
            fields = (seq, f"2025-01-{1 + seq % 28:02d}T10:00:{seq % 60:02d}.000000Z",
                      1 + seq % 50, f"Agent {seq % 50} Traoré", "session",
                      "registry.institution.update", "registry.institution", str(seq % 3000),
                      f"Ministère n°{seq % 3000}", 1 + seq % 120, "10.0.0.1",
                      state_digest({"v": seq - 1}), state_digest({"v": seq}),
                      canonical_json({"changed": ["name", "region"]}))
            digest = chain_hash(prev, fields)
            rows.append(dict(zip(("seq", "ts", "actor_id", "actor", "via", "action",
                                  "object_type", "object_id", "object_repr", "institution_id",
                                  "source_ip", "before_digest", "after_digest", "details"),
                                 fields, strict=True)) | {"prev_hash": prev, "hash": digest})
            prev = digest
            if seq % CHECKPOINT_EVERY == 0:
                ts = "2025-02-01T00:00:00.000000Z"
                checkpoints.append({"seq": seq, "hash": digest, "ts": ts,
                                    "key_id": signing.key_id(key), "signature": signing.sign(
                                        key, signing.checkpoint_message(seq, digest, ts))})
            if len(rows) == BATCH:
                conn.execute(insert(entry_table), rows)
                rows = []
        if rows:
            conn.execute(insert(entry_table), rows)
        if checkpoints:
            conn.execute(insert(LedgerCheckpoint), checkpoints)
        conn.execute(insert(LedgerHead).values(id=1, seq=entries, hash=prev))
    return time.perf_counter() - started, engine, key


def main() -> None:
    """Generate, verify, print the table."""
    entries = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    with tempfile.TemporaryDirectory(prefix="lakana-bench-") as tmp:
        generation, engine, key = _generate(Path(tmp), entries)
        public = {signing.key_id(key): key.public_key()}
        with engine.connect() as conn:
            started = time.perf_counter()
            report = verify_chain(conn, public_keys=public)
            elapsed = time.perf_counter() - started
        engine.dispose()
    status = "met" if elapsed < GOAL_SECONDS and report.ok else "MISSED"
    print(f"\n`lakana audit verify` — {entries:,} entries, {report.checkpoints} checkpoints, "
          f"SQLite, one core (generation {generation:.1f} s, not counted)\n")
    print("| Measure | Measured | Goal | Status |")
    print("|---|---|---|---|")
    print(f"| verify time | {elapsed:.2f} s | < {GOAL_SECONDS:.0f} s | {status} |")
    print(f"| throughput | {entries / elapsed:,.0f} entries/s | "
          f"> {1_000_000 / GOAL_SECONDS:,.0f} entries/s | {status} |")
    print(f"| report | {report.summary()} | ledger intact | "
          f"{'met' if report.ok else 'MISSED'} |")


if __name__ == "__main__":
    main()

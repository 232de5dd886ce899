"""Master key rotation of the biometric registry: re-wrapping the data keys of ``--records``
(1,000,000) sealed records under a new master key, with the keystore file on SQLite.

In one run, on one temporary SQLite database (WAL, as the application opens it):

* **seed**: ``--records`` fake records (``--payload-bytes`` (512) random bytes each, standing
  in for a template), each sealed with its own AES-256-GCM data key wrapped under master
  key 1. Generated data, labelled as such.
* **re-wrap, killed and resumed**: a rotation to master key 2 runs in a child process
  (:func:`~lakana.biometry.protection.rotation.run_rotation`, ``--batch`` rows per
  transaction); the parent kills it with SIGKILL once about half the rows are done, then
  resumes the rotation in-process from the checkpoint. Reported: time to the kill, time to
  resume and finish, rows per second over both, and the check that every row is under the
  new key, the checkpoint counted each row once, the old key is retired, and a sample of
  ``--verify`` (1,000) rows opens.
* **baseline, naive**: decrypting and re-encrypting each record in full (unwrap, decrypt,
  fresh data key, encrypt, wrap, update) on the first ``--baseline-sample`` (20,000) rows,
  timed and extrapolated to ``--records`` (labelled as an extrapolation).

What it showed (``bench/results/rewrap-*.md``): on SQLite the re-wrap is bound by the UPDATE,
not by the cryptography, and SQLite rewrites a whole row (overflow pages included) on any
UPDATE, so the naive baseline is barely slower there; the re-wrap's gain on SQLite is that no
biometric plaintext is ever in memory. PostgreSQL keeps a large unchanged value (TOAST) on an
UPDATE; keeping ciphertexts in a separate table would give SQLite the same.

The machine may be small and shared: the load average is printed; only comparisons within one
run mean something. Usage: ``uv run python bench/bench_rewrap.py [--records 1000000]
[--batch 5000] [--baseline-sample 20000]``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

import lakana.models
from lakana.biometry.models import KeyRotation, MasterKeyRecord, SealedObject
from lakana.biometry.protection.envelope import Sealed, open_sealed, record_aad, seal
from lakana.biometry.protection.keystore import FileKeyStore
from lakana.biometry.protection.rotation import run_rotation, start_rotation
from lakana.biometry.protection.sealed import ensure_key_record, open_object
from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings
from lakana.core.db import make_engine, make_session_factory

PASSPHRASE = "bench passphrase, not a secret"
KIND = "template_iso19794_2"
ACTOR = system_actor("bench")


def open_db(home: Path) -> tuple[Engine, sessionmaker[Session]]:
    """The bench database, opened as the application opens it (WAL, foreign keys)."""
    engine = make_engine(Settings(home=home, _env_file=None))  # type: ignore[call-arg]
    return engine, make_session_factory(engine)


def seed(factory: sessionmaker[Session], store: FileKeyStore, records: int,
         payload_bytes: int) -> float:
    """Seal ``records`` generated payloads into the database; seconds taken."""
    started = time.perf_counter()
    chunk = 10_000
    with factory.begin() as session:
        ensure_key_record(session=session, store=store, key_id=store.current_key_id())
    for first in range(0, records, chunk):
        rows = []
        for i in range(first, min(first + chunk, records)):
            owner = f"person:{i}"
            sealed = seal(store, os.urandom(payload_bytes), record_aad(KIND, owner))
            rows.append({"kind": KIND, "owner_ref": owner, "key_id": sealed.key_id,
                         "wrapped_key": sealed.wrapped_key, "nonce": sealed.nonce,
                         "ciphertext": sealed.ciphertext})
        with factory.begin() as session:
            session.execute(insert(SealedObject), rows)
    return time.perf_counter() - started


def child(home: Path, keystore: Path, batch: int) -> None:
    """Run the rotation in progress (the process the parent kills)."""
    _engine, factory = open_db(home)
    store = FileKeyStore(keystore, PASSPHRASE, create=False)
    run_rotation(session_factory=factory, actor=ACTOR, store=store, batch_size=batch)


def progress(factory: sessionmaker[Session], rotation_id: int) -> int:
    """Rows re-wrapped so far according to the committed checkpoint."""
    with factory() as session:
        rotation = session.get(KeyRotation, rotation_id)
        return rotation.rewrapped if rotation is not None else 0


def killed_and_resumed(home: Path, factory: sessionmaker[Session], keystore: Path,
                       records: int, batch: int) -> dict[str, float | int | str]:
    """Start a rotation, run it in a child killed at about half, resume it here."""
    store = FileKeyStore(keystore, PASSPHRASE, create=False)
    with factory.begin() as session:
        rotation = start_rotation(session=session, actor=ACTOR, store=store)
        rotation_id, old_key = rotation.id, rotation.from_key_id
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(home), str(keystore),
                             "--batch", str(batch)])
    at_kill = 0
    while proc.poll() is None:
        at_kill = progress(factory, rotation_id)
        if at_kill >= records // 2:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    before_kill = time.perf_counter() - started
    checkpoint = progress(factory, rotation_id)
    store = FileKeyStore(keystore, PASSPHRASE, create=False)
    resumed_at = time.perf_counter()
    done = run_rotation(session_factory=factory, actor=ACTOR, store=store, batch_size=batch)
    after = time.perf_counter() - resumed_at
    with factory() as session:
        under_new = session.scalar(select(func.count()).select_from(SealedObject).where(
            SealedObject.key_id == store.current_key_id())) or 0
        old = session.get(MasterKeyRecord, old_key)
    ok = (done is not None and done.state == "done" and done.rewrapped == records
          and under_new == records and old is not None and old.state == "retired")
    return {"killed": proc.returncode == -signal.SIGKILL, "checkpoint": checkpoint,
            "before_kill": before_kill, "after": after, "ok": "yes" if ok else "NO"}


def verify_sample(factory: sessionmaker[Session], keystore: Path, records: int,
                  count: int) -> int:
    """Open ``count`` random rows; how many opened."""
    store = FileKeyStore(keystore, PASSPHRASE, create=False)
    ids = random.Random(7).sample(range(1, records + 1), min(count, records))
    opened = 0
    with factory() as session:
        for obj in session.scalars(select(SealedObject).where(SealedObject.id.in_(ids))):
            open_object(store=store, obj=obj)
            opened += 1
    return opened


def naive_baseline(factory: sessionmaker[Session], keystore: Path, sample: int,
                   batch: int) -> float:
    """Seconds to decrypt and re-encrypt in full the first ``sample`` rows under a new
    master key, in batches like the rotation."""
    store = FileKeyStore(keystore, PASSPHRASE, create=False)
    store.create_key()
    started = time.perf_counter()
    last = 0
    while last < sample:
        with factory.begin() as session:
            rows = session.execute(
                select(SealedObject.id, SealedObject.kind, SealedObject.owner_ref,
                       SealedObject.key_id, SealedObject.wrapped_key, SealedObject.nonce,
                       SealedObject.ciphertext)
                .where(SealedObject.id > last).order_by(SealedObject.id)
                .limit(min(batch, sample - last))).all()
            if not rows:
                break
            changes = []
            for row_id, kind, owner, key_id, wrapped, nonce, ciphertext in rows:
                aad = record_aad(kind, owner)
                plain = open_sealed(store, Sealed(key_id, wrapped, nonce, ciphertext), aad)
                fresh = seal(store, plain, aad)
                changes.append({"id": row_id, "key_id": fresh.key_id,
                                "wrapped_key": fresh.wrapped_key, "nonce": fresh.nonce,
                                "ciphertext": fresh.ciphertext})
            session.execute(update(SealedObject), changes)
            last = rows[-1][0]
    return time.perf_counter() - started


def main() -> None:
    """Run the bench and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--payload-bytes", type=int, default=512)
    parser.add_argument("--baseline-sample", type=int, default=20_000)
    parser.add_argument("--verify", type=int, default=1000)
    parser.add_argument("--child", nargs=2, metavar=("HOME", "KEYSTORE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), args.batch)
        return
    n = args.records
    print(f"Load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        engine, factory = open_db(home)
        lakana.models.metadata.create_all(engine)
        keystore = home / "keystore.json"
        store = FileKeyStore(keystore, PASSPHRASE)
        seeded = seed(factory, store, n, args.payload_bytes)
        rot = killed_and_resumed(home, factory, keystore, n, args.batch)
        opened = verify_sample(factory, keystore, n, args.verify)
        sample = min(args.baseline_sample, n)
        naive = naive_baseline(factory, keystore, sample, args.batch)
        size_mib = (home / "lakana.db").stat().st_size / 2**20
        engine.dispose()
    total = float(rot["before_kill"]) + float(rot["after"])
    naive_total = naive * n / sample
    print(f"\n{n:,} generated records, {args.payload_bytes}-byte payloads, SQLite "
          f"{size_mib:,.0f} MiB, keystore file, batches of {args.batch:,}\n")
    print("| step | records | time (s) | records/s | notes |")
    print("|---|---:|---:|---:|---|")
    print(f"| seed: seal + insert (generated data) | {n:,} | {seeded:,.1f} | "
          f"{n / seeded:,.0f} | one data key per record |")
    print(f"| re-wrap, child until SIGKILL | {rot['checkpoint']:,} | "
          f"{float(rot['before_kill']):,.1f} | - | killed: {rot['killed']}; checkpoint "
          f"{rot['checkpoint']:,} rows |")
    print(f"| re-wrap, resumed to the end | {n - int(rot['checkpoint']):,} | "
          f"{float(rot['after']):,.1f} | - | resumed from the checkpoint |")
    print(f"| **re-wrap total (killed + resumed)** | {n:,} | {total:,.1f} | "
          f"{n / total:,.0f} | all under the new key, old key retired: {rot['ok']}; "
          f"{opened:,}/{min(args.verify, n):,} sampled rows open |")
    print(f"| baseline: naive decrypt + re-encrypt, measured | {sample:,} | {naive:,.1f} | "
          f"{sample / naive:,.0f} | full records re-encrypted |")
    print(f"| baseline: naive, **extrapolated** to {n:,} | {n:,} | {naive_total:,.0f} | "
          f"{n / naive_total:,.0f} | {naive_total / total:,.1f}x the re-wrap |")
    print(f"\nLoad average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""Sealed objects in the database: rotation (resumable after a real kill -9) and a leak scan
of the raw database files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry.models import KeyRotation, MasterKeyRecord, SealedObject
from lakana.biometry.protection.keystore import FileKeyStore
from lakana.biometry.protection.rotation import run_rotation, start_rotation
from lakana.biometry.protection.sealed import open_object, seal_object
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings
from tests.biometry.conftest import PASSPHRASE

ACTOR = system_actor("tests")
MARKER = b"LAKANA-LEAK-MARKER-7f3a9c"

# The child rotates slowly (a pause after each committed batch) so the parent can kill it
# with SIGKILL half-way, as a crash or an OOM kill would.
_CHILD = """
import sys, time
from sqlalchemy import create_engine
from lakana.biometry.protection.keystore import FileKeyStore
from lakana.biometry.protection.rotation import run_rotation
from lakana.core.auth.rbac import system_actor
from lakana.core.db import make_session_factory
import lakana.models
engine = create_engine(sys.argv[1])
store = FileKeyStore(__import__("pathlib").Path(sys.argv[2]), sys.argv[3], create=False)
run_rotation(session_factory=make_session_factory(engine), actor=system_actor("child"),
             store=store, batch_size=20, on_batch=lambda r: time.sleep(0.05))
"""


def _payload(i: int) -> bytes:
    return b"FAKE-WSQ-" + MARKER + i.to_bytes(4, "big") * 50


def _seed(session_factory: sessionmaker[Session], store: FileKeyStore, count: int) -> None:
    with session_factory.begin() as session:
        for i in range(count):
            seal_object(session=session, store=store, kind="fingerprint_wsq",
                        owner_ref=f"person:{i}", plaintext=_payload(i))


def _check_all_open_under(session: Session, store: FileKeyStore, key_id: str,
                          count: int) -> None:
    objects = session.scalars(select(SealedObject).order_by(SealedObject.id)).all()
    assert len(objects) == count
    for i, obj in enumerate(objects):
        assert obj.key_id == key_id
        assert open_object(store=store, obj=obj) == _payload(i)


def test_rotation_in_process(session_factory: sessionmaker[Session],
                             file_store: FileKeyStore) -> None:
    # Given 50 sealed objects under the first key.
    _seed(session_factory, file_store, 50)
    old = file_store.current_key_id()
    with session_factory.begin() as session:
        rotation = start_rotation(session=session, actor=ACTOR, store=file_store)
    new = file_store.current_key_id()
    assert new == rotation.to_key_id != old
    # When one more object is sealed during the rotation, it uses the new key at once.
    with session_factory.begin() as session:
        late = seal_object(session=session, store=file_store, kind="fingerprint_wsq",
                           owner_ref="person:50", plaintext=_payload(50))
        assert late.key_id == new
    done = run_rotation(session_factory=session_factory, actor=ACTOR, store=file_store,
                        batch_size=7)
    # Then every object opens under the new key, the old key is retired, the ledger has
    # the start and the finish with counts only.
    assert done is not None and done.state == "done" and done.rewrapped == 50
    with session_factory() as session:
        _check_all_open_under(session, file_store, new, 51)
        assert session.get(MasterKeyRecord, old).state == "retired"  # type: ignore[union-attr]
        assert session.get(MasterKeyRecord, new).state == "active"  # type: ignore[union-attr]
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.action.like("biometry.key_rotation.%")).order_by(AuditEntry.seq)).all()
        assert [e.action for e in entries] == ["biometry.key_rotation.start",
                                               "biometry.key_rotation.finish"]
        assert '"rewrapped":50' in entries[1].details.replace(" ", "")
    assert run_rotation(session_factory=session_factory, actor=ACTOR, store=file_store) is None


def test_rotation_resumes_after_kill_9(session_factory: sessionmaker[Session],
                                       file_store: FileKeyStore, keystore_path: Path,
                                       settings: Settings) -> None:
    # Given 400 objects and a rotation started.
    _seed(session_factory, file_store, 400)
    old = file_store.current_key_id()
    with session_factory.begin() as session:
        rotation_id = start_rotation(session=session, actor=ACTOR, store=file_store).id
    # When a child process rotating them is killed with SIGKILL part-way.
    child = subprocess.Popen([sys.executable, "-c", _CHILD, settings.effective_database_url,
                              str(keystore_path), PASSPHRASE], env={**os.environ})
    deadline = time.monotonic() + 60
    progress = 0
    while time.monotonic() < deadline and child.poll() is None:
        with session_factory() as session:
            progress = session.get(KeyRotation, rotation_id).rewrapped  # type: ignore[union-attr]
        if progress >= 100:
            break
        time.sleep(0.02)
    assert child.poll() is None, "the child finished before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(10) == -signal.SIGKILL
    # Then the checkpoint matches the rows actually moved, and a rerun resumes from it.
    with session_factory() as session:
        rotation = session.get(KeyRotation, rotation_id)
        assert rotation is not None and rotation.state == "running"
        assert 100 <= rotation.rewrapped < 400
        moved = session.scalar(select(func.count()).select_from(SealedObject)
                               .where(SealedObject.key_id == rotation.to_key_id))
        assert moved == rotation.rewrapped
        checkpoint = rotation.last_object_id
    store = FileKeyStore(keystore_path, PASSPHRASE, create=False)
    batches: list[int] = []
    done = run_rotation(session_factory=session_factory, actor=ACTOR, store=store,
                        batch_size=50, on_batch=lambda r: batches.append(r.last_object_id))
    assert done is not None and done.state == "done" and done.rewrapped == 400
    assert batches and batches[0] > checkpoint
    with session_factory() as session:
        _check_all_open_under(session, store, done.to_key_id, 400)
        assert session.get(MasterKeyRecord, old).state == "retired"  # type: ignore[union-attr]


def test_leak_scan_of_database_files(session_factory: sessionmaker[Session],
                                     file_store: FileKeyStore, settings: Settings,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a recognisable fake fingerprint image sealed through the database, with the
    # data key captured as it is drawn.
    import lakana.biometry.protection.envelope as envelope

    drawn: list[bytes] = []
    real = os.urandom

    def spy(n: int) -> bytes:
        value = real(n)
        if n == 32:
            drawn.append(value)
        return value

    monkeypatch.setattr(envelope.os, "urandom", spy)
    with session_factory.begin() as session:
        seal_object(session=session, store=file_store, kind="fingerprint_wsq",
                    owner_ref="person:1", plaintext=_payload(1))
    monkeypatch.undo()
    assert len(drawn) == 1
    url = settings.effective_database_url
    if not url.startswith("sqlite:///"):
        return  # the raw-file scan applies to SQLite; PostgreSQL dumps are scanned elsewhere
    # When the raw database file and its WAL are read byte for byte.
    path = Path(url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    # Then neither the sample nor its data key appears in clear, nor does the master key
    # (the keystore file holds it encrypted only).
    assert len(raw) > 0
    assert MARKER not in raw and b"FAKE-WSQ" not in raw
    assert drawn[0] not in raw
    assert drawn[0] not in file_store.path.read_bytes()
    with session_factory() as session:
        obj = session.scalars(select(SealedObject)).one()
        assert open_object(store=file_store, obj=obj) == _payload(1)

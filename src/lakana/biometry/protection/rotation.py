"""Master key rotation without downtime: re-wrap every data key under a new master key.

Starting a rotation creates the new master key, which new seals use at once; readers never
wait, since each row names the key that wrapped it. The re-wrap then runs in batches: the
data key is unwrapped with the old master key and wrapped with the new one (the biometric
data itself is never decrypted), and each batch is committed together with the rotation's
checkpoint, so a killed run loses at most the batch in progress and a rerun resumes after
the checkpoint. When no row remains under the old key, the rotation is done and the old key
retired.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry.models import KeyRotation, MasterKeyRecord, SealedObject
from lakana.biometry.protection.keystore import MasterKeyStore
from lakana.biometry.protection.sealed import ensure_key_record
from lakana.core import audit
from lakana.core.auth.rbac import Actor
from lakana.core.db import utcnow
from lakana.core.errors import Conflict

DEFAULT_BATCH = 2000


def running_rotation(*, session: Session) -> KeyRotation | None:
    """The rotation in progress, if any."""
    return session.scalars(select(KeyRotation).where(KeyRotation.state == "running")
                           .order_by(KeyRotation.id).limit(1)).first()


def start_rotation(*, session: Session, actor: Actor, store: MasterKeyStore) -> KeyRotation:
    """Create a new master key (current at once) and a rotation away from the old one.

    Refuses while another rotation runs. The key is created in the store before the
    transaction commits; if the commit fails, the unused key stays in the store, harmless.
    """
    if running_rotation(session=session) is not None:
        raise Conflict("A master key rotation is already running: resume it first.")
    old_id = store.current_key_id()
    ensure_key_record(session=session, store=store, key_id=old_id).state = "retiring"
    new_id = store.create_key()
    ensure_key_record(session=session, store=store, key_id=new_id)
    rotation = KeyRotation(from_key_id=old_id, to_key_id=new_id, state="running",
                           last_object_id=0, rewrapped=0)
    session.add(rotation)
    session.flush()
    pending = session.scalar(select(func.count()).select_from(SealedObject)
                             .where(SealedObject.key_id == old_id)) or 0
    audit.record(session=session, actor=actor, action="biometry.key_rotation.start",
                 object_type="biometry.key_rotation", object_id=rotation.id,
                 object_repr=f"rotation {rotation.id}",
                 details={"from_key_id": old_id, "to_key_id": new_id, "objects": pending,
                          "backend": store.backend})
    return rotation


def rewrap_batch(*, session: Session, actor: Actor, store: MasterKeyStore,
                 rotation: KeyRotation, batch_size: int = DEFAULT_BATCH) -> int:
    """Re-wrap the next ``batch_size`` rows after the checkpoint and move the checkpoint;
    finish the rotation when none is left. The caller commits (one batch, one commit).
    Returns the number of rows re-wrapped."""
    rows = session.execute(
        select(SealedObject.id, SealedObject.wrapped_key)
        .where(SealedObject.key_id == rotation.from_key_id,
               SealedObject.id > rotation.last_object_id)
        .order_by(SealedObject.id).limit(batch_size)).all()
    if not rows:
        _finish(session=session, actor=actor, rotation=rotation)
        return 0
    now = utcnow()
    old, new = rotation.from_key_id, rotation.to_key_id
    changes = [{"id": row_id, "key_id": new, "rewrapped_at": now,
                "wrapped_key": store.wrap(new, store.unwrap(old, wrapped))}
               for row_id, wrapped in rows]
    # ORM bulk UPDATE by primary key: one executemany for the whole batch.
    session.execute(update(SealedObject), changes)
    rotation.last_object_id = rows[-1][0]
    rotation.rewrapped += len(rows)
    return len(rows)


def _finish(*, session: Session, actor: Actor, rotation: KeyRotation) -> None:
    # Rows sealed under the old key by a process that had not yet seen the new one would
    # sit before the checkpoint only if ids went backwards; check anyway before retiring.
    left = session.scalar(select(func.count()).select_from(SealedObject)
                          .where(SealedObject.key_id == rotation.from_key_id)) or 0
    if left:
        rotation.last_object_id = 0
        return
    now = utcnow()
    rotation.state, rotation.finished_at = "done", now
    old = session.get(MasterKeyRecord, rotation.from_key_id)
    if old is not None:
        old.state, old.retired_at = "retired", now
    audit.record(session=session, actor=actor, action="biometry.key_rotation.finish",
                 object_type="biometry.key_rotation", object_id=rotation.id,
                 object_repr=f"rotation {rotation.id}",
                 details={"from_key_id": rotation.from_key_id,
                          "to_key_id": rotation.to_key_id, "rewrapped": rotation.rewrapped})


def run_rotation(*, session_factory: sessionmaker[Session], actor: Actor,
                 store: MasterKeyStore, batch_size: int = DEFAULT_BATCH,
                 on_batch: Callable[[KeyRotation], None] | None = None) -> KeyRotation | None:
    """Run the rotation in progress to the end, one transaction per batch (this flow owns
    its transactions, like a CLI command); ``on_batch`` is called after each commit.
    Returns the finished rotation, or None if none was running."""
    while True:
        with session_factory.begin() as session:
            rotation = running_rotation(session=session)
            if rotation is None:
                return None
            rewrap_batch(session=session, actor=actor, store=store, rotation=rotation,
                         batch_size=batch_size)
        if rotation.state == "done":
            return rotation
        if on_batch is not None:
            on_batch(rotation)

"""Master keys of the registry, seen from the outside: their states and rotations, and
starting a rotation (which a background job or the CLI then runs to the end)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakana.biometry.models import KeyRotation, MasterKeyRecord, SealedObject
from lakana.biometry.permissions import BiometryPermission
from lakana.biometry.protection import rotation
from lakana.biometry.protection.keystore import MasterKeyStore
from lakana.core.auth.rbac import Actor
from lakana.core.jobs.service import enqueue

#: The background task that runs a started rotation to the end.
REWRAP_TASK = "biometry.rewrap"


@dataclass(frozen=True)
class KeyView:
    """One master key: its state and how many sealed objects it wraps."""

    key_id: str
    backend: str
    state: str
    objects: int
    created_at: dt.datetime
    retired_at: dt.datetime | None


@dataclass(frozen=True)
class KeysStatus:
    """The current key, every key, and the rotations (newest first)."""

    current_key_id: str
    keys: list[KeyView]
    rotations: list[KeyRotation]


def status(*, session: Session, actor: Actor, store: MasterKeyStore) -> KeysStatus:
    """Keys and rotations (KEYS_MANAGE or OVERSIGHT_READ: the authority sees rotations)."""
    if not actor.can(BiometryPermission.KEYS_MANAGE):
        actor.require(BiometryPermission.OVERSIGHT_READ)
    counts: dict[str, int] = {key_id: n for key_id, n in session.execute(
        select(SealedObject.key_id, func.count()).group_by(SealedObject.key_id))}
    keys = [KeyView(key_id=r.key_id, backend=r.backend, state=r.state,
                    objects=counts.get(r.key_id, 0), created_at=r.created_at,
                    retired_at=r.retired_at)
            for r in session.scalars(select(MasterKeyRecord)
                                     .order_by(MasterKeyRecord.created_at.desc()))]
    rotations = list(session.scalars(select(KeyRotation).order_by(KeyRotation.id.desc())
                                     .limit(20)))
    return KeysStatus(current_key_id=store.current_key_id(), keys=keys, rotations=rotations)


def start_rotation(*, session: Session, actor: Actor, store: MasterKeyStore,
                   background: bool = True) -> KeyRotation:
    """Create a new master key and start re-wrapping every data key under it; with
    ``background``, a job runs the re-wrap (a rerun of the job resumes at the checkpoint)."""
    actor.require(BiometryPermission.KEYS_MANAGE)
    started = rotation.start_rotation(session=session, actor=actor, store=store)
    if background:
        enqueue(session, REWRAP_TASK, {"rotation_id": started.id},
                unique_key=f"{REWRAP_TASK}:{started.id}")
    return started

"""Sealed objects in the database: seal a payload into a row, open a row back."""

from __future__ import annotations

from sqlalchemy.orm import Session

from lakana.biometry.models import MasterKeyRecord, SealedObject
from lakana.biometry.protection.envelope import Sealed, open_sealed, record_aad, seal
from lakana.biometry.protection.keystore import MasterKeyStore


def ensure_key_record(*, session: Session, store: MasterKeyStore, key_id: str,
                      state: str = "active") -> MasterKeyRecord:
    """The lifecycle row of master key ``key_id``, created on first sight."""
    record = session.get(MasterKeyRecord, key_id)
    if record is None:
        record = MasterKeyRecord(key_id=key_id, backend=store.backend, state=state)
        session.add(record)
    return record


def seal_object(*, session: Session, store: MasterKeyStore, kind: str, owner_ref: str,
                plaintext: bytes) -> SealedObject:
    """Encrypt ``plaintext`` and add it as a row (flushed, so it has an id); the caller
    owns the transaction."""
    sealed = seal(store, plaintext, record_aad(kind, owner_ref))
    ensure_key_record(session=session, store=store, key_id=sealed.key_id)
    obj = SealedObject(kind=kind, owner_ref=owner_ref, key_id=sealed.key_id,
                       wrapped_key=sealed.wrapped_key, nonce=sealed.nonce,
                       ciphertext=sealed.ciphertext)
    session.add(obj)
    session.flush()
    return obj


def open_object(*, store: MasterKeyStore, obj: SealedObject) -> bytes:
    """Decrypt a sealed row, checking it still belongs to its kind and owner."""
    sealed = Sealed(key_id=obj.key_id, wrapped_key=obj.wrapped_key, nonce=obj.nonce,
                    ciphertext=obj.ciphertext)
    return open_sealed(store, sealed, record_aad(obj.kind, obj.owner_ref))

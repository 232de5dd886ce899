"""Envelope encryption of one record: a fresh AES-256-GCM data key per record, wrapped by
the current master key.

Only the wrapped data key depends on the master key, so a key rotation re-wraps 32-byte
keys and never decrypts the biometric data itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lakana.biometry.protection.keystore import KEY_BYTES, MasterKeyStore, UnwrapError

NONCE_BYTES = 12
#: Prefixed to every AAD so a blob sealed for something else (another format, another
#: application using the same keys) never opens here.
_AAD_CONTEXT = b"lakana.biometry.sealed.v1\x00"


class TamperedError(UnwrapError):
    """A sealed record does not open: its ciphertext, nonce, wrapped key or context was
    altered, or it belongs to another record."""


@dataclass(frozen=True)
class Sealed:
    """An encrypted record: which master key wrapped its data key, the wrapped data key,
    the GCM nonce and the ciphertext (tag included)."""

    key_id: str
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes


def record_aad(kind: str, owner_ref: str) -> bytes:
    """The AAD binding a blob to its record (kind and owner), so it cannot be swapped."""
    return f"{kind}\x1f{owner_ref}".encode()


def seal(store: MasterKeyStore, plaintext: bytes, aad: bytes) -> Sealed:
    """Encrypt ``plaintext`` under a fresh data key wrapped by the store's current key."""
    key_id = store.current_key_id()
    data_key = os.urandom(KEY_BYTES)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, _AAD_CONTEXT + aad)
    return Sealed(key_id=key_id, wrapped_key=store.wrap(key_id, data_key), nonce=nonce,
                  ciphertext=ciphertext)


def open_sealed(store: MasterKeyStore, sealed: Sealed, aad: bytes) -> bytes:
    """Decrypt ``sealed``; raises :class:`TamperedError` if any part or the AAD differs."""
    try:
        data_key = store.unwrap(sealed.key_id, sealed.wrapped_key)
    except UnwrapError:
        raise TamperedError("The sealed record's data key does not unwrap: the record was "
                            "altered.") from None
    if len(data_key) != KEY_BYTES or len(sealed.nonce) != NONCE_BYTES:
        raise TamperedError("The sealed record is malformed: the record was altered.")
    try:
        return AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext, _AAD_CONTEXT + aad)
    except InvalidTag:
        raise TamperedError("The sealed record does not open: its content was altered or "
                            "it belongs to another record.") from None

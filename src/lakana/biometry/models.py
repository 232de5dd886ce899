"""Tables of biometric protection at rest: sealed objects, master keys and key rotations.

Only wrapped data keys, nonces and ciphertexts are stored; master keys stay in the keystore
file or the HSM. ``MasterKeyRecord`` tracks the lifecycle of each key for oversight.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from lakana.core.db import Base, utcnow


class SealedObject(Base):
    """One encrypted object (image, template, demographics) under its own data key."""

    __tablename__ = "biometry_sealed_object"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: face_image, fingerprint_wsq, template_iso19794_2, demographics...
    kind: Mapped[str] = mapped_column(String(40))
    #: The owning record (for example ``person:123``), bound into the AAD.
    owner_ref: Mapped[str] = mapped_column(String(80), index=True)
    #: The master key that wrapped ``wrapped_key``; rotation moves rows from one to another.
    key_id: Mapped[str] = mapped_column(String(64), index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    rewrapped_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class MasterKeyRecord(Base):
    """The lifecycle of one master key: active (new seals), retiring (being rotated away
    from), retired (no row left under it)."""

    __tablename__ = "biometry_master_key"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: file or pkcs11.
    backend: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(10), default="active", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class KeyRotation(Base):
    """One re-wrapping of every data key from one master key to another, with its
    checkpoint (the last object id re-wrapped) so a killed run resumes."""

    __tablename__ = "biometry_key_rotation"

    id: Mapped[int] = mapped_column(primary_key=True)
    from_key_id: Mapped[str] = mapped_column(String(64))
    to_key_id: Mapped[str] = mapped_column(String(64))
    #: running or done.
    state: Mapped[str] = mapped_column(String(10), default="running", index=True)
    last_object_id: Mapped[int] = mapped_column(Integer, default=0)
    rewrapped: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)

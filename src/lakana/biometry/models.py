"""Tables of the biometric registry: sealed objects and master keys (protection at rest),
persons, enrollments and captures, adjudications, relying services and their accesses,
citizens' challenges and complaints.

Only wrapped data keys, nonces and ciphertexts are stored; master keys stay in the keystore
file or the HSM. ``MasterKeyRecord`` tracks the lifecycle of each key for oversight.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
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


class Person(Base):
    """A person of the registry. Demographics are sealed (``demographics_object_id``); the
    national identification number is found through its blind index only. The region is
    kept in clear for statistics."""

    __tablename__ = "biometry_person"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Blind index (HMAC) of the national identification number.
    nin_index: Mapped[str] = mapped_column(String(64), unique=True)
    #: Blind index of the normalised "surname given names", for exact-match lookup by name.
    name_index: Mapped[str] = mapped_column(String(64), index=True)
    #: The sealed JSON of :class:`lakana.biometry.schemas.Demographics`; null once deleted.
    demographics_object_id: Mapped[int | None] = mapped_column(
        ForeignKey("biometry_sealed_object.id", ondelete="SET NULL"), default=None)
    region: Mapped[str] = mapped_column(String(40), index=True)
    #: pending (enrolled, not yet unique), active (identity issued), deceased, deleted,
    #: rejected (a duplicate of another person, never issued).
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    #: Modalities the citizen locked for authentication: "" or "face", "finger", "face,finger".
    locked_modalities: Mapped[str] = mapped_column(String(20), default="")
    issued_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    deceased_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    #: When the lawful retention of a deceased or rejected person's data ends.
    delete_after: Mapped[dt.datetime | None] = mapped_column(default=None, index=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    deletion_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Enrollment(Base):
    """One enrollment packet as a registration client sent it, and where it stands in the
    lifecycle (received → quality → deduplication → adjudication → issued / rejected)."""

    __tablename__ = "biometry_enrollment"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The client's packet id: a replayed packet (same id, same digest) is recognised.
    packet_id: Mapped[str] = mapped_column(String(80), unique=True)
    #: SHA-256 of the packet's canonical JSON: the same id with another digest is refused.
    packet_digest: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int] = mapped_column(ForeignKey("biometry_person.id"), index=True)
    #: new (first enrollment) or update (re-capture of an issued person).
    kind: Mapped[str] = mapped_column(String(10), default="new")
    #: received, quality_failed, pending_dedup, adjudication, issued, updated, rejected.
    state: Mapped[str] = mapped_column(String(16), default="received", index=True)
    centre: Mapped[str] = mapped_column(String(120))
    device: Mapped[str] = mapped_column(String(120))
    agent_user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), default=None)
    captured_at: Mapped[dt.datetime] = mapped_column()
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    #: Why quality failed, or the rejection reason (plain text, no biometric data).
    state_reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class Capture(Base):
    """One biometric capture of a person: a face image or one finger, with its quality.
    The image (WSQ for fingers) and the template are sealed objects."""

    __tablename__ = "biometry_capture"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("biometry_person.id"), index=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("biometry_enrollment.id"), index=True)
    #: face or finger.
    modality: Mapped[str] = mapped_column(String(8))
    #: ISO/IEC 19794-2 finger position code (1 right thumb … 10 left little); 0 for a face.
    position: Mapped[int] = mapped_column(Integer, default=0)
    image_object_id: Mapped[int | None] = mapped_column(
        ForeignKey("biometry_sealed_object.id", ondelete="SET NULL"), default=None)
    template_object_id: Mapped[int | None] = mapped_column(
        ForeignKey("biometry_sealed_object.id", ondelete="SET NULL"), default=None)
    #: NFIQ 2 score (0-100) for a finger; the face check's score (0-100) for a face.
    quality: Mapped[int] = mapped_column(Integer, default=0)
    minutiae: Mapped[int] = mapped_column(Integer, default=0)
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    #: The capture in use for the person; a re-capture deactivates the one it replaces.
    active: Mapped[bool] = mapped_column(default=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Adjudication(Base):
    """A possible duplicate found by deduplication, waiting for (or decided by) an
    adjudicator."""

    __tablename__ = "biometry_adjudication"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("biometry_enrollment.id"),
                                               unique=True)
    #: JSON list of {"person_id", "score", "scores": {modality/position: score}}.
    candidates: Mapped[str] = mapped_column(Text)
    #: open or decided.
    state: Mapped[str] = mapped_column(String(8), default="open", index=True)
    #: duplicate or distinct.
    decision: Mapped[str | None] = mapped_column(String(10), default=None)
    duplicate_of_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("biometry_person.id"), default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class RelyingService(Base):
    """A service that relies on the registry (electoral body, social security fund…),
    with its legal basis, the purposes it may invoke and its credentials."""

    __tablename__ = "biometry_relying_service"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(Text)
    #: Comma-separated purpose codes from :data:`lakana.biometry.purposes.PURPOSES`.
    purposes: Mapped[str] = mapped_column(String(400))
    #: PEM Ed25519 public key that verifies the service's signed request tokens.
    public_key_pem: Mapped[str | None] = mapped_column(Text, default=None)
    #: SHA-256 fingerprint (hex) of the client certificate for mutual TLS, if used.
    client_cert_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=120)
    #: Requests in one hour above which the CSIRT gets an alert (unusual volume).
    alert_per_hour: Mapped[int] = mapped_column(Integer, default=2000)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ServiceAccess(Base):
    """One request of a relying service about a person (or refused before one was found):
    what citizens see on their transparency page and the authority on its dashboard."""

    __tablename__ = "biometry_service_access"
    __table_args__ = (Index("ix_biometry_access_person_at", "person_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("biometry_relying_service.id"),
                                            index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("biometry_person.id"),
                                                  default=None)
    #: verify, identify or attributes.
    operation: Mapped[str] = mapped_column(String(12))
    purpose: Mapped[str] = mapped_column(String(40))
    #: match, no_match, released, candidates, refused.
    outcome: Mapped[str] = mapped_column(String(12))
    score_band: Mapped[str] = mapped_column(String(8), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    #: The token's id (jti), so a replayed token is refused.
    request_id: Mapped[str] = mapped_column(String(80), default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class CitizenChallenge(Base):
    """A one-time code sent by SMS to a citizen who asked to see their record."""

    __tablename__ = "biometry_citizen_challenge"

    id: Mapped[int] = mapped_column(primary_key=True)
    nin_index: Mapped[str] = mapped_column(String(64), index=True)
    #: HMAC of the code; the code itself is never stored.
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class CitizenSession(Base):
    """A short citizen session opened by a correct one-time code."""

    __tablename__ = "biometry_citizen_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("biometry_person.id"), index=True)
    expires_at: Mapped[dt.datetime] = mapped_column()


class Complaint(Base):
    """A citizen's complaint about the use of their data, routed to the data protection
    authority."""

    __tablename__ = "biometry_complaint"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("biometry_person.id"),
                                                  default=None)
    #: The service the complaint is about, if any.
    service_id: Mapped[int | None] = mapped_column(ForeignKey("biometry_relying_service.id"),
                                                   default=None)
    body: Mapped[str] = mapped_column(Text)
    #: open, in_review, closed.
    state: Mapped[str] = mapped_column(String(10), default="open", index=True)
    response: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class AbisReference(Base):
    """One registration record that a MOSIP deployment inserted into Lakana as its ABIS
    (``mosip.abis.insert``). MOSIP's ``referenceId`` maps it; the samples hold the data."""

    __tablename__ = "biometry_abis_reference"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: MOSIP's referenceId (a UUID in practice); one active record per id.
    reference_id: Mapped[str] = mapped_column(String(80), unique=True)
    #: The requestId of the Insert that created it.
    request_id: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AbisSample(Base):
    """One biometric sample of an ABIS reference: a finger (ISO/IEC 19794-2 template) or a
    face template, sealed (``template_object_id``); never stored in clear."""

    __tablename__ = "biometry_abis_sample"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference_pk: Mapped[int] = mapped_column(
        ForeignKey("biometry_abis_reference.id", ondelete="CASCADE"), index=True)
    #: finger or face.
    modality: Mapped[str] = mapped_column(String(8))
    #: ISO/IEC 19794-2 finger position code (1 right thumb … 10 left little); 0 for a face.
    position: Mapped[int] = mapped_column(Integer, default=0)
    template_object_id: Mapped[int | None] = mapped_column(
        ForeignKey("biometry_sealed_object.id", ondelete="SET NULL"), default=None)
    #: The quality the CBEFF declared, or the engine measured (0-100).
    quality: Mapped[int] = mapped_column(Integer, default=0)


class AbisRequest(Base):
    """One ABIS request message received (unique ``requestId``) and, once done, the
    response message. A replayed requestId gets the same answer and is not re-queued."""

    __tablename__ = "biometry_abis_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(80), unique=True)
    #: The message's ``id``: mosip.abis.insert, mosip.abis.identify, mosip.abis.delete…
    operation: Mapped[str] = mapped_column(String(40), index=True)
    #: SHA-256 of the request's canonical JSON: the same requestId with another digest is
    #: refused (409).
    digest: Mapped[str] = mapped_column(String(64))
    reference_id: Mapped[str] = mapped_column(String(80), default="")
    #: The request message without biometric data (an inline CBEFF is sealed apart).
    request_json: Mapped[str] = mapped_column(Text)
    #: An inline CBEFF (Lakana extension), sealed until the job has used it.
    cbeff_object_id: Mapped[int | None] = mapped_column(
        ForeignKey("biometry_sealed_object.id", ondelete="SET NULL"), default=None)
    #: queued or done.
    state: Mapped[str] = mapped_column(String(8), default="queued", index=True)
    #: The response message (JSON), once done; it holds ids and scores, never samples.
    response_json: Mapped[str | None] = mapped_column(Text, default=None)
    job_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column(default=None)

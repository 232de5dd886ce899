"""Intake of enrollment packets: validate, check quality, seal, store and ledger.

A registration client (or the enrollment station) sends one :class:`EnrollmentPacket` per
enrollment. :func:`submit_packet` checks it whole before anything is written, in the
caller's transaction: base64 decoded strictly, every capture decoded and checked by the
matching engine (a failure to acquire names the capture), finger positions unique, one face
at most, the same print never submitted under two positions, and for an update every print
at the position it was first enrolled at. Images (WSQ for fingers, JPEG for the face) and
ISO/IEC 19794-2 templates are sealed under the person's own data keys; the ledger gets the
enrollment with its quality scores, never a sample, a template or the clear national number.

A packet is idempotent: the same ``packet_id`` with the same content (SHA-256 of its
canonical JSON) returns the enrollment already made; the same id with other content is
refused (409). :func:`record_refusal` ledgers a refused packet in a transaction of its own,
after the refused one was rolled back.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import persons
from lakana.biometry.abis.resident import ResidentGallery
from lakana.biometry.engine import (
    AcquisitionError,
    FaceSample,
    FingerSample,
    MatchingEngine,
    Probe,
)
from lakana.biometry.models import Capture, Enrollment, Person
from lakana.biometry.permissions import BiometryPermission as P
from lakana.biometry.protection.keystore import MasterKeyStore
from lakana.biometry.schemas import REGIONS, CaptureIn, EnrollmentPacket
from lakana.core import i18n
from lakana.core.audit.ledger import record
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Conflict, Invalid, LakanaError, NotFound
from lakana.core.i18n import N_

#: The state of a stored packet that passed quality, before deduplication.
PENDING_DEDUP = "pending_dedup"


@dataclass(frozen=True)
class CaptureQuality:
    """The quality of one stored capture (NFIQ 2 for a finger, the checks' score for a
    face; 0 for an imported template, which carries none)."""

    modality: str
    position: int
    quality: int
    minutiae: int = 0


@dataclass(frozen=True)
class IntakeResult:
    """What became of a packet."""

    enrollment_id: int
    person_id: int
    state: str
    replayed: bool
    quality: tuple[CaptureQuality, ...]


class _Nested:
    """A message id with its parameters, used as the parameter of another message: it is
    translated when the outer message is rendered (in the reader's language)."""

    def __init__(self, message: str, params: dict[str, Any]) -> None:
        self.message = message
        self.params = params

    def __str__(self) -> str:
        # The engine names the kind of image in English ("fingerprint", "face").
        params = {k: i18n.Msg(v) if k == "what" and isinstance(v, str) else v
                  for k, v in self.params.items()}
        return i18n.gettext(self.message, **params)


#: What the engine calls the images it decodes (the ``what`` of its messages).
IMAGE_KINDS = (N_("fingerprint"), N_("face"))
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"


def _check_complete(data: bytes, what: str) -> None:
    """Refuse a truncated PNG or JPEG, which the image library may decode without a word
    (the missing rows come out grey)."""
    truncated = False
    if data.startswith(_PNG_MAGIC):
        try:
            with Image.open(io.BytesIO(data)) as picture:
                picture.verify()  # every chunk's CRC, up to IEND
        except Exception:  # noqa: BLE001  (the codec raises anything on bad input)
            truncated = True
    elif data.startswith(_JPEG_SOI):
        truncated = not data.rstrip(b"\x00\r\n ").endswith(_JPEG_EOI)
    if truncated:
        raise AcquisitionError("The %(what)s image is corrupt, truncated or not an image.",
                               what=what)


def packet_digest(packet: EnrollmentPacket) -> str:
    """SHA-256 (hex) of the packet's canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(packet.model_dump(mode="json"), sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _b64(value: str, *, capture: CaptureIn) -> bytes:
    """Strict base64 (standard alphabet, padding required, no stray characters)."""
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
        if base64.b64encode(raw).decode("ascii") != value:  # extra padding, stray bits
            raise ValueError("not canonical base64")
        return raw
    except (binascii.Error, UnicodeEncodeError, ValueError):
        if capture.modality == "face":
            raise Invalid("The face image is not valid base64.") from None
        raise Invalid("The data of finger %(position)s is not valid base64.",
                      position=capture.position) from None


def _acquisition(exc: AcquisitionError, capture: CaptureIn) -> AcquisitionError:
    """The engine's refusal, naming the capture it is about."""
    reason = _Nested(exc.message, exc.params)
    if capture.modality == "face":
        return AcquisitionError("Face: %(reason)s", reason=reason)
    return AcquisitionError("Finger %(position)s: %(reason)s", position=capture.position,
                            reason=reason)


def _check_structure(packet: EnrollmentPacket) -> None:
    """Positions, modalities and payloads, before any decoding."""
    if packet.demographics.region not in REGIONS:
        raise Invalid("The region %(region)s is not one of the regions of Mali.",
                      region=packet.demographics.region[:40])
    faces = [c for c in packet.captures if c.modality == "face"]
    fingers = [c for c in packet.captures if c.modality == "finger"]
    if len(faces) > 1:
        raise Invalid("A packet holds at most one face image.")
    if not fingers:
        raise Invalid("A packet needs at least one finger: deduplication compares "
                      "fingerprints.")
    seen: set[int] = set()
    for capture in fingers:
        if not 1 <= capture.position <= 10:
            raise Invalid("A finger position is a code from 1 (right thumb) to 10 (left "
                          "little finger); %(position)s is not.", position=capture.position)
        if capture.position in seen:
            raise Invalid("Finger position %(position)s appears twice in the packet.",
                          position=capture.position)
        seen.add(capture.position)
        if (capture.image_base64 is None) == (capture.iso_template_base64 is None):
            raise Invalid("Finger %(position)s needs either an image or an ISO/IEC 19794-2 "
                          "template (one of them).", position=capture.position)
    for capture in faces:
        if capture.image_base64 is None or capture.iso_template_base64 is not None:
            raise Invalid("The face needs an image (and no template).")


def _acquire(packet: EnrollmentPacket, engine: MatchingEngine
             ) -> tuple[list[FingerSample], FaceSample | None]:
    """Decode and check every capture through the engine."""
    fingers: list[FingerSample] = []
    face: FaceSample | None = None
    for capture in packet.captures:
        try:
            if capture.modality == "face":
                assert capture.image_base64 is not None
                image = _b64(capture.image_base64, capture=capture)
                _check_complete(image, "face")
                face = engine.face_from_image(image)
            elif capture.iso_template_base64 is not None:
                fingers.append(engine.finger_from_template(
                    _b64(capture.iso_template_base64, capture=capture),
                    position=capture.position))
            else:
                assert capture.image_base64 is not None
                image = _b64(capture.image_base64, capture=capture)
                _check_complete(image, "fingerprint")
                fingers.append(engine.finger_from_image(image, position=capture.position,
                                                        ppi=capture.ppi))
        except AcquisitionError as exc:
            raise _acquisition(exc, capture) from None
    return fingers, face


def _score(engine: MatchingEngine, left: bytes, right: bytes) -> float:
    """Score of two finger templates whatever positions they were taken at."""
    return engine.compare(Probe(fingers={0: left}), Probe(fingers={0: right})).score


def _check_distinct(fingers: list[FingerSample], engine: MatchingEngine) -> None:
    """Refuse one print submitted under two positions."""
    for first, second in combinations(sorted(fingers, key=lambda f: f.position), 2):
        if _score(engine, first.iso_template, second.iso_template) >= engine.match_threshold:
            raise Invalid("The same finger was submitted as positions %(first)s and "
                          "%(second)s.", first=first.position, second=second.position)


def _check_positions(fingers: list[FingerSample], stored: Probe,
                     engine: MatchingEngine) -> None:
    """For an update: a print whose best match among the person's stored fingers is
    another position, and that does not match its own, is at the wrong position."""
    for finger in fingers:
        scores = {position: _score(engine, finger.iso_template, template)
                  for position, template in stored.fingers.items()}
        if not scores:
            return
        best = max(scores, key=lambda p: (scores[p], -p))
        if best != finger.position and scores[best] >= engine.match_threshold \
                and scores.get(finger.position, 0.0) < engine.match_threshold:
            raise Invalid("The print submitted as finger position %(submitted)s is the "
                          "person's finger %(stored)s: check the finger position.",
                          submitted=finger.position, stored=best)


def _qualities(session: Session, enrollment_id: int) -> tuple[CaptureQuality, ...]:
    rows = session.scalars(select(Capture).where(Capture.enrollment_id == enrollment_id)
                           .order_by(Capture.modality, Capture.position))
    return tuple(CaptureQuality(modality=c.modality, position=c.position, quality=c.quality,
                                minutiae=c.minutiae) for c in rows)


def _replay(*, session: Session, actor: Actor, enrollment: Enrollment) -> IntakeResult:
    record(session=session, actor=actor, action="biometry.enrollment.replay",
           object_type="biometry.enrollment", object_id=enrollment.id,
           object_repr=f"enrollment {enrollment.id}",
           details={"packet_id": enrollment.packet_id, "person_id": enrollment.person_id,
                    "state": enrollment.state, "outcome": "replay recognised"})
    return IntakeResult(enrollment_id=enrollment.id, person_id=enrollment.person_id,
                        state=enrollment.state, replayed=True,
                        quality=_qualities(session, enrollment.id))


def submit_packet(*, session: Session, actor: Actor, store: MasterKeyStore,
                  engine: MatchingEngine, packet: EnrollmentPacket,
                  deduplicate: bool = True, gallery: ResidentGallery | None = None
                  ) -> IntakeResult:
    """Take in one enrollment packet (see the module's documentation); every refusal
    raises before anything is written, so the caller's rollback leaves nothing behind.
    ``gallery``: the resident gallery deduplication searches (None: the sealed one)."""
    actor.require(P.ENROL)
    digest = packet_digest(packet)
    existing = session.scalar(select(Enrollment).where(Enrollment.packet_id == packet.packet_id))
    if existing is not None:
        if existing.packet_digest != digest:
            raise Conflict("The packet %(packet_id)s was already received with other content: "
                           "a new packet needs a new id.", packet_id=packet.packet_id)
        return _replay(session=session, actor=actor, enrollment=existing)

    _check_structure(packet)
    person = persons.find_by_nin(session=session, store=store, nin=packet.demographics.nin)
    if packet.kind == "new" and person is not None:
        raise Conflict("A person with this national identification number is already "
                       "registered: send an update packet to re-capture them.")
    if packet.kind == "update":
        if person is None:
            raise Invalid("No person with this national identification number is "
                          "registered: send a new enrollment.")
        if person.status != "active":
            raise Conflict("Only a person whose identity was issued can be updated; this "
                           "record is %(status)s.", status=person.status)

    fingers, face = _acquire(packet, engine)
    _check_distinct(fingers, engine)
    if person is not None:
        _check_positions(fingers, persons.probe_of(session=session, store=store,
                                                   person_id=person.id), engine)

    try:
        # A savepoint: the same packet (or number) sent twice at the same moment makes one
        # of the two inserts fail on a unique key; that one then answers as a replay would.
        with session.begin_nested():
            if person is None:
                person = persons.create_person(session=session, store=store,
                                               demographics=packet.demographics)
            enrollment = Enrollment(packet_id=packet.packet_id, packet_digest=digest,
                                    person_id=person.id, kind=packet.kind,
                                    state=PENDING_DEDUP, centre=packet.centre,
                                    device=packet.device, agent_user_id=actor.user_id,
                                    captured_at=packet.captured_at)
            session.add(enrollment)
            session.flush()
            _store_captures(session=session, store=store, person=person,
                            enrollment=enrollment, fingers=fingers, face=face)
    except IntegrityError:
        return _after_lost_race(session=session, actor=actor, store=store, packet=packet,
                                digest=digest)
    quality = _qualities(session, enrollment.id)
    record(session=session, actor=actor, action="biometry.enrollment.submit",
           object_type="biometry.enrollment", object_id=enrollment.id,
           object_repr=f"enrollment {enrollment.id} (person {person.id})",
           details={"packet_id": packet.packet_id, "person_id": person.id,
                    "kind": packet.kind, "centre": packet.centre, "device": packet.device,
                    "region": person.region,
                    "captures": [{"modality": q.modality, "position": q.position,
                                  "quality": q.quality} for q in quality]})
    state = enrollment.state
    if deduplicate:
        from lakana.biometry import lifecycle

        state = lifecycle.deduplicate(session=session, actor=actor, store=store,
                                      engine=engine, enrollment=enrollment, gallery=gallery)
    return IntakeResult(enrollment_id=enrollment.id, person_id=person.id, state=state,
                        replayed=False, quality=quality)


def _after_lost_race(*, session: Session, actor: Actor, store: MasterKeyStore,
                     packet: EnrollmentPacket, digest: str) -> IntakeResult:
    """Answer a packet whose insert lost a race with a concurrent one: a replay of the
    packet that won, or the conflict a sequential submission would have met."""
    existing = session.scalar(select(Enrollment).where(Enrollment.packet_id == packet.packet_id))
    if existing is not None:
        if existing.packet_digest != digest:
            raise Conflict("The packet %(packet_id)s was already received with other content: "
                           "a new packet needs a new id.", packet_id=packet.packet_id)
        return _replay(session=session, actor=actor, enrollment=existing)
    raise Conflict("A person with this national identification number is already "
                   "registered: send an update packet to re-capture them.")


def _store_captures(*, session: Session, store: MasterKeyStore, person: Person,
                    enrollment: Enrollment, fingers: list[FingerSample],
                    face: FaceSample | None) -> None:
    """Seal images and templates and add the captures (active at once for a new person;
    an update's captures replace the old ones when deduplication confirms them)."""
    active = enrollment.kind == "new"

    def seal(kind: str, data: bytes | None) -> int | None:
        if not data:
            return None
        return persons.seal_for_person(session=session, store=store, person_id=person.id,
                                       kind=kind, data=data)

    if face is not None:
        session.add(Capture(person_id=person.id, enrollment_id=enrollment.id, modality="face",
                            position=0, image_object_id=seal(persons.KIND_FACE_IMAGE,
                                                             face.image),
                            template_object_id=seal(persons.KIND_FACE_TEMPLATE, face.template),
                            quality=face.score, width=face.width, height=face.height,
                            active=active))
    for finger in sorted(fingers, key=lambda f: f.position):
        session.add(Capture(person_id=person.id, enrollment_id=enrollment.id,
                            modality="finger", position=finger.position,
                            image_object_id=seal(persons.KIND_FINGER_WSQ, finger.wsq),
                            template_object_id=seal(persons.KIND_FINGER_TEMPLATE,
                                                    finger.iso_template),
                            quality=finger.nfiq2, minutiae=finger.minutiae,
                            width=finger.width, height=finger.height, active=active))
    session.flush()


def get_enrollment(*, session: Session, actor: Actor, enrollment_id: int) -> Enrollment:
    """One enrollment (its state, reason and quality; never biometric data)."""
    if not (actor.can(P.ENROL) or actor.can(P.PERSON_READ)):
        actor.require(P.PERSON_READ)
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None:
        raise NotFound("This enrollment does not exist.")
    return enrollment


def enrollment_quality(*, session: Session, enrollment_id: int) -> tuple[CaptureQuality, ...]:
    """The quality of each capture of an enrollment."""
    return _qualities(session, enrollment_id)


def export_template(*, session: Session, actor: Actor, store: MasterKeyStore, person_id: int,
                    position: int) -> bytes:
    """The ISO/IEC 19794-2 record of the person's active finger ``position`` (ledgered)."""
    actor.require(P.IMAGE_READ)
    person = persons.get_person(session=session, person_id=person_id)
    capture = session.scalar(select(Capture).where(
        Capture.person_id == person.id, Capture.modality == "finger",
        Capture.position == position, Capture.active.is_(True)))
    template = None if capture is None else persons.open_sealed_id(
        session=session, store=store, object_id=capture.template_object_id)
    if template is None:
        raise NotFound("This person has no active finger at position %(position)s.",
                       position=position)
    record(session=session, actor=actor, action="biometry.template.export",
           object_type="biometry.person", object_id=person.id,
           object_repr=f"person {person.id}",
           details={"position": position, "capture_id": capture.id if capture else None,
                    "format": "ISO/IEC 19794-2:2005"})
    return template


def refusal_reason(exc: LakanaError) -> str:
    """The English reason of a refusal, as the ledger keeps it."""
    with i18n.use_language("en"):
        return i18n.gettext(exc.message, **exc.params)[:500]


def record_refusal(*, session_factory: sessionmaker[Session], actor: Actor,
                   packet_id: str | None, status: int, reason: str) -> None:
    """Ledger a refused packet in its own transaction (the refused one was rolled back).
    ``reason`` must hold no biometric data and no clear national number."""
    with session_factory.begin() as session:
        ledger_refusal(session=session, actor=actor, packet_id=packet_id, status=status,
                       reason=reason)


def ledger_refusal(*, session: Session, actor: Actor, packet_id: str | None, status: int,
                   reason: str) -> None:
    """Ledger a refused packet in ``session`` (a transaction other than the refused one)."""
    record(session=session, actor=actor, action="biometry.enrollment.refused",
           object_type="biometry.enrollment", object_id=None,
           object_repr=f"packet {packet_id or '?'}"[:300],
           details={"packet_id": packet_id, "status": status, "reason": reason})

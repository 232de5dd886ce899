"""A person's lifecycle after intake: deduplication (1:N against the issued identities),
adjudication of possible duplicates, updates (re-captures verified against the person's own
prints), death, lawful deletion and the retention that deletes what is no longer lawful to
keep.

Every step is ledgered by person id: never a national number, a name or biometric data.
Services never commit: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.biometry import persons, registry_search
from lakana.biometry.abis.resident import ResidentGallery
from lakana.biometry.engine import MatchingEngine, Probe
from lakana.biometry.models import (
    Adjudication,
    Capture,
    Enrollment,
    Person,
    RelyingService,
    ServiceAccess,
)
from lakana.biometry.permissions import BiometryPermission as P
from lakana.biometry.protection.keystore import MasterKeyStore
from lakana.biometry.schemas import Demographics
from lakana.core.audit.ledger import record, record_read
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Actor
from lakana.core.config import Settings
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from lakana.core.i18n import N_

PERSON = "biometry.person"
ENROLLMENT = "biometry.enrollment"
ADJUDICATION = "biometry.adjudication"
CAPTURE = "biometry.capture"
#: Statuses a person can still die or be deleted from.
_LIVING = ("pending", "active")
RETENTION_REASON = N_("Lawful retention period ended.")
#: Why an update was refused (an English msgid, shown translated).
UPDATE_REFUSED = N_("The new fingerprints do not match the person's own.")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _person_ledger(session: Session, actor: Actor, action: str, person: Person,
                   **details: Any) -> None:
    record(session=session, actor=actor, action=f"{PERSON}.{action}", object_type=PERSON,
           object_id=person.id, object_repr=f"person {person.id}",
           details={"status": person.status, **details})


# -- deduplication ---------------------------------------------------------------------------
def deduplicate(*, session: Session, actor: Actor, store: MasterKeyStore,
                engine: MatchingEngine, enrollment: Enrollment,
                gallery: ResidentGallery | None = None) -> str:
    """Search the enrollment's captures against every issued identity and move it on:
    ``issued`` (no candidate), ``adjudication`` (an :class:`Adjudication` lists the
    candidates) or, for an update, ``updated`` / ``rejected`` (the new prints must match the
    person's own). ``gallery``: the resident gallery of issued identities
    (:func:`lakana.biometry.registry_search.registry_gallery`), or None to open every
    sealed capture. Returns the enrollment's new state."""
    actor.require(P.ENROL)
    if enrollment.state not in ("received", "pending_dedup"):
        raise Conflict("This enrollment has already been processed (state %(state)s).",
                       state=enrollment.state)
    person = persons.get_person(session=session, person_id=enrollment.person_id)
    probe = persons.probe_of(session=session, store=store, person_id=person.id,
                             enrollment_id=enrollment.id)
    if enrollment.kind == "update":
        return _update(session=session, actor=actor, store=store, engine=engine,
                       enrollment=enrollment, person=person, probe=probe)
    candidates = registry_search.identify(session=session, store=store, engine=engine,
                                          probe=probe, gallery=gallery, exclude=person.id)
    now = _now()
    if not candidates:
        enrollment.state = "issued"
        enrollment.decided_at = now
        person.status = "active"
        person.issued_at = now
        _ledger_enrollment(session, actor, "issue", enrollment)
        _person_ledger(session, actor, "issue", person, enrollment_id=enrollment.id)
        return enrollment.state
    enrollment.state = "adjudication"
    adjudication = Adjudication(enrollment_id=enrollment.id, candidates=json.dumps([
        {"person_id": c.reference_id, "score": c.score, "scores": c.scores}
        for c in candidates]))
    session.add(adjudication)
    session.flush()
    _ledger_enrollment(session, actor, "adjudication", enrollment,
                       adjudication_id=adjudication.id,
                       candidates=[c.reference_id for c in candidates])
    return enrollment.state


def _ledger_enrollment(session: Session, actor: Actor, action: str, enrollment: Enrollment,
                       **details: Any) -> None:
    record(session=session, actor=actor, action=f"{ENROLLMENT}.{action}",
           object_type=ENROLLMENT, object_id=enrollment.id,
           object_repr=f"enrollment {enrollment.id} of person {enrollment.person_id}",
           details={"person_id": enrollment.person_id, "state": enrollment.state, **details})


def _update(*, session: Session, actor: Actor, store: MasterKeyStore, engine: MatchingEngine,
            enrollment: Enrollment, person: Person, probe: Probe) -> str:
    """Verify a re-capture against the person's current prints, then switch captures."""
    if person.status != "active":
        raise Conflict("Only a person with an issued identity can be updated (status "
                       "%(status)s).", status=person.status)
    old = [c for c in persons.active_captures(session=session, person_id=person.id)
           if c.enrollment_id != enrollment.id]
    new = list(session.scalars(select(Capture).where(Capture.enrollment_id == enrollment.id)))
    reference = _probe_of_captures(session, store, old)
    result = engine.compare(probe, reference)
    enrollment.decided_at = _now()
    if result.score < engine.match_threshold:
        enrollment.state = "rejected"
        enrollment.state_reason = UPDATE_REFUSED
        for capture in new:
            capture.active = False
        _ledger_enrollment(session, actor, "update_refused", enrollment,
                           score=result.score)
        return enrollment.state
    replaced = {(c.modality, c.position) for c in new}
    for capture in old:
        if (capture.modality, capture.position) in replaced:
            capture.active = False
    for capture in new:
        capture.active = True
    # Only captures changed: the new updated_at tells resident galleries to reload them.
    person.updated_at = _now()
    enrollment.state = "updated"
    _ledger_enrollment(session, actor, "update", enrollment, score=result.score,
                       replaced=sorted(f"{m}:{p}" for m, p in replaced))
    _person_ledger(session, actor, "update", person, enrollment_id=enrollment.id)
    return enrollment.state


def _probe_of_captures(session: Session, store: MasterKeyStore, captures: list[Capture]
                       ) -> Probe:
    fingers: dict[int, bytes] = {}
    face = b""
    for capture in captures:
        template = persons.open_sealed_id(session=session, store=store,
                                          object_id=capture.template_object_id)
        if template is None:
            continue
        if capture.modality == "finger":
            fingers[capture.position] = template
        else:
            face = template
    return Probe(fingers=fingers, face=face)


# -- adjudication ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CandidateView:
    """One candidate of an adjudication: the person, the fused score and per-finger scores,
    and the candidate's active captures."""

    person_id: int
    score: float
    scores: dict[str, float]
    status: str
    captures: list[Capture] = field(default_factory=list)


@dataclass(frozen=True)
class AdjudicationView:
    """An adjudication with its enrollment, the enrollment's captures and the candidates."""

    adjudication: Adjudication
    enrollment: Enrollment
    captures: list[Capture]
    candidates: list[CandidateView]


def candidates_of(adjudication: Adjudication) -> list[dict[str, Any]]:
    """The stored candidates (person id, fused score, per-finger scores)."""
    data: list[dict[str, Any]] = json.loads(adjudication.candidates)
    return data


def list_adjudications(*, session: Session, actor: Actor, state: str = "open"
                       ) -> list[tuple[Adjudication, Enrollment]]:
    """The adjudications in ``state`` (the open queue by default), oldest first."""
    actor.require(P.ADJUDICATE)
    rows = session.execute(select(Adjudication, Enrollment)
                           .join(Enrollment, Enrollment.id == Adjudication.enrollment_id)
                           .where(Adjudication.state == state)
                           .order_by(Adjudication.created_at, Adjudication.id).limit(500))
    return [(a, e) for a, e in rows]


def get_adjudication(*, session: Session, actor: Actor, adjudication_id: int
                     ) -> AdjudicationView:
    """One adjudication with the enrollment's captures and each candidate's."""
    actor.require(P.ADJUDICATE)
    adjudication = session.get(Adjudication, adjudication_id)
    if adjudication is None:
        raise NotFound("This adjudication does not exist.")
    enrollment = session.get(Enrollment, adjudication.enrollment_id)
    assert enrollment is not None
    captures = list(session.scalars(select(Capture).where(
        Capture.enrollment_id == enrollment.id).order_by(Capture.modality, Capture.position)))
    candidates = []
    for item in candidates_of(adjudication):
        other = session.get(Person, item["person_id"])
        candidates.append(CandidateView(
            person_id=item["person_id"], score=item["score"], scores=item["scores"],
            status=other.status if other else "deleted",
            captures=persons.active_captures(session=session, person_id=item["person_id"])))
    return AdjudicationView(adjudication=adjudication, enrollment=enrollment,
                            captures=captures, candidates=candidates)


def decide(*, session: Session, actor: Actor, settings: Settings, adjudication_id: int,
           decision: str, duplicate_of: int | None, reason: str) -> Adjudication:
    """Decide a possible duplicate: ``duplicate`` rejects the enrollment (the person is
    ``rejected`` and deleted after the rejected-retention period), ``distinct`` issues the
    identity. A reason is required; the decision is final."""
    actor.require(P.ADJUDICATE)
    reason = reason.strip()
    if not reason:
        raise Invalid("A reason is required for an adjudication decision.")
    if decision not in ("duplicate", "distinct"):
        raise Invalid("The decision is either duplicate or distinct.")
    adjudication = session.get(Adjudication, adjudication_id)
    if adjudication is None:
        raise NotFound("This adjudication does not exist.")
    if adjudication.state != "open":
        raise Conflict("This adjudication has already been decided.")
    enrollment = session.get(Enrollment, adjudication.enrollment_id)
    assert enrollment is not None
    person = persons.get_person(session=session, person_id=enrollment.person_id)
    if person.status != "pending":
        raise Conflict("The enrolled person is no longer pending (status %(status)s).",
                       status=person.status)
    now = _now()
    if decision == "duplicate":
        ids = [c["person_id"] for c in candidates_of(adjudication)]
        if duplicate_of is None and len(ids) == 1:
            duplicate_of = ids[0]
        if duplicate_of not in ids:
            raise Invalid("Choose which candidate the enrollment duplicates.")
        adjudication.duplicate_of_person_id = duplicate_of
        enrollment.state = "rejected"
        enrollment.state_reason = reason
        person.status = "rejected"
        person.delete_after = now + dt.timedelta(days=settings.biometry_rejected_retention_days)
        for capture in persons.active_captures(session=session, person_id=person.id):
            capture.active = False
    else:
        enrollment.state = "issued"
        person.status = "active"
        person.issued_at = now
    adjudication.state = "decided"
    adjudication.decision = decision
    adjudication.reason = reason
    adjudication.decided_by = actor.user_id
    adjudication.decided_at = now
    enrollment.decided_at = now
    record(session=session, actor=actor, action=f"{ADJUDICATION}.decide",
           object_type=ADJUDICATION, object_id=adjudication.id,
           object_repr=f"adjudication {adjudication.id}",
           details={"decision": decision, "person_id": person.id,
                    "duplicate_of": adjudication.duplicate_of_person_id,
                    "enrollment_id": enrollment.id})
    _person_ledger(session, actor, "reject" if decision == "duplicate" else "issue", person,
                   adjudication_id=adjudication.id)
    return adjudication


# -- death, deletion, retention ----------------------------------------------------------------
def record_death(*, session: Session, actor: Actor, settings: Settings, person_id: int,
                 date_of_death: dt.date | None = None, reference: str = "") -> Person:
    """Record a person's death (from a civil registry act): the identity stops being
    usable and the data is deleted after the deceased-retention period."""
    actor.require(P.LIFECYCLE)
    person = persons.get_person(session=session, person_id=person_id)
    if person.status not in _LIVING:
        raise Conflict("This person's status is %(status)s: a death cannot be recorded.",
                       status=person.status)
    now = _now()
    if date_of_death is not None and date_of_death > now.date():
        raise Invalid("The date of death cannot be in the future.")
    person.status = "deceased"
    person.deceased_at = (dt.datetime.combine(date_of_death, dt.time()) if date_of_death
                          else now)
    person.delete_after = now + dt.timedelta(days=settings.biometry_deceased_retention_days)
    _person_ledger(session, actor, "death", person, reference=reference.strip()[:200],
                   delete_after=person.delete_after.isoformat())
    return person


def lawful_deletion(*, session: Session, actor: Actor, person_id: int, reason: str) -> int:
    """Delete every sealed object of the person (images, templates, demographics) for the
    legal reason given; the person row stays as a tombstone that can no longer be linked to
    a number or a name. Returns how many sealed objects were deleted."""
    actor.require(P.LIFECYCLE)
    reason = reason.strip()
    if not reason:
        raise Invalid("The legal reason for the deletion is required.")
    person = persons.get_person(session=session, person_id=person_id)
    return _delete(session, actor, person, reason)


def _delete(session: Session, actor: Actor, person: Person, reason: str) -> int:
    if person.status == "deleted":
        raise Conflict("This person's data has already been deleted.")
    deleted = persons.delete_biometrics(session=session, person=person)
    person.status = "deleted"
    person.deleted_at = _now()
    person.deletion_reason = reason[:2000]
    person.delete_after = None
    # The blind indexes are personal data too: the tombstone keeps neither.
    person.nin_index = f"deleted:{person.id}"
    person.name_index = ""
    _person_ledger(session, actor, "delete", person, objects=deleted, reason=reason[:500])
    return deleted


def run_retention(*, session: Session, actor: Actor, now: dt.datetime | None = None) -> int:
    """Delete the data of every deceased or rejected person whose retention has ended;
    returns how many persons were deleted. Running it twice does no harm."""
    actor.require(P.LIFECYCLE)
    now = now or _now()
    due = list(session.scalars(select(Person).where(
        Person.delete_after.is_not(None), Person.delete_after <= now,
        Person.status.in_(("deceased", "rejected"))).order_by(Person.id)))
    for person in due:
        _delete(session, actor, person, RETENTION_REASON)
    return len(due)


# -- reading -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PersonView:
    """What the registry shows of a person: demographics only to PERSON_READ holders."""

    person: Person
    demographics: Demographics | None
    captures: list[Capture]
    history: list[AuditEntry]
    accesses: list[ServiceAccess]
    enrollments: list[Enrollment]
    #: Names of the services in ``accesses``, by id.
    service_names: dict[int, str] = field(default_factory=dict)


_VIEWERS = (P.PERSON_READ, P.LIFECYCLE, P.ADJUDICATE, P.OVERSIGHT_READ)


def _require_any(actor: Actor) -> None:
    if not any(actor.can(p) for p in _VIEWERS):
        raise Forbidden("You are not allowed to do this (%(permission)s).",
                        permission=P.PERSON_READ)


def view_person(*, session: Session, actor: Actor, store: MasterKeyStore, person_id: int,
                details: bool = True) -> PersonView:
    """A person's status and lifecycle; with PERSON_READ also the demographics (a read
    that is ledgered). ``details`` adds captures, history and accesses (the page)."""
    _require_any(actor)
    person = persons.get_person(session=session, person_id=person_id)
    demographics = None
    if actor.can(P.PERSON_READ):
        demographics = persons.demographics_of(session=session, store=store, person=person)
        record_read(session=session, actor=actor, object_type=PERSON, object_id=person.id,
                    object_repr=f"person {person.id}")
    if not details:
        return PersonView(person, demographics, [], [], [], [])
    captures = list(session.scalars(select(Capture).where(Capture.person_id == person.id)
                                    .order_by(Capture.created_at.desc(), Capture.modality,
                                              Capture.position)))
    history = list(session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == PERSON, AuditEntry.object_id == str(person.id),
        AuditEntry.action != f"{PERSON}.read").order_by(AuditEntry.seq.desc()).limit(200)))
    accesses = list(session.scalars(select(ServiceAccess).where(
        ServiceAccess.person_id == person.id).order_by(ServiceAccess.at.desc()).limit(200)))
    enrollments = list(session.scalars(select(Enrollment).where(
        Enrollment.person_id == person.id).order_by(Enrollment.received_at.desc())))
    service_ids = {a.service_id for a in accesses}
    names = {row.id: row.name for row in session.execute(
        select(RelyingService.id, RelyingService.name)
        .where(RelyingService.id.in_(service_ids)))} if service_ids else {}
    return PersonView(person, demographics, captures, history, accesses, enrollments, names)


def search_by_nin(*, session: Session, actor: Actor, store: MasterKeyStore, nin: str
                  ) -> Person | None:
    """The person with exactly this national number (through the blind index); the
    search is ledgered (whether it found someone, never the number)."""
    actor.require(P.PERSON_READ)
    nin = nin.strip()
    if not nin:
        raise Invalid("Enter a national identification number.")
    person = persons.find_by_nin(session=session, store=store, nin=nin)
    record(session=session, actor=actor, action=f"{PERSON}.search", object_type=PERSON,
           object_id=person.id if person else None,
           object_repr=f"person {person.id}" if person else "no match",
           details={"by": "nin", "found": person is not None})
    return person


def capture_image(*, session: Session, actor: Actor, store: MasterKeyStore, capture_id: int
                  ) -> tuple[bytes, str]:
    """A capture's image for the eyes of an adjudicator (PNG for a finger, JPEG for a
    face); the read is ledgered."""
    actor.require(P.IMAGE_READ)
    capture = session.get(Capture, capture_id)
    if capture is None:
        raise NotFound("This capture does not exist.")
    data = persons.open_sealed_id(session=session, store=store,
                                  object_id=capture.image_object_id)
    if data is None:
        raise NotFound("This capture's image has been deleted or was never stored.")
    record_read(session=session, actor=actor, object_type=CAPTURE, object_id=capture.id,
                object_repr=f"capture {capture.id} of person {capture.person_id}")
    if capture.modality == "face":
        return data, "image/jpeg"
    importlib.import_module("wsq")  # registers the WSQ codec with Pillow
    from PIL import Image

    out = io.BytesIO()
    with Image.open(io.BytesIO(data)) as picture:
        picture.save(out, "PNG")
    return out.getvalue(), "image/png"

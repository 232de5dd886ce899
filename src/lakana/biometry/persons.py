"""Persons of the registry: sealed demographics, lookup by blind index, and the person's
current biometric captures. Every other part of the registry goes through here."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.biometry.engine import Probe
from lakana.biometry.models import Capture, Person, SealedObject
from lakana.biometry.protection.blind_index import blind_index
from lakana.biometry.protection.keystore import MasterKeyStore
from lakana.biometry.protection.sealed import open_object, seal_object
from lakana.biometry.schemas import Demographics
from lakana.core.errors import NotFound

#: Kinds of sealed objects.
KIND_DEMOGRAPHICS = "demographics"
KIND_FACE_IMAGE = "face_image"
KIND_FACE_TEMPLATE = "face_template"
KIND_FINGER_WSQ = "fingerprint_wsq"
KIND_FINGER_TEMPLATE = "template_iso19794_2"


def owner_ref(person_id: int) -> str:
    """The owner bound into the AAD of every sealed object of a person."""
    return f"person:{person_id}"


def nin_index(store: MasterKeyStore, nin: str) -> str:
    """The blind index of a national identification number."""
    return blind_index(store, "nin", nin)


def name_index(store: MasterKeyStore, surname: str, given_names: str) -> str:
    """The blind index of a full name (surname first), for exact-match search."""
    return blind_index(store, "name", f"{surname} {given_names}")


def find_by_nin(*, session: Session, store: MasterKeyStore, nin: str) -> Person | None:
    """The person with this national identification number, if any (any status)."""
    return session.scalar(select(Person).where(Person.nin_index == nin_index(store, nin)))


def get_person(*, session: Session, person_id: int) -> Person:
    """The person ``person_id``; :class:`NotFound` otherwise."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("This person does not exist.")
    return person


def create_person(*, session: Session, store: MasterKeyStore,
                  demographics: Demographics) -> Person:
    """Add a pending person with sealed demographics (flushed; the caller owns the
    transaction and checks beforehand that the number is not taken)."""
    person = Person(nin_index=nin_index(store, demographics.nin),
                    name_index=name_index(store, demographics.surname,
                                          demographics.given_names),
                    region=demographics.region, status="pending")
    session.add(person)
    session.flush()
    seal_demographics(session=session, store=store, person=person, demographics=demographics)
    return person


def seal_demographics(*, session: Session, store: MasterKeyStore, person: Person,
                      demographics: Demographics) -> None:
    """(Re)seal the person's demographics and refresh the clear region and the indexes."""
    old_id = person.demographics_object_id
    obj = seal_object(session=session, store=store, kind=KIND_DEMOGRAPHICS,
                      owner_ref=owner_ref(person.id),
                      plaintext=demographics.model_dump_json().encode())
    person.demographics_object_id = obj.id
    person.region = demographics.region
    person.nin_index = nin_index(store, demographics.nin)
    person.name_index = name_index(store, demographics.surname, demographics.given_names)
    if old_id is not None:
        old = session.get(SealedObject, old_id)
        if old is not None:
            session.delete(old)


def demographics_of(*, session: Session, store: MasterKeyStore,
                    person: Person) -> Demographics | None:
    """The person's decrypted demographics (None once deleted)."""
    if person.demographics_object_id is None:
        return None
    obj = session.get(SealedObject, person.demographics_object_id)
    if obj is None:
        return None
    return Demographics.model_validate(json.loads(open_object(store=store, obj=obj)))


def seal_for_person(*, session: Session, store: MasterKeyStore, person_id: int, kind: str,
                    data: bytes) -> int:
    """Seal ``data`` as an object of the person; returns the sealed object's id."""
    return seal_object(session=session, store=store, kind=kind, owner_ref=owner_ref(person_id),
                       plaintext=data).id


def open_sealed_id(*, session: Session, store: MasterKeyStore, object_id: int | None
                   ) -> bytes | None:
    """The plaintext of sealed object ``object_id`` (None when absent)."""
    if object_id is None:
        return None
    obj = session.get(SealedObject, object_id)
    return None if obj is None else open_object(store=store, obj=obj)


def active_captures(*, session: Session, person_id: int) -> list[Capture]:
    """The person's captures in use, face first then fingers by position."""
    return list(session.scalars(select(Capture).where(
        Capture.person_id == person_id, Capture.active.is_(True))
        .order_by(Capture.modality, Capture.position)))


def probe_of(*, session: Session, store: MasterKeyStore, person_id: int,
             enrollment_id: int | None = None) -> Probe:
    """The person's templates (active captures, or those of one enrollment) as a probe."""
    stmt = select(Capture).where(Capture.person_id == person_id)
    stmt = stmt.where(Capture.enrollment_id == enrollment_id) if enrollment_id is not None \
        else stmt.where(Capture.active.is_(True))
    fingers: dict[int, bytes] = {}
    face = b""
    for capture in session.scalars(stmt):
        template = open_sealed_id(session=session, store=store,
                                  object_id=capture.template_object_id)
        if template is None:
            continue
        if capture.modality == "finger":
            fingers[capture.position] = template
        else:
            face = template
    return Probe(fingers=fingers, face=face)


def delete_biometrics(*, session: Session, person: Person) -> int:
    """Delete every sealed object of the person (images, templates, demographics) and
    detach the captures; returns how many objects were deleted. Rows stay as tombstones."""
    objects = list(session.scalars(select(SealedObject).where(
        SealedObject.owner_ref == owner_ref(person.id))))
    for capture in session.scalars(select(Capture).where(Capture.person_id == person.id)):
        capture.image_object_id = None
        capture.template_object_id = None
        capture.active = False
    person.demographics_object_id = None
    session.flush()
    for obj in objects:
        session.delete(obj)
    return len(objects)

"""The registry's 1:N searches (deduplication, relying services' identification) on the
worker-resident sharded gallery (``biometry_abis_shards`` > 0): the same answers as the
sealed-gallery search, never stale (a person issued, updated, deceased or deleted by any
session is seen by the next search), and a failed shard falls back to the sealed search.
Biometric data are generated synthetic fingers and the real test print."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import lifecycle, persons, registry_search, relying, runtime
from lakana.biometry.abis.resident import ResidentGallery, reset_resident_galleries
from lakana.biometry.models import Adjudication, Enrollment, Person
from lakana.biometry.permissions import BiometryPermission as P
from lakana.biometry.protection.keystore import MasterKeyStore
from lakana.biometry.relying import IdentifyIn
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role, system_actor
from lakana.core.config import Settings
from tests.biometry.test_enrollment import packet_dict
from tests.biometry.test_lifecycle import ENGINE, actor_with, enroll
from tests.biometry.test_relying import (
    POSITION,
    b64,
    client_for,
    fingers,
    make_service,
)
from tests.biometry.test_relying import enroll as enroll_real_print
from tests.conftest import Factory

API_URL = "/api/v1/biometry/enrollments"


@pytest.fixture(autouse=True)
def _resident() -> Iterator[None]:
    """No worker process outlives a test."""
    reset_resident_galleries()
    yield
    reset_resident_galleries()


@pytest.fixture
def store(settings: Settings) -> MasterKeyStore:
    """The test home's keystore."""
    runtime.forget_stores()
    return runtime.keystore(settings)


@pytest.fixture
def gallery(settings: Settings) -> ResidentGallery:
    """The registry's resident gallery on two worker processes."""
    found = registry_search.registry_gallery(
        settings.model_copy(update={"biometry_abis_shards": 2}))
    assert found is not None
    return found


def _dedup(session: Session, store: MasterKeyStore, gallery: ResidentGallery | None, *,
           nin: str, seed: int, impression: int = 0) -> Enrollment:
    enrollment = enroll(session, store, nin=nin, seed=seed, impression=impression, face=False)
    lifecycle.deduplicate(session=session, actor=system_actor("tests"), store=store,
                          engine=ENGINE, enrollment=enrollment, gallery=gallery)
    return enrollment


def _candidates(session: Session, enrollment: Enrollment) -> list[dict[str, object]]:
    adjudication = session.scalars(select(Adjudication).where(
        Adjudication.enrollment_id == enrollment.id)).one()
    return lifecycle.candidates_of(adjudication)


def test_no_gallery_is_kept_unless_configured(settings: Settings) -> None:
    assert registry_search.registry_gallery(
        settings.model_copy(update={"biometry_abis_shards": 0})) is None


def test_deduplication_on_the_resident_gallery_answers_as_the_sealed_search(
        session_factory: sessionmaker[Session], store: MasterKeyStore,
        gallery: ResidentGallery) -> None:
    # Given four issued persons, deduplicated on the resident gallery
    with session_factory.begin() as session:
        issued = [_dedup(session, store, gallery, nin=f"ML1000{seed}", seed=seed)
                  for seed in (11, 12, 13, 14)]
    assert [e.state for e in issued] == ["issued"] * 4
    # When another impression of the second person's finger is enrolled under a new number
    with session_factory.begin() as session:
        twin = _dedup(session, store, gallery, nin="ML100099", seed=12, impression=1)
        assert twin.state == "adjudication"
        resident = _candidates(session, twin)
        # Then the candidates are those the sealed gallery gives, scores included
        probe = persons.probe_of(session=session, store=store, person_id=twin.person_id,
                                 enrollment_id=twin.id)
        sealed = registry_search.identify(session=session, store=store, engine=ENGINE,
                                          probe=probe, gallery=None, exclude=twin.person_id)
    assert [(c["person_id"], c["score"]) for c in resident] == \
        [(c.reference_id, c.score) for c in sealed]
    assert [c["person_id"] for c in resident] == [issued[1].person_id]
    # And the gallery holds the four issued persons (the pending twin is not in it)
    assert len(gallery) == 4


def test_the_resident_gallery_follows_issues_updates_deaths_and_deletions(
        session_factory: sessionmaker[Session], store: MasterKeyStore, settings: Settings,
        gallery: ResidentGallery) -> None:
    # Given one issued person (the gallery was empty when it was searched)
    with session_factory.begin() as session:
        first = _dedup(session, store, gallery, nin="ML200001", seed=21)
    assert len(gallery) == 0
    # When a second person is issued without the gallery (another process, say)
    with session_factory.begin() as session:
        second = _dedup(session, store, None, nin="ML200002", seed=22)
    # Then the next search sees them
    with session_factory.begin() as session:
        assert _dedup(session, store, gallery, nin="ML200003", seed=22,
                      impression=1).state == "adjudication"
    assert len(gallery) == 2
    # When the first person's prints are re-captured (an update)
    with session_factory.begin() as session:
        person = session.get(Person, first.person_id)
        assert person is not None
        before = person.updated_at
        update = enroll(session, store, nin="ML200001", seed=21, impression=1, person=person,
                        face=False)
        assert lifecycle.deduplicate(session=session, actor=system_actor("t"), store=store,
                                     engine=ENGINE, enrollment=update) == "updated"
        assert person.updated_at != before
    # Then the next search reloads that person's new captures
    with session_factory.begin() as session:
        assert _dedup(session, store, gallery, nin="ML200004", seed=21,
                      impression=2).state == "adjudication"
        reloaded = session.get(Person, first.person_id)
        assert reloaded is not None
        assert gallery._held[first.person_id] == reloaded.updated_at.isoformat()
    # When the first person dies and the second is lawfully deleted
    with session_factory.begin() as session:
        lifecycle.record_death(session=session, actor=actor_with(P.LIFECYCLE),
                               settings=settings, person_id=first.person_id)
        lifecycle.lawful_deletion(session=session, actor=actor_with(P.LIFECYCLE),
                                  person_id=second.person_id, reason="Décision n° 2026-7")
    # Then their fingers enrol anew without a candidate, and the gallery dropped them
    with session_factory.begin() as session:
        assert _dedup(session, store, gallery, nin="ML200005", seed=21,
                      impression=1).state == "issued"
        assert _dedup(session, store, gallery, nin="ML200006", seed=22,
                      impression=2).state == "issued"
    assert first.person_id not in gallery._held and second.person_id not in gallery._held


def test_a_failed_shard_falls_back_to_the_sealed_search(
        session_factory: sessionmaker[Session], store: MasterKeyStore,
        gallery: ResidentGallery, caplog: pytest.LogCaptureFixture) -> None:
    with session_factory.begin() as session:
        issued = _dedup(session, store, gallery, nin="ML300001", seed=31)
    # When a worker process of the gallery is killed
    assert gallery._shards is not None
    pid = gallery._shards.pids()[0]
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    # Then the next deduplication still finds the duplicate, from the sealed gallery
    with caplog.at_level(logging.ERROR, logger="lakana.biometry.search"), \
            session_factory.begin() as session:
        twin = _dedup(session, store, gallery, nin="ML300002", seed=31, impression=1)
        assert twin.state == "adjudication"
        assert [c["person_id"] for c in _candidates(session, twin)] == [issued.person_id]
    assert "the resident gallery failed" in caplog.text
    # And the search after that rebuilds the gallery from the database
    with session_factory.begin() as session:
        assert _dedup(session, store, gallery, nin="ML300003", seed=32).state == "issued"
    assert len(gallery) == 1


def test_relying_identification_on_the_resident_gallery(
        session_factory: sessionmaker[Session], store: MasterKeyStore,
        gallery: ResidentGallery) -> None:
    # Given an issued person with the real print, and the electoral body's service
    enroll_real_print(session_factory, store, "ML-400001")
    purposes = ["voter_roll_deduplication"]
    ceni, _ = make_service(session_factory, "ceni", purposes)

    def search(image: bytes, with_gallery: ResidentGallery | None) -> relying.IdentifyOut:
        with session_factory.begin() as session:
            return relying.identify(
                session=session, session_factory=session_factory, store=store,
                engine=ENGINE, client=client_for(ceni, "ceni", purposes, purposes[0]),
                data=IdentifyIn(fingers=[{"position": POSITION, "image_base64": b64(image)}]),
                gallery=with_gallery)

    # When a crop of the print and another finger are searched, with and without the gallery
    # Then the answers are the same
    for image in (fingers()["crop"], fingers()["other"]):
        assert search(image, gallery) == search(image, None)
    assert search(fingers()["crop"], gallery).count == 1
    assert len(gallery) == 1


def test_the_enrollment_api_deduplicates_on_the_resident_gallery(
        api_as: Callable[[User], TestClient], factory: Factory, settings: Settings) -> None:
    # Given a deployment that keeps the registry's gallery on two worker processes
    settings.biometry_abis_shards = 2
    agent = api_as(factory.user(Role.ENROLMENT_AGENT))
    # When the real print is enrolled under one number, then under another
    first = agent.post(API_URL, json=packet_dict())
    assert first.status_code == 201 and first.json()["state"] == "issued"
    second = agent.post(API_URL, json=packet_dict(packet_id="pkt-resident-02",
                                                  nin="ML-2001-901"))
    # Then the second goes to adjudication, found through the resident gallery
    assert second.status_code == 201 and second.json()["state"] == "adjudication"
    gallery = registry_search.registry_gallery(settings)
    assert gallery is not None and len(gallery) == 1

"""The lifecycle service: deduplication of synthetic fingers (issued / adjudication),
adjudication both ways, updates verified against the person's own prints, death, lawful
deletion, retention, permissions and the ledger. The helpers at the top create enrollments
straight in the tables (the API and pages tests import them)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import lifecycle, persons, runtime
from lakana.biometry.models import Adjudication, Capture, Enrollment, Person, SealedObject
from lakana.biometry.nbis_engine import NbisEngine
from lakana.biometry.permissions import BiometryPermission as P
from lakana.biometry.protection.keystore import MasterKeyStore
from lakana.biometry.schemas import Demographics
from lakana.biometry.synthetic import synthetic_finger
from lakana.biometry.tasks import retention
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.config import Settings
from lakana.core.errors import Conflict, Forbidden, Invalid
from lakana.core.jobs.service import JobContext
from tests.biometry.faces import real_face

ENGINE = NbisEngine()
_packets = itertools.count(1)


def demographics(nin: str) -> Demographics:
    """Synthetic demographics for ``nin``."""
    return Demographics(nin=nin, surname="Synthétique", given_names=f"Personne {nin}",
                        sex="F", date_of_birth=dt.date(1990, 1, 2), place_of_birth="Ségou",
                        region="Ségou", phone="+22370000000")


def enroll(session: Session, store: MasterKeyStore, *, nin: str, seed: int,
           impression: int = 0, person: Person | None = None, face: bool = True
           ) -> Enrollment:
    """A pending enrollment (new person, or ``person``'s update) with synthetic finger
    ``seed`` at position 2 and, if ``face``, a synthetic face."""
    if person is None:
        person = persons.create_person(session=session, store=store,
                                       demographics=demographics(nin))
        kind = "new"
    else:
        kind = "update"
    enrollment = Enrollment(packet_id=f"pkt-{next(_packets):06d}-{nin}", packet_digest="0" * 64,
                            person_id=person.id, kind=kind, state="pending_dedup",
                            centre="Centre de test", device="synthetic",
                            captured_at=dt.datetime(2026, 1, 1))
    session.add(enrollment)
    session.flush()
    finger = ENGINE.finger_from_image(synthetic_finger(seed, impression), position=2)
    assert finger.wsq is not None
    session.add(Capture(
        person_id=person.id, enrollment_id=enrollment.id, modality="finger", position=2,
        image_object_id=persons.seal_for_person(session=session, store=store,
                                                person_id=person.id,
                                                kind=persons.KIND_FINGER_WSQ, data=finger.wsq),
        template_object_id=persons.seal_for_person(
            session=session, store=store, person_id=person.id,
            kind=persons.KIND_FINGER_TEMPLATE, data=finger.iso_template),
        quality=finger.nfiq2, minutiae=finger.minutiae, width=finger.width,
        height=finger.height, active=kind == "new"))
    if face:
        sample = ENGINE.face_from_image(real_face(mirror=bool(seed % 2)))
        session.add(Capture(
            person_id=person.id, enrollment_id=enrollment.id, modality="face", position=0,
            image_object_id=persons.seal_for_person(session=session, store=store,
                                                    person_id=person.id,
                                                    kind=persons.KIND_FACE_IMAGE,
                                                    data=sample.image),
            quality=sample.score, width=sample.width, height=sample.height,
            active=kind == "new"))
    session.flush()
    return enrollment


def enroll_and_dedup(session: Session, store: MasterKeyStore, *, nin: str, seed: int,
                     impression: int = 0) -> Enrollment:
    """Enroll and deduplicate as the system."""
    enrollment = enroll(session, store, nin=nin, seed=seed, impression=impression)
    lifecycle.deduplicate(session=session, actor=system_actor("tests"), store=store,
                          engine=ENGINE, enrollment=enrollment)
    return enrollment


def actor_with(*permissions: str) -> Actor:
    """A named actor holding exactly ``permissions``."""
    return Actor(user_id=None, name="tester", role=None,
                 permissions=frozenset(str(p) for p in permissions))


@pytest.fixture
def store(settings: Settings) -> MasterKeyStore:
    """The test home's keystore."""
    runtime.forget_stores()
    return runtime.keystore(settings)


def _ledger(session: Session) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(
        AuditEntry.object_type.like("biometry.%")).order_by(AuditEntry.seq)))


def test_unique_enrollment_is_issued(session_factory: sessionmaker[Session],
                                     store: MasterKeyStore) -> None:
    # Given two different synthetic fingers
    with session_factory.begin() as session:
        first = enroll_and_dedup(session, store, nin="ML000001", seed=1)
        second = enroll_and_dedup(session, store, nin="ML000002", seed=2)
    # Then both are issued and active
    with session_factory() as session:
        for enrollment_id in (first.id, second.id):
            enrollment = session.get(Enrollment, enrollment_id)
            assert enrollment is not None and enrollment.state == "issued"
            person = session.get(Person, enrollment.person_id)
            assert person is not None and person.status == "active" and person.issued_at
        assert session.scalar(select(func.count()).select_from(Adjudication)) == 0
        actions = [e.action for e in _ledger(session)]
        assert actions.count("biometry.person.issue") == 2
        assert not any("ML00000" in e.details + e.object_repr for e in _ledger(session))


def test_duplicate_goes_to_adjudication_then_decided_duplicate(
        session_factory: sessionmaker[Session], store: MasterKeyStore,
        settings: Settings) -> None:
    # Given an issued person
    with session_factory.begin() as session:
        first = enroll_and_dedup(session, store, nin="ML000011", seed=3)
    # When the same finger comes back under another number
    with session_factory.begin() as session:
        again = enroll_and_dedup(session, store, nin="ML000012", seed=3, impression=1)
        assert again.state == "adjudication"
        adjudication = session.scalars(select(Adjudication)).one()
        candidates = json.loads(adjudication.candidates)
        assert [c["person_id"] for c in candidates] == [first.person_id]
        assert candidates[0]["score"] >= 40 and "finger:2" in candidates[0]["scores"]
        adjudication_id = adjudication.id
    adjudicator = actor_with(P.ADJUDICATE)
    # Then a decision needs a reason and the adjudicate permission
    with session_factory() as session:
        with pytest.raises(Invalid):
            lifecycle.decide(session=session, actor=adjudicator, settings=settings,
                             adjudication_id=adjudication_id, decision="duplicate",
                             duplicate_of=first.person_id, reason="  ")
        with pytest.raises(Forbidden):
            lifecycle.decide(session=session, actor=actor_with(P.PERSON_READ),
                             settings=settings, adjudication_id=adjudication_id,
                             decision="duplicate", duplicate_of=first.person_id, reason="x")
        with pytest.raises(Invalid):
            lifecycle.decide(session=session, actor=adjudicator, settings=settings,
                             adjudication_id=adjudication_id, decision="duplicate",
                             duplicate_of=999, reason="Same prints")
    with session_factory.begin() as session:
        lifecycle.decide(session=session, actor=adjudicator, settings=settings,
                         adjudication_id=adjudication_id, decision="duplicate",
                         duplicate_of=first.person_id, reason="Same prints, same face")
    with session_factory() as session:
        adjudication = session.get(Adjudication, adjudication_id)
        assert adjudication is not None and adjudication.decision == "duplicate"
        assert adjudication.duplicate_of_person_id == first.person_id
        enrollment = session.get(Enrollment, again.id)
        assert enrollment is not None and enrollment.state == "rejected"
        person = session.get(Person, again.person_id)
        assert person is not None and person.status == "rejected"
        assert person.delete_after is not None
        expected = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(
            days=settings.biometry_rejected_retention_days)
        assert abs((person.delete_after.replace(tzinfo=None) - expected).total_seconds()) < 60
        assert persons.active_captures(session=session, person_id=person.id) == []
        decided = [e for e in _ledger(session) if e.action == "biometry.adjudication.decide"]
        assert len(decided) == 1 and json.loads(decided[0].details)["decision"] == "duplicate"
    # And a decided adjudication cannot be decided again
    with session_factory() as session, pytest.raises(Conflict):
        lifecycle.decide(session=session, actor=adjudicator, settings=settings,
                         adjudication_id=adjudication_id, decision="distinct",
                         duplicate_of=None, reason="Changed my mind")


def test_adjudication_decided_distinct_issues(session_factory: sessionmaker[Session],
                                              store: MasterKeyStore,
                                              settings: Settings) -> None:
    with session_factory.begin() as session:
        enroll_and_dedup(session, store, nin="ML000021", seed=4)
        twin = enroll_and_dedup(session, store, nin="ML000022", seed=4, impression=1)
        adjudication_id = session.scalars(select(Adjudication.id)).one()
    with session_factory.begin() as session:
        lifecycle.decide(session=session, actor=actor_with(P.ADJUDICATE), settings=settings,
                         adjudication_id=adjudication_id, decision="distinct",
                         duplicate_of=None, reason="Identical twins, civil acts checked")
    with session_factory() as session:
        person = session.get(Person, twin.person_id)
        assert person is not None and person.status == "active" and person.issued_at
        enrollment = session.get(Enrollment, twin.id)
        assert enrollment is not None and enrollment.state == "issued"


def test_update_verified_against_own_prints(session_factory: sessionmaker[Session],
                                            store: MasterKeyStore) -> None:
    with session_factory.begin() as session:
        first = enroll_and_dedup(session, store, nin="ML000031", seed=5)
        person = session.get(Person, first.person_id)
        assert person is not None
        # When the same finger is captured again: the update is accepted
        update = enroll(session, store, nin="ML000031", seed=5, impression=1, person=person)
        assert lifecycle.deduplicate(session=session, actor=system_actor("t"), store=store,
                                     engine=ENGINE, enrollment=update) == "updated"
        active = persons.active_captures(session=session, person_id=person.id)
        assert {c.enrollment_id for c in active} == {update.id}
        assert len(active) == 2
        # When another finger is presented as an update: refused, nothing switched
        fraud = enroll(session, store, nin="ML000031", seed=6, person=person)
        assert lifecycle.deduplicate(session=session, actor=system_actor("t"), store=store,
                                     engine=ENGINE, enrollment=fraud) == "rejected"
        assert fraud.state_reason
        active = persons.active_captures(session=session, person_id=person.id)
        assert {c.enrollment_id for c in active} == {update.id}
        # And an enrollment already processed is not processed twice
        with pytest.raises(Conflict):
            lifecycle.deduplicate(session=session, actor=system_actor("t"), store=store,
                                  engine=ENGINE, enrollment=fraud)
    with session_factory() as session:
        actions = [e.action for e in _ledger(session)]
        assert "biometry.enrollment.update" in actions
        assert "biometry.enrollment.update_refused" in actions


def _objects_of(session: Session, person_id: int) -> int:
    return session.scalar(select(func.count()).select_from(SealedObject).where(
        SealedObject.owner_ref == persons.owner_ref(person_id))) or 0


def test_death_then_retention_deletes(session_factory: sessionmaker[Session],
                                      store: MasterKeyStore, settings: Settings) -> None:
    with session_factory.begin() as session:
        person_id = enroll_and_dedup(session, store, nin="ML000041", seed=7).person_id
        assert _objects_of(session, person_id) == 4  # demographics, wsq, template, face
    with session_factory() as session, pytest.raises(Forbidden):
        lifecycle.record_death(session=session, actor=actor_with(P.ADJUDICATE),
                               settings=settings, person_id=person_id)
    with session_factory.begin() as session:
        lifecycle.record_death(session=session, actor=actor_with(P.LIFECYCLE),
                               settings=settings, person_id=person_id,
                               date_of_death=dt.date(2026, 1, 5), reference="Acte 12/2026")
    with session_factory() as session:
        person = session.get(Person, person_id)
        assert person is not None and person.status == "deceased"
        assert person.delete_after is not None
        due = person.delete_after
    # Then retention before the date deletes nothing, after it deletes everything
    with session_factory.begin() as session:
        assert lifecycle.run_retention(session=session, actor=system_actor("t"),
                                       now=due - dt.timedelta(days=1)) == 0
    with session_factory.begin() as session:
        assert lifecycle.run_retention(session=session, actor=system_actor("t"),
                                       now=due + dt.timedelta(seconds=1)) == 1
    with session_factory() as session:
        person = session.get(Person, person_id)
        assert person is not None and person.status == "deleted" and person.deleted_at
        assert person.deletion_reason == lifecycle.RETENTION_REASON
        assert person.demographics_object_id is None
        assert _objects_of(session, person_id) == 0
        assert persons.find_by_nin(session=session, store=store, nin="ML000041") is None
        captures = session.scalars(select(Capture).where(Capture.person_id == person_id))
        assert all(c.image_object_id is None and c.template_object_id is None
                   for c in captures)
        actions = [e.action for e in _ledger(session)]
        assert "biometry.person.death" in actions and "biometry.person.delete" in actions


def test_lawful_deletion(session_factory: sessionmaker[Session], store: MasterKeyStore) -> None:
    with session_factory.begin() as session:
        person_id = enroll_and_dedup(session, store, nin="ML000051", seed=8).person_id
    lifecycle_actor = actor_with(P.LIFECYCLE)
    with session_factory() as session, pytest.raises(Invalid):
        lifecycle.lawful_deletion(session=session, actor=lifecycle_actor, person_id=person_id,
                                  reason=" ")
    with session_factory.begin() as session:
        assert lifecycle.lawful_deletion(session=session, actor=lifecycle_actor,
                                         person_id=person_id,
                                         reason="Décision CNIL n° 2026-1") == 4
    with session_factory() as session:
        assert _objects_of(session, person_id) == 0
        person = session.get(Person, person_id)
        assert person is not None and person.status == "deleted"
        with pytest.raises(Conflict):
            lifecycle.lawful_deletion(session=session, actor=lifecycle_actor,
                                      person_id=person_id, reason="again")
        # The deleted person leaves the gallery: the same finger enrols anew without a match
    with session_factory.begin() as session:
        assert enroll_and_dedup(session, store, nin="ML000052", seed=8).state == "issued"


def test_retention_job(session_factory: sessionmaker[Session], store: MasterKeyStore,
                       settings: Settings) -> None:
    with session_factory.begin() as session:
        person_id = enroll_and_dedup(session, store, nin="ML000061", seed=9).person_id
        person = session.get(Person, person_id)
        assert person is not None
        person.status = "rejected"
        person.delete_after = dt.datetime(2020, 1, 1)
    retention(JobContext(settings=settings, session_factory=session_factory, job_id=1,
                         attempt=1, worker_id="test"), {})
    with session_factory() as session:
        person = session.get(Person, person_id)
        assert person is not None and person.status == "deleted"
        assert _objects_of(session, person_id) == 0


def test_reading_a_person_and_images(session_factory: sessionmaker[Session],
                                     store: MasterKeyStore) -> None:
    with session_factory.begin() as session:
        person_id = enroll_and_dedup(session, store, nin="ML000071", seed=10).person_id
    with session_factory.begin() as session:
        view = lifecycle.view_person(session=session, actor=actor_with(P.LIFECYCLE),
                                     store=store, person_id=person_id)
        assert view.demographics is None and view.person.status == "active"
        view = lifecycle.view_person(session=session, actor=actor_with(P.PERSON_READ),
                                     store=store, person_id=person_id)
        assert view.demographics is not None and view.demographics.nin == "ML000071"
        assert [e.action for e in view.history] == ["biometry.person.issue"]
        with pytest.raises(Forbidden):
            lifecycle.view_person(session=session, actor=actor_with(P.ENROL), store=store,
                                  person_id=person_id)
        found = lifecycle.search_by_nin(session=session, actor=actor_with(P.PERSON_READ),
                                        store=store, nin="ML000071")
        assert found is not None and found.id == person_id
        finger = next(c for c in view.captures if c.modality == "finger")
        with pytest.raises(Forbidden):
            lifecycle.capture_image(session=session, actor=actor_with(P.PERSON_READ),
                                    store=store, capture_id=finger.id)
        data, media = lifecycle.capture_image(session=session, actor=actor_with(P.IMAGE_READ),
                                              store=store, capture_id=finger.id)
        assert media == "image/png" and data.startswith(b"\x89PNG")
    with session_factory() as session:
        actions = [e.action for e in _ledger(session)]
        assert actions.count("biometry.person.read") == 1
        assert "biometry.person.search" in actions and "biometry.capture.read" in actions
        assert not any("ML000071" in e.details + e.object_repr for e in _ledger(session))


def test_cli(session_factory: sessionmaker[Session], store: MasterKeyStore, settings: Settings,
             monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from lakana.biometry.cli import app

    with session_factory.begin() as session:
        first = enroll_and_dedup(session, store, nin="ML000081", seed=12)
        enroll_and_dedup(session, store, nin="ML000082", seed=12, impression=1)
        adjudication_id = session.scalars(select(Adjudication.id)).one()
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    assert settings.secret_key is not None  # the keystore's passphrase derives from it
    monkeypatch.setenv("LAKANA_SECRET_KEY", settings.secret_key)
    runner = CliRunner()
    result = runner.invoke(app, ["person", "adjudications"])
    assert result.exit_code == 0 and f"adjudication {adjudication_id}" in result.output
    result = runner.invoke(app, ["person", "decide", str(adjudication_id), "duplicate",
                                 "--reason", "Mêmes empreintes"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["person", "show", str(first.person_id), "--demographics"])
    assert result.exit_code == 0 and "ML000081" in result.output
    assert "ML000081" not in runner.invoke(app, ["person", "show", str(first.person_id)]).output
    result = runner.invoke(app, ["person", "death", str(first.person_id), "--date",
                                 "2026-01-02"])
    assert result.exit_code == 0 and "deceased" in result.output
    result = runner.invoke(app, ["person", "delete", str(first.person_id), "--reason", ""])
    assert result.exit_code != 0
    result = runner.invoke(app, ["person", "delete", str(first.person_id), "--reason",
                                 "Ordonnance 9"])
    assert result.exit_code == 0 and "4 sealed objects deleted" in result.output
    result = runner.invoke(app, ["person", "retention"])
    assert result.exit_code == 0 and "0 persons" in result.output


# -- makers for tests/core/test_route_permissions.py (rows only: no keystore needed) ----------
def _maker_person(session: Session, tag: str) -> Person:
    person = Person(nin_index=f"maker-{tag}-{next(_packets)}", name_index="", region="Bamako",
                    status="active")
    session.add(person)
    session.flush()
    return person


def _maker_enrollment(session: Session, person: Person) -> Enrollment:
    enrollment = Enrollment(packet_id=f"maker-{next(_packets):06d}", packet_digest="0" * 64,
                            person_id=person.id, state="adjudication", centre="Centre",
                            device="maker", captured_at=dt.datetime(2026, 1, 1))
    session.add(enrollment)
    session.flush()
    return enrollment


def make_person(factory: Any, _institution_id: int) -> int:
    """A person row (``person_id``)."""
    with factory.session_factory.begin() as session:
        return _maker_person(session, "person").id


def make_adjudication(factory: Any, _institution_id: int) -> int:
    """An open adjudication of a pending person against an active one (``adjudication_id``)."""
    with factory.session_factory.begin() as session:
        issued = _maker_person(session, "issued")
        pending = _maker_person(session, "pending")
        pending.status = "pending"
        adjudication = Adjudication(
            enrollment_id=_maker_enrollment(session, pending).id,
            candidates=json.dumps([{"person_id": issued.id, "score": 80.0,
                                    "scores": {"finger:2": 80.0}}]))
        session.add(adjudication)
        session.flush()
        return adjudication.id


def make_capture(factory: Any, _institution_id: int) -> int:
    """A finger capture row without a stored image (``capture_id``: permitted → 404)."""
    with factory.session_factory.begin() as session:
        person = _maker_person(session, "capture")
        capture = Capture(person_id=person.id,
                          enrollment_id=_maker_enrollment(session, person).id,
                          modality="finger", position=2)
        session.add(capture)
        session.flush()
        return capture.id


def test_route_makers(session_factory: sessionmaker[Session]) -> None:
    class _F:
        pass

    maker_factory = _F()
    maker_factory.session_factory = session_factory  # type: ignore[attr-defined]
    with session_factory() as session:
        assert session.get(Person, make_person(maker_factory, 0)) is not None
        assert session.get(Adjudication, make_adjudication(maker_factory, 0)) is not None
        assert session.get(Capture, make_capture(maker_factory, 0)) is not None

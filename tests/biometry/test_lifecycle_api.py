"""The lifecycle's JSON API: the queue, decisions, death, deletion, the person record (and
who may do what)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import runtime
from lakana.biometry.models import Adjudication, SealedObject
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from tests.biometry.test_lifecycle import enroll_and_dedup
from tests.conftest import Factory


def _pair(session_factory: sessionmaker[Session], settings: Settings) -> tuple[int, int, int]:
    """An issued person and a duplicate enrollment of the same finger: (issued person,
    pending person, adjudication)."""
    runtime.forget_stores()
    store = runtime.keystore(settings)
    with session_factory.begin() as session:
        first = enroll_and_dedup(session, store, nin="ML100001", seed=31)
        again = enroll_and_dedup(session, store, nin="ML100002", seed=31, impression=1)
        adjudication_id = session.scalars(select(Adjudication.id)).one()
        return first.person_id, again.person_id, adjudication_id


def test_queue_and_decision(api_as: Callable[[User], TestClient], factory: Factory,
                            session_factory: sessionmaker[Session], settings: Settings) -> None:
    issued, pending, adjudication_id = _pair(session_factory, settings)
    adjudicator = api_as(factory.user(Role.ADJUDICATOR))
    queue = adjudicator.get("/api/v1/biometry/adjudications")
    assert queue.status_code == 200
    assert [(a["id"], a["person_id"]) for a in queue.json()] == [(adjudication_id, pending)]
    assert queue.json()[0]["candidates"][0]["person_id"] == issued
    path = f"/api/v1/biometry/adjudications/{adjudication_id}/decision"
    assert adjudicator.post(path, json={"decision": "duplicate", "reason": ""}
                            ).status_code == 422
    agent = api_as(factory.user(Role.ENROLMENT_AGENT))
    assert agent.get("/api/v1/biometry/adjudications").status_code == 403
    assert agent.post(path, json={"decision": "distinct", "reason": "x"}).status_code == 403
    done = adjudicator.post(path, json={"decision": "duplicate", "duplicate_of": issued,
                                        "reason": "Mêmes empreintes"})
    assert done.status_code == 200, done.text
    assert done.json()["decision"] == "duplicate"
    assert adjudicator.post(path, json={"decision": "distinct", "reason": "x"}
                            ).status_code == 409
    assert adjudicator.get("/api/v1/biometry/adjudications").json() == []
    person = adjudicator.get(f"/api/v1/biometry/persons/{pending}").json()
    assert person["status"] == "rejected" and person["delete_after"]
    assert person["demographics"]["nin"] == "ML100002"


def test_death_deletion_and_reading(api_as: Callable[[User], TestClient], factory: Factory,
                                    session_factory: sessionmaker[Session],
                                    settings: Settings) -> None:
    issued, _, _ = _pair(session_factory, settings)
    admin = api_as(factory.user(Role.REGISTRY_ADMIN))
    adjudicator = api_as(factory.user(Role.ADJUDICATOR))
    auditor_user = factory.user(Role.PROTECTION_AUDITOR)
    assert adjudicator.post(f"/api/v1/biometry/persons/{issued}/death", json={}
                            ).status_code == 403
    died = admin.post(f"/api/v1/biometry/persons/{issued}/death",
                      json={"date_of_death": "2026-01-03", "reference": "Acte 7"})
    assert died.status_code == 200, died.text
    assert died.json()["status"] == "deceased" and died.json()["delete_after"]
    assert admin.post(f"/api/v1/biometry/persons/{issued}/deletion", json={"reason": ""}
                      ).status_code == 422
    deleted = admin.post(f"/api/v1/biometry/persons/{issued}/deletion",
                         json={"reason": "Décision de l'autorité n° 12"})
    assert deleted.status_code == 200 and deleted.json()["objects_deleted"] == 4
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(SealedObject).where(
            SealedObject.owner_ref == f"person:{issued}")) == 0
    record = api_as(auditor_user).get(f"/api/v1/biometry/persons/{issued}").json()
    assert record["status"] == "deleted" and record["demographics"] is None
    assert record["deletion_reason"] == "Décision de l'autorité n° 12"
    assert api_as(factory.user(Role.CSIRT_ANALYST)).get(
        f"/api/v1/biometry/persons/{issued}").status_code == 403
    assert admin.get("/api/v1/biometry/persons/999999").status_code == 404
    with session_factory() as session:
        reads = session.scalars(select(AuditEntry.actor_id).where(
            AuditEntry.action == "biometry.person.read")).all()
        assert auditor_user.id in reads

"""Master keys seen from the web, the API and the CLI: status, starting a rotation, the
background job that re-wraps, and who may do it."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import runtime
from lakana.biometry.models import KeyRotation, SealedObject
from lakana.biometry.protection.sealed import open_object, seal_object
from lakana.biometry.tasks_keys import rewrap
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from lakana.core.jobs.models import Job
from lakana.core.jobs.service import JobContext
from tests.conftest import Factory, csrf_from


def _seal_some(session_factory: sessionmaker[Session], settings: Settings, n: int) -> None:
    store = runtime.keystore(settings)
    with session_factory.begin() as session:
        for i in range(n):
            seal_object(session=session, store=store, kind="face_image", owner_ref=f"person:{i}",
                        plaintext=f"secret {i}".encode())


def test_api_rotation_runs_in_a_job_and_every_object_still_opens(
        api_as: Callable[[User], TestClient], factory: Factory, settings: Settings,
        session_factory: sessionmaker[Session]) -> None:
    _seal_some(session_factory, settings, 5)
    admin = api_as(factory.user(Role.REGISTRY_ADMIN))
    before = admin.get("/api/v1/biometry/keys").json()
    assert [k["objects"] for k in before["keys"]] == [5]
    started = admin.post("/api/v1/biometry/keys/rotation")
    assert started.status_code == 202, started.text
    assert admin.post("/api/v1/biometry/keys/rotation").status_code == 409
    with session_factory() as session:
        job = session.scalars(select(Job).where(Job.name == "biometry.rewrap")).one()
    rewrap(JobContext(settings=settings, session_factory=session_factory, job_id=job.id,
                      attempt=1, worker_id="test"), {})
    after = admin.get("/api/v1/biometry/keys").json()
    assert after["current_key_id"] == started.json()["to_key_id"]
    states = {k["key_id"]: (k["state"], k["objects"]) for k in after["keys"]}
    assert states[started.json()["from_key_id"]] == ("retired", 0)
    assert states[started.json()["to_key_id"]] == ("active", 5)
    assert after["rotations"][0]["state"] == "done"
    store = runtime.keystore(settings)
    with session_factory() as session:
        opened = {open_object(store=store, obj=o) for o in session.scalars(select(SealedObject))}
    assert opened == {f"secret {i}".encode() for i in range(5)}


def test_keys_permissions(api_as: Callable[[User], TestClient], factory: Factory) -> None:
    auditor = api_as(factory.user(Role.PROTECTION_AUDITOR))
    assert auditor.get("/api/v1/biometry/keys").status_code == 200
    assert auditor.post("/api/v1/biometry/keys/rotation").status_code == 403
    agent = api_as(factory.user(Role.ENROLMENT_AGENT))
    assert agent.get("/api/v1/biometry/keys").status_code == 403
    analyst = api_as(factory.user(Role.CSIRT_ANALYST))
    assert analyst.get("/api/v1/biometry/keys").status_code == 403


def test_keys_page_starts_a_rotation(login_as: Callable[[User], TestClient], factory: Factory,
                                     session_factory: sessionmaker[Session]) -> None:
    browser = login_as(factory.user(Role.REGISTRY_ADMIN))
    page = browser.get("/biometry/keys")
    assert page.status_code == 200 and "Clés maîtresses" in page.text
    done = browser.post("/biometry/keys/rotation", data={"csrf_token": csrf_from(page.text)},
                        follow_redirects=False)
    assert done.status_code == 303
    again = browser.post("/biometry/keys/rotation", data={"csrf_token": csrf_from(page.text)})
    assert again.status_code == 409 and "déjà" in again.text
    with session_factory() as session:
        assert session.scalars(select(KeyRotation)).one().state == "running"

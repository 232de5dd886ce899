"""The lifecycle's pages: the queue, the side-by-side view and its decision form, the capture
image (permission, ledger, no-store), the search by number and the person record with its
death and deletion forms."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry.models import Capture, Person
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from tests.biometry.test_lifecycle_api import _pair
from tests.conftest import Factory, csrf_from


def test_adjudication_pages_and_decision(login_as: Callable[[User], TestClient],
                                         factory: Factory, settings: Settings,
                                         session_factory: sessionmaker[Session]) -> None:
    issued, pending, adjudication_id = _pair(session_factory, settings)
    browser = login_as(factory.user(Role.ADJUDICATOR))
    queue = browser.get("/biometry/adjudications")
    assert queue.status_code == 200 and "Arbitrages" in queue.text
    assert f'href="/biometry/adjudications/{adjudication_id}"' in queue.text
    page = browser.get(f"/biometry/adjudications/{adjudication_id}")
    assert page.status_code == 200 and "Captures de l" in page.text
    with session_factory() as session:
        captures = session.scalars(select(Capture).where(
            Capture.person_id.in_((issued, pending)))).all()
    for capture in captures:
        assert f"/biometry/captures/{capture.id}/image" in page.text
    path = f"/biometry/adjudications/{adjudication_id}/decision"
    refused = browser.post(path, data={"csrf_token": csrf_from(page.text),
                                       "decision": "distinct", "reason": ""})
    assert refused.status_code == 422 and "doit être motivée" in refused.text
    done = browser.post(path, data={"csrf_token": csrf_from(page.text), "decision": "distinct",
                                    "reason": "Jumeaux, actes vérifiés"},
                        follow_redirects=False)
    assert done.status_code == 303
    after = browser.get(done.headers["location"])
    assert "La décision a été enregistrée." in after.text
    with session_factory() as session:
        person = session.get(Person, pending)
        assert person is not None and person.status == "active"


def test_capture_image_needs_image_read(login_as: Callable[[User], TestClient],
                                        factory: Factory, settings: Settings,
                                        session_factory: sessionmaker[Session]) -> None:
    issued, _, _ = _pair(session_factory, settings)
    with session_factory() as session:
        finger, face = (session.scalars(select(Capture.id).where(
            Capture.person_id == issued, Capture.modality == m)).one()
            for m in ("finger", "face"))
    agent = login_as(factory.user(Role.ENROLMENT_AGENT))
    assert agent.get(f"/biometry/captures/{finger}/image").status_code == 403
    adjudicator = login_as(factory.user(Role.ADJUDICATOR))
    image = adjudicator.get(f"/biometry/captures/{finger}/image")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.headers["cache-control"] == "no-store"
    assert image.content.startswith(b"\x89PNG")
    photo = adjudicator.get(f"/biometry/captures/{face}/image")
    assert photo.headers["content-type"] == "image/jpeg"
    assert adjudicator.get("/biometry/captures/999999/image").status_code == 404
    with session_factory() as session:
        reads = session.scalars(select(AuditEntry.object_id).where(
            AuditEntry.action == "biometry.capture.read")).all()
        assert sorted(reads) == sorted([str(finger), str(face)])


def test_search_and_person_record(login_as: Callable[[User], TestClient], factory: Factory,
                                  settings: Settings,
                                  session_factory: sessionmaker[Session]) -> None:
    issued, _, _ = _pair(session_factory, settings)
    # Given a relying service that verified the person once
    from lakana.biometry import relying
    from lakana.biometry.models import ServiceAccess
    from lakana.core.auth.rbac import system_actor

    with session_factory.begin() as session:
        service = relying.create_service(
            session=session, actor=system_actor("tests"), data=relying.ServiceIn(
                code="aige", name="Autorité électorale fictive", legal_basis="Loi",
                purposes=["voter_verification"]))
        session.add(ServiceAccess(service_id=service.id, person_id=issued, operation="verify",
                                  purpose="voter_verification", outcome="match",
                                  score_band="high"))
    admin = login_as(factory.user(Role.REGISTRY_ADMIN))
    search = admin.get("/biometry/persons")
    assert search.status_code == 200 and "Personnes" in search.text
    found = admin.post("/biometry/persons", data={"csrf_token": csrf_from(search.text),
                                                  "nin": "ML100001"})
    assert f'href="/biometry/persons/{issued}"' in found.text
    missing = admin.post("/biometry/persons", data={"csrf_token": csrf_from(search.text),
                                                    "nin": "ML999999"})
    assert "Aucune personne" in missing.text
    # A number in the address is ignored: it would sit in proxy logs and the history
    assert "Aucune personne" not in admin.get("/biometry/persons?nin=ML999999").text
    record = admin.get(f"/biometry/persons/{issued}")
    assert record.status_code == 200
    assert "ML100001" in record.text and "Identité délivrée" in record.text
    # The access history names the service and the purpose, not their codes
    assert "Autorité électorale fictive" in record.text
    assert "électeur au bureau de vote" in record.text and "voter_verification" not in record.text
    died = admin.post(f"/biometry/persons/{issued}/death",
                      data={"csrf_token": csrf_from(record.text), "date_of_death": "2999-01-01"})
    assert died.status_code == 422 and "futur" in died.text
    died = admin.post(f"/biometry/persons/{issued}/death",
                      data={"csrf_token": csrf_from(record.text), "date_of_death": "2026-01-01"},
                      follow_redirects=False)
    assert died.status_code == 303
    deleted = admin.post(f"/biometry/persons/{issued}/deletion",
                         data={"csrf_token": csrf_from(record.text), "reason": "Ordonnance 4"},
                         follow_redirects=False)
    assert deleted.status_code == 303
    page = admin.get(deleted.headers["location"])
    assert "Données supprimées" in page.text and "Décès enregistré" in page.text
    assert "ML100001" not in page.text
    analyst = login_as(factory.user(Role.CSIRT_ANALYST))
    assert analyst.get(f"/biometry/persons/{issued}").status_code == 403
    assert analyst.get("/biometry/persons").status_code == 403
    with session_factory() as session:
        searches = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "biometry.person.search")).all()
        assert len(searches) == 2 and not any("ML1" in s.details for s in searches)

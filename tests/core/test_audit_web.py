"""The audit API and the auditor's page: listing in scope, verification, export."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit import record, signing
from lakana.core.audit.proof import verify_document
from lakana.core.audit.schemas import EntryFilter
from lakana.core.audit.service import list_entries, verify_ledger
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Actor, CorePermission, Role, system_actor
from lakana.core.config import Settings
from lakana.core.errors import Forbidden
from tests.conftest import Factory, csrf_from


def _record(session_factory: sessionmaker[Session], action: str, institution_id: int | None,
            actor_name: str = "Awa Diallo") -> None:
    with session_factory.begin() as session:
        record(session=session, actor=system_actor(actor_name), action=action,
               object_type=action.rsplit(".", 1)[0], object_id=1, object_repr="Objet",
               after={"a": 1}, institution_id=institution_id)


@pytest.fixture
def entries(session_factory: sessionmaker[Session]) -> None:
    """Five entries: two of institution 1, two of institution 2, one national."""
    _record(session_factory, "registry.institution.create", 1)
    _record(session_factory, "registry.institution.update", 1, "Moussa Keïta")
    _record(session_factory, "registry.system.create", 2)
    _record(session_factory, "incidents.case.create", 2)
    _record(session_factory, "core.user.create", None)


def _institution_actor(institution_id: int) -> Actor:
    return Actor(user_id=99, name="focal", role=Role.FOCAL_POINT, institution_id=institution_id,
                 permissions=frozenset({CorePermission.AUDIT_READ}))


@pytest.mark.usefixtures("entries")
def test_institution_users_see_only_their_entries(db: Session) -> None:
    # Given an institution user allowed to read the ledger
    actor = _institution_actor(2)
    # When listing the ledger
    rows, total = list_entries(session=db, actor=actor, filters=EntryFilter())
    # Then only institution 2's entries show, even when asking for institution 1
    assert total == 2 and {r.institution_id for r in rows} == {2}
    rows, total = list_entries(session=db, actor=actor, filters=EntryFilter(institution_id=1))
    assert total == 0
    # And verifying the whole chain is a national task
    with pytest.raises(Forbidden):
        verify_ledger(session=db, actor=actor, public_keys={})


@pytest.mark.usefixtures("entries")
def test_filters_combine(db: Session) -> None:
    # Given five entries / When filtering by action prefix and actor name
    actor = system_actor("auditor")
    rows, total = list_entries(session=db, actor=actor,
                               filters=EntryFilter(action="registry.", actor="keïta"))
    # Then only the matching entry is returned, newest first overall ordering kept
    assert total == 1 and rows[0].action == "registry.institution.update"
    rows, total = list_entries(session=db, actor=actor, filters=EntryFilter(action="registry%"))
    assert total == 0  # wildcards are literal


@pytest.fixture
def auditor(factory: Factory) -> User:
    """A national auditor (with MFA)."""
    return factory.user(Role.AUDITOR)


@pytest.mark.usefixtures("entries")
def test_api_lists_entries_with_paging(api_as: Callable[[User], TestClient],
                                       auditor: User) -> None:
    # Given an auditor's API client / When listing registry entries two at a time
    response = api_as(auditor).get("/api/v1/audit/entries",
                                   params={"action": "registry.", "limit": 2})
    # Then the page holds the two newest of three, with the details parsed
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 3 and [e["action"] for e in body["items"]] == [
        "registry.system.create", "registry.institution.update"]
    assert isinstance(body["items"][0]["details"], dict)


@pytest.mark.usefixtures("entries")
def test_api_verify_reports_tampering(api_as: Callable[[User], TestClient], auditor: User,
                                      engine: Engine) -> None:
    # Given an auditor's client and an intact ledger
    client = api_as(auditor)
    assert client.get("/api/v1/audit/verify").json()["ok"] is True
    # When entry 3 is deleted in the database
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM core_audit_entry WHERE seq = 3"))
    # Then the verification names it
    body = client.post("/api/v1/audit/verify").json()
    assert body["ok"] is False
    assert (body["problem"]["kind"], body["problem"]["seq"]) == ("deleted", 3)


@pytest.mark.usefixtures("entries")
def test_api_export_verifies_offline(api_as: Callable[[User], TestClient], auditor: User,
                                     settings: Settings) -> None:
    # Given an auditor / When exporting entries 2 to 4
    response = api_as(auditor).get("/api/v1/audit/export", params={"from_seq": 2, "to_seq": 4})
    # Then a downloadable proof comes back that verifies with the platform key
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    key = signing.load_private_key(settings.effective_ledger_key_path)
    assert verify_document(response.json(), [key.public_key()]).ok


def test_api_refuses_people_without_the_permission(api_as: Callable[[User], TestClient],
                                                   factory: Factory,
                                                   institution: Callable[[str], int]) -> None:
    # Given a focal point (no audit permission) / When calling the audit API / Then 403
    focal = factory.user(Role.FOCAL_POINT, institution_id=institution("MEN"))
    client = api_as(focal)
    assert client.get("/api/v1/audit/entries").status_code == 403
    assert client.get("/api/v1/audit/verify").status_code == 403


@pytest.mark.usefixtures("entries")
def test_auditor_page_filters_and_verifies(login_as: Callable[[User], TestClient],
                                           auditor: User, engine: Engine) -> None:
    # Given an auditor logged in
    browser = login_as(auditor)
    # When opening the audit page
    page = browser.get("/audit")
    # Then the ledger, the verify button and the export form are there (in French)
    assert page.status_code == 200
    assert "Vérifier la chaîne" in page.text and 'action="/audit/export"' in page.text
    assert "registry.system.create" in page.text
    # When filtering through htmx, only the table fragment comes back
    fragment = browser.get("/audit", params={"action": "incidents."},
                           headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "incidents.case.create" in fragment.text
    assert "registry.system.create" not in fragment.text
    # When the chain is verified through htmx after tampering with entry 2
    with engine.begin() as conn:
        conn.execute(text("UPDATE core_audit_entry SET actor = 'X' WHERE seq = 2"))
    report = browser.post("/audit/verify", headers={"HX-Request": "true",
                                                    "X-CSRF-Token": csrf_from(page.text)})
    # Then the report names the altered entry
    assert report.status_code == 200
    assert "Entrée modifiée" in report.text and "entrée 2" in report.text


def test_auditor_page_hidden_from_focal_points(login_as: Callable[[User], TestClient],
                                              factory: Factory,
                                              institution: Callable[[str], int]) -> None:
    # Given a focal point logged in / When opening the audit page / Then it is forbidden
    focal = factory.user(Role.FOCAL_POINT, institution_id=institution("MSAS"))
    assert login_as(focal).get("/audit").status_code == 403

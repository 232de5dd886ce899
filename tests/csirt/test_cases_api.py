"""The JSON API of cases: reporting by token, validation in French and English, triage
conflicts, tasks, notes, attachments, timeline, scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from tests.conftest import Factory
from tests.csirt.conftest import Institutions, load_case

API = "/api/v1/csirt"
ApiAs = Callable[[User], TestClient]
MakeCase = Callable[..., int]


def _report(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Compte de messagerie compromis",
                            "description": "Des courriels frauduleux partent du compte.",
                            "taxonomy_class": "intrusions",
                            "taxonomy_type": "unprivileged-account-compromise",
                            "tlp": "TLP:AMBER"}
    body.update(fields)
    return body


def test_focal_point_reports_with_a_token(api_as: ApiAs, csirt_institutions: Institutions,
                                          focal_a: User) -> None:
    # Given a focal point's API token / When they report an incident
    client = api_as(focal_a)
    response = client.post(f"{API}/cases", json=_report(
        system_id=csirt_institutions.a_system, template="account_compromise"))
    # Then the case is created for their institution, with its reference and severity reasons
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["reference"].startswith("INC-") and body["institution_id"] == csirt_institutions.a
    assert body["source"] == "institution" and body["tlp"] == "amber"
    assert body["severity"] == "medium" and body["severity_reasons"]
    assert response.headers["ETag"] == f'"{body["version"]}"'
    # And it is listed and readable, with the template's tasks
    listed = client.get(f"{API}/cases").json()
    assert [c["id"] for c in listed["items"]] == [body["id"]] and listed["total"] == 1
    tasks = client.get(f"{API}/cases/{body['id']}/tasks").json()
    assert len(tasks) == 3 and tasks[0]["due_date"]


def test_other_institutions_system_is_refused(api_as: ApiAs, csirt_institutions: Institutions,
                                              focal_a: User) -> None:
    response = api_as(focal_a).post(f"{API}/cases", json=_report(
        system_id=csirt_institutions.b_system))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "system_id"


def test_focal_point_cannot_report_for_b(api_as: ApiAs, csirt_institutions: Institutions,
                                         focal_a: User) -> None:
    response = api_as(focal_a).post(f"{API}/cases", json=_report(
        institution_id=csirt_institutions.b))
    assert response.status_code == 404


def test_validation_messages_in_french_and_english(api_as: ApiAs, factory: Factory,
                                                   csirt_institutions: Institutions) -> None:
    french = factory.user(Role.FOCAL_POINT, institution_id=csirt_institutions.a,
                          language="fr")
    english = factory.user(Role.FOCAL_POINT, institution_id=csirt_institutions.a,
                           language="en")
    # An over-long title: pydantic's limit, translated
    long_title = _report(title="x" * 201)
    fr = api_as(french).post(f"{API}/cases", json=long_title, headers={
        "Accept-Language": "fr"})
    en = api_as(english).post(f"{API}/cases", json=long_title, headers={
        "Accept-Language": "en"})
    assert fr.status_code == en.status_code == 422
    assert "200" in fr.json()["errors"][0]["message"]
    assert fr.json()["errors"][0]["message"] != en.json()["errors"][0]["message"]
    # An unknown TLP and an unknown class: the services' messages, translated
    bad_tlp = api_as(french).post(f"{API}/cases", json=_report(tlp="violet"),
                                  headers={"Accept-Language": "fr"})
    assert bad_tlp.status_code == 422 and "Libellé TLP inconnu" in bad_tlp.json()["detail"]
    bad_tlp_en = api_as(english).post(f"{API}/cases", json=_report(tlp="violet"),
                                      headers={"Accept-Language": "en"})
    assert "Unknown TLP label" in bad_tlp_en.json()["detail"]
    bad_class = api_as(french).post(f"{API}/cases", json=_report(taxonomy_class="nope",
                                                                 taxonomy_type=None),
                                    headers={"Accept-Language": "fr"})
    assert bad_class.status_code == 422
    assert "Classe d'incident inconnue" in bad_class.json()["detail"]
    empty = api_as(english).post(f"{API}/cases", json=_report(title=""),
                                 headers={"Accept-Language": "en"})
    assert empty.status_code == 422


def test_two_triages_with_the_same_version_get_409(api_as: ApiAs, analyst: User,
                                                   analyst2: User,
                                                   csirt_institutions: Institutions,
                                                   make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a)
    first, second = api_as(analyst), api_as(analyst2)
    etag = first.get(f"{API}/cases/{case_id}").headers["ETag"]
    ok = first.patch(f"{API}/cases/{case_id}/triage", json={"personal_data": True},
                     headers={"If-Match": etag})
    assert ok.status_code == 200, ok.text
    assert ok.json()["severity"] == "high" and ok.json()["status"] == "triage"
    late = second.patch(f"{API}/cases/{case_id}/triage", json={"tlp": "green"},
                        headers={"If-Match": etag})
    assert late.status_code == 409
    missing = second.patch(f"{API}/cases/{case_id}/triage", json={"tlp": "green"})
    assert missing.status_code == 422


def test_transition_assign_and_close(api_as: ApiAs, analyst: User, focal_a: User,
                                     csirt_institutions: Institutions,
                                     make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a)
    client = api_as(analyst)
    version = client.get(f"{API}/cases/{case_id}").json()["version"]
    refused = client.post(f"{API}/cases/{case_id}/assign",
                          json={"version": version, "assignee_id": focal_a.id})
    assert refused.status_code == 422
    assigned = client.post(f"{API}/cases/{case_id}/assign",
                           json={"version": version, "assignee_id": analyst.id})
    assert assigned.json()["assignee_id"] == analyst.id
    version = assigned.json()["version"]
    moved = client.post(f"{API}/cases/{case_id}/transition",
                        json={"version": version, "to": "containment"})
    assert moved.status_code == 200 and moved.json()["contained_at"]
    back = client.post(f"{API}/cases/{case_id}/transition",
                       json={"version": moved.json()["version"], "to": "triage"})
    assert back.status_code == 409
    closed = client.post(f"{API}/cases/{case_id}/transition", json={
        "version": moved.json()["version"], "to": "closed", "reason": "no_action",
        "comment": "Aucune action supplémentaire."})
    assert closed.json()["status"] == "closed" and closed.json()["closure_reason"] == "no_action"
    # A focal point may not move cases
    assert api_as(focal_a).post(f"{API}/cases/{case_id}/transition", json={
        "version": closed.json()["version"], "to": "investigation",
        "comment": "x"}).status_code == 403


def test_tasks_notes_and_red_visibility(api_as: ApiAs, analyst: User, focal_a: User,
                                        focal_a2: User, csirt_institutions: Institutions,
                                        make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a)
    analyst_api, author, other = api_as(analyst), api_as(focal_a), api_as(focal_a2)
    task = analyst_api.post(f"{API}/cases/{case_id}/tasks", json={
        "title": "Changer les mots de passe", "owner_id": focal_a.id,
        "due_date": "2026-06-01"})
    assert task.status_code == 201
    done = author.patch(f"{API}/tasks/{task.json()['id']}", json={
        "status": "done", "version": task.json()["version"]})
    assert done.status_code == 200 and done.json()["status"] == "done"
    # A RED note by focal a: invisible to the other focal point of a, who is not named
    note = author.post(f"{API}/cases/{case_id}/notes", json={"body": "Nom du suspect",
                                                             "tlp": "RED"})
    assert note.status_code == 201 and note.json()["tlp"] == "red"
    assert [n["body"] for n in author.get(f"{API}/cases/{case_id}/notes").json()] == [
        "Nom du suspect"]
    assert other.get(f"{API}/cases/{case_id}/notes").json() == []
    assert other.patch(f"{API}/notes/{note.json()['id']}", json={
        "body": "x", "version": 1}).status_code == 404
    edited = author.patch(f"{API}/notes/{note.json()['id']}", json={
        "body": "Nom du suspect (corrigé)", "version": note.json()["version"]})
    assert edited.status_code == 200
    stale = author.patch(f"{API}/notes/{note.json()['id']}", json={
        "body": "Encore", "version": note.json()["version"]})
    assert stale.status_code == 409


def test_attachment_limit_and_ledgered_download(api_as: ApiAs, analyst: User,
                                                focal_a: User, focal_b: User,
                                                csirt_institutions: Institutions,
                                                make_case: MakeCase, settings: Settings,
                                                session_factory: sessionmaker[Session],
                                                monkeypatch: Any) -> None:
    from lakana.csirt import tasks_service

    case_id = make_case(csirt_institutions.a)
    client = api_as(focal_a)
    # Over the limit: 413
    monkeypatch.setattr(tasks_service, "ATTACHMENT_MAX_BYTES", 1000)
    big = client.post(f"{API}/cases/{case_id}/attachments",
                      files={"file": ("journal.txt", b"a" * 2000, "text/plain")})
    assert big.status_code == 413
    # A refused type: 422
    bad = client.post(f"{API}/cases/{case_id}/attachments",
                      files={"file": ("x.exe", b"MZ\x90\x00" + b"\x00" * 50,
                                      "application/octet-stream")})
    assert bad.status_code == 422
    # A good one, TLP:GREEN
    ok = client.post(f"{API}/cases/{case_id}/attachments", data={"tlp": "green"},
                     files={"file": ("journal.txt", b"connexion suspecte\n", "text/plain")})
    assert ok.status_code == 201, ok.text
    item = ok.json()
    assert item["tlp"] == "green" and item["size"] == 19
    # Downloading it is an attachment, not sniffed, and ledgered as a read
    got = api_as(analyst).get(f"{API}/attachments/{item['id']}")
    assert got.status_code == 200 and got.content == b"connexion suspecte\n"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"
    with session_factory() as session:
        reads = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "csirt.attachment.read")).all()
        assert [r.object_id for r in reads] == [str(item["id"])]
    # Another institution's focal point gets 404
    assert api_as(focal_b).get(f"{API}/attachments/{item['id']}").status_code == 404


def test_scope_and_red_case(api_as: ApiAs, focal_a: User, focal_a2: User,
                            csirt_institutions: Institutions, make_case: MakeCase) -> None:
    a_case = make_case(csirt_institutions.a)
    b_case = make_case(csirt_institutions.b)
    red = make_case(csirt_institutions.a, tlp="red", reporter_user_id=focal_a.id)
    client = api_as(focal_a)
    assert client.get(f"{API}/cases/{b_case}").status_code == 404
    assert client.get(f"{API}/cases/{b_case}/timeline").status_code == 404
    assert {c["id"] for c in client.get(f"{API}/cases").json()["items"]} == {a_case, red}
    other = api_as(focal_a2)
    assert other.get(f"{API}/cases/{red}").status_code == 404
    assert {c["id"] for c in other.get(f"{API}/cases").json()["items"]} == {a_case}


def test_incident_events_and_timeline(api_as: ApiAs, analyst: User,
                                      csirt_institutions: Institutions,
                                      make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a)
    client = api_as(analyst)
    added = client.post(f"{API}/cases/{case_id}/events", json={
        "at": "2026-01-05T07:30:00Z", "message": "Connexion VPN depuis l'étranger"})
    assert added.status_code == 201 and added.json()["kind"] == "incident"
    timeline = client.get(f"{API}/cases/{case_id}/timeline").json()
    assert timeline[0]["text"] == "Connexion VPN depuis l'étranger"
    assert [e["kind"] for e in timeline][:2] == ["incident", "created"]


def test_taxonomy_and_templates(api_as: ApiAs, focal_a: User) -> None:
    client = api_as(focal_a)
    classes = client.get(f"{API}/taxonomy").json()
    assert len(classes) == 11 and classes[0]["types"]
    templates = {t["id"]: t for t in client.get(f"{API}/case-templates").json()}
    assert set(templates) == {"ransomware", "defacement", "account_compromise", "data_breach",
                              "phishing"}
    assert templates["data_breach"]["personal_data"]
    assert templates["data_breach"]["dpa_notice_required"]


def test_unknown_case_is_404(api_as: ApiAs, analyst: User,
                             session_factory: sessionmaker[Session]) -> None:
    assert api_as(analyst).get(f"{API}/cases/424242").status_code == 404


def test_version_changes_after_each_write(api_as: ApiAs, analyst: User,
                                          csirt_institutions: Institutions,
                                          make_case: MakeCase,
                                          session_factory: sessionmaker[Session]) -> None:
    case_id = make_case(csirt_institutions.a)
    before = load_case(session_factory, case_id).version
    client = api_as(analyst)
    client.post(f"{API}/cases/{case_id}/assign", json={"version": before,
                                                       "assignee_id": analyst.id})
    assert load_case(session_factory, case_id).version > before

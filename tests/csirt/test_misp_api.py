"""MISP exchange over HTTP: the API (export, JSON and multipart import, permissions, hostile
bodies) and the pages (download link, import form with CSRF, result and problem pages)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.models import User
from lakana.csirt.exchange_models import ExternalReference
from lakana.csirt.models import Case
from tests.conftest import csrf_from
from tests.csirt.conftest import Institutions
from tests.csirt.test_misp import HOSTILE, MIXED, _add, misp_event

Client = Callable[[User], TestClient]


def _cases(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(Case)) or 0


def _green_case(make_case: Callable[..., int], institutions: Institutions,
                session_factory: sessionmaker[Session]) -> int:
    case_id = make_case(institutions.a, tlp="green")
    _add(session_factory, case_id, MIXED)
    return case_id


def test_api_export_downloads_the_event(api_as: Client, analyst: User, focal_a: User,
                                        focal_b: User, make_case: Callable[..., int],
                                        csirt_institutions: Institutions,
                                        session_factory: sessionmaker[Session]) -> None:
    case_id = _green_case(make_case, csirt_institutions, session_factory)
    # An analyst, and the institution's focal point, download the event
    for user in (analyst, focal_a):
        response = api_as(user).get(f"/api/v1/csirt/cases/{case_id}/misp")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["content-disposition"].startswith("attachment; filename=")
        assert response.headers["content-disposition"].endswith('.misp.json"')
        assert len(response.json()["Event"]["Attribute"]) == 4
    # Another institution's focal point learns nothing
    assert api_as(focal_b).get(f"/api/v1/csirt/cases/{case_id}/misp").status_code == 404


def test_api_export_of_a_red_case_is_refused(api_as: Client, analyst: User,
                                             make_case: Callable[..., int],
                                             csirt_institutions: Institutions) -> None:
    case_id = make_case(csirt_institutions.a, tlp="red")
    response = api_as(analyst).get(f"/api/v1/csirt/cases/{case_id}/misp")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "TLP:RED" in response.json()["detail"]


def test_api_import_json_then_again(api_as: Client, analyst: User,
                                    csirt_institutions: Institutions,
                                    session_factory: sessionmaker[Session]) -> None:
    client = api_as(analyst)
    body = json.dumps(misp_event())
    response = client.post(f"/api/v1/csirt/misp/import?institution_id={csirt_institutions.a}",
                           content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    out = response.json()
    (event,) = out["events"]
    assert event["created"] and event["added"] == 8 and event["producer"] == "CERT-SN"
    assert {s["type"]: s["count"] for s in out["skipped"]} == {"filename": 1, "link": 1,
                                                               "text": 1}
    again = client.post("/api/v1/csirt/misp/import", content=body,
                        headers={"Content-Type": "application/json"})
    assert again.status_code == 200
    assert again.json()["events"][0]["case_id"] == event["case_id"]
    assert again.json()["events"][0]["added"] == 0
    with session_factory() as session:
        case = session.get(Case, event["case_id"])
        assert case is not None and case.institution_id == csirt_institutions.a


def test_api_import_multipart(api_as: Client, analyst: User) -> None:
    doc = misp_event()
    doc["Event"]["uuid"] = str(uuid.uuid4())
    response = api_as(analyst).post(
        "/api/v1/csirt/misp/import?skip_invalid=true",
        files={"file": ("event.json", json.dumps(doc).encode(), "application/json")})
    assert response.status_code == 201, response.text
    assert response.json()["events"][0]["added"] == 8


def test_api_import_needs_coordination(api_as: Client, focal_a: User,
                                       session_factory: sessionmaker[Session]) -> None:
    response = api_as(focal_a).post("/api/v1/csirt/misp/import", json=misp_event())
    assert response.status_code == 403
    assert _cases(session_factory) == 0


def test_api_hostile_bodies(api_as: Client, analyst: User,
                            session_factory: sessionmaker[Session]) -> None:
    client = api_as(analyst)
    for name in ("impossible IPv4", "invalid utf-8", "attribute is a string", "deep nesting",
                 "huge array"):
        data, status = HOSTILE[name]
        response = client.post("/api/v1/csirt/misp/import", content=data,
                               headers={"Content-Type": "application/json"})
        assert response.status_code == status, (name, response.text[:300])
        assert response.headers["content-type"].startswith("application/problem+json")
    response = client.post("/api/v1/csirt/misp/import", content=HOSTILE["impossible IPv4"][0],
                           headers={"Content-Type": "application/json"})
    (error,) = response.json()["errors"]
    assert error["field"] == "Event.Attribute[1]" and error["value"] == "999.1.1.1"
    assert "999.1.1.1" in error["message"]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ExternalReference)) == 0
    assert _cases(session_factory) == 0


# --- pages ------------------------------------------------------------------------------

def test_page_download_link(login_as: Client, analyst: User, make_case: Callable[..., int],
                            csirt_institutions: Institutions,
                            session_factory: sessionmaker[Session]) -> None:
    case_id = _green_case(make_case, csirt_institutions, session_factory)
    response = login_as(analyst).get(f"/csirt/cases/{case_id}/misp.json")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.json()["Event"]["Tag"][0]["name"] == "tlp:green"


def test_page_import_form_and_result(login_as: Client, analyst: User,
                                     csirt_institutions: Institutions,
                                     session_factory: sessionmaker[Session]) -> None:
    browser = login_as(analyst)
    form = browser.get("/csirt/misp/import")
    assert form.status_code == 200 and 'name="file"' in form.text
    assert "INSTA" in form.text
    # Without the CSRF token: refused
    refused = browser.post("/csirt/misp/import", files={
        "file": ("e.json", json.dumps(misp_event()).encode(), "application/json")})
    assert refused.status_code == 403
    response = browser.post("/csirt/misp/import", data={
        "csrf_token": csrf_from(form.text), "institution_id": str(csirt_institutions.b)},
        files={"file": ("e.json", json.dumps(misp_event()).encode(), "application/json")})
    assert response.status_code == 200, response.text[:500]
    assert "CERT-SN" in response.text and "INC-" in response.text
    assert "filename" in response.text  # skipped attribute types are listed
    with session_factory() as session:
        case = session.scalar(select(Case))
        assert case is not None and case.institution_id == csirt_institutions.b


def test_page_import_shows_problems(login_as: Client, analyst: User,
                                    session_factory: sessionmaker[Session]) -> None:
    browser = login_as(analyst)
    token = csrf_from(browser.get("/csirt/misp/import").text)
    response = browser.post("/csirt/misp/import", data={"csrf_token": token}, files={
        "file": ("e.json", HOSTILE["impossible IPv4"][0], "application/json")})
    assert response.status_code == 422
    assert "Event.Attribute[1]" in response.text and "999.1.1.1" in response.text
    assert _cases(session_factory) == 0
    # Hostile markup in a value is shown inert
    doc = {"Event": {"uuid": str(uuid.uuid4()), "Attribute": [
        {"type": "ip-dst", "value": "<script>alert(1)</script>"}]}}
    response = browser.post("/csirt/misp/import", data={"csrf_token": token}, files={
        "file": ("e.json", json.dumps(doc).encode(), "application/json")})
    assert response.status_code == 422
    assert "<script>alert" not in response.text and "&lt;script&gt;" in response.text


def test_page_import_is_for_the_centre(login_as: Client, focal_a: User) -> None:
    assert login_as(focal_a).get("/csirt/misp/import").status_code == 403

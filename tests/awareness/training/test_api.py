"""JSON API of training: catalogue, trainees with ETags, enrolment with a seat limit (409),
attendance sheets (422 with rows and columns), completion, certificate PDF."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.core.auth.rbac import Role
from tests.conftest import Factory

BASE = "/api/v1/awareness/training"


def test_agency_runs_a_session_from_catalogue_to_certificate(
        factory: Factory, api_as: Callable[..., TestClient]) -> None:
    # Given the agency and a focal point of AAA
    inst = factory.institution("AAA")
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    focal = api_as(factory.user(Role.FOCAL_POINT, institution_id=inst))
    # When the agency adds a course and a session of one seat
    course = agency.post(f"{BASE}/courses", json={
        "kind": "classroom", "title": "Gestion des incidents", "duration_hours": 21})
    assert course.status_code == 201, course.text
    held = agency.post(f"{BASE}/sessions", json={
        "course_id": course.json()["id"], "starts_on": "2026-10-05", "ends_on": "2026-10-07",
        "place": "Bamako", "seats": 1})
    assert held.status_code == 201 and held.json()["taken"] == 0
    session_id = held.json()["id"]
    # And the focal point registers two people and enrols the first
    people = [focal.post(f"{BASE}/trainees", json={
        "institution_id": inst, "full_name": name, "email": f"{name.lower()}@example.ml"})
        for name in ("Awa", "Moussa")]
    assert [p.status_code for p in people] == [201, 201]
    enrolled = focal.post(f"{BASE}/enrolments", json={
        "session_id": session_id, "trainee_id": people[0].json()["id"]})
    assert enrolled.status_code == 201, enrolled.text
    # Then the second is refused: the session is full (409, clear message)
    full = focal.post(f"{BASE}/enrolments", json={
        "session_id": session_id, "trainee_id": people[1].json()["id"]},
        headers={"Accept-Language": "fr"})
    assert full.status_code == 409 and "Cette session est complète" in full.text
    # And the focal point may not record outcomes; the agency may, with the version
    result = {"outcome": "completed", "score": 91}
    path = f"{BASE}/enrolments/{enrolled.json()['id']}"
    assert focal.patch(path, json={**result, "version": 1}).status_code == 403
    stale = agency.patch(path, json=result, headers={"If-Match": '"7"'})
    assert stale.status_code == 409
    done = agency.patch(path, json=result, headers={"If-Match": enrolled.headers["ETag"]})
    assert done.status_code == 200, done.text
    code, cert_id = done.json()["certificate_code"], done.json()["certificate_id"]
    assert len(code.replace("-", "")) == 16
    # And the focal point downloads the certificate as PDF
    pdf = focal.get(f"{BASE}/certificates/{cert_id}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    # And the completion table counts one person trained
    table = focal.get(f"{BASE}/completion").json()
    assert table["total"]["people_trained"] == 1
    assert focal.get(f"{BASE}/completion/{inst}").json()["completion_rate"] == 100


def test_attendance_sheet_over_the_api(factory: Factory,
                                       api_as: Callable[..., TestClient]) -> None:
    inst = factory.institution("AAA")
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    course = agency.post(f"{BASE}/courses", json={
        "kind": "elearning", "title": "Hygiène numérique", "duration_hours": 3,
        "url": "https://formation.example.ml/hygiene"}).json()
    session_id = agency.post(f"{BASE}/sessions", json={
        "course_id": course["id"], "starts_on": "2026-10-05", "ends_on": "2026-10-05",
        "seats": 5}).json()["id"]
    agency.post(f"{BASE}/trainees", json={"institution_id": inst, "full_name": "Awa Traoré",
                                          "email": "awa@example.ml"})
    # A sheet naming someone unknown is refused with the row and column, nothing written
    bad = agency.post(f"{BASE}/sessions/{session_id}/attendance",
                      content=b"email,score\nawa@example.ml,80\nghost@example.ml,70\n",
                      headers={"Content-Type": "text/csv", "Accept-Language": "en"})
    assert bad.status_code == 422
    problem = bad.json()
    assert "nothing was recorded" in problem["detail"]
    assert [(e["row"], e["column"]) for e in problem["errors"]] == [(3, "email")]
    assert agency.get(f"{BASE}/enrolments", params={"session_id": session_id}).json() == []
    # The same without the unknown row is recorded
    good = agency.post(f"{BASE}/sessions/{session_id}/attendance",
                       content=b"email,outcome,score\nawa@example.ml,completed,80\n",
                       headers={"Content-Type": "text/csv"})
    assert good.status_code == 200 and good.json()["certificates"] == 1


def test_bad_input_is_refused_clearly(factory: Factory,
                                      api_as: Callable[..., TestClient]) -> None:
    inst = factory.institution("AAA")
    agency = api_as(factory.user(Role.AGENCY_OFFICER))
    no_link = agency.post(f"{BASE}/courses", json={
        "kind": "elearning", "title": "Hygiène", "duration_hours": 3},
        headers={"Accept-Language": "fr"})
    assert no_link.status_code == 422 and "a besoin de son lien" in no_link.text
    body = {"institution_id": inst, "full_name": "Awa", "email": "awa@example.ml"}
    assert agency.post(f"{BASE}/trainees", json=body).status_code == 201
    again = agency.post(f"{BASE}/trainees", json={**body, "email": "AWA@example.ml"})
    assert again.status_code == 409
    assert agency.post(f"{BASE}/trainees", json={**body, "email": "nope"}).status_code == 422
    assert agency.get(f"{BASE}/courses/999").status_code == 404

"""Case pages: report form, case page (escaping, TLP, severity reasons), actions, queue,
list, scope."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.models import User
from tests.conftest import csrf_from
from tests.csirt.conftest import Institutions, load_case

LoginAs = Callable[[User], TestClient]
MakeCase = Callable[..., int]


def test_report_form_leads_to_the_case_page(login_as: LoginAs, focal_a: User,
                                            csirt_institutions: Institutions) -> None:
    # Given a focal point on the report form, offered their institution's systems
    client = login_as(focal_a)
    form = client.get("/csirt/cases/new")
    assert form.status_code == 200 and "Paie" in form.text and "Portail" not in form.text
    # When they report an incident
    response = client.post("/csirt/cases/new", data={
        "csrf_token": csrf_from(form.text), "title": "Rançongiciel au service de la paie",
        "description": "Fichiers chiffrés.", "template": "ransomware",
        "system_id": str(csirt_institutions.a_system), "service_impact": "unavailable",
        "tlp": "amber", "personal_data": "1"}, follow_redirects=False)
    # Then they land on the case page, which shows the reference, the notice, the template's
    # tasks and why the case is that severe
    assert response.status_code == 303, response.text[:2000]
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert re.search(r"INC-\d{4}-\d{5}", page.text)
    assert "L'incident est signalé." in page.text
    assert "Isoler les postes et serveurs touchés du réseau" in page.text
    assert "Des données personnelles sont concernées." in page.text
    assert 'aria-label="TLP:AMBER"' in page.text and "#FFC000" in page.text


def test_report_form_shows_problems(login_as: LoginAs, focal_a: User,
                                    csirt_institutions: Institutions) -> None:
    client = login_as(focal_a)
    form = client.get("/csirt/cases/new")
    response = client.post("/csirt/cases/new", data={
        "csrf_token": csrf_from(form.text), "title": "Incident",
        "system_id": str(csirt_institutions.b_system)})
    assert response.status_code == 422
    assert "n&#39;appartient pas à cette institution" in response.text


def test_title_is_escaped_on_the_case_page(login_as: LoginAs, analyst: User,
                                           csirt_institutions: Institutions,
                                           make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a, title="<script>alert(1)</script>",
                        description="<img src=x onerror=alert(2)>")
    page = login_as(analyst).get(f"/csirt/cases/{case_id}")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<img src=x" not in page.text


def test_focal_point_of_a_gets_404_on_b(login_as: LoginAs, focal_a: User,
                                        csirt_institutions: Institutions,
                                        make_case: MakeCase) -> None:
    a_case = make_case(csirt_institutions.a, title="Incident de A")
    b_case = make_case(csirt_institutions.b, title="Incident de B")
    client = login_as(focal_a)
    assert client.get(f"/csirt/cases/{b_case}").status_code == 404
    listing = client.get("/csirt/cases")
    assert "Incident de A" in listing.text and "Incident de B" not in listing.text
    assert client.get(f"/csirt/cases/{a_case}").status_code == 200
    # No actions for a focal point, but notes and files
    page = client.get(f"/csirt/cases/{a_case}").text
    assert f"/csirt/cases/{a_case}/transition" not in page
    assert f"/csirt/cases/{a_case}/notes" in page


def test_analyst_triages_assigns_and_closes(login_as: LoginAs, analyst: User,
                                            csirt_institutions: Institutions,
                                            make_case: MakeCase,
                                            session_factory: sessionmaker[Session]) -> None:
    case_id = make_case(csirt_institutions.a)
    client = login_as(analyst)
    page = client.get(f"/csirt/cases/{case_id}")
    csrf = csrf_from(page.text)
    version = load_case(session_factory, case_id).version
    triaged = client.post(f"/csirt/cases/{case_id}/triage", data={
        "csrf_token": csrf, "version": str(version), "taxonomy_class": "fraud",
        "taxonomy_type": "phishing", "tlp": "green", "service_impact": "none",
        "institution_id": str(csirt_institutions.a), "institutions_affected": "3"},
        follow_redirects=False)
    assert triaged.status_code == 303, triaged.text[:1500]
    case = load_case(session_factory, case_id)
    assert case.severity == "critical" and case.status == "triage"
    # A second triage with the old version: 409 and the page says so
    stale = client.post(f"/csirt/cases/{case_id}/triage", data={
        "csrf_token": csrf, "version": str(version), "tlp": "red"})
    assert stale.status_code == 409 and "modifiée entre-temps" in stale.text
    assigned = client.post(f"/csirt/cases/{case_id}/assign", data={
        "csrf_token": csrf, "version": str(case.version), "assignee_id": "me"},
        follow_redirects=False)
    assert assigned.status_code == 303
    case = load_case(session_factory, case_id)
    assert case.assignee_id == analyst.id
    # Closing without a comment is refused, with the reason kept
    refused = client.post(f"/csirt/cases/{case_id}/transition", data={
        "csrf_token": csrf, "version": str(case.version), "to": "closed",
        "reason": "resolved"})
    assert refused.status_code == 422
    closed = client.post(f"/csirt/cases/{case_id}/transition", data={
        "csrf_token": csrf, "version": str(case.version), "to": "closed",
        "reason": "resolved", "comment": "Site restauré."}, follow_redirects=False)
    assert closed.status_code == 303
    assert load_case(session_factory, case_id).status == "closed"
    assert "Site restauré." in client.get(f"/csirt/cases/{case_id}").text


def test_notes_tasks_files_and_events_from_the_page(login_as: LoginAs, analyst: User,
                                                    focal_a: User, focal_a2: User,
                                                    csirt_institutions: Institutions,
                                                    make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a)
    author = login_as(focal_a)
    csrf = csrf_from(author.get(f"/csirt/cases/{case_id}").text)
    assert author.post(f"/csirt/cases/{case_id}/notes", data={
        "csrf_token": csrf, "body": "Piste interne confidentielle", "tlp": "red"},
        follow_redirects=False).status_code == 303
    assert author.post(f"/csirt/cases/{case_id}/attachments", data={"csrf_token": csrf},
                       files={"file": ("capture.txt", b"en-tetes\n", "text/plain")},
                       follow_redirects=False).status_code == 303
    assert author.post(f"/csirt/cases/{case_id}/events", data={
        "csrf_token": csrf, "at": "2026-01-03T10:15", "message": "Premier courriel reçu"},
        follow_redirects=False).status_code == 303
    page = author.get(f"/csirt/cases/{case_id}").text
    assert "Piste interne confidentielle" in page and "capture.txt" in page
    assert "Premier courriel reçu" in page
    # The other focal point of a sees the file and the event, not the RED note
    other = login_as(focal_a2).get(f"/csirt/cases/{case_id}").text
    assert "Piste interne confidentielle" not in other and "capture.txt" in other
    # An analyst adds a task owned by the focal point
    desk = login_as(analyst)
    csrf = csrf_from(desk.get(f"/csirt/cases/{case_id}").text)
    assert desk.post(f"/csirt/cases/{case_id}/tasks", data={
        "csrf_token": csrf, "title": "Bloquer l'expéditeur", "owner_id": str(focal_a.id),
        "due_date": "2026-07-01"}, follow_redirects=False).status_code == 303
    assert "Bloquer l&#39;expéditeur" in desk.get(f"/csirt/cases/{case_id}").text


def test_queue_page_orders_by_severity(login_as: LoginAs, analyst: User,
                                       csirt_institutions: Institutions,
                                       make_case: MakeCase) -> None:
    make_case(csirt_institutions.a, title="Cas ordinaire")
    make_case(csirt_institutions.a, title="Cas biométrique", biometric_data=True)
    page = login_as(analyst).get("/csirt/queue")
    assert page.status_code == 200
    assert page.text.index("Cas biométrique") < page.text.index("Cas ordinaire")


def test_queue_is_for_analysts(login_as: LoginAs, focal_a: User,
                               csirt_institutions: Institutions) -> None:
    assert login_as(focal_a).get("/csirt/queue").status_code == 403


def test_list_filters_and_htmx_fragment(login_as: LoginAs, analyst: User,
                                        csirt_institutions: Institutions,
                                        make_case: MakeCase) -> None:
    make_case(csirt_institutions.a, title="Défiguration du portail")
    make_case(csirt_institutions.b, title="Rançongiciel")
    client = login_as(analyst)
    page = client.get("/csirt/cases?q=portail")
    assert "Défiguration du portail" in page.text and "Rançongiciel" not in page.text
    fragment = client.get("/csirt/cases?q=ran", headers={"HX-Request": "true"})
    assert "Rançongiciel" in fragment.text and "<html" not in fragment.text


def test_menu_and_dashboard_entries(login_as: LoginAs, analyst: User, focal_a: User) -> None:
    home = login_as(analyst).get("/").text
    assert 'href="/csirt/cases"' in home and 'href="/csirt/queue"' in home
    assert "File d'attente CSIRT" in home or "File d&#39;attente CSIRT" in home
    assert "Nouveaux dossiers à qualifier" in home
    focal_home = login_as(focal_a).get("/").text
    assert 'href="/csirt/cases"' in focal_home and 'href="/csirt/queue"' not in focal_home


def test_case_page_shows_observables_related_cases_and_clocks(
        login_as: LoginAs, analyst: User, csirt_institutions: Institutions,
        make_case: MakeCase, session_factory: sessionmaker[Session]) -> None:
    from lakana.csirt import observable_service
    from tests.csirt.conftest import ADMIN

    # Given two cases sharing an indicator
    first = make_case(csirt_institutions.a, title="Premier cas")
    second = make_case(csirt_institutions.b, title="Second cas")
    with session_factory.begin() as session:
        for case_id in (first, second):
            observable_service.add_to_case(session=session, actor=ADMIN, case_id=case_id,
                                           kind="domain", value="faux-portail.example")
    # When the analyst opens the first case
    page = login_as(analyst).get(f"/csirt/cases/{first}").text
    # Then the indicator (defanged), the related case and the deadlines panel are shown
    assert "faux-portail[.]example" in page
    assert "Second cas" in page
    assert "Délais réglementaires" in page

"""HTML pages of the skills register: the national gap, an institution's page with its
form (inline errors keep the input), a holder's page with certifications."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.core.auth.rbac import Role
from tests.conftest import Factory, csrf_from


def test_focal_point_names_a_ciso_and_adds_a_certification(
        factory: Factory, login_as: Callable[..., TestClient]) -> None:
    # Given a focal point of a tier-2 institution, sent from the register to its own page
    inst = factory.institution("AAA", criticality_tier=2)
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=inst))
    start = browser.get("/awareness/skills", follow_redirects=False)
    assert start.status_code == 303
    page = browser.get(start.headers["location"])
    assert "Rôles de sécurité de AAA" in page.text and "Manquants" in page.text
    assert "Responsable de la sécurité des systèmes d&#39;information (RSSI)" in page.text
    # When they submit the form with an end date before the start date
    form = {"csrf_token": csrf_from(page.text), "profile_id": "ciso",
            "full_name": "Awa Traoré", "email": "", "position": "RSSI",
            "since": "2025-02-01", "until": "2025-01-01"}
    bad = browser.post(f"/awareness/skills/institutions/{inst}/holders", data=form)
    # Then the error is inline and the input kept
    assert bad.status_code == 422
    assert "La date de fin ne peut pas précéder la date de début." in bad.text
    assert 'value="Awa Traoré"' in bad.text
    # When they submit it right
    saved = browser.post(f"/awareness/skills/institutions/{inst}/holders",
                         data={**form, "until": ""}, follow_redirects=False)
    assert saved.status_code == 303
    holder = browser.get(saved.headers["location"])
    assert "Awa Traoré" in holder.text and "Aucune certification enregistrée." in holder.text
    # And add a certification that expires in a month
    soon = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    added = browser.post(f"{saved.headers['location']}/certifications", data={
        "csrf_token": csrf_from(holder.text), "name": "CISSP", "issuer": "ISC2",
        "credential_id": "", "obtained_on": "2023-01-01", "expires_on": soon},
        follow_redirects=False)
    assert added.status_code == 303
    shown = browser.get(saved.headers["location"])
    assert "CISSP" in shown.text and "Expire bientôt" in shown.text
    # And the institution page shows the seat filled
    assert "Awa Traoré" in browser.get(f"/awareness/skills/institutions/{inst}").text


def test_a_bad_certification_keeps_the_input(factory: Factory,
                                             login_as: Callable[..., TestClient]) -> None:
    inst = factory.institution("AAA")
    user = factory.user(Role.FOCAL_POINT, institution_id=inst)
    browser = login_as(user)
    page = browser.get(f"/awareness/skills/institutions/{inst}")
    saved = browser.post(f"/awareness/skills/institutions/{inst}/holders", data={
        "csrf_token": csrf_from(page.text), "profile_id": "implementer",
        "full_name": "Moussa Kanté", "since": "2024-01-01"}, follow_redirects=False)
    path = saved.headers["location"]
    holder = browser.get(path)
    bad = browser.post(f"{path}/certifications", data={
        "csrf_token": csrf_from(holder.text), "name": "GCIH", "obtained_on": "2025-01-01",
        "expires_on": "2024-01-01"})
    assert bad.status_code == 422
    assert "Une certification doit expirer après la date de son obtention." in bad.text
    assert 'value="GCIH"' in bad.text


def test_agency_sees_the_national_gap(factory: Factory,
                                      login_as: Callable[..., TestClient]) -> None:
    factory.institution("CRIT", criticality_tier=1)
    page = login_as(factory.user(Role.AGENCY_OFFICER)).get("/awareness/skills")
    assert page.status_code == 200
    assert "Registre des compétences — déficit national de compétences" in page.text
    assert "CRIT" in page.text and "Institutions en sous-effectif" in page.text
    assert "<th scope=\"row\">Intervenant·e en réponse aux incidents</th>" in page.text


def test_stale_edit_shows_a_conflict(factory: Factory,
                                     login_as: Callable[..., TestClient]) -> None:
    inst = factory.institution("AAA")
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=inst))
    page = browser.get(f"/awareness/skills/institutions/{inst}")
    saved = browser.post(f"/awareness/skills/institutions/{inst}/holders", data={
        "csrf_token": csrf_from(page.text), "profile_id": "ciso", "full_name": "Awa Traoré",
        "since": "2024-01-01"}, follow_redirects=False)
    path = saved.headers["location"]
    csrf = csrf_from(browser.get(path).text)
    form = {"csrf_token": csrf, "profile_id": "ciso", "full_name": "Awa Traoré",
            "since": "2024-01-01", "until": "", "position": "RSSI", "email": "",
            "version": "1"}
    assert browser.post(path, data=form, follow_redirects=False).status_code == 303
    stale = browser.post(path, data={**form, "position": "DSI"})
    assert stale.status_code == 409 and 'value="DSI"' in stale.text

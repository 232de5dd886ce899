"""HTML pages of phishing exercises: the agency prepares an exercise through the forms
(errors shown again, bad target files listed by line), sends it; the institution's manager
sees pseudonyms only; another institution's manager gets 404."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.core.auth.rbac import Role
from tests.awareness.phishing.makers import BODY
from tests.conftest import Factory, csrf_from


def test_agency_prepares_and_sends_through_the_pages(
        factory: Factory, login_as: Callable[..., TestClient]) -> None:
    # Given the agency's exercise team on the list page
    mef, dgi = factory.institution("MEF"), factory.institution("DGI")
    agency = login_as(factory.user(Role.AGENCY_OFFICER))
    page = agency.get("/awareness/phishing")
    assert page.status_code == 200 and "Exercices d'hameçonnage" in page.text
    # When a template without the placeholder is added, then the form says why (422)
    bad = agency.post("/awareness/phishing/templates", data={
        "csrf_token": csrf_from(page.text), "name": "Colis", "subject": "Votre colis",
        "body": "Bonjour, votre colis attend."})
    assert bad.status_code == 422 and "{{lien}}" in bad.text and "Votre colis" in bad.text
    # When a good template and an exercise are added
    made = agency.post("/awareness/phishing/templates", data={
        "csrf_token": csrf_from(page.text), "name": "Colis", "subject": "Votre colis",
        "body": BODY, "landing_text": "", "sender_name": "La Poste"},
        follow_redirects=False)
    assert made.status_code == 303
    page = agency.get("/awareness/phishing")
    template = re.search(r'name="template_id" required>\s*<option value="(\d+)"', page.text)
    assert template
    created = agency.post("/awareness/phishing/exercises", data={
        "csrf_token": csrf_from(page.text), "name": "Colis MEF", "institution_id": str(mef),
        "template_id": template.group(1), "followup_course_id": "", "starts_on": "",
        "ends_on": ""}, follow_redirects=False)
    assert created.status_code == 303, created.text
    path = created.headers["location"]
    detail = agency.get(path)
    assert detail.status_code == 200 and "Importer les cibles" in detail.text
    # When a target file with a bad line is uploaded, then each bad line is listed
    refused = agency.post(f"{path}/targets", data={"csrf_token": csrf_from(detail.text)},
                          files={"file": ("cibles.csv", b"email\nawa@mef.example.ml\nnon\n",
                                          "text/csv")})
    assert refused.status_code == 422 and "Ligne 3" in refused.text
    # When the good file is uploaded and the exercise sent
    ok = agency.post(f"{path}/targets", data={"csrf_token": csrf_from(detail.text)},
                     files={"file": ("cibles.csv", "email,nom,service\nawa@mef.example.ml,"
                                     "Awa Traoré,Budget\n".encode(), "text/csv")})
    assert ok.status_code == 200 and "Cibles importées : 1" in ok.text
    assert "awa@mef.example.ml" in ok.text
    sent = agency.post(f"{path}/send", data={"csrf_token": csrf_from(ok.text)})
    assert sent.status_code == 200 and "(1 lots)" in sent.text
    # Then the MEF's manager sees the exercise with pseudonyms, never names or addresses
    manager = login_as(factory.user(Role.FOCAL_POINT, institution_id=mef))
    seen = manager.get(path)
    assert seen.status_code == 200 and "Cible 0001" in seen.text
    assert "awa@mef.example.ml" not in seen.text and "Awa Traoré" not in seen.text
    assert "Colis MEF" in manager.get("/awareness/phishing").text
    # And the DGI's manager gets 404 and an empty list
    other = login_as(factory.user(Role.FOCAL_POINT, institution_id=dgi))
    assert other.get(path).status_code == 404
    assert "Colis MEF" not in other.get("/awareness/phishing").text

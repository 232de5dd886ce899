"""HTML pages of the risk register: list, forms with inline errors, detail and matrix, the
national view turning risks into a priority, priorities."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.core.auth.rbac import Role
from tests.conftest import Factory, csrf_from


def _form(institution_id: int, csrf: str, **fields: str) -> dict[str, str]:
    data = {"csrf_token": csrf, "institution_id": str(institution_id),
            "title": "Coupures d'électricité", "asset": "Salle serveurs", "threat": "Délestage",
            "likelihood": "5", "impact": "3", "treatment": "mitigate", "treatment_plan": "",
            "acceptance_justification": "", "residual_likelihood": "3",
            "residual_impact": "2", "status": "open", "owner": "Awa", "due_date": "",
            "control_id": "phy-3", "system_id": "", "vulnerability": ""}
    data.update(fields)
    return data


def test_focal_point_creates_and_edits_a_risk(factory: Factory,
                                              login_as: Callable[..., TestClient]) -> None:
    # Given a focal point of A on the new risk form
    a = factory.institution("AAA")
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=a))
    page = browser.get("/compliance/risks/new")
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    assert "Vraisemblance" in page.text and "5 — Quasi certain" in page.text
    # When they submit it
    saved = browser.post("/compliance/risks/new", data=_form(a, csrf_from(page.text)),
                         follow_redirects=False)
    # Then the detail page shows both scores and the matrix
    assert saved.status_code == 303, saved.text[:500]
    detail = browser.get(saved.headers["location"])
    assert "Risque inhérent" in detail.text and "risk-matrix" in detail.text
    assert "<th scope=\"row\">5</th>" in detail.text and "15 · Élevé" in detail.text
    # When they edit it with the version read
    risk_path = saved.headers["location"]
    edit = browser.get(f"{risk_path}/edit")
    assert 'name="version" value="1"' in edit.text
    done = browser.post(f"{risk_path}/edit", data=_form(a, csrf_from(edit.text),
                                                        status="in_treatment", version="1"),
                        follow_redirects=False)
    assert done.status_code == 303
    # And a second save with the same stale version shows a conflict, keeping the input
    stale = browser.post(f"{risk_path}/edit", data=_form(a, csrf_from(edit.text),
                                                         owner="Moussa", version="1"))
    assert stale.status_code == 409 and 'value="Moussa"' in stale.text
    # And the register lists it
    listing = browser.get("/compliance/risks")
    assert "Registre des risques" in listing.text and "Coupures" in listing.text


def test_form_errors_are_inline_and_keep_input(factory: Factory,
                                               login_as: Callable[..., TestClient]) -> None:
    # Given a focal point on the form
    a = factory.institution()
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=a))
    csrf = csrf_from(browser.get("/compliance/risks/new").text)
    # When the residual risk exceeds the inherent one
    bad = browser.post("/compliance/risks/new", data=_form(
        a, csrf, residual_likelihood="5", residual_impact="5", title="Mon titre"))
    # Then the form comes back with a French message and the input
    assert bad.status_code == 422
    assert "ne peut pas dépasser le risque inhérent" in bad.text
    assert 'value="Mon titre"' in bad.text and 'aria-invalid="true"' in bad.text
    # When an accepted risk has no justification / Then the field is marked
    accepted = browser.post("/compliance/risks/new", data=_form(a, csrf, treatment="accept"))
    assert accepted.status_code == 422 and 'id="acceptance_justification-error"' in accepted.text
    # When the title is missing / Then a field error is shown
    empty = browser.post("/compliance/risks/new", data=_form(a, csrf, title=""))
    assert empty.status_code == 422 and 'id="title-error"' in empty.text


def test_other_institution_gets_404_on_pages(factory: Factory, make_risk: Callable[..., int],
                                             login_as: Callable[..., TestClient]) -> None:
    # Given a risk of B and a focal point of A
    a, b = factory.institution("AAA"), factory.institution("BBB")
    risk_b = make_risk(b)
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=a))
    csrf = csrf_from(browser.get("/compliance/risks").text)
    # Then B's risk is not found, to read or to change
    assert browser.get(f"/compliance/risks/{risk_b}").status_code == 404
    assert browser.get(f"/compliance/risks/{risk_b}/edit").status_code == 404
    assert browser.post(f"/compliance/risks/{risk_b}/delete",
                        data={"csrf_token": csrf}).status_code == 404


def test_htmx_gets_the_table_only(factory: Factory, make_risk: Callable[..., int],
                                  login_as: Callable[..., TestClient]) -> None:
    # Given risks and the agency / When htmx filters the list
    a = factory.institution("AAA")
    make_risk(a, title="Fuite du fichier électoral")
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    fragment = browser.get("/compliance/risks", params={"q": "fuite", "institution_id": a},
                           headers={"HX-Request": "true"})
    # Then only the table comes back
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "Fuite du fichier" in fragment.text


def test_agency_turns_top_risks_into_a_priority(factory: Factory,
                                                make_risk: Callable[..., int],
                                                login_as: Callable[..., TestClient]) -> None:
    # Given risks of two institutions and an agency officer on the national view
    a, b = factory.institution("AAA"), factory.institution("BBB")
    ra, rb = make_risk(a, title="Rançongiciel DGI"), make_risk(b, title="Rançongiciel DGD")
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    page = browser.get("/compliance/risks/national")
    assert page.status_code == 200 and 'name="risk_ids"' in page.text
    assert "Créer une priorité nationale" in page.text
    csrf = csrf_from(page.text)
    # When they submit without selecting / Then the page explains it
    none = browser.post("/compliance/priorities/new", data={"csrf_token": csrf, "title": "X"})
    assert none.status_code == 422 and "Sélectionnez au moins un risque" in none.text
    # When they select both and name the priority
    created = browser.post("/compliance/priorities/new", data={
        "csrf_token": csrf, "title": "Rançongiciels des régies", "description": "",
        "risk_ids": [str(ra), str(rb)]}, follow_redirects=False)
    # Then the priority shows both risks
    assert created.status_code == 303
    detail = browser.get(created.headers["location"])
    assert "Rançongiciel DGI" in detail.text and "Rançongiciel DGD" in detail.text
    assert "Rançongiciels des régies" in browser.get("/compliance/priorities").text


def test_focal_point_cannot_create_priorities(factory: Factory, make_risk: Callable[..., int],
                                              make_priority: Callable[..., int],
                                              login_as: Callable[..., TestClient]) -> None:
    # Given a priority fed by risks of A and B, and a focal point of A
    a, b = factory.institution("AAA"), factory.institution("BBB")
    pid = make_priority([make_risk(a, title="Risque de A"), make_risk(b, title="Risque de B")])
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=a))
    # Then they read the priority with A's risk only
    detail = browser.get(f"/compliance/priorities/{pid}")
    assert detail.status_code == 200 and "Risque de A" in detail.text
    assert "Risque de B" not in detail.text
    # And they may not create one
    csrf = csrf_from(detail.text)
    refused = browser.post("/compliance/priorities/new", data={
        "csrf_token": csrf, "title": "Non", "risk_ids": ["1"]})
    assert refused.status_code == 403


def test_csv_export_from_the_page(factory: Factory, make_risk: Callable[..., int],
                                  login_as: Callable[..., TestClient]) -> None:
    # Given a risk of A and its focal point / When they export the register
    a = factory.institution("AAA")
    make_risk(a)
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=a))
    export = browser.get("/compliance/risks/export", params={"institution_id": a})
    # Then a CSV with BOM comes back
    assert export.status_code == 200 and export.content.startswith(b"\xef\xbb\xbf")
    assert "Rançongiciel" in export.content.decode("utf-8-sig")

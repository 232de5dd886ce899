"""Registry pages: lists with live search, forms with inline errors and versions, scope, CSV."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from tests.conftest import Factory, csrf_from

Login = Callable[[User], TestClient]
FORM = {"name": "Agence de Test des Systèmes d'Information", "acronym": "atsi",
        "kind": "agency", "parent_id": "", "region": "bamako", "sector": "security",
        "criticality_tier": "1", "website": "", "description": "",
        "contact_full_name": ["Awa Traoré", ""], "contact_position": ["RSSI", ""],
        "contact_email": ["awa@example.ml", ""], "contact_phone": ["", ""]}


def test_create_then_find_institution(factory: Factory, login_as: Login) -> None:
    # Given an agency officer on the new-institution form
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    page = browser.get("/registry/institutions/new")
    assert page.status_code == 200 and 'name="version"' not in page.text
    # When they submit it
    saved = browser.post("/registry/institutions/new",
                         data={**FORM, "csrf_token": csrf_from(page.text)},
                         follow_redirects=False)
    assert saved.status_code == 303
    detail = browser.get(saved.headers["location"])
    # Then the detail shows it, its contact, in French
    assert "ATSI" in detail.text and "Awa Traoré" in detail.text and "Sous-institutions" \
        in detail.text
    # And live search (htmx) answers only the table
    found = browser.get("/registry/institutions?q=atsi", headers={"HX-Request": "true"})
    assert "<html" not in found.text and "ATSI" in found.text
    assert "1 résultat" in found.text
    full = browser.get("/registry/institutions?sort=-name&region=bamako")
    assert "<html" in full.text and 'aria-sort="descending"' in full.text


def test_form_errors_keep_input(factory: Factory, login_as: Login) -> None:
    # Given an existing institution ATSI
    factory.institution("ATSI")
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    token = csrf_from(browser.get("/registry/institutions/new").text)
    # When the form has a bad e-mail, Then it comes back with the error and the input
    bad = browser.post("/registry/institutions/new", data={
        **FORM, "acronym": "NEW1", "contact_email": ["pas-un-email", ""], "csrf_token": token})
    assert bad.status_code == 422
    assert "Agence de Test des Systèmes" in bad.text and "pas-un-email" in bad.text
    # When the acronym is taken, Then a 409 message in French
    dup = browser.post("/registry/institutions/new", data={**FORM, "csrf_token": token})
    assert dup.status_code == 409 and "existe déjà" in dup.text


def test_stale_edit_is_409_and_keeps_input(factory: Factory, login_as: Login) -> None:
    # Given two officers who opened the same edit form
    inst = factory.institution("MEF")
    first, second = (login_as(factory.user(Role.AGENCY_OFFICER)) for _ in range(2))
    form_1 = first.get(f"/registry/institutions/{inst}/edit").text
    form_2 = second.get(f"/registry/institutions/{inst}/edit").text
    assert 'name="version" value="1"' in form_1
    data = {**FORM, "acronym": "MEF", "contact_full_name": [""], "contact_position": [""],
            "contact_email": [""], "contact_phone": [""], "version": "1"}
    # When the first saves, then the second saves
    ok = first.post(f"/registry/institutions/{inst}/edit",
                    data={**data, "name": "Premier", "csrf_token": csrf_from(form_1)},
                    follow_redirects=False)
    assert ok.status_code == 303
    stale = second.post(f"/registry/institutions/{inst}/edit",
                        data={**data, "name": "Second", "csrf_token": csrf_from(form_2)})
    # Then the second gets 409 with their input kept, and nothing is overwritten
    assert stale.status_code == 409 and 'value="Second"' in stale.text
    assert "Premier" in first.get(f"/registry/institutions/{inst}").text


def test_other_institution_pages_are_404(factory: Factory, login_as: Login,
                                         make_system: Callable[..., int]) -> None:
    # Given A's focal point and B's institution and system
    a, b = factory.institution("AAA"), factory.institution("BBB")
    sys_b = make_system(b)
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=a))
    # Then B's pages do not exist for them
    for path in (f"/registry/institutions/{b}", f"/registry/institutions/{b}/edit",
                 f"/registry/systems/{sys_b}", f"/registry/systems/{sys_b}/edit"):
        assert browser.get(path).status_code == 404, path
    token = csrf_from(browser.get(f"/registry/institutions/{a}").text)
    assert browser.post(f"/registry/systems/{sys_b}/delete",
                        data={"csrf_token": token}).status_code == 404
    # And lists show only A
    listing = browser.get("/registry/institutions").text
    assert "AAA" in listing and "BBB" not in listing
    # And the focal point cannot open the agency's creation form
    assert browser.get("/registry/institutions/new").status_code == 403


def test_system_form_with_endpoints(factory: Factory, login_as: Login) -> None:
    # Given A's focal point on the new-system form
    a = factory.institution("AAA")
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=a))
    page = browser.get("/registry/systems/new")
    data = {"name": "Portail", "institution_id": str(a), "purpose": "Démarches",
            "criticality": "high", "data_classification": "public", "hosting": "national_cloud",
            "personal_data": "on", "endpoints": "https://portail.example.ml/\n192.0.2.5\n",
            "csrf_token": csrf_from(page.text)}
    # When an endpoint is bad, Then the form says so and keeps the lines
    bad = browser.post("/registry/systems/new", data={**data, "endpoints": "not a host!"})
    assert bad.status_code == 422 and "not a host!" in bad.text
    # When all is right, Then the system shows its endpoints
    saved = browser.post("/registry/systems/new", data=data)
    assert saved.status_code == 200 and "192.0.2.5" in saved.text
    assert "Adresse IP" in saved.text
    # And the systems list filters on internet exposure
    assert "Portail" in browser.get("/registry/systems?internet_facing=true").text
    assert "Portail" not in browser.get("/registry/systems?internet_facing=false").text


def test_csv_import_page_reports_rows(factory: Factory, login_as: Login) -> None:
    # Given an agency officer on the import page
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    token = csrf_from(browser.get("/registry/import").text)
    bad = ("acronym,name,kind,region,sector,criticality_tier\n"
           "INPS,Institut National de Prévoyance Sociale,public_body,bamako,"
           "social_protection,1\nCANAM,Caisse,public_body,paris,social_protection,1\n")
    # When a file with a bad row is imported all-or-nothing
    refused = browser.post("/registry/import", data={"csrf_token": token, "what": "institutions"},
                           files={"file": ("i.csv", bad.encode())})
    # Then the report shows row 3, and nothing was written
    assert refused.status_code == 422 and "<td>3</td>" in refused.text
    assert "INPS" not in browser.get("/registry/institutions").text
    # When the same file is imported skipping bad rows, Then the good one is written
    done = browser.post("/registry/import", data={"csrf_token": token, "what": "institutions",
                                                  "skip_invalid": "on"},
                        files={"file": ("i.csv", bad.encode())})
    assert done.status_code == 200 and "1 créées" in done.text
    # And a Latin-1 file is explained
    latin = browser.post("/registry/import", data={"csrf_token": token, "what": "institutions"},
                         files={"file": ("l.csv", bad.encode("latin-1"))})
    assert latin.status_code == 422 and "UTF-8" in latin.text


def test_dashboard_cards(factory: Factory, login_as: Login,
                         make_system: Callable[..., int]) -> None:
    # Given a system with biometric data
    make_system(factory.institution("CTDEC"), biometric_data=True)
    browser = login_as(factory.user(Role.AUDITOR))
    # Then the home page counts it
    home = browser.get("/").text
    assert "Systèmes traitant des données biométriques" in home

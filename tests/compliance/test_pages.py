"""Compliance pages: catalogs, a version with live filters, a requirement, profiles, import."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from tests.compliance.conftest import catalog_doc, load, profile_doc
from tests.conftest import Factory, csrf_from

Login = Callable[[User], TestClient]


def test_browse_in_french_and_english(factory: Factory, login_as: Login,
                                      session_factory: sessionmaker[Session],
                                      version_id: int) -> None:
    # Given a focal point reading in French, and one in English
    french = login_as(factory.user(Role.FOCAL_POINT))
    english = login_as(factory.user(Role.FOCAL_POINT, language="en"))
    # Then the catalog list shows the menu entry and the version
    page = french.get("/compliance/catalogs")
    assert page.status_code == 200 and "Référentiel" in page.text and "2026.1" in page.text
    # And the version page shows texts in the interface language with mapping badges
    fr = french.get(f"/compliance/catalog-versions/{version_id}").text
    assert "Titre gov-1 — sécurité" in fr and "ISO A.5.1" in fr and "Domaine gov" in fr
    en = english.get(f"/compliance/catalog-versions/{version_id}").text
    assert "Title gov-1" in en and "Domain gov" in en
    # And htmx gets only the filtered table
    table = french.get(f"/compliance/catalog-versions/{version_id}?q=net-2",
                       headers={"HX-Request": "true"}).text
    assert "<html" not in table and "net-2" in table and "gov-1" not in table


def test_requirement_and_profile_pages(factory: Factory, login_as: Login,
                                       session_factory: sessionmaker[Session],
                                       version_id: int) -> None:
    # Given a profile of the catalog
    profile_id = load(session_factory, profile_doc())
    client = login_as(factory.user(Role.AUDITOR))
    # Then the profile page shows the dropped id
    page = client.get(f"/compliance/profiles/{profile_id}").text
    assert "net-2" in page and "Retirées" in page
    assert "Profil small" in client.get("/compliance/profiles").text
    # And a requirement page shows statement, maturity scale and legal source
    with session_factory() as session:
        from lakana.compliance import service
        from tests.compliance.conftest import ADMIN

        rows, _ = service.list_requirements(session=session, actor=ADMIN,
                                            catalog_version_id=version_id)
    legal = next(r for r in rows if r.kind == "legal")
    detail = client.get(f"/compliance/requirements/{legal.id}").text
    assert "Loi n°2013-015" in detail and "Niveau 5" in detail and "Obligation légale" in detail


def test_import_page(factory: Factory, login_as: Login) -> None:
    # Given an agency officer on the import page
    client = login_as(factory.user(Role.AGENCY_OFFICER))
    csrf = csrf_from(client.get("/compliance/import").text)
    # When they upload an invalid catalog / Then the problems list shows the JSON path
    doc = catalog_doc()
    del doc["catalog"]["groups"][0]["title"]
    refused = client.post("/compliance/import", data={"kind": "catalog", "csrf_token": csrf},
                          files={"file": ("c.json", json.dumps(doc))})
    assert refused.status_code == 422 and "$.catalog.groups[0].title" in refused.text
    # When they upload a valid one / Then they are sent to the new version
    done = client.post("/compliance/import", data={"kind": "catalog", "csrf_token": csrf},
                       files={"file": ("c.json", json.dumps(catalog_doc()))},
                       follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"].startswith("/compliance/catalog-versions/")


def test_focal_point_cannot_open_import(factory: Factory, login_as: Login) -> None:
    # Given a focal point / Then the import page is forbidden
    client = login_as(factory.user(Role.FOCAL_POINT))
    assert client.get("/compliance/import").status_code == 403

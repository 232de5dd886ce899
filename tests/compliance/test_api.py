"""Compliance JSON API: import (OSCAL, spreadsheet), browse, export, errors, permissions."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from tests.compliance.conftest import catalog_doc, changed, profile_doc
from tests.conftest import Factory
from tests.registry.conftest import ledger_count

Api = Callable[[User], TestClient]
BASE = "/api/v1/compliance"


def test_import_browse_export(factory: Factory, api_as: Api, db: Session) -> None:
    # Given an agency officer who imports a catalog as a JSON body
    api = api_as(factory.user(Role.AGENCY_OFFICER))
    created = api.post(f"{BASE}/catalogs", content=json.dumps(catalog_doc()),
                       headers={"Content-Type": "application/json"})
    assert created.status_code == 201, created.text
    version_id = created.json()["id"]
    # Then the same content again answers 200 (nothing new)
    again = api.post(f"{BASE}/catalogs", files={"file": ("c.json", json.dumps(catalog_doc()))})
    assert again.status_code == 200 and again.json() == {**created.json(), "created": False}
    # And the catalog, its version and its requirements are listed
    listed = api.get(f"{BASE}/catalogs").json()
    assert listed[0]["versions"][0]["requirements"] == 5
    detail = api.get(f"{BASE}/catalog-versions/{version_id}").json()
    assert [d["code"] for d in detail["domains"]] == ["gov", "net"]
    page = api.get(f"{BASE}/catalog-versions/{version_id}/requirements",
                   params={"tier": 1, "domain": "net"}).json()
    assert page["total"] == 1 and page["items"][0]["control_id"] == "net-1"
    one = api.get(f"{BASE}/requirements/{page['items'][0]['id']}").json()
    assert one["iso_refs"] == ["A.8.20"] and one["tiers"] == [1, 2, 3]
    # And the OSCAL export is the imported document
    exported = api.get(f"{BASE}/catalog-versions/{version_id}/export")
    assert exported.json() == catalog_doc()
    for fmt, kind in (("xlsx", "spreadsheetml"), ("csv", "text/csv")):
        response = api.get(f"{BASE}/catalog-versions/{version_id}/export",
                           params={"format": fmt})
        assert response.status_code == 200 and kind in response.headers["content-type"]
    assert ledger_count(db, "compliance.catalog.import") == 1


def test_invalid_oscal_is_a_problem_with_paths(factory: Factory, api_as: Api) -> None:
    # Given an administrator
    api = api_as(factory.user(Role.PLATFORM_ADMIN))
    # When a catalog with a duplicate id is sent
    doc = catalog_doc()
    doc["catalog"]["groups"][1]["controls"][0]["id"] = "gov-1"
    response = api.post(f"{BASE}/catalogs", json=doc)
    # Then 422, with the JSON path and a French message
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["path"] == "$.catalog.groups[1].controls[0].id"
    assert "gov-1" in body["errors"][0]["message"] and "déjà" in body["errors"][0]["message"]
    # And bad JSON and an unknown version are refused too
    assert api.post(f"{BASE}/catalogs", content=b"{",
                    headers={"Content-Type": "application/json"}).status_code == 422
    doc = catalog_doc()
    doc["catalog"]["metadata"]["oscal-version"] = "3.0.0"
    bad = api.post(f"{BASE}/catalogs", json=doc, headers={"Accept-Language": "en"}).json()
    assert bad["errors"][0]["path"] == "$.catalog.metadata.oscal-version"
    assert "Unknown OSCAL version 3.0.0" in bad["errors"][0]["message"]


def test_reimport_with_other_content_is_409(factory: Factory, api_as: Api) -> None:
    # Given an imported version
    api = api_as(factory.user(Role.PLATFORM_ADMIN))
    version_id = api.post(f"{BASE}/catalogs", json=catalog_doc()).json()["id"]
    # When it comes back changed / Then 409 and the stored version is untouched
    assert api.post(f"{BASE}/catalogs", json=changed(catalog_doc())).status_code == 409
    assert api.get(f"{BASE}/catalog-versions/{version_id}/export").json() == catalog_doc()


def test_profiles(factory: Factory, api_as: Api) -> None:
    # Given a catalog and a profile dropping net-2
    api = api_as(factory.user(Role.PLATFORM_ADMIN))
    api.post(f"{BASE}/catalogs", json=catalog_doc())
    created = api.post(f"{BASE}/profiles", json=profile_doc())
    assert created.status_code == 201, created.text
    profile_id = created.json()["id"]
    # Then it is listed with its counts and its difference from the baseline
    detail = api.get(f"{BASE}/profiles/{profile_id}").json()
    assert (detail["requirements"], detail["baseline_requirements"]) == (4, 5)
    assert detail["dropped"] == ["net-2"] and detail["added"] == []
    assert api.get(f"{BASE}/profiles").json()[0]["key"] == "small@2026.1"
    assert api.get(f"{BASE}/profiles/{profile_id}/requirements").json()["total"] == 4
    assert api.get(f"{BASE}/profiles/{profile_id}/export").json() == profile_doc()
    resolved = api.get(f"{BASE}/profiles/{profile_id}/export",
                       params={"resolved": "true"}).json()
    assert len(resolved["catalog"]["groups"][1]["controls"]) == 1
    # And an unknown href is a 422 with its path
    bad = api.post(f"{BASE}/profiles", json=profile_doc("x", imports=[
        {"href": "nowhere@1", "include-all": {}}]))
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == \
        "$.profile.imports[0].href"


def test_spreadsheet_import_api(factory: Factory, api_as: Api) -> None:
    # Given an exported CSV
    api = api_as(factory.user(Role.AGENCY_OFFICER))
    version_id = api.post(f"{BASE}/catalogs", json=catalog_doc()).json()["id"]
    text = api.get(f"{BASE}/catalog-versions/{version_id}/export",
                   params={"format": "csv"}).content
    # When uploaded as a new version
    created = api.post(f"{BASE}/catalogs/spreadsheet", files={"file": ("c.csv", text)},
                       data={"catalog_id": "ml-test", "version": "2026.2"})
    assert created.status_code == 201 and created.json()["key"] == "ml-test@2026.2"
    # Then a bad row is refused with its row and column
    bad = text.replace(b",2,A.5.1", b",9,A.5.1", 1)
    refused = api.post(f"{BASE}/catalogs/spreadsheet", files={"file": ("c.csv", bad)},
                       data={"catalog_id": "ml-test", "version": "2026.3"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["row"] == 2
    assert refused.json()["errors"][0]["column"] == "weight"


def test_focal_point_reads_but_cannot_import(factory: Factory, api_as: Api) -> None:
    # Given a catalog and a focal point
    admin = api_as(factory.user(Role.PLATFORM_ADMIN))
    version_id = admin.post(f"{BASE}/catalogs", json=catalog_doc()).json()["id"]
    focal = api_as(factory.user(Role.FOCAL_POINT))
    # Then they read the national baseline
    assert focal.get(f"{BASE}/catalog-versions/{version_id}/requirements").status_code == 200
    # But importing is refused
    assert focal.post(f"{BASE}/catalogs", json=catalog_doc(version="2")).status_code == 403
    assert focal.post(f"{BASE}/profiles", json=profile_doc()).status_code == 403

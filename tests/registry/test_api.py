"""Registry JSON API: CRUD, scope (404 across institutions), versions, lists, CSV."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from tests.conftest import Factory
from tests.registry.conftest import ledger_count

Api = Callable[[User], TestClient]
BASE = "/api/v1/registry"
NEW = {"name": "Agence des Technologies de l'Information et de la Communication",
       "acronym": "agetic", "kind": "agency", "region": "bamako",
       "sector": "telecommunications", "criticality_tier": 1,
       "contacts": [{"full_name": "Moussa Keïta", "position": "DSI",
                     "email": "moussa.keita@example.ml", "phone": "+223 20 20 20 20"}]}


def test_create_read_update_delete_institution(factory: Factory, api_as: Api,
                                               db: Session) -> None:
    # Given an agency officer
    api = api_as(factory.user(Role.AGENCY_OFFICER))
    # When they register an institution
    created = api.post(f"{BASE}/institutions", json=NEW)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["acronym"] == "AGETIC" and body["contacts"][0]["full_name"] == "Moussa Keïta"
    url = f"{BASE}/institutions/{body['id']}"
    # Then they read it back with its version as ETag
    read = api.get(url)
    assert read.headers["etag"] == '"1"'
    # When they change it with the version they read, it moves to version 2
    changed = api.patch(url, json={"description": "Opérateur", "version": 1})
    assert changed.status_code == 200 and changed.json()["version"] == 2
    # And a second client still holding version 1 gets 409, via body or If-Match
    assert api.patch(url, json={"description": "Écrasé", "version": 1}).status_code == 409
    assert api.patch(url, json={"description": "Écrasé"},
                     headers={"If-Match": '"1"'}).status_code == 409
    assert api.get(url).json()["description"] == "Opérateur"
    # And a change without a version is refused
    assert api.patch(url, json={"description": "x"}).status_code == 422
    # When deleted, it is gone
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    assert ledger_count(db, "registry.institution.update") == 1


def test_bad_input_is_refused(factory: Factory, api_as: Api) -> None:
    # Given an administrator and an existing institution
    api = api_as(factory.user(Role.PLATFORM_ADMIN))
    assert api.post(f"{BASE}/institutions", json=NEW).status_code == 201
    # Then a duplicate acronym is a conflict, explained in French by default
    dup = api.post(f"{BASE}/institutions", json={**NEW, "acronym": "AGETIC "})
    assert dup.status_code == 409 and "AGETIC" in dup.json()["detail"]
    assert "existe déjà" in dup.json()["detail"]
    # And in English when asked
    dup_en = api.post(f"{BASE}/institutions", json={**NEW, "acronym": "AGETIC"},
                      headers={"Accept-Language": "en"})
    assert "already exists" in dup_en.json()["detail"]
    # And unknown fields, bad enums and bad tiers are 422
    for bad in ({**NEW, "acronym": "X1", "colour": "red"}, {**NEW, "acronym": "X2",
                "region": "paris"}, {**NEW, "acronym": "X3", "criticality_tier": 4}):
        assert api.post(f"{BASE}/institutions", json=bad).status_code == 422


def test_cycle_is_a_conflict(factory: Factory, api_as: Api) -> None:
    # Given MEF > DGI
    mef = factory.institution("MEF")
    dgi = factory.institution("DGI", parent_id=mef)
    api = api_as(factory.user(Role.PLATFORM_ADMIN))
    # When MEF is put under DGI, or under itself, Then 409
    assert api.patch(f"{BASE}/institutions/{mef}",
                     json={"parent_id": dgi, "version": 1}).status_code == 409
    assert api.patch(f"{BASE}/institutions/{mef}",
                     json={"parent_id": mef, "version": 1}).status_code == 409
    # And deleting MEF while DGI hangs under it is refused
    assert api.delete(f"{BASE}/institutions/{mef}").status_code == 409


def test_other_institution_is_not_found(factory: Factory, api_as: Api,
                                        make_system: Callable[..., int]) -> None:
    # Given institutions A and B with a system each, and A's focal point
    a, b = factory.institution("AAA"), factory.institution("BBB")
    sys_a, sys_b = make_system(a), make_system(b)
    api = api_as(factory.user(Role.FOCAL_POINT, institution_id=a))
    # Then everything of B is 404, by every verb
    assert api.get(f"{BASE}/institutions/{b}").status_code == 404
    assert api.patch(f"{BASE}/institutions/{b}", json={"version": 1}).status_code == 404
    assert api.delete(f"{BASE}/institutions/{b}").status_code == 404
    assert api.get(f"{BASE}/systems/{sys_b}").status_code == 404
    assert api.patch(f"{BASE}/systems/{sys_b}", json={"version": 1}).status_code == 404
    assert api.delete(f"{BASE}/systems/{sys_b}").status_code == 404
    moved = api.patch(f"{BASE}/systems/{sys_a}", json={"institution_id": b, "version": 1})
    assert moved.status_code == 404
    # And lists and exports show only A
    listed = api.get(f"{BASE}/institutions").json()
    assert [i["acronym"] for i in listed["items"]] == ["AAA"] and listed["total"] == 1
    assert {s["institution_acronym"] for s in api.get(f"{BASE}/systems").json()["items"]} \
        == {"AAA"}
    assert "BBB" not in api.get(f"{BASE}/systems/export").text
    # While A's own system can be changed by its focal point
    assert api.patch(f"{BASE}/systems/{sys_a}",
                     json={"purpose": "Courrier", "version": 1}).status_code == 200


def test_viewer_reads_but_does_not_write(factory: Factory, api_as: Api,
                                         make_system: Callable[..., int]) -> None:
    # Given A's viewer
    a = factory.institution("AAA")
    sys_a = make_system(a)
    api = api_as(factory.user(Role.INSTITUTION_VIEWER, institution_id=a))
    # Then reading works and writing is forbidden
    assert api.get(f"{BASE}/systems/{sys_a}").status_code == 200
    assert api.patch(f"{BASE}/systems/{sys_a}", json={"version": 1}).status_code == 403
    assert api.post(f"{BASE}/systems", json={
        "name": "Nouveau", "institution_id": a, "criticality": "low",
        "data_classification": "public", "hosting": "own_premises"}).status_code == 403


def test_system_crud_with_endpoints(factory: Factory, api_as: Api) -> None:
    # Given a focal point of CTDEC
    a = factory.institution("CTDEC")
    api = api_as(factory.user(Role.FOCAL_POINT, institution_id=a))
    payload = {"name": "RAVEC", "institution_id": a, "criticality": "critical",
               "data_classification": "secret", "hosting": "government_datacentre",
               "personal_data": True, "biometric_data": True,
               "endpoints": [{"kind": "url", "value": "https://ravec.example.ml/"},
                             {"kind": "domain", "value": "RAVEC.example.ml."},
                             {"kind": "ip", "value": "2001:db8::0001"}]}
    # When they register a system
    created = api.post(f"{BASE}/systems", json=payload)
    assert created.status_code == 201, created.text
    values = [e["value"] for e in created.json()["endpoints"]]
    # Then endpoints are normalised
    assert values == ["https://ravec.example.ml/", "ravec.example.ml", "2001:db8::1"]
    # And bad endpoints are refused
    for bad in ({"kind": "ip", "value": "999.1.1.1"}, {"kind": "domain", "value": "-bad-.ml"},
                {"kind": "url", "value": "javascript:alert(1)"}):
        response = api.post(f"{BASE}/systems", json={**payload, "name": "Autre",
                                                     "endpoints": [bad]})
        assert response.status_code == 422, bad
    # And a stale update is 409
    url = f"{BASE}/systems/{created.json()['id']}"
    assert api.patch(url, json={"endpoints": [], "version": 1}).status_code == 200
    assert api.patch(url, json={"purpose": "x", "version": 1}).status_code == 409
    assert api.get(url).json()["endpoints"] == []


def test_list_filters_sort_and_pages(factory: Factory, api_as: Api) -> None:
    # Given three institutions
    for acronym, tier in (("AAA", 1), ("BBB", 2), ("CCC", 1)):
        factory.institution(acronym, criticality_tier=tier)
    api = api_as(factory.user(Role.AUDITOR))
    # When listing tier 1 by acronym descending, one per page
    page = api.get(f"{BASE}/institutions",
                   params={"tier": 1, "sort": "-acronym", "limit": 1, "offset": 1}).json()
    # Then the second page holds AAA
    assert page["total"] == 2 and [i["acronym"] for i in page["items"]] == ["AAA"]
    assert api.get(f"{BASE}/institutions", params={"q": "bb"}).json()["total"] == 1
    # And a bad sort or limit is 422
    assert api.get(f"{BASE}/institutions", params={"sort": "secret"}).status_code == 422
    assert api.get(f"{BASE}/institutions", params={"limit": 1000}).status_code == 422


def test_csv_import_and_export(factory: Factory, api_as: Api, db: Session) -> None:
    # Given an agency officer
    api = api_as(factory.user(Role.AGENCY_OFFICER))
    good = ("acronym,name,kind,region,sector,criticality_tier\n"
            "INPS,Institut National de Prévoyance Sociale,public_body,bamako,"
            "social_protection,1\n").encode()
    # When a good file is uploaded
    response = api.post(f"{BASE}/institutions/import", files={"file": ("i.csv", good)})
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
    # Then the export holds it, as CSV with a BOM
    export = api.get(f"{BASE}/institutions/export")
    assert export.headers["content-type"].startswith("text/csv")
    assert export.content.startswith(b"\xef\xbb\xbf") and "Prévoyance" in export.text
    # When a Latin-1 file is uploaded, Then 422 says to save as UTF-8 (in English if asked)
    latin = api.post(f"{BASE}/institutions/import", files={"file": ("l.csv", good.decode()
                     .replace("INPS", "CANAM").encode("latin-1"))},
                     headers={"Accept-Language": "en"})
    assert latin.status_code == 422 and "UTF-8" in latin.json()["detail"]
    # When a file with a bad row is uploaded all-or-nothing, Then 422 lists the row
    bad = good + b"CANAM,Caisse,public_body,paris,social_protection,1\n"
    refused = api.post(f"{BASE}/institutions/import", files={"file": ("b.csv", bad)})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["row"] == 3
    assert refused.json()["errors"][0]["column"] == "region"
    # And with skip_invalid the good rows go in and the report lists the bad one
    skipped = api.post(f"{BASE}/institutions/import", files={"file": ("b.csv", bad)},
                       data={"skip_invalid": "true"})
    assert skipped.status_code == 200 and skipped.json()["errors"][0]["row"] == 3
    assert skipped.json()["unchanged"] == 1


def test_oversize_upload_is_413(factory: Factory, api_as: Api) -> None:
    # Given a file over the configured limit (10 MiB by default)
    api = api_as(factory.user(Role.AGENCY_OFFICER))
    big = b"acronym,name\n" + b"X" * (10 * 1024 * 1024 + 10)
    # Then it is refused as too large
    response = api.post(f"{BASE}/systems/import", files={"file": ("big.csv", big)})
    assert response.status_code == 413

"""Review: out-of-range numbers, database-refused values and malformed bodies get a clear,
translated 4xx (never a 500), and change nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from tests.conftest import PASSWORD, Factory, csrf_from, login

HUGE = "99999999999999999999999"


@pytest.fixture
def api(app: FastAPI, factory: Factory) -> Iterator[TestClient]:
    """An administrator's API client that answers 500s instead of raising them."""
    token = factory.token(factory.user(Role.PLATFORM_ADMIN))
    with TestClient(app, raise_server_exceptions=False,
                    headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.mark.parametrize("url", [
    f"/api/v1/registry/institutions/{HUGE}",
    f"/api/v1/registry/institutions?offset={HUGE}",
    f"/api/v1/registry/institutions?parent_id={HUGE}",
    f"/api/v1/registry/systems?institution_id={HUGE}",
    f"/api/v1/audit/entries?offset={HUGE}",
    f"/api/v1/users/{HUGE}",
])
def test_huge_numbers_in_api_reads_get_422(api: TestClient, url: str) -> None:
    # Given a number no database column can hold / When it is sent
    response = api.get(url, headers={"Accept-Language": "en"})
    # Then a 4xx problem document explains it, in the request's language
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "too large" in response.json()["detail"]


def test_huge_numbers_in_api_writes_get_422_and_write_nothing(
        api: TestClient, factory: Factory, db: Session) -> None:
    # Given an institution
    factory.institution("AAA")
    # When a system is created for an owner id no column can hold
    response = api.post("/api/v1/registry/systems", json={
        "name": "Big", "institution_id": int(HUGE), "criticality": "low",
        "data_classification": "public", "hosting": "own_premises"})
    # Then it is refused with 422 in French by default
    assert response.status_code == 422, response.text
    assert "trop grand" in response.json()["detail"]


def test_huge_numbers_in_pages_get_an_error_page(app: FastAPI, factory: Factory) -> None:
    # Given a logged-in administrator
    with TestClient(app, raise_server_exceptions=False) as client:
        login(client, factory.user(Role.PLATFORM_ADMIN))
        # When pages get numbers too large for the database
        for url in (f"/registry/institutions/{HUGE}", f"/audit?institution_id={HUGE}",
                    f"/audit?offset={HUGE}"):
            response = client.get(url)
            # Then a friendly 422 page answers
            assert response.status_code == 422, url
            assert "<html" in response.text.lower()


def test_user_with_unknown_institution_gets_422(api: TestClient, db: Session) -> None:
    # Given no institution 999 / When an account is created for it
    before = db.scalar(select(func.count()).select_from(User))
    response = api.post("/api/v1/users", json={
        "email": "x@example.ml", "full_name": "X", "role": "focal_point",
        "institution_id": 999, "password": PASSWORD + "x"}, headers={"Accept-Language": "en"})
    # Then it is refused clearly, and no account exists
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == "Unknown institution."
    assert db.scalar(select(func.count()).select_from(User)) == before


def test_moving_user_to_unknown_institution_gets_422(api: TestClient, factory: Factory) -> None:
    # Given a focal point / When an administrator moves them to an institution that is not there
    user = factory.user(Role.FOCAL_POINT)
    response = api.patch(f"/api/v1/users/{user.id}", json={"version": user.version,
                                                           "institution_id": 999})
    # Then 422, and the account keeps its institution
    assert response.status_code == 422, response.text
    assert api.get(f"/api/v1/users/{user.id}").json()["institution_id"] == user.institution_id


def test_admin_page_user_with_unknown_institution(app: FastAPI, factory: Factory) -> None:
    # Given an administrator on the accounts page
    with TestClient(app, raise_server_exceptions=False) as client:
        login(client, factory.user(Role.PLATFORM_ADMIN))
        token = csrf_from(client.get("/admin/users/new").text)
        # When the form names an institution that does not exist (or cannot)
        for value in ("999", HUGE[:20]):
            response = client.post("/admin/users", data={
                "csrf_token": token, "email": f"z{len(value)}@example.ml", "full_name": "Z",
                "role": "focal_point", "institution_id": value})
            # Then the form comes back with a 4xx, not a 500
            assert response.status_code == 422, (value, response.text[-500:])


def test_validation_errors_are_translated(api: TestClient) -> None:
    # Given malformed bodies / When sent in French (the default)
    missing = api.post("/api/v1/registry/institutions", json={})
    broken = api.post("/api/v1/registry/institutions", content=b"{bad",
                      headers={"content-type": "application/json"})
    # Then every field message is French too, not pydantic's English
    assert missing.status_code == broken.status_code == 422
    messages = [e["message"] for e in missing.json()["errors"] + broken.json()["errors"]]
    assert "Field required" not in messages
    assert "Cette valeur est obligatoire." in messages
    assert all("JSON" not in m or "valide" in m for m in messages), messages


def test_concurrent_duplicate_gets_409_not_500(api: TestClient, factory: Factory,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an institution, and a second request that passed the duplicate check before the
    # first one committed (simulated by skipping the check)
    from lakana.registry import service as registry_service

    factory.institution("DUP")
    monkeypatch.setattr(registry_service, "_ensure_acronym_free", lambda *a, **k: None)
    # When it inserts the same acronym / Then the database's constraint answers 409
    response = api.post("/api/v1/registry/institutions", json={
        "name": "Doublon", "acronym": "DUP", "kind": "ministry", "region": "bamako",
        "sector": "government", "criticality_tier": 1})
    assert response.status_code == 409, response.text
    assert response.json()["title"] == "Conflit"

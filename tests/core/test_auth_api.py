"""The accounts API: tokens, problem documents, pagination, optimistic concurrency."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.models import ApiToken, User
from lakana.core.auth.rbac import CorePermission, Role
from lakana.core.db import utcnow
from tests.conftest import PASSWORD, Factory

Api = Callable[[User], TestClient]


def test_me_with_a_token(api_as: Api, factory: Factory) -> None:
    # Given a token / When asking who am I / Then the user, without secrets
    body = api_as(factory.user(Role.AUDITOR)).get("/api/v1/me").json()
    assert body["role"] == "auditor"
    assert "password_hash" not in body and "mfa_secret" not in body


def test_expired_token_is_refused(app: FastAPI, factory: Factory,
                                  session_factory: sessionmaker[Session]) -> None:
    # Given a token that expired
    secret = factory.token(factory.user(Role.AUDITOR))
    with session_factory.begin() as db:
        db.execute(update(ApiToken).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    # When it is used / Then 401 problem JSON saying it expired, with WWW-Authenticate
    response = TestClient(app, headers={"Authorization": f"Bearer {secret}",
                                        "Accept-Language": "en"}).get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["detail"] == "The API token has expired."
    assert response.headers["www-authenticate"] == "Bearer"


def test_malformed_and_unknown_tokens(app: FastAPI) -> None:
    # Given made-up tokens / When used / Then 401 each time
    for value in ("nonsense", "lkn_abc_def", "lkn_" + "x" * 40):
        response = TestClient(app, headers={"Authorization": f"Bearer {value}"}).get(
            "/api/v1/me")
        assert response.status_code == 401, value


def test_revoked_token_replay_changes_nothing(app: FastAPI, api_as: Api, factory: Factory,
                                              session_factory: sessionmaker[Session]) -> None:
    # Given an administrator's token, revoked through the API
    admin = factory.user(Role.PLATFORM_ADMIN)
    secret = factory.token(admin)
    machine = TestClient(app, headers={"Authorization": f"Bearer {secret}"})
    token_id = machine.get("/api/v1/tokens").json()[0]["id"]
    assert machine.delete(f"/api/v1/tokens/{token_id}").status_code == 204
    # When it is replayed to create a user
    response = machine.post("/api/v1/users", json={
        "email": "new@example.ml", "full_name": "N", "role": "auditor", "password": PASSWORD})
    # Then 401 problem JSON, and no user was created
    assert response.status_code == 401
    assert response.json()["type"].endswith("/unauthenticated")
    with session_factory() as db:
        assert db.query(User).filter_by(email="new@example.ml").count() == 0


def test_read_only_token_cannot_write(app: FastAPI, factory: Factory) -> None:
    # Given an administrator's token scoped to reading users
    secret = factory.token(factory.user(Role.PLATFORM_ADMIN), scopes=[CorePermission.USER_READ])
    machine = TestClient(app, headers={"Authorization": f"Bearer {secret}"})
    # When it reads / Then fine; when it writes / Then 403
    assert machine.get("/api/v1/users").status_code == 200
    response = machine.post("/api/v1/users", json={
        "email": "x@example.ml", "full_name": "X", "role": "auditor", "password": PASSWORD})
    assert response.status_code == 403
    # And it cannot mint itself a wider token (it lacks core:token:manage)
    assert machine.post("/api/v1/tokens", json={"name": "wider"}).status_code == 403


def test_problem_documents_speak_the_callers_language(api_as: Api, factory: Factory) -> None:
    # Given an analyst (who may not list users)
    client = api_as(factory.user(Role.CSIRT_ANALYST))
    # When asking in French, then English
    french = client.get("/api/v1/users", headers={"Accept-Language": "fr-ML,fr;q=0.9"})
    english = client.get("/api/v1/users", headers={"Accept-Language": "en"})
    # Then both are 403 problem documents with a human message in that language
    for response in (french, english):
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert set(response.json()) >= {"type", "title", "status", "detail"}
    assert french.json()["title"] == "Accès refusé"
    assert french.json()["detail"].startswith("Vous n'êtes pas autorisé")
    assert english.json()["title"] == "Forbidden"


def test_validation_problem_lists_fields(api_as: Api, factory: Factory) -> None:
    # Given an administrator / When a user is created without e-mail / Then 422 with the field
    response = api_as(factory.user(Role.PLATFORM_ADMIN)).post(
        "/api/v1/users", json={"full_name": "X", "role": "auditor", "password": PASSWORD},
        headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert any(e["field"] == "email" for e in response.json()["errors"])


def test_users_are_paginated(api_as: Api, factory: Factory) -> None:
    # Given 5 users / When asking two at a time / Then pages with the total
    admin = factory.user(Role.PLATFORM_ADMIN)
    for _ in range(4):
        factory.user(Role.AUDITOR)
    client = api_as(admin)
    page = client.get("/api/v1/users", params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 2
    assert len(page["items"]) == 2
    assert client.get("/api/v1/users", params={"limit": 500}).status_code == 422


def test_stale_patch_gets_409(api_as: Api, factory: Factory) -> None:
    # Given a user read by an administrator
    client = api_as(factory.user(Role.PLATFORM_ADMIN))
    target = factory.user(Role.AUDITOR)
    version = client.get(f"/api/v1/users/{target.id}").json()["version"]
    # When the change is sent twice with the version read
    first = client.patch(f"/api/v1/users/{target.id}",
                         json={"version": version, "full_name": "First"})
    second = client.patch(f"/api/v1/users/{target.id}",
                          json={"version": version, "full_name": "Second"})
    # Then the first works and the stale second gets 409, leaving the first change
    assert first.status_code == 200 and first.json()["version"] == version + 1
    assert second.status_code == 409 and second.json()["status"] == 409
    assert client.get(f"/api/v1/users/{target.id}").json()["full_name"] == "First"


def test_anonymous_api_write_gets_401_not_a_csrf_error(client: TestClient) -> None:
    # Given no credentials at all / When posting to the API / Then 401 (log in), not 403 CSRF
    response = client.post("/api/v1/tokens", json={"name": "x"})
    assert response.status_code == 401


def test_openapi_document_lists_the_paths(client: TestClient) -> None:
    # Given the API / When fetching its OpenAPI document / Then valid JSON with our paths
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    for path in ("/api/v1/me", "/api/v1/users", "/api/v1/users/{user_id}", "/api/v1/tokens"):
        assert path in document["paths"], path
    assert "/login" not in document["paths"]

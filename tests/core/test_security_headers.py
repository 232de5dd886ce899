"""Security headers on every kind of response, HSTS only over HTTPS, no inline code."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

from lakana.app import create_app
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from lakana.core.web import errors
from tests.conftest import Factory

Login = Callable[[User], TestClient]


def _assert_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    csp = headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "default-src 'self'" in csp and "object-src 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] in ("same-origin", "no-referrer",
                                          "strict-origin-when-cross-origin")
    assert headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("path", [
    "/login",  # HTML page
    "/api/v1/openapi.json",  # JSON
    "/static/lakana.css",  # static file
    "/no-such-page",  # HTML error
    "/api/v1/no-such-thing",  # problem JSON error
    "/api/docs",  # Swagger UI
])
def test_security_headers_everywhere(client: TestClient, path: str) -> None:
    # Given any kind of response / Then it carries the security headers and no HSTS over HTTP
    response = client.get(path)
    _assert_headers(response)
    assert "strict-transport-security" not in response.headers


def test_hsts_only_over_https(settings: Settings, engine: object) -> None:
    # Given an application configured for HTTPS / When any response is sent / Then HSTS is set
    app = create_app(settings.model_copy(update={"https": True}))
    with TestClient(app, base_url="https://testserver") as client:
        for path in ("/login", "/api/v1/openapi.json", "/static/app.js"):
            hsts = client.get(path).headers["strict-transport-security"]
            assert "max-age=" in hsts and int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000


def test_sensitive_pages_are_not_cached(client: TestClient) -> None:
    # Given the log-in page and the API / Then they are marked no-store
    assert client.get("/login").headers["cache-control"] == "no-store"
    assert client.get("/api/v1/me").headers["cache-control"] == "no-store"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<[^>]+\sstyle\s*=", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_TAG = re.compile(r"<style[\s>]", re.I)


def _assert_no_inline_code(html: str, where: str) -> None:
    for pattern in (INLINE_SCRIPT, INLINE_STYLE, INLINE_HANDLER, STYLE_TAG):
        found = pattern.search(html)
        assert found is None, f"{where}: inline code {found.group(0)[:80]!r}" if found else ""


def test_rendered_pages_have_no_inline_code(client: TestClient, login_as: Login,
                                            factory: Factory) -> None:
    # Given an anonymous browser and an administrator (who sees the most pages)
    for path in ("/login", "/no-such-page"):
        _assert_no_inline_code(client.get(path).text, path)
    target = factory.user(Role.AUDITOR)
    admin = login_as(factory.user(Role.PLATFORM_ADMIN))
    # When every core page is rendered / Then none holds inline scripts, styles or handlers
    for path in ("/", "/account", "/account/password", "/admin/users", "/admin/users/new",
                 f"/admin/users/{target.id}", "/login/mfa/enroll", "/no-such-page"):
        response = admin.get(path)
        assert response.status_code in (200, 303, 404), path
        _assert_no_inline_code(response.text, path)


def test_forged_and_missing_csrf_are_refused(login_as: Login, factory: Factory) -> None:
    # Given a logged-in administrator
    client = login_as(factory.user(Role.PLATFORM_ADMIN))
    # When a form is posted with a forged token, then without any
    forged = client.post("/account/tokens", data={"csrf_token": "0" * 64, "name": "x",
                                                  "expires_in_days": "5",
                                                  "scopes": ["core:user:read"]})
    missing = client.post("/account/tokens", data={"name": "x", "expires_in_days": "5",
                                                   "scopes": ["core:user:read"]})
    # Then both are 403 with a clear message, and no token exists
    assert forged.status_code == 403 and missing.status_code == 403
    assert "CSRF" in forged.text
    # And a JSON call with the session cookie but no X-CSRF-Token header is refused too
    api = client.post("/api/v1/tokens", json={"name": "x"})
    assert api.status_code == 403 and api.json()["type"].endswith("/forbidden")
    assert client.get("/api/v1/tokens").json() == []


def test_login_form_needs_csrf(client: TestClient, factory: Factory) -> None:
    # Given a fresh browser / When it posts the log-in form without a token / Then 403
    user = factory.user(Role.AUDITOR)
    response = client.post("/login", data={"email": user.email, "password": "x"},
                           follow_redirects=False)
    assert response.status_code == 403
    assert "lakana_session" not in response.headers.get("set-cookie", "")


def test_oversize_body_gets_413_problem(settings: Settings, engine: object) -> None:
    # Given a small body limit / When a bigger body is posted / Then 413 problem JSON
    app = create_app(settings.model_copy(update={"max_upload_bytes": 100}))
    with TestClient(app) as client:
        response = client.post("/api/v1/tokens", content=b"x" * 500,
                               headers={"Content-Type": "application/json",
                                        "Accept-Language": "en"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "The request body is larger than 100 bytes."
    _assert_headers(response)


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    # Given the API / When a missing route is asked in French / Then 404 problem in French
    response = client.get("/api/v1/nothing-here", headers={"Accept-Language": "fr"})
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == 404 and body["title"] == "Introuvable"
    # And a page answers a friendly HTML 404
    page = client.get("/nothing-here")
    assert page.status_code == 404
    assert "Cette page n" in page.text and "<h1>Introuvable" in page.text


def _request(app: FastAPI, path: str) -> Request:
    scope = {"type": "http", "method": "GET", "path": path, "headers": [
        (b"accept-language", b"en")], "query_string": b"", "app": app,
        "scheme": "http", "server": ("testserver", 80), "client": ("127.0.0.1", 1)}
    request = Request(scope)
    request.state.identity = None
    return request


def test_unexpected_errors_show_no_stack_trace(app: FastAPI) -> None:
    # Given an unexpected exception with a secret in its message
    exc = RuntimeError("db password is hunter2")
    # When the handler answers an API call and a page
    api = asyncio.run(errors.handle_unexpected(_request(app, "/api/v1/x"), exc))
    page = asyncio.run(errors.handle_unexpected(_request(app, "/x"), exc))
    # Then both are 500 with a plain message, no trace and no secret
    for response in (api, page):
        body = bytes(response.body).decode()
        assert response.status_code == 500
        assert "hunter2" not in body and "Traceback" not in body and "RuntimeError" not in body
    assert "logged" in bytes(api.body).decode()


def test_api_docs_use_only_local_assets(client: TestClient) -> None:
    # Given the API documentation page / Then every script and stylesheet is served locally
    page = client.get("/api/docs")
    assert page.status_code == 200
    _assert_no_inline_code(page.text, "/api/docs")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/static/") for s in sources)
    for source in sources:
        assert client.get(source).status_code == 200, source

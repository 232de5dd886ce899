"""Fixes from the foundation review that live in the lead's files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lakana.app import create_app
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from tests.conftest import Factory, login


def test_forwarded_for_takes_the_proxy_appended_address(settings: Settings, engine: object,
                                                        factory: Factory) -> None:
    """Behind a trusted proxy, a client-forged X-Forwarded-For entry is not ledgered."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from lakana.core.audit.models import AuditEntry

    app = create_app(settings.model_copy(update={"trust_proxy_headers": True}))
    user = factory.user(Role.FOCAL_POINT)
    client = TestClient(app, headers={"X-Forwarded-For": "1.2.3.4, 10.9.8.7"})
    login(client, user)
    with Session(engine) as session:  # type: ignore[arg-type]
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "core.login.success")).one()
    assert entry.source_ip == "10.9.8.7"


def test_pages_are_not_cached_but_static_files_may_be(client: TestClient) -> None:
    """Every page answer says no-store; vendored assets do not."""
    assert client.get("/login").headers["cache-control"] == "no-store"
    assert client.get("/registry/institutions", follow_redirects=False) \
        .headers["cache-control"] == "no-store"
    assert "no-store" not in client.get("/static/lakana.css").headers.get("cache-control", "")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_init_creates_private_home_and_secret(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`lakana init` makes the data folder 0700 and the secret key 0600."""
    from lakana.cli import app as cli_app

    home = tmp_path / "home"
    monkeypatch.setenv("LAKANA_HOME", str(home))
    monkeypatch.delenv("LAKANA_DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli_app, ["init"])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "secret.key").stat().st_mode) == 0o600


def test_not_found_names_the_object_in_the_reader_language(
        factory: Factory, api_as: object) -> None:
    """The object's name inside "not found" is translated too (no English word in French)."""
    client = api_as(factory.user(Role.AGENCY_OFFICER))  # type: ignore[operator]
    french = client.get("/api/v1/registry/systems/424242", headers={"Accept-Language": "fr"})
    english = client.get("/api/v1/registry/systems/424242", headers={"Accept-Language": "en"})
    assert french.status_code == english.status_code == 404
    assert "système d'information" in french.json()["detail"]
    assert "information system" not in french.json()["detail"]
    assert english.json()["detail"] == \
        "This information system does not exist or is not visible to you."


def test_busy_database_answers_503_and_saves_nothing(settings: Settings, engine: object,
                                                     factory: Factory) -> None:
    """While another writer holds SQLite's write lock, a write gets 503 + Retry-After."""
    import sqlite3

    if not settings.effective_database_url.startswith("sqlite"):
        pytest.skip("SQLite's single-writer lock")
    app = create_app(settings.model_copy(update={"sqlite_busy_timeout_ms": 100}))
    officer = factory.user(Role.AGENCY_OFFICER)
    secret = factory.token(officer)
    client = TestClient(app, headers={"Authorization": f"Bearer {secret}",
                                      "Accept-Language": "en"})
    body = {"name": "Agence occupée", "acronym": "BUSY", "kind": "agency",
            "region": "bamako", "sector": "government", "criticality_tier": 2}
    path = settings.effective_database_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        response = client.post("/api/v1/registry/institutions", json=body)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert "retry" in response.json()["detail"]
    assert client.get("/api/v1/registry/institutions?q=BUSY").json()["total"] == 0
    assert client.post("/api/v1/registry/institutions", json=body).status_code == 201

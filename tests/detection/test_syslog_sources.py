"""Registering the syslog receiver's senders: the API, the page (CSRF, French), the CLI,
validation, scope, permissions and the audit ledger."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings
from lakana.monitoring.detection.cli import app
from lakana.monitoring.detection.models import SyslogSource
from lakana.registry import service as registry_service
from lakana.registry.schemas import SystemCreate
from tests.conftest import csrf_from
from tests.detection.test_api import People, people  # noqa: F401
from tests.detection.test_syslog_server import make_pki

URL = "/api/v1/detection/syslog-sources"
FINGERPRINT = "AB:" * 31 + "CD"
runner = CliRunner()


def _system(session_factory: sessionmaker[Session], institution_id: int) -> int:
    with session_factory.begin() as session:
        return registry_service.create_system(
            session=session, actor=system_actor("tests"), data=SystemCreate(
                name="Portail", institution_id=institution_id, criticality="high",
                data_classification="internal", hosting="own_premises")).id


def _actions(session_factory: sessionmaker[Session]) -> list[str]:
    with session_factory() as session:
        return list(session.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("detection.syslog_source.%")).order_by(AuditEntry.seq)))


def test_api_register_list_remove(people: People, api_as: Callable[..., TestClient],  # noqa: F811
                                  session_factory: sessionmaker[Session]) -> None:
    """The CSIRT registers and removes senders; each institution sees its own; every change
    is audited."""
    system_a = _system(session_factory, people.a)
    analyst = api_as(people.analyst)
    made = analyst.post(URL, json={"institution_id": people.a, "system_id": system_a,
                                   "network": "10.20.0.15", "name": "web1"})
    assert made.status_code == 201, made.text
    source = made.json()
    assert source["network"] == "10.20.0.15/32" and source["system_id"] == system_a
    assert made.headers["location"].endswith(f"/{source['id']}")
    by_cert = analyst.post(URL, json={"institution_id": people.b,
                                      "cert_sha256": FINGERPRINT})
    assert by_cert.status_code == 201, by_cert.text
    assert by_cert.json()["cert_sha256"] == ("ab" * 31 + "cd")
    # Scope: each focal point sees their institution's senders only; the CSIRT all of them.
    assert [s["id"] for s in api_as(people.focal_a).get(URL).json()] == [source["id"]]
    assert [s["id"] for s in api_as(people.focal_b).get(URL).json()] == [by_cert.json()["id"]]
    assert len(analyst.get(URL).json()) == 2
    # A focal point may not register or remove (403), nor see another's sender (404).
    focal_a = api_as(people.focal_a)
    assert focal_a.post(URL, json={"institution_id": people.a,
                                   "network": "10.0.0.0/8"}).status_code == 403
    assert focal_a.delete(f"{URL}/{source['id']}").status_code == 403
    assert focal_a.delete(f"{URL}/{by_cert.json()['id']}").status_code == 404
    # Removal
    assert analyst.delete(f"{URL}/{source['id']}").status_code == 204
    assert analyst.delete(f"{URL}/{source['id']}").status_code == 404
    assert _actions(session_factory) == ["detection.syslog_source.create",
                                         "detection.syslog_source.create",
                                         "detection.syslog_source.delete"]


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"network": "10.0.0.300/24"}, 422, "adresse de réseau"),
    ({"cert_sha256": "abc"}, 422, "64 chiffres hexadécimaux"),
    ({}, 422, "réseau de l'émetteur"),
    ({"network": "10.1.0.0/16", "system_id": "other"}, 422, "n'appartient pas"),
    ({"network": "192.0.2.0/24"}, 409, "déjà enregistré"),
])
def test_api_refuses_bad_senders_in_french(
        people: People, api_as: Callable[..., TestClient],  # noqa: F811
        session_factory: sessionmaker[Session], body: dict[str, object], status: int,
        words: str) -> None:
    """Malformed networks and fingerprints, a sender naming nothing, another institution's
    system, a duplicate: refused with the reason, in French."""
    system_b = _system(session_factory, people.b)
    analyst = api_as(people.analyst)
    assert analyst.post(URL, json={"institution_id": people.a,
                                   "network": "192.0.2.0/24"}).status_code == 201
    if body.get("system_id") == "other":
        body = {**body, "system_id": system_b}
    refused = analyst.post(URL, json={"institution_id": people.a, **body},
                           headers={"Accept-Language": "fr"})
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert words in refused.json()["detail"]


def test_page_lists_registers_and_removes(people: People,  # noqa: F811
                                          login_as: Callable[..., TestClient],
                                          session_factory: sessionmaker[Session]) -> None:
    """The page in French: the list, the form (CSRF), a refusal with the reason and what was
    typed, and removal."""
    client = login_as(people.analyst)
    page = client.get("/detection/syslog-sources")
    assert page.status_code == 200
    assert "Émetteurs syslog" in page.text and "Aucun émetteur syslog" in page.text
    csrf = csrf_from(page.text)
    form = {"csrf_token": csrf, "institution_id": str(people.a), "network": "10.9.0.0/16",
            "name": "DGI <b>siège</b>", "system_id": "", "cert_sha256": ""}
    # Without the CSRF token: refused
    no_csrf = {k: v for k, v in form.items() if k != "csrf_token"}
    assert client.post("/detection/syslog-sources", data=no_csrf,
                       follow_redirects=False).status_code == 403
    done = client.post("/detection/syslog-sources", data=form, follow_redirects=False)
    assert done.status_code == 303
    listing = client.get(done.headers["location"])
    assert "L'émetteur est enregistré." in listing.text
    assert "10.9.0.0/16" in listing.text and "&lt;b&gt;siège" in listing.text
    bad = client.post("/detection/syslog-sources", data={**form, "network": "nowhere"})
    assert bad.status_code == 422 and "nowhere" in bad.text
    assert "adresse de réseau" in bad.text
    with session_factory() as session:
        source_id = session.scalars(select(SyslogSource.id)).one()
    removed = client.post(f"/detection/syslog-sources/{source_id}/delete",
                          data={"csrf_token": csrf}, follow_redirects=False)
    assert removed.status_code == 303
    assert "Aucun émetteur syslog" in client.get("/detection/syslog-sources").text
    # A focal point sees the page (their senders) without the forms.
    focal = login_as(people.focal_a).get("/detection/syslog-sources")
    assert focal.status_code == 200 and 'name="network"' not in focal.text


def test_cli_add_list_remove(people: People, settings: Settings, engine: Engine,  # noqa: F811
                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``lakana detection syslog add-source / list-sources / remove-source``."""
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)
    pki = make_pki(tmp_path / "pki")
    added = runner.invoke(app, ["syslog", "add-source", "--institution", "DGI", "--cert",
                                str(pki.client_cert), "--name", "web1", "--json"])
    assert added.exit_code == 0, added.output
    source = json.loads(added.output)
    assert source["cert_sha256"] == pki.client_sha256
    assert runner.invoke(app, ["syslog", "add-source", "--institution", "ANSI", "--network",
                               "10.30.0.0/16"]).exit_code == 0
    bad = runner.invoke(app, ["syslog", "add-source", "--institution", "ANSI", "--network",
                              "10.30.0.0/99"])
    assert bad.exit_code == 2 and "not a network address" in bad.output
    listed = runner.invoke(app, ["syslog", "list-sources", "--institution", "DGI", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [s["id"] for s in json.loads(listed.output)] == [source["id"]]
    assert runner.invoke(app, ["syslog", "list-sources"]).exit_code == 0
    removed = runner.invoke(app, ["syslog", "remove-source", str(source["id"])])
    assert removed.exit_code == 0, removed.output
    again = runner.invoke(app, ["syslog", "remove-source", str(source["id"])])
    assert again.exit_code != 0

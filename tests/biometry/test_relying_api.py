"""Relying services over HTTP: the token-authenticated API, the administrators' API and
pages, and the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lakana.biometry import relying, runtime
from lakana.biometry.cli_services import app as cli
from lakana.biometry.models import RelyingService, ServiceAccess
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from tests.biometry.test_relying import (
    POSITION,
    b64,
    enroll,
    fingers,
    ledger,
    make_service,
)
from tests.conftest import Factory, csrf_from

VERIFY = "/api/v1/biometry/relying/verify"
runner = CliRunner()


def bearer(token: str) -> dict[str, str]:
    """The header a relying service sends."""
    return {"Authorization": f"Bearer {token}"}


def finger_body(nin: str, image: str = "crop") -> dict[str, object]:
    """A verification request body."""
    return {"nin": nin, "modality": "finger", "position": POSITION,
            "image_base64": b64(fingers()[image])}


def test_verify_over_http_answers_match_and_band_only(
        client: TestClient, settings: Settings, session_factory: sessionmaker[Session]) -> None:
    # Given an issued person and the electoral body with its key
    enroll(session_factory, runtime.keystore(settings), "ML-100001")
    _, key = make_service(session_factory, "ceni",
                          ["voter_verification", "voter_roll_deduplication"])
    # When it verifies with a token it signed
    response = client.post(VERIFY, json=finger_body("ML-100001"), headers=bearer(
        relying.mint_token(key, code="ceni", purpose="voter_verification")))
    # Then the answer is a decision and a band, nothing more
    assert response.status_code == 200, response.text
    assert response.json() == {"match": True, "band": "high"}
    # And identification and attributes answer through the same token scheme
    found = client.post("/api/v1/biometry/relying/identify", headers=bearer(
        relying.mint_token(key, code="ceni", purpose="voter_roll_deduplication")),
        json={"fingers": [{"position": POSITION, "image_base64": b64(fingers()["crop"])}]})
    assert found.status_code == 200 and found.json()["count"] == 1
    released = client.post("/api/v1/biometry/relying/attributes", json={"nin": "ML-100001"},
                           headers=bearer(relying.mint_token(key, code="ceni",
                                                             purpose="voter_verification")))
    assert released.status_code == 200
    assert set(released.json()["attributes"]) == {"surname", "given_names", "date_of_birth",
                                                  "region"}


def test_relying_routes_refuse_user_credentials_and_bad_tokens(
        client: TestClient, factory: Factory, session_factory: sessionmaker[Session],
        api_as: Callable[[User], TestClient]) -> None:
    _, key = make_service(session_factory, "ceni", ["voter_verification"])
    other_key, _ = relying.generate_keypair()
    # No token, a platform administrator's API token, another key's signature: 401
    assert client.post(VERIFY, json=finger_body("ML-1")).status_code == 401
    admin = api_as(factory.user(Role.PLATFORM_ADMIN))
    refused = admin.post(VERIFY, json=finger_body("ML-1"))
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    forged = client.post(VERIFY, json=finger_body("ML-1"), headers=bearer(
        relying.mint_token(other_key, code="ceni", purpose="voter_verification")))
    assert forged.status_code == 401 and "signature" in forged.json()["detail"]
    # A token used twice: the replay is refused
    token = relying.mint_token(key, code="ceni", purpose="voter_verification")
    assert client.post(VERIFY, json=finger_body("ML-1"), headers=bearer(token)).status_code \
        == 200
    assert client.post(VERIFY, json=finger_body("ML-1"), headers=bearer(token)).status_code \
        == 401


def test_purpose_refusal_over_http_is_recorded(
        client: TestClient, session_factory: sessionmaker[Session]) -> None:
    # Given the social security fund
    service_id, key = make_service(session_factory, "cnss", ["social_security_benefit"])
    # When it invokes the electoral purpose
    response = client.post(VERIFY, json=finger_body("ML-1"), headers=bearer(
        relying.mint_token(key, code="cnss", purpose="voter_verification")))
    # Then 403 with the reason, and the refusal stays recorded (the request rolled back)
    assert response.status_code == 403
    assert "finalité non détenue" in response.json()["detail"].lower()
    with session_factory() as session:
        row = session.scalar(select(ServiceAccess).where(ServiceAccess.service_id == service_id))
        assert row is not None and row.outcome == "refused"
    assert len(ledger(session_factory, "biometry.access.verify")) == 1


def test_rate_limit_over_http(client: TestClient,
                              session_factory: sessionmaker[Session]) -> None:
    _, key = make_service(session_factory, "ceni", ["voter_verification"], rate=1)
    body = {"nin": "ML-1"}
    first = client.post("/api/v1/biometry/relying/attributes", json=body, headers=bearer(
        relying.mint_token(key, code="ceni", purpose="voter_verification")))
    second = client.post("/api/v1/biometry/relying/attributes", json=body, headers=bearer(
        relying.mint_token(key, code="ceni", purpose="voter_verification")))
    assert first.status_code == 404  # nobody holds the number
    assert second.status_code == 429 and "retry-after" in second.headers


def test_locked_modality_over_http(client: TestClient, settings: Settings,
                                   session_factory: sessionmaker[Session]) -> None:
    enroll(session_factory, runtime.keystore(settings), "ML-100002", locked="face,finger")
    _, key = make_service(session_factory, "ceni", ["voter_verification"])
    response = client.post(VERIFY, json=finger_body("ML-100002"), headers=bearer(
        relying.mint_token(key, code="ceni", purpose="voter_verification")))
    assert response.status_code == 423, response.text


# --- administrators ---------------------------------------------------------------------------

def test_admin_api_registers_reads_and_deactivates(
        factory: Factory, api_as: Callable[[User], TestClient]) -> None:
    # Given a registry administrator
    admin = api_as(factory.user(Role.REGISTRY_ADMIN))
    _, public_pem = relying.generate_keypair()
    # When they register a service
    created = admin.post("/api/v1/biometry/services", json={
        "code": "ceni", "name": "Commission électorale", "legal_basis": "Loi électorale",
        "purposes": ["voter_verification"], "public_key_pem": public_pem})
    assert created.status_code == 201, created.text
    service = created.json()
    assert service["purposes"] == ["voter_verification"] and len(service["key_fingerprint"]) \
        == 64
    # Then they read it, list it, and deactivate it
    assert admin.get(f"/api/v1/biometry/services/{service['id']}").json()["code"] == "ceni"
    assert [s["code"] for s in admin.get("/api/v1/biometry/services").json()] == ["ceni"]
    changed = admin.patch(f"/api/v1/biometry/services/{service['id']}",
                          json={"active": False})
    assert changed.status_code == 200 and changed.json()["active"] is False
    # And an unknown purpose is a clear 422
    bad = admin.post("/api/v1/biometry/services", json={
        "code": "x1", "name": "x", "legal_basis": "x", "purposes": ["surveillance"]})
    assert bad.status_code == 422


def test_admin_api_is_closed_to_others(factory: Factory, session_factory: sessionmaker[Session],
                                       api_as: Callable[[User], TestClient]) -> None:
    service_id, _ = make_service(session_factory, "ceni", ["voter_verification"])
    agent = api_as(factory.user(Role.ENROLMENT_AGENT))
    assert agent.get("/api/v1/biometry/services").status_code == 403
    assert agent.get(f"/api/v1/biometry/services/{service_id}").status_code == 404


def test_pages_register_show_and_deactivate(
        factory: Factory, login_as: Callable[[User], TestClient],
        session_factory: sessionmaker[Session]) -> None:
    # Given a registry administrator in a browser
    browser = login_as(factory.user(Role.REGISTRY_ADMIN))
    page = browser.get("/biometry/services")
    assert page.status_code == 200 and "Enregistrer un service" in page.text
    _, public_pem = relying.generate_keypair()
    # When they register a service through the form
    form = {"csrf_token": csrf_from(page.text), "code": "cnss", "name": "Caisse nationale",
            "legal_basis": "Code de la sécurité sociale", "purposes": ["social_security_benefit"],
            "public_key_pem": public_pem, "rate_per_minute": "60", "alert_per_hour": "500"}
    done = browser.post("/biometry/services", data=form, follow_redirects=False)
    assert done.status_code == 303, done.text[:500]
    # Then its page shows the purpose and what it releases
    detail = browser.get(done.headers["location"])
    assert detail.status_code == 200
    assert "Paiement d&#39;une prestation de sécurité sociale" in detail.text or \
        "sécurité sociale" in detail.text
    assert "Sexe" in detail.text
    # And deactivating it refuses its tokens from then on
    with session_factory() as session:
        service = session.scalar(select(RelyingService).where(RelyingService.code == "cnss"))
        assert service is not None
    off = browser.post(f"/biometry/services/{service.id}/deactivate",
                       data={"csrf_token": csrf_from(detail.text)}, follow_redirects=False)
    assert off.status_code == 303
    with session_factory() as session:
        refreshed = session.get(RelyingService, service.id)
        assert refreshed is not None and refreshed.active is False


def test_page_form_refuses_a_bad_key_with_the_reason(
        factory: Factory, login_as: Callable[[User], TestClient]) -> None:
    browser = login_as(factory.user(Role.REGISTRY_ADMIN))
    page = browser.get("/biometry/services")
    response = browser.post("/biometry/services", data={
        "csrf_token": csrf_from(page.text), "code": "cnss", "name": "Caisse",
        "legal_basis": "Code", "purposes": ["social_security_benefit"],
        "public_key_pem": "not a key"})
    assert response.status_code == 422
    assert "clé publique" in response.text and 'value="cnss"' in response.text


# --- CLI --------------------------------------------------------------------------------------

@pytest.fixture
def env(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the test database and home."""
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)


def test_cli_keygen_add_list_token(env: None, tmp_path: Path,
                                   session_factory: sessionmaker[Session]) -> None:
    # Given a key pair made by the CLI
    private = tmp_path / "ceni.pem"
    made = runner.invoke(cli, ["keygen", str(private)])
    assert made.exit_code == 0, made.output
    assert "BEGIN PUBLIC KEY" in made.stdout and private.stat().st_mode & 0o777 == 0o600
    public = tmp_path / "ceni.pub"
    public.write_text(made.stdout)
    # When the service is registered with its public key
    added = runner.invoke(cli, ["add", "ceni", "--name", "CENI", "--legal-basis", "Loi",
                                "--purpose", "voter_verification", "--public-key", str(public)])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(cli, ["list", "--json"])
    assert json.loads(listed.stdout)[0]["code"] == "ceni"
    # Then a token minted by the CLI authenticates the service
    minted = runner.invoke(cli, ["token", "ceni", "--key", str(private), "--purpose",
                                 "voter_verification"])
    assert minted.exit_code == 0, minted.output
    client = relying.authenticate(session_factory=session_factory, token=minted.stdout.strip())
    assert client.code == "ceni"
    # And an unknown purpose is a one-line error
    bad = runner.invoke(cli, ["add", "x1", "--name", "x", "--legal-basis", "x", "--purpose",
                              "surveillance"])
    assert bad.exit_code == 2
    assert runner.invoke(cli, ["deactivate", "ceni"]).exit_code == 0


def test_failed_tokens_over_http_end_in_429_with_retry_after(
        client: TestClient, session_factory: sessionmaker[Session]) -> None:
    # Given an address that keeps sending tokens signed with a key no service holds
    make_service(session_factory, "ceni", ["voter_verification"])
    other_key, _ = relying.generate_keypair()

    def forged() -> int:
        return client.post(VERIFY, json=finger_body("ML-1"), headers=bearer(relying.mint_token(
            other_key, code="ceni", purpose="voter_verification"))).status_code

    # When it passes the limit of failed checks, then it is told to wait
    assert [forged() for _ in range(relying.FAILED_LIMIT)] == [401] * relying.FAILED_LIMIT
    response = client.post(VERIFY, json=finger_body("ML-1"), headers=bearer(
        relying.mint_token(other_key, code="ceni", purpose="voter_verification")))
    assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1

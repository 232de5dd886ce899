"""Oversight: dashboards' numbers, public statistics with small counts suppressed, complaint
handling, and who may read what."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from lakana.biometry import citizen, keys, oversight, relying, runtime
from lakana.biometry.models import CitizenChallenge, Complaint, Enrollment, Person, SealedObject
from lakana.biometry.permissions import BiometryPermission as P
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Actor, Role, permissions_for, system_actor
from lakana.core.config import Settings
from lakana.core.errors import Forbidden
from lakana.core.jobs.models import Job
from lakana.core.jobs.service import JobContext
from tests.biometry.test_citizen_support import add_access, make_person, make_service
from tests.conftest import Factory, csrf_from


def _complaint(app: FastAPI, settings: Settings) -> tuple[int, int]:
    sf = app.state.session_factory
    person_id = make_person(sf, settings, "ML2000000001")
    with sf.begin() as session:
        person = session.get(Person, person_id)
        assert person is not None
        return citizen.file_complaint(session=session, person=person, body="Plainte").id, \
            person_id


def test_dashboard_numbers(app: FastAPI, settings: Settings) -> None:
    sf = app.state.session_factory
    person_id = make_person(sf, settings, "ML2000000002")
    ceni = make_service(sf)
    cnss = make_service(sf, "cnss", "Caisse de sécurité sociale")
    add_access(sf, ceni, person_id, count=3)
    add_access(sf, ceni, None, outcome="refused", reason="rate limit", count=2)
    add_access(sf, cnss, person_id, purpose="social_security_benefit", outcome="released")
    with sf.begin() as session:
        gone = session.get(Person, make_person(sf, settings, "ML2000000003"))
        assert gone is not None
        gone.status, gone.deletion_reason = "deleted", "court order"
    with sf() as session:
        board = oversight.dashboard(session=session, actor=system_actor(), days=7)
    assert board.total_accesses == 6
    first = board.accesses[0]
    assert (first.service, first.total, first.refused) == ("Commission électorale", 5, 2)
    assert board.refusals == [("Commission électorale", "rate limit", 2)]
    assert board.deletions == [("court order", 1)]
    assert board.complaints == {"open": 0, "in_review": 0, "closed": 0}


def _cells(page: str, table_id: str | None = None, after: str | None = None) -> list[list[str]]:
    """The text of each body row's cells of the table with ``table_id`` (or of the first
    table after the text ``after``)."""
    start = page.index(f'id="{table_id}"') if table_id else page.index(after or "")
    body = page[page.index("<tbody>", start):page.index("</tbody>", start)]
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_dashboard_page_shows_rotations_and_anomalies(
        app: FastAPI, settings: Settings, factory: Factory,
        login_as: Callable[[User], TestClient]) -> None:
    sf = app.state.session_factory
    store = runtime.keystore(settings)
    person_id = make_person(sf, settings, "ML2000000004")
    # Given a key rotation started from the keys page and run to the end by its job
    admin = login_as(factory.user(Role.REGISTRY_ADMIN))
    keys_page = admin.get("/biometry/keys")
    started = admin.post("/biometry/keys/rotation",
                         data={"csrf_token": csrf_from(keys_page.text)}, follow_redirects=False)
    assert started.status_code == 303
    from lakana.biometry.tasks_keys import rewrap

    with sf() as session:
        job = session.scalars(select(Job).where(Job.name == "biometry.rewrap")).one()
        sealed = session.scalar(select(func.count()).select_from(SealedObject))
    rewrap(JobContext(settings=settings, session_factory=sf, job_id=job.id, attempt=1,
                      worker_id="test"), {})
    with sf() as session:
        status = keys.status(session=session, actor=system_actor(), store=store)
    rotation = status.rotations[0]
    assert rotation.state == "done" and sealed
    # And a citizen's code burnt by five wrong tries
    with sf.begin() as session:
        delivery = citizen.start_challenge(session=session, store=store, settings=settings,
                                           nin="ML2000000004", source_ip="192.0.2.7")
    assert delivery is not None
    code = re.search(r"\b(\d{6})\b", delivery.text)
    assert code is not None
    wrong = "000000" if code.group(1) != "000000" else "111111"
    for _ in range(5):
        with sf.begin() as session:
            citizen.verify_code(session=session, store=store, settings=settings,
                                nin="ML2000000004", code=wrong, session_factory=sf)
    with sf() as session:
        assert session.scalars(select(CitizenChallenge.attempts)).one() == 5
    # And a relying service refused for a purpose it does not hold
    service_id = make_service(sf)
    client = relying.ServiceClient(service_id=service_id, code="ceni",
                                   purposes=("voter_verification",),
                                   purpose="social_security_benefit", jti="jti-oversight-1")
    with pytest.raises(Forbidden):
        relying.check_purpose(session_factory=sf, client=client, operation="verify")
    add_access(sf, service_id, person_id)
    # When the authority's auditor opens the dashboard
    page = login_as(factory.user(Role.PROTECTION_AUDITOR)).get("/biometry/oversight")
    assert page.status_code == 200
    text = html.unescape(page.text)
    # Then the rotation is listed, from the old key to the new one, done, every key re-wrapped
    assert "Clés maîtresses et rotations" in text
    rotations = _cells(page.text, after="Clés re-chiffrées")
    assert rotations[0][:4] == [rotation.from_key_id, rotation.to_key_id, "done", str(sealed)]
    keys_shown = {row[0]: row[2] for row in _cells(page.text, after="Clés maîtresses et")}
    assert keys_shown == {rotation.from_key_id: "retired", rotation.to_key_id: "active"}
    # And the anomalies: the refused purpose and the burnt code
    assert "Refus et anomalies" in text
    assert _cells(page.text, "refusals") == [["Commission électorale", "purpose", "1"]]
    assert "Codes citoyens annulés après trop d'essais erronés : 1" in text
    # And the accesses: the match and the refusal, by service and purpose
    assert sorted(_cells(page.text, "accesses")) == [
        ["Commission électorale", "Identification de l'électeur au bureau de vote", "1", "0"],
        ["Commission électorale", "Paiement d'une prestation de sécurité sociale", "1", "1"]]


def test_statistics_suppress_small_counts(app: FastAPI, client: TestClient,
                                          settings: Settings) -> None:
    sf = app.state.session_factory
    ids = [make_person(sf, settings, f"ML30000000{i:02d}", region="Kayes") for i in range(12)]
    make_person(sf, settings, "ML3000000099", region="Gao")
    with sf.begin() as session:
        for i, pid in enumerate(ids):
            session.add(Enrollment(packet_id=f"packet-{i:04d}", packet_digest="0" * 64,
                                   person_id=pid, state="issued", centre="Kayes 1",
                                   device="dev", captured_at=oversight.utcnow()))
    with sf() as session:
        stats = oversight.public_statistics(session=session)
    regions = dict(stats.persons_by_region)
    assert regions["Kayes"] == 12 and regions["Gao"] == "< 10" and regions["Bamako"] == "< 10"
    assert dict(stats.enrollments_by_state)["issued"] == 12
    api = client.get("/api/v1/biometry/statistics")
    assert api.status_code == 200
    cells = {c["key"]: c["count"] for c in api.json()["persons_by_region"]}
    assert cells["Kayes"] == 12 and cells["Gao"] == "< 10"
    page = client.get("/registre/statistiques")
    assert page.status_code == 200 and "&lt; 10" in page.text


def test_complaint_handling(app: FastAPI, settings: Settings, factory: Factory,
                            login_as: Callable[[User], TestClient]) -> None:
    complaint_id, _ = _complaint(app, settings)
    auditor = factory.user(Role.PROTECTION_AUDITOR)
    browser = login_as(auditor)
    listing = browser.get("/biometry/oversight/complaints")
    assert listing.status_code == 200 and "PLT-" in listing.text
    page = browser.get(f"/biometry/oversight/complaints/{complaint_id}")
    assert page.status_code == 200
    token = csrf_from(page.text)
    refused = browser.post(f"/biometry/oversight/complaints/{complaint_id}",
                           data={"state": "closed", "response": "", "csrf_token": token})
    assert refused.status_code == 422
    done = browser.post(f"/biometry/oversight/complaints/{complaint_id}",
                        data={"state": "closed", "response": "Réponse de l'autorité",
                              "csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    sf = app.state.session_factory
    with sf() as session:
        row = session.get(Complaint, complaint_id)
        assert row is not None and row.state == "closed" and row.closed_at is not None
        assert session.scalar(select(AuditEntry).where(
            AuditEntry.action == "biometry.complaint.handle")) is not None
    assert browser.get("/biometry/oversight").status_code == 200


def test_permissions(app: FastAPI, settings: Settings, factory: Factory,
                     login_as: Callable[[User], TestClient],
                     api_as: Callable[[User], TestClient]) -> None:
    complaint_id, _ = _complaint(app, settings)
    agent = factory.user(Role.ENROLMENT_AGENT)
    browser = login_as(agent)
    assert browser.get("/biometry/oversight").status_code == 403
    assert browser.get("/biometry/oversight/complaints").status_code == 403
    assert api_as(agent).get("/api/v1/biometry/oversight/accesses").status_code == 403
    # the registry administrator reads, but does not handle complaints
    admin = factory.user(Role.REGISTRY_ADMIN)
    admin_api = api_as(admin)
    assert admin_api.get("/api/v1/biometry/oversight/complaints").status_code == 200
    assert admin_api.post(f"/api/v1/biometry/oversight/complaints/{complaint_id}",
                          json={"state": "in_review"}).status_code == 403
    # the protection auditor cannot enrol
    auditor_perms = permissions_for(Role.PROTECTION_AUDITOR)
    assert str(P.ENROL) not in auditor_perms and str(P.OVERSIGHT_READ) in auditor_perms
    auditor_api = api_as(factory.user(Role.PROTECTION_AUDITOR))
    handled = auditor_api.post(f"/api/v1/biometry/oversight/complaints/{complaint_id}",
                               json={"state": "in_review", "response": "Examen"})
    assert handled.status_code == 200 and handled.json()["state"] == "in_review"
    auditor = Actor(user_id=None, name="x", role=Role.PROTECTION_AUDITOR,
                    permissions=auditor_perms)
    with pytest.raises(Forbidden):
        auditor.require(P.ENROL)
    agent_actor = Actor(user_id=None, name="y", role=Role.ENROLMENT_AGENT,
                        permissions=permissions_for(Role.ENROLMENT_AGENT))
    with app.state.session_factory() as session, pytest.raises(Forbidden):
        oversight.dashboard(session=session, actor=agent_actor)


def test_cli(app: FastAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from lakana.biometry.cli_oversight import app as cli

    sf = app.state.session_factory
    make_service(sf)
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", settings.secret_key or "")
    add_access(sf, 1, None, count=2)
    result = CliRunner().invoke(cli, ["report", "--days", "5"])
    assert result.exit_code == 0, result.output
    assert "Commission électorale" in result.output and "voter_verification" in result.output
    result = CliRunner().invoke(cli, ["statistics"])
    assert result.exit_code == 0 and "< 10" in result.output

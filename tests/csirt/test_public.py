"""Public incident reports without an account: form, receipt, status, limits, files, API."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.files.models import StoredFile
from lakana.core.notifications.models import Notification
from lakana.csirt import public_service
from lakana.csirt.models import Case, CaseAttachment, CaseClock
from tests.conftest import csrf_from

EML = (b"From: \"Banque du Mali\" <alerte@banque-faux.example>\r\n"
       b"To: victime@example.ml\r\n"
       b"Subject: Votre compte est suspendu\r\n"
       b"Date: Mon, 5 Jan 2026 10:00:00 +0000\r\n"
       b"Message-ID: <1@banque-faux.example>\r\n\r\n"
       b"Cliquez ici pour le reactiver : http://banque-faux.example/login\r\n")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
CODE = re.compile(r"\b([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})\b")
FIELDS = {"category": "phishing", "title": "Faux message de la banque",
          "description": "J'ai reçu un courriel me demandant mon mot de passe bancaire.",
          "reporter_name": "Awa Traoré", "reporter_email": "awa@example.ml",
          "reporter_phone": "+223 70 00 00 00"}


def _client(app: FastAPI, address: str = "10.0.0.1") -> TestClient:
    return TestClient(app, base_url="http://testserver", client=(address, 50000))


def _send(client: TestClient, files: dict[str, Any] | None = None,
          **fields: str) -> Any:
    page = client.get("/public/report")
    data = {**FIELDS, **fields, "csrf_token": csrf_from(page.text)}
    return client.post("/public/report", data=data, files=files)


def _count(session_factory: sessionmaker[Session], model: Any) -> int:
    with session_factory() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_form_is_public_light_and_french(app: FastAPI) -> None:
    # Given an anonymous visitor / When they open the form
    with _client(app) as client:
        page = client.get("/public/report")
    # Then it is served without log-in, in French, light, with a CSRF token
    assert page.status_code == 200
    assert "Signaler un incident cyber" in page.text
    assert len(page.content) < 100_000
    assert csrf_from(page.text)
    assert 'enctype="multipart/form-data"' in page.text


def test_report_with_eml_then_status_received(app: FastAPI, analyst: User,
                                              session_factory: sessionmaker[Session]) -> None:
    # Given an anonymous visitor and an analyst to tell
    with _client(app) as client:
        # When they report with a suspicious e-mail attached
        receipt = _send(client, files={"attachment": ("message.eml", EML, "message/rfc822")})
        # Then the receipt shows the tracking code and the reference once
        assert receipt.status_code == 200, receipt.text[:500]
        code = CODE.search(receipt.text)
        assert code, receipt.text
        reference = re.search(r"PUB-\d{4}-\d{5}", receipt.text)
        assert reference
        # And the case is a public report, kept with the code's hash only
        with session_factory() as session:
            case = session.execute(select(Case)).scalar_one()
            assert (case.source, case.institution_id, case.tlp) == ("public", None, "amber")
            assert (case.public_category, case.severity) == ("phishing", "medium")
            assert case.reference == reference.group(0)
            assert case.reporter_email == "awa@example.ml"
            normalized = code.group(1).replace("-", "")
            assert case.tracking_hash == hashlib.sha256(normalized.encode()).hexdigest()
            attachment = session.execute(select(CaseAttachment)).scalar_one()
            assert (attachment.media_type, attachment.name, attachment.tlp) == \
                ("message/rfc822", "message.eml", "amber")
            clocks = [c.clock for c in session.scalars(select(CaseClock))]
            assert clocks == ["acknowledgement"]
            notified = session.scalars(select(Notification.user_id)).all()
            assert notified == [analyst.id]
            entries = session.scalars(select(AuditEntry.details).where(
                AuditEntry.action == "csirt.case.public_report")).all()
            assert len(entries) == 1 and code.group(1) not in entries[0]
        # When they look it up later, typed loosely (lower case, spaces)
        form = client.get("/public/status")
        loose = code.group(1).lower().replace("-", " ")
        status = client.post("/public/status", data={"code": loose,
                                                     "csrf_token": csrf_from(form.text)})
    # Then the status page shows the reference and "received"
    assert status.status_code == 200
    assert reference.group(0) in status.text and "Reçu" in status.text
    assert "Faux message de la banque" in status.text


def test_wrong_codes_get_the_same_not_found(app: FastAPI) -> None:
    # Given a report exists
    with _client(app) as client:
        assert _send(client).status_code == 200
        form = client.get("/public/status")
        token = csrf_from(form.text)
        # When someone tries a well-formed wrong code and a malformed one
        answers = [client.post("/public/status", data={"code": c, "csrf_token": token})
                   for c in ("ABCD-EFGH-JKMN", "nonsense")]
    # Then both get the same generic 404 message
    assert [a.status_code for a in answers] == [404, 404]
    message = "Aucun signalement ne correspond à ce code de suivi."
    assert all(message in a.text for a in answers)


def test_oversize_attachment_is_refused_and_nothing_kept(
        app: FastAPI, session_factory: sessionmaker[Session]) -> None:
    # Given a file one byte over the public limit
    big = b"%PDF-1.4\n" + b"0" * (public_service.ATTACHMENT_MAX_BYTES - 8)
    with _client(app) as client:
        # When it is sent with a report
        response = _send(client, files={"attachment": ("preuve.pdf", big, "application/pdf")})
    # Then 413, the form comes back with the text, and neither a case nor a file is kept
    assert response.status_code == 413
    assert "J&#39;ai reçu un courriel" in response.text
    assert _count(session_factory, Case) == 0
    assert _count(session_factory, StoredFile) == 0


@pytest.mark.parametrize(("name", "content"), [
    ("message.eml", PNG),                       # PNG bytes disguised as an e-mail
    ("capture.png", b"just some text\n"),       # text disguised as an image
    ("setup.exe", b"MZ\x90\x00\x03" + b"\x00" * 32),  # a program
    ("notes.eml", b"bonjour, ceci n'est pas un courriel\n"),  # text that is no message
])
def test_disguised_or_forbidden_files_are_refused(
        app: FastAPI, session_factory: sessionmaker[Session], name: str, content: bytes) -> None:
    # Given a file whose content does not match an accepted type
    with _client(app) as client:
        # When it is sent
        response = _send(client, files={"attachment": (name, content, "message/rfc822")})
    # Then it is refused, the text is kept in the form, and nothing is stored
    assert response.status_code == 422, response.text[:300]
    assert "Faux message de la banque" in response.text
    assert _count(session_factory, Case) == 0
    assert _count(session_factory, StoredFile) == 0


def test_invalid_fields_come_back_with_messages(app: FastAPI,
                                                session_factory: sessionmaker[Session]) -> None:
    # Given a report with a bad e-mail address and an unknown category
    with _client(app) as client:
        response = _send(client, category="ransom", reporter_email="pas-une-adresse")
    # Then 422, the fields are marked, the text is kept, nothing is stored
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.text
    assert "Faux message de la banque" in response.text
    assert _count(session_factory, Case) == 0


def test_rate_limit_keeps_the_text_and_spares_other_addresses(
        app: FastAPI, session_factory: sessionmaker[Session]) -> None:
    # Given five reports from one address in the window
    with _client(app, "10.0.0.5") as client:
        for index in range(public_service.REPORTS_PER_ADDRESS):
            assert _send(client, title=f"Signalement {index}").status_code == 200
        # When the sixth comes
        refused = _send(client, title="Le sixième signalement")
    # Then 429 with Retry-After, and the form still holds what was typed
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert 'value="Le sixième signalement"' in refused.text
    assert "Votre texte est conservé" in refused.text
    assert _count(session_factory, Case) == public_service.REPORTS_PER_ADDRESS
    # And another address is still accepted
    with _client(app, "10.0.0.6") as other:
        assert _send(other).status_code == 200


def test_forwarded_header_is_ignored_without_a_trusted_proxy(app: FastAPI) -> None:
    # Given one address that claims other addresses in X-Forwarded-For
    with _client(app, "10.0.0.7") as client:
        answers = [client.post("/api/v1/public/reports", json={**FIELDS, "title": f"Titre {i}"},
                               headers={"X-Forwarded-For": f"192.0.2.{i}"})
                   for i in range(public_service.REPORTS_PER_ADDRESS + 1)]
    # Then the limit still counts the real address
    assert [a.status_code for a in answers[:-1]] == [201] * public_service.REPORTS_PER_ADDRESS
    assert answers[-1].status_code == 429


def test_api_report_and_status(app: FastAPI, session_factory: sessionmaker[Session]) -> None:
    # Given the public API / When a report is sent as JSON
    with _client(app) as client:
        created = client.post("/api/v1/public/reports", json=FIELDS)
        assert created.status_code == 201, created.text
        body = created.json()
        assert set(body) == {"reference", "tracking_code", "status_url"}
        assert body["status_url"].endswith("/public/status")
        # And one as multipart with a screenshot
        with_file = client.post("/api/v1/public/reports",
                                data={k: v for k, v in FIELDS.items()},
                                files={"attachment": ("capture.png", PNG, "image/png")})
        assert with_file.status_code == 201, with_file.text
        # Then the status reads back with the code
        status = client.get("/api/v1/public/reports/status",
                            params={"code": body["tracking_code"]})
        wrong = client.get("/api/v1/public/reports/status", params={"code": "ABCD-EFGH-JKMN"})
        invalid = client.post("/api/v1/public/reports", json={**FIELDS, "category": "x"})
    assert status.status_code == 200
    assert status.json()["reference"] == body["reference"]
    assert status.json()["status"] == "received" and status.json()["messages"] == []
    assert wrong.status_code == 404
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert invalid.status_code == 422
    with session_factory() as session:
        media = session.scalars(select(CaseAttachment.media_type)).all()
    assert media == ["image/png"]


def test_api_rate_limit_answers_429_with_retry_after(app: FastAPI) -> None:
    # Given an address that already sent the maximum
    with _client(app, "10.0.0.9") as client:
        for index in range(public_service.REPORTS_PER_ADDRESS):
            assert client.post("/api/v1/public/reports",
                               json={**FIELDS, "title": f"Titre {index}"}).status_code == 201
        # When it sends one more
        refused = client.post("/api/v1/public/reports", json=FIELDS)
    # Then a problem document with Retry-After
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert refused.json()["status"] == 429


def test_status_lookups_are_rate_limited(app: FastAPI) -> None:
    # Given an address guessing codes
    with _client(app, "10.0.0.10") as client:
        answers = [client.get("/api/v1/public/reports/status", params={"code": "ABCD-EFGH-JKMN"})
                   for _ in range(public_service.LOOKUPS_PER_ADDRESS + 1)]
    # Then it is slowed down after the limit
    assert {a.status_code for a in answers[:-1]} == {404}
    assert answers[-1].status_code == 429


def test_public_status_follows_the_case_and_shows_public_messages_only(
        app: FastAPI, analyst: User, login_as: Callable[[User], TestClient],
        session_factory: sessionmaker[Session]) -> None:
    # Given a public report
    with _client(app) as client:
        body = client.post("/api/v1/public/reports", json=FIELDS).json()
    with session_factory.begin() as session:
        case = session.execute(select(Case)).scalar_one()
        case.status = "investigation"
        case_id = case.id
    # When an analyst writes to the reporter through the case page's form
    browser = login_as(analyst)
    token = csrf_from(browser.get("/account").text)
    sent = browser.post(f"/csirt/cases/{case_id}/public-messages",
                        data={"text": "Nous analysons le site signalé.", "csrf_token": token},
                        follow_redirects=False)
    assert sent.status_code == 303
    # Then the status is "being analysed" with the message, and no analyst name
    with _client(app) as client:
        status = client.get("/api/v1/public/reports/status",
                            params={"code": body["tracking_code"]}).json()
    assert status["status"] == "analysing"
    assert [m["text"] for m in status["messages"]] == ["Nous analysons le site signalé."]
    assert analyst.full_name not in str(status)


def test_markup_in_a_report_is_inert_everywhere(
        app: FastAPI, analyst: User, login_as: Callable[[User], TestClient],
        session_factory: sessionmaker[Session]) -> None:
    # Given a report whose title is markup
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    with _client(app) as client:
        body = client.post("/api/v1/public/reports", json={**FIELDS, "title": evil}).json()
        form = client.get("/public/status")
        status = client.post("/public/status", data={"code": body["tracking_code"],
                                                     "csrf_token": csrf_from(form.text)})
    with session_factory() as session:
        case_id = session.execute(select(Case.id)).scalar_one()
    # When the reporter and an analyst read it
    analyst_page = login_as(analyst).get(f"/csirt/cases/{case_id}")
    # Then it shows escaped on both sides
    for page in (status, analyst_page):
        assert page.status_code == 200, page.text[:300]
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_the_analyst_route_needs_the_right_to_manage(
        app: FastAPI, session_factory: sessionmaker[Session],
        api_as: Callable[[User], TestClient], analyst: User, focal_a: User) -> None:
    # Given a public report and a case of an institution
    with _client(app) as client:
        client.post("/api/v1/public/reports", json=FIELDS)
    with session_factory() as session:
        case_id = session.execute(select(Case.id)).scalar_one()
    # When a focal point writes to the reporter, then an analyst
    refused = api_as(focal_a).post(f"/api/v1/csirt/cases/{case_id}/public-messages",
                                   json={"text": "Bonjour"})
    done = api_as(analyst).post(f"/api/v1/csirt/cases/{case_id}/public-messages",
                                json={"text": "Bonjour"})
    # Then the focal point never learns of it (404) and the analyst's message is kept
    assert refused.status_code == 404
    assert done.status_code == 201 and done.json()["text"] == "Bonjour"


def test_tracking_codes_are_unambiguous_and_normalized() -> None:
    # Given fresh codes / Then they use the unambiguous alphabet, grouped by four
    codes = {public_service.new_tracking_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert re.fullmatch(r"[2-9A-HJKMNP-TV-Z]{4}(-[2-9A-HJKMNP-TV-Z]{4}){2}", code)
    # And a code typed loosely hashes like the original
    code = next(iter(codes))
    assert public_service.tracking_hash(code.lower().replace("-", " ")) == \
        public_service.tracking_hash(code)

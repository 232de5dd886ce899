"""Citizens' access: codes by SMS (through a real local HTTP gateway), sessions, history,
locks and complaints; services first, then the public pages."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, update

from lakana.biometry import citizen, runtime
from lakana.biometry.models import CitizenChallenge, CitizenSession, Complaint, Person
from lakana.biometry.sms import (
    HttpSmsGateway,
    OutboxSmsGateway,
    SmsUnavailable,
    gateway_from_settings,
)
from lakana.core import ratelimit
from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from lakana.core.errors import Invalid, TooManyRequests
from lakana.core.notifications.models import Notification
from tests.biometry.test_citizen_support import (
    SmsStub,
    add_access,
    make_person,
    make_service,
    serve_sms_stub,
)
from tests.conftest import Factory, csrf_from

NIN = "ML1990000001"


@pytest.fixture
def sms() -> Iterator[SmsStub]:
    yield from serve_sms_stub()


@pytest.fixture
def settings(settings: Settings, sms: SmsStub) -> Settings:
    settings.biometry_sms_url = sms.url
    return settings


def _start(app: FastAPI, settings: Settings, nin: str, ip: str = "192.0.2.1", *,
           throttle: bool = True) -> None:
    """Ask for a code as the page does: the challenge commits, then the code is texted."""
    factory = app.state.session_factory
    store = runtime.keystore(settings)
    if throttle:
        citizen.check_request_rate(factory, settings, nin, ip)
    with factory.begin() as session:
        delivery = citizen.start_challenge(session=session, store=store, settings=settings,
                                           nin=nin, source_ip=ip)
    if delivery is not None:
        citizen.deliver_code(session_factory=factory, store=store,
                             gateway=HttpSmsGateway(settings.biometry_sms_url or ""),
                             delivery=delivery)


def _verify(app: FastAPI, settings: Settings, nin: str, code: str) -> citizen.VerifyResult:
    factory = app.state.session_factory
    with factory.begin() as session:
        return citizen.verify_code(session=session, store=runtime.keystore(settings),
                                   settings=settings, nin=nin, code=code,
                                   session_factory=factory)


def test_http_gateway_posts_json_and_fails_cleanly(sms: SmsStub) -> None:
    HttpSmsGateway(sms.url).send("+22370000001", "bonjour")
    assert sms.messages == [{"to": "+22370000001", "text": "bonjour"}]
    sms.status = 500
    with pytest.raises(SmsUnavailable) as err:
        HttpSmsGateway(sms.url).send("+22370000001", "secret 123456")
    assert err.value.status == 503 and "123456" not in str(err.value)
    with pytest.raises(SmsUnavailable):
        HttpSmsGateway("http://127.0.0.1:9/none", timeout=0.5).send("+22370000001", "x")


def test_outbox_gateway(tmp_path: Path) -> None:
    outbox = OutboxSmsGateway(tmp_path / "out" / "sms.jsonl")
    outbox.send("+22370000001", "code 123456")
    assert outbox.messages()[0]["to"] == "+22370000001"


def test_code_flow_and_session(app: FastAPI, settings: Settings, sms: SmsStub) -> None:
    factory = app.state.session_factory
    person_id = make_person(factory, settings, NIN)
    _start(app, settings, NIN)
    assert len(sms.messages) == 1 and sms.messages[0]["to"] == "+22370000001"
    code = sms.last_code()
    with factory() as session:
        row = session.scalars(select(CitizenChallenge)).one()
        assert code not in row.code_hash
    wrong = "000000" if code != "000000" else "111111"
    result = _verify(app, settings, NIN, wrong)
    assert not result.ok and result.attempts_left == 4
    result = _verify(app, settings, NIN, code)
    assert result.ok and result.secret
    with factory() as session:
        person = citizen.person_of_session(session=session, settings=settings,
                                           secret=result.secret)
        assert person is not None and person.id == person_id
        stored = session.scalars(select(CitizenSession)).one()
        assert stored.secret_hash != result.secret
    # the code is single use
    assert not _verify(app, settings, NIN, code).ok
    # the session expires
    with factory.begin() as session:
        session.execute(update(CitizenSession).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    with factory() as session:
        assert citizen.person_of_session(session=session, settings=settings,
                                         secret=result.secret) is None


def test_expired_code(app: FastAPI, settings: Settings, sms: SmsStub) -> None:
    make_person(app.state.session_factory, settings, NIN)
    _start(app, settings, NIN)
    with app.state.session_factory.begin() as session:
        session.execute(update(CitizenChallenge).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert not _verify(app, settings, NIN, sms.last_code()).ok


def test_five_failures_burn_the_challenge(app: FastAPI, settings: Settings,
                                          sms: SmsStub) -> None:
    make_person(app.state.session_factory, settings, NIN)
    _start(app, settings, NIN)
    code = sms.last_code()
    wrong = "000000" if code != "000000" else "111111"
    lefts = [_verify(app, settings, NIN, wrong).attempts_left for _ in range(5)]
    assert lefts == [4, 3, 2, 1, 0]
    assert not _verify(app, settings, NIN, code).ok  # burnt: even the right code fails


def test_brute_force_is_ledgered(app: FastAPI, settings: Settings, sms: SmsStub) -> None:
    factory = app.state.session_factory
    person_id = make_person(factory, settings, NIN)
    for round_ in range(3):
        _start(app, settings, NIN, ip=f"192.0.2.{round_ + 10}")
        code = sms.last_code()
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            _verify(app, settings, NIN, wrong)
    with factory() as session:
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "biometry.citizen.brute_force")).all()
        assert entries and entries[0].object_id == str(person_id)
        assert NIN not in entries[0].details


def test_unknown_nin_answers_identically(app: FastAPI, settings: Settings,
                                         sms: SmsStub) -> None:
    make_person(app.state.session_factory, settings, NIN)
    make_person(app.state.session_factory, settings, "ML1990000002", phone=None)
    for nin in ("ML0000000000", "ML1990000002"):
        _start(app, settings, nin)
        result = _verify(app, settings, nin, "123456")
        assert not result.ok and result.attempts_left == 4
    assert sms.messages == []


def test_request_throttled_per_nin(app: FastAPI, settings: Settings, sms: SmsStub) -> None:
    for i in range(citizen.REQUESTS_PER_NIN):
        _start(app, settings, "ML0000000009", ip=f"192.0.2.{i + 50}")
    with pytest.raises(TooManyRequests):
        _start(app, settings, "ML0000000009", ip="192.0.2.99")


def test_other_spellings_of_a_number_share_its_throttle(app: FastAPI, settings: Settings,
                                                        sms: SmsStub) -> None:
    factory = app.state.session_factory
    # Given a number that used up its code requests
    for i in range(citizen.REQUESTS_PER_NIN):
        _start(app, settings, "ML0000000009", ip=f"192.0.2.{i + 50}")
    # When it is asked again in fullwidth letters (the same person for the blind index)
    # Then the throttle sees the same number
    with pytest.raises(TooManyRequests):
        citizen.check_request_rate(factory, settings, "ＭＬ0000000009", "192.0.2.98")
    with pytest.raises(TooManyRequests):
        citizen.check_request_rate(factory, settings, " ml0000000009 ", "192.0.2.97")
    # and a letter that stays outside ASCII is not a number at all
    with pytest.raises(Invalid):
        citizen.check_request_rate(factory, settings, "MLÉ000000009", "192.0.2.96")


def test_brute_force_blocks_the_number(app: FastAPI, settings: Settings, sms: SmsStub,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    factory = app.state.session_factory
    make_person(factory, settings, NIN)
    # Given more wrong codes for one number than the brute-force limit
    for round_ in range(3):
        _start(app, settings, NIN, ip=f"192.0.2.{round_ + 20}")
        code = sms.last_code()
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(citizen.MAX_ATTEMPTS):
            _verify(app, settings, NIN, wrong)
    assert 3 * citizen.MAX_ATTEMPTS > citizen.BRUTE_FORCE_FAILURES
    texted = len(sms.messages)
    # When a new code is asked (past the per-number request throttle) and checked
    monkeypatch.setattr(citizen.secrets, "randbelow", lambda _n: 424242)
    _start(app, settings, NIN, ip="192.0.2.40", throttle=False)
    # Then no code is texted, and even the right one is refused, with the generic answer
    assert len(sms.messages) == texted
    result = _verify(app, settings, NIN, "424242")
    assert not result.ok and result.attempts_left == 0


def test_concurrent_checks_count_every_try(app: FastAPI, settings: Settings, sms: SmsStub,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    factory = app.state.session_factory
    make_person(factory, settings, NIN)
    _start(app, settings, NIN)
    code = sms.last_code()
    wrong = "000000" if code != "000000" else "111111"
    original = ratelimit.count
    second: list[citizen.VerifyResult] = []

    def interleaved(*args: Any, **kwargs: Any) -> ratelimit.Allowance:
        allowance = original(*args, **kwargs)
        if not second:
            # a second check of the same number runs, and commits, while the first one
            # has read the challenge and not yet written its try
            second.append(citizen.VerifyResult(None, -1))
            second[0] = _verify(app, settings, NIN, wrong)
        return allowance

    monkeypatch.setattr(ratelimit, "count", interleaved)
    # When two wrong checks interleave (each in its own session, on SQLite)
    first = _verify(app, settings, NIN, wrong)
    # Then both tries are counted: neither overwrote the other's
    with factory() as session:
        assert session.scalars(select(CitizenChallenge.attempts)).one() == 2
    assert sorted([first.attempts_left, second[0].attempts_left]) == [3, 4]


def test_complaint_goes_to_registry_admins_without_auditor(
        app: FastAPI, settings: Settings, factory: Factory) -> None:
    sf = app.state.session_factory
    # Given a registry with administrators and no active data protection auditor
    admin = factory.user(Role.REGISTRY_ADMIN)
    gone = factory.user(Role.PROTECTION_AUDITOR)
    with sf.begin() as session:
        session.execute(update(User).where(User.id == gone.id).values(is_active=False))
    person_id = make_person(sf, settings, NIN)
    # When a citizen files a complaint
    with sf.begin() as session:
        person = session.get(Person, person_id)
        assert person is not None
        citizen.file_complaint(session=session, person=person, body="Accès abusif")
    # Then the registry administrators are told, so that it is not left unseen
    with sf() as session:
        assert session.scalars(select(Notification).where(
            Notification.user_id == admin.id)).first() is not None
        assert session.scalars(select(Notification).where(
            Notification.user_id == gone.id)).first() is None


def test_outbox_on_https_logs_an_error(settings: Settings,
                                       caplog: pytest.LogCaptureFixture) -> None:
    settings.biometry_sms_url = ""
    with caplog.at_level(logging.ERROR, logger="lakana.biometry.sms"):
        assert isinstance(gateway_from_settings(settings), OutboxSmsGateway)
    assert not caplog.records  # plain HTTP: a laptop, the demo
    settings.https = True
    with caplog.at_level(logging.ERROR, logger="lakana.biometry.sms"):
        assert isinstance(gateway_from_settings(settings), OutboxSmsGateway)
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert "LAKANA_BIOMETRY_SMS_URL" in caplog.records[0].getMessage()


def test_history_locks_and_complaint(app: FastAPI, settings: Settings,
                                     factory: Factory) -> None:
    sf = app.state.session_factory
    auditor = factory.user(Role.PROTECTION_AUDITOR)
    person_id = make_person(sf, settings, NIN)
    other = make_person(sf, settings, "ML1990000003")
    service_id = make_service(sf)
    add_access(sf, service_id, person_id)
    add_access(sf, service_id, person_id, outcome="refused")
    add_access(sf, service_id, other)
    with sf() as session:
        history = citizen.access_history(session=session, person_id=person_id)
    assert len(history) == 2 and history[0].service == "Commission électorale"
    assert {h.outcome for h in history} == {"match", "refused"}
    with sf.begin() as session:
        person = session.get(Person, person_id)
        assert person is not None
        citizen.set_locks(session=session, person=person, modalities=["finger"])
        complaint = citizen.file_complaint(session=session, person=person,
                                           body="Je n'ai jamais voté.", service_id=service_id)
        reference = complaint.reference
    assert reference.startswith(f"PLT-{dt.datetime.now(dt.UTC).year}-")
    assert len(reference) == len("PLT-2026-000123")
    with sf() as session:
        saved = session.get(Person, person_id)
        assert saved is not None and saved.locked_modalities == "finger"
        notes = session.scalars(select(Notification).where(
            Notification.user_id == auditor.id)).all()
        assert len(notes) == 1 and notes[0].params == {"reference": reference}
        actions = set(session.scalars(select(AuditEntry.action)))
        assert {"biometry.person.locks", "biometry.complaint.file"} <= actions
    with sf.begin() as session, pytest.raises(Exception, match="modality"):
        person = session.get(Person, person_id)
        assert person is not None
        citizen.set_locks(session=session, person=person, modalities=["iris"])


# --- pages ---------------------------------------------------------------------------------

def _login_citizen(client: TestClient, sms: SmsStub, nin: str = NIN) -> None:
    page = client.get("/registre")
    assert page.status_code == 200 and "identification" in page.text
    sent = client.post("/registre", data={"nin": nin, "csrf_token": csrf_from(page.text)})
    assert sent.status_code == 200, sent.text[:300]
    answer = client.post("/registre/code", data={
        "nin": nin, "code": sms.last_code(), "csrf_token": csrf_from(sent.text)},
        follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/registre/moi"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Path=/registre" in cookie
    assert "samesite=strict" in cookie.lower()


def test_pages_flow(app: FastAPI, client: TestClient, settings: Settings, sms: SmsStub,
                    factory: Factory) -> None:
    sf = app.state.session_factory
    auditor = factory.user(Role.PROTECTION_AUDITOR)
    person_id = make_person(sf, settings, NIN)
    service_id = make_service(sf)
    add_access(sf, service_id, person_id, count=2)
    _login_citizen(client, sms)
    me = client.get("/registre/moi")
    assert me.status_code == 200
    assert me.text.count("Commission électorale") >= 2
    locks = client.post("/registre/moi/locks", data={"lock": "face",
                                                     "csrf_token": csrf_from(me.text)},
                        follow_redirects=False)
    assert locks.status_code == 303
    with sf() as session:
        saved = session.get(Person, person_id)
        assert saved is not None and saved.locked_modalities == "face"
    filed = client.post("/registre/moi/complaint", data={
        "body": "Accès non autorisé", "service_id": str(service_id),
        "csrf_token": csrf_from(me.text)})
    assert filed.status_code == 200 and "PLT-" in filed.text
    with sf() as session:
        assert session.scalars(select(Complaint)).one().person_id == person_id
        assert session.scalars(select(Notification).where(
            Notification.user_id == auditor.id)).first() is not None
    # without the CSRF token, refused
    assert client.post("/registre/moi/locks", data={"lock": "face"}).status_code == 403
    out = client.post("/registre/logout", data={"csrf_token": csrf_from(me.text)},
                      follow_redirects=False)
    assert out.status_code == 303
    gone = client.get("/registre/moi", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/registre")


def test_pages_same_answer_for_unknown_number(app: FastAPI, client: TestClient,
                                              settings: Settings, sms: SmsStub) -> None:
    make_person(app.state.session_factory, settings, NIN)
    page = client.get("/registre")
    token = csrf_from(page.text)
    known = client.post("/registre", data={"nin": NIN, "csrf_token": token})
    unknown = client.post("/registre", data={"nin": "ML0000000077", "csrf_token": token})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(NIN, "X") == unknown.text.replace("ML0000000077", "X")
    assert len(sms.messages) == 1
    wrong = client.post("/registre/code", data={"nin": "ML0000000077", "code": "123456",
                                                "csrf_token": token})
    assert wrong.status_code == 422


def test_pages_session_expiry(app: FastAPI, client: TestClient, settings: Settings,
                              sms: SmsStub) -> None:
    make_person(app.state.session_factory, settings, NIN)
    _login_citizen(client, sms)
    with app.state.session_factory.begin() as session:
        session.execute(update(CitizenSession).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    gone = client.get("/registre/moi", follow_redirects=False)
    assert gone.status_code == 303 and "expired" in gone.headers["location"]


class _Answered:
    """Wraps the application to tell when the response has been sent in full."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.done = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.done.clear()

        async def watch(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.done.set()

        await self.app(scope, receive, watch)


def test_pages_code_is_texted_after_the_answer(app: FastAPI, settings: Settings,
                                              sms: SmsStub) -> None:
    make_person(app.state.session_factory, settings, NIN)
    answered = _Answered(app)
    seen: list[bool] = []
    sms.on_message = lambda: seen.append(answered.done.is_set())
    with TestClient(answered, base_url="http://testserver") as client:
        token = csrf_from(client.get("/registre").text)
        # When a citizen with a phone asks for a code
        sent = client.post("/registre", data={"nin": NIN, "csrf_token": token})
        # Then the page had answered before the gateway was called (a slow gateway, or a
        # database lock held meanwhile, cannot show in its timing)
        assert sent.status_code == 200
        assert seen == [True]
        # and a failing gateway, called after the answer too, is ledgered
        sms.status = 500
        assert client.post("/registre", data={"nin": NIN, "csrf_token": token}
                           ).status_code == 200
        assert seen == [True, True]
    with app.state.session_factory() as session:
        actions = list(session.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("biometry.citizen.code_%")).order_by(AuditEntry.seq)))
    assert actions == ["biometry.citizen.code_sent", "biometry.citizen.code_failed"]


def test_pages_same_work_for_known_and_unknown_number(app: FastAPI, settings: Settings,
                                                      sms: SmsStub) -> None:
    make_person(app.state.session_factory, settings, NIN)
    answered = _Answered(app)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not answered.done.is_set():
            statements.append(statement)

    engine = app.state.session_factory.kw["bind"]
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with TestClient(answered, base_url="http://testserver") as client:
            token = csrf_from(client.get("/registre").text)
            work = {}
            for nin in ("ML0000000055", NIN, "ML0000000066"):
                statements.clear()
                assert client.post("/registre", data={"nin": nin, "csrf_token": token}
                                   ).status_code == 200
                work[nin] = list(statements)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    # Then until the answer is sent, a person's number and an unknown one cost the same
    # queries (no decryption, no gateway, no ledger entry), and the code still went out
    assert work[NIN] == work["ML0000000066"]
    assert [m["to"] for m in sms.messages] == ["+22370000001"]


def test_pages_complaint_odd_service_id(app: FastAPI, client: TestClient, settings: Settings,
                                        sms: SmsStub) -> None:
    make_person(app.state.session_factory, settings, NIN)
    _login_citizen(client, sms)
    me = client.get("/registre/moi")
    # When the service field holds a digit that is not ASCII ("²")
    filed = client.post("/registre/moi/complaint", data={
        "body": "Accès non autorisé", "service_id": "²", "csrf_token": csrf_from(me.text)})
    # Then the complaint is filed without a service, not a server error
    assert filed.status_code == 200 and "PLT-" in filed.text
    with app.state.session_factory() as session:
        assert session.scalars(select(Complaint)).one().service_id is None


def test_pages_complaints_are_rate_limited(app: FastAPI, client: TestClient,
                                           settings: Settings, sms: SmsStub) -> None:
    make_person(app.state.session_factory, settings, NIN)
    _login_citizen(client, sms)
    token = csrf_from(client.get("/registre/moi").text)
    for i in range(citizen.COMPLAINTS_PER_PERSON):
        assert client.post("/registre/moi/complaint", data={
            "body": f"Plainte {i}", "csrf_token": token}).status_code == 200
    # When one more complaint comes within the hour
    refused = client.post("/registre/moi/complaint", data={"body": "Encore",
                                                          "csrf_token": token})
    # Then it is refused, and not filed
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    with app.state.session_factory() as session:
        assert session.scalar(select(func.count(Complaint.id))) \
            == citizen.COMPLAINTS_PER_PERSON

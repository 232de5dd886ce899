"""Webhooks: a real HTTP receiver on loopback, HMAC signatures, retries with backoff, SSRF
refusals, scope, the secret kept encrypted, API and pages."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.models import User
from lakana.core.config import Settings
from lakana.core.db import as_utc, utcnow
from lakana.core.errors import Conflict, Invalid, NotFound
from lakana.core.jobs import service as jobs
from lakana.core.jobs.worker import load_builtin_tasks, run_worker
from lakana.core.notifications.models import Notification
from lakana.csirt import webhooks
from lakana.csirt.coordination_models import Webhook, WebhookDelivery
from tests.conftest import csrf_from
from tests.csirt.conftest import Institutions, actor_of

LoginAs = Callable[[User], TestClient]


@dataclass
class Receiver:
    """What the loopback receiver got; ``status`` is what it answers."""

    url: str = ""
    status: int = 200
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver(settings: Settings) -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 keeping every POST; plain http to loopback allowed."""
    box = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            box.requests.append((self.path, dict(self.headers.items()), body))
            self.send_response(box.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    box.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    settings.webhook_allow_http = True
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()


def _hook(session_factory: sessionmaker[Session], settings: Settings, user: User, url: str,
          events: list[str] | None = None, institution_id: int | None = None
          ) -> tuple[int, str]:
    with session_factory.begin() as session:
        hook, secret = webhooks.create_webhook(
            session=session, actor=actor_of(user), settings=settings, url=url,
            events=events or ["case.notification"], institution_id=institution_id)
        return hook.id, secret


def _deliveries(session_factory: sessionmaker[Session], hook_id: int) -> list[WebhookDelivery]:
    with session_factory() as session:
        rows = list(session.scalars(select(WebhookDelivery).where(
            WebhookDelivery.webhook_id == hook_id).order_by(WebhookDelivery.id)))
        session.expunge_all()
        return rows


def _run_due(settings: Settings, session_factory: sessionmaker[Session]) -> int:
    """Run every job due a day from now (retries included); returns how many ran."""
    load_builtin_tasks()
    count = 0
    later = utcnow() + dt.timedelta(days=1)
    while jobs.run_next(settings, session_factory, worker_id="t", now=later) is not None:
        count += 1
    return count


def test_signed_event_reaches_a_real_receiver(session_factory: sessionmaker[Session],
                                              settings: Settings, receiver: Receiver,
                                              focal_a: User,
                                              csirt_institutions: Institutions) -> None:
    # Given a webhook of institution a, its secret shown once
    hook_id, secret = _hook(session_factory, settings, focal_a, receiver.url)
    assert secret.startswith("whsec_") and len(secret) > 40
    # When an event is dispatched to institution a and a real worker runs
    with session_factory.begin() as session:
        queued = webhooks.dispatch(session, event="case.notification",
                                   payload={"notice_id": 7, "message": "Bloquez ce domaine.",
                                            "tlp": "green"},
                                   institution_ids=[csirt_institutions.a])
    assert queued == 1 and receiver.requests == []
    stats = run_worker(settings, once=True)
    # Then the receiver got one POST, signed with the secret over timestamp "." body
    assert stats.dead == 0 and len(receiver.requests) == 1
    path, headers, body = receiver.requests[0]
    assert path == "/hook" and headers["Content-Type"] == "application/json"
    assert headers["X-Lakana-Event"] == "case.notification"
    delivery = _deliveries(session_factory, hook_id)[0]
    assert headers["X-Lakana-Delivery"] == str(delivery.id)
    assert webhooks.verify(secret, timestamp=headers["X-Lakana-Timestamp"], body=body,
                           signature=headers["X-Lakana-Signature"])
    assert abs(int(headers["X-Lakana-Timestamp"]) - time.time()) < 60
    document = json.loads(body)
    assert document["event"] == "case.notification" and document["id"] == delivery.id
    assert document["data"] == {"notice_id": 7, "message": "Bloquez ce domaine.",
                                "tlp": "green"}
    # And the delivery is recorded as delivered
    assert delivery.status == "delivered" and delivery.response_status == 200
    assert delivery.attempts == 1 and delivery.delivered_at is not None


def test_signature_verification_refuses_tampering() -> None:
    # Given a body signed now
    body = b'{"event":"test"}'
    stamp = str(int(time.time()))
    signature = webhooks.sign("whsec_secret", stamp, body)
    # Then it verifies, and any change to body, secret, timestamp or signature fails
    assert webhooks.verify("whsec_secret", timestamp=stamp, body=body, signature=signature)
    assert not webhooks.verify("whsec_secret", timestamp=stamp, body=body + b" ",
                               signature=signature)
    assert not webhooks.verify("whsec_other", timestamp=stamp, body=body, signature=signature)
    assert not webhooks.verify("whsec_secret", timestamp=str(int(stamp) + 1), body=body,
                               signature=signature)
    assert not webhooks.verify("whsec_secret", timestamp=stamp, body=body,
                               signature=signature.replace("sha256=", "sha1="))
    # And a replayed (old) timestamp fails even with a right signature
    old = str(int(time.time()) - 3600)
    assert not webhooks.verify("whsec_secret", timestamp=old, body=body,
                               signature=webhooks.sign("whsec_secret", old, body))


def test_failing_receiver_is_retried_with_backoff_then_failed(
        session_factory: sessionmaker[Session], settings: Settings, receiver: Receiver,
        focal_a: User, csirt_institutions: Institutions) -> None:
    # Given a receiver answering 500
    receiver.status = 500
    hook_id, _secret = _hook(session_factory, settings, focal_a, receiver.url)
    with session_factory.begin() as session:
        webhooks.dispatch(session, event="case.notification", payload={"n": 1},
                          institution_ids=[csirt_institutions.a])
    # When the worker runs the first attempt
    load_builtin_tasks()
    delays = []
    for attempt in range(1, webhooks.MAX_ATTEMPTS + 1):
        before = utcnow()
        assert jobs.run_next(settings, session_factory, worker_id="t",
                             now=utcnow() + dt.timedelta(days=1)) is not None
        delivery = _deliveries(session_factory, hook_id)[0]
        assert delivery.attempts == attempt and delivery.response_status == 500
        assert delivery.last_error and "HTTP 500" in delivery.last_error
        if attempt < webhooks.MAX_ATTEMPTS:
            # Then each failure schedules the next attempt, doubling from a minute (±20 %)
            assert delivery.status == "pending" and delivery.next_attempt_at is not None
            delays.append((as_utc(delivery.next_attempt_at) - before).total_seconds())
    # And after the last attempt the delivery has failed and nothing more is due
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    assert len(receiver.requests) == webhooks.MAX_ATTEMPTS
    assert _run_due(settings, session_factory) == 0
    for n, delay in enumerate(delays, start=1):
        expected = min(webhooks.BACKOFF_MAX, webhooks.BACKOFF_BASE * 2 ** (n - 1))
        assert 0.79 * expected <= delay <= 1.21 * expected + 5, (n, delay)
    with session_factory() as session:
        hook = session.get(Webhook, hook_id)
        assert hook is not None and hook.failure_count == 1 and hook.active
        assert hook.last_failure_at is not None and hook.last_success_at is None
    # When the receiver is repaired and the failed delivery is sent again
    receiver.status = 204
    with session_factory.begin() as session:
        webhooks.retry_delivery(session=session, actor=actor_of(focal_a), webhook_id=hook_id,
                                delivery_id=delivery.id)
    assert _run_due(settings, session_factory) == 1
    # Then it is delivered and the failure count is reset
    delivery = _deliveries(session_factory, hook_id)[0]
    assert delivery.status == "delivered" and delivery.response_status == 204
    with session_factory() as session:
        hook = session.get(Webhook, hook_id)
        assert hook is not None and hook.failure_count == 0 and hook.last_success_at


def test_webhook_is_disabled_after_repeated_failed_deliveries(
        session_factory: sessionmaker[Session], settings: Settings, receiver: Receiver,
        focal_a: User, csirt_institutions: Institutions) -> None:
    # Given a webhook whose previous deliveries all failed, and a receiver still down
    receiver.status = 503
    hook_id, _secret = _hook(session_factory, settings, focal_a, receiver.url)
    with session_factory.begin() as session:
        hook = session.get(Webhook, hook_id)
        assert hook is not None
        hook.failure_count = webhooks.DISABLE_AFTER - 1
        webhooks.dispatch(session, event="case.notification", payload={"n": 1},
                          institution_ids=[csirt_institutions.a])
    # When one more delivery fails for good
    _run_due(settings, session_factory)
    # Then the webhook is disabled, its creator warned, and it no longer receives events
    with session_factory() as session:
        hook = session.get(Webhook, hook_id)
        assert hook is not None and not hook.active and hook.disabled_reason
        warned = session.scalars(select(Notification).where(
            Notification.user_id == focal_a.id)).all()
        assert [n.level for n in warned] == ["danger"]
    with session_factory.begin() as session:
        assert webhooks.dispatch(session, event="case.notification", payload={},
                                 institution_ids=[csirt_institutions.a]) == 0
        with pytest.raises(Conflict):
            webhooks.ping(session=session, actor=actor_of(focal_a), webhook_id=hook_id)


def test_dispatch_picks_subscribed_active_webhooks_of_the_institutions(
        session_factory: sessionmaker[Session], settings: Settings, receiver: Receiver,
        focal_a: User, focal_b: User, analyst: User,
        csirt_institutions: Institutions) -> None:
    # Given webhooks of a, of b, a centre-wide one, and one of a for advisories only
    a_hook, _ = _hook(session_factory, settings, focal_a, receiver.url)
    b_hook, _ = _hook(session_factory, settings, focal_b, receiver.url)
    centre, _ = _hook(session_factory, settings, analyst, receiver.url,
                      events=["case.notification", "advisory.published"])
    a_adv, _ = _hook(session_factory, settings, focal_a, receiver.url,
                     events=["advisory.published"])
    with session_factory.begin() as session:
        # When a notification goes to a: a's and the centre's subscribed webhooks
        assert webhooks.dispatch(session, event="case.notification", payload={},
                                 institution_ids=[csirt_institutions.a]) == 2
        # When an advisory goes to everyone: every subscribed webhook
        assert webhooks.dispatch(session, event="advisory.published", payload={}) == 2
        # Then unknown events and never-shared labels are refused
        with pytest.raises(ValueError):
            webhooks.dispatch(session, event="case.deleted", payload={})
        for label in ("red", "TLP:AMBER+STRICT"):
            with pytest.raises(ValueError):
                webhooks.dispatch(session, event="advisory.published", payload={"tlp": label})
        with pytest.raises(ValueError):
            webhooks.dispatch(session, event="advisory.published",
                              payload={"text": "x" * (webhooks.MAX_PAYLOAD + 1)})
    assert {d.event for d in _deliveries(session_factory, a_hook)} == {"case.notification"}
    assert _deliveries(session_factory, b_hook) == []
    assert len(_deliveries(session_factory, centre)) == 2
    assert [d.event for d in _deliveries(session_factory, a_adv)] == ["advisory.published"]


@pytest.mark.parametrize("url", [
    "http://10.0.0.1/hook", "https://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data",
    "https://169.254.169.254/", "https://192.168.1.10/", "https://100.64.0.1/",
    "https://[::ffff:10.0.0.1]/", "https://[fe80::1]/", "https://0.0.0.0/",
    "file:///etc/passwd", "ftp://example.org/", "gopher://example.org/",
    "https://user:secret@8.8.8.8/hook", "https://8.8.8.8/" + "a" * 2001,
    "http://127.0.0.1:9/hook", "https://127.0.0.1/hook", "https://8.8.8.8/a b",
    "https://8.8.8.8:99999/", "https://8.8.8.8/#frag", "javascript:alert(1)",
])
def test_unsafe_urls_are_refused_with_422(url: str, api_as: Callable[[User], TestClient],
                                          focal_a: User, settings: Settings,
                                          session_factory: sessionmaker[Session]) -> None:
    # Given http to loopback is not allowed (the default)
    assert settings.webhook_allow_http is False
    # When a focal point registers a webhook at an unsafe URL
    response = api_as(focal_a).post("/api/v1/csirt/webhooks", json={
        "url": url, "events": ["case.notification"]})
    # Then it is refused with a clear problem naming the field, and nothing is stored
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"] and problem["errors"][0]["field"] in ("url", "body.url")
    with session_factory() as session:
        assert session.scalars(select(Webhook)).all() == []


def test_public_address_and_loopback_rules() -> None:
    # A public address is fine over https; loopback and plain http only when allowed
    assert webhooks.check_url("https://8.8.8.8/hook", allow_http=False)
    assert webhooks.check_url("http://127.0.0.1:8080/x", allow_http=True)
    assert webhooks.check_url("http://localhost:8080/x", allow_http=True)
    with pytest.raises(Invalid):
        webhooks.check_url("http://8.8.8.8/hook", allow_http=True)
    with pytest.raises(Invalid):
        webhooks.check_url("https://10.1.2.3/hook", allow_http=True)
    with pytest.raises(Invalid, match="cannot be resolved"):
        webhooks.check_url("https://does-not-exist.invalid/hook", allow_http=False)


def test_a_url_made_unsafe_later_is_not_called(session_factory: sessionmaker[Session],
                                               settings: Settings, receiver: Receiver,
                                               focal_a: User,
                                               csirt_institutions: Institutions) -> None:
    # Given a loopback webhook registered while loopback was allowed, then forbidden
    hook_id, _ = _hook(session_factory, settings, focal_a, receiver.url)
    settings.webhook_allow_http = False
    with session_factory.begin() as session:
        webhooks.dispatch(session, event="case.notification", payload={},
                          institution_ids=[csirt_institutions.a])
    # When the worker runs, Then nothing is sent and the delivery fails at once
    _run_due(settings, session_factory)
    assert receiver.requests == []
    delivery = _deliveries(session_factory, hook_id)[0]
    assert delivery.status == "failed" and delivery.attempts == 1
    assert delivery.last_error and "private or reserved" in delivery.last_error


def test_secret_is_encrypted_at_rest(session_factory: sessionmaker[Session],
                                     settings: Settings, receiver: Receiver,
                                     focal_a: User) -> None:
    hook_id, secret = _hook(session_factory, settings, focal_a, receiver.url)
    with session_factory() as session:
        hook = session.get(Webhook, hook_id)
        assert hook is not None
        stored = hook.secret_encrypted
    # The stored value does not contain the secret, and decrypts only with the platform key
    assert secret not in stored and secret.removeprefix("whsec_") not in stored
    assert webhooks.unseal(settings, stored) == secret
    other = Settings(home=settings.home, secret_key="another-key", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        webhooks.unseal(other, stored)


def test_focal_points_manage_only_their_institution(
        api_as: Callable[[User], TestClient], focal_a: User, focal_b: User, viewer_a: User,
        analyst: User, receiver: Receiver, csirt_institutions: Institutions,
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    # Given a webhook of a, made through the API (the secret is answered once)
    a_client, b_client = api_as(focal_a), api_as(focal_b)
    created = a_client.post("/api/v1/csirt/webhooks", json={
        "url": receiver.url, "events": ["case.notification"], "description": "SOC"})
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["institution_id"] == csirt_institutions.a and hook["secret"]
    listed = a_client.get("/api/v1/csirt/webhooks").json()
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    # When the focal point of b tries to see or manage it, Then 404 everywhere
    assert b_client.get("/api/v1/csirt/webhooks").json() == []
    base = f"/api/v1/csirt/webhooks/{hook['id']}"
    assert b_client.get(f"{base}/deliveries").status_code == 404
    assert b_client.post(f"{base}/ping").status_code == 404
    assert b_client.post(f"{base}/active", json={"active": False}).status_code == 404
    assert b_client.delete(base).status_code == 404
    # And a focal point cannot register for another institution; a viewer not at all
    assert a_client.post("/api/v1/csirt/webhooks", json={
        "url": receiver.url, "events": ["case.notification"],
        "institution_id": csirt_institutions.b}).status_code == 404
    assert api_as(viewer_a).post("/api/v1/csirt/webhooks", json={
        "url": receiver.url, "events": ["case.notification"]}).status_code == 403
    assert a_client.post("/api/v1/csirt/webhooks", json={
        "url": receiver.url, "events": ["case.deleted"]}).status_code == 422
    # And the centre sees every webhook and may register centre-wide ones
    c_client = api_as(analyst)
    centre = c_client.post("/api/v1/csirt/webhooks", json={
        "url": receiver.url, "events": ["advisory.published"]})
    assert centre.status_code == 201 and centre.json()["institution_id"] is None
    assert {h["id"] for h in c_client.get("/api/v1/csirt/webhooks").json()} == {
        hook["id"], centre.json()["id"]}
    assert a_client.get(f"/api/v1/csirt/webhooks/{centre.json()['id']}/deliveries"
                        ).status_code == 404
    # When the owner pings, the worker delivers, and the log shows it; then deletes it
    assert a_client.post(f"{base}/ping").status_code == 202
    run_worker(settings, once=True)
    log = a_client.get(f"{base}/deliveries").json()
    assert [(d["event"], d["status"], d["response_status"]) for d in log] == [
        ("test", "delivered", 200)]
    assert receiver.requests[0][1]["X-Lakana-Event"] == "test"
    assert a_client.post(f"{base}/active", json={"active": False}).json()["active"] is False
    assert a_client.delete(base).status_code == 204
    with session_factory() as session:
        assert session.get(Webhook, hook["id"]) is None
        assert session.scalars(select(WebhookDelivery)).all() == []


def test_webhook_pages_with_csrf(login_as: LoginAs, focal_a: User, receiver: Receiver,
                                 settings: Settings, session_factory: sessionmaker[Session],
                                 csirt_institutions: Institutions) -> None:
    # Given a focal point on the webhooks page, with the verification help
    client = login_as(focal_a)
    page = client.get("/csirt/webhooks")
    assert page.status_code == 200 and "X-Lakana-Signature" in page.text
    assert "hmac.compare_digest" in page.text
    # When they post the form without the CSRF token, Then it is refused
    refused = client.post("/csirt/webhooks", data={"url": receiver.url,
                                                   "events": "case.notification"})
    assert refused.status_code == 403
    # When they register with a private address, Then the form says why
    bad = client.post("/csirt/webhooks", data={
        "csrf_token": csrf_from(page.text), "url": "https://10.0.0.8/x",
        "events": "case.notification"})
    assert bad.status_code == 422 and "adresse privée ou réservée" in bad.text
    # When they register a good one, Then the secret is shown once
    made = client.post("/csirt/webhooks", data={
        "csrf_token": csrf_from(page.text), "url": receiver.url,
        "events": ["case.notification", "advisory.published"],
        "description": "<b>SOC</b>"})
    assert made.status_code == 201, made.text[:500]
    with session_factory() as session:
        hook = session.scalars(select(Webhook)).one()
        secret = webhooks.unseal(settings, hook.secret_encrypted)
    assert secret in made.text and "&lt;b&gt;SOC&lt;/b&gt;" in made.text
    assert secret not in client.get("/csirt/webhooks").text
    # When they send a test ping, Then the delivery log shows it delivered after a worker run
    pinged = client.post(f"/csirt/webhooks/{hook.id}/ping",
                         data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert pinged.status_code == 303
    run_worker(settings, once=True)
    log = client.get(pinged.headers["location"])
    assert log.status_code == 200 and "Livré" in log.text and "200" in log.text
    assert webhooks.verify(secret, timestamp=receiver.requests[0][1]["X-Lakana-Timestamp"],
                           body=receiver.requests[0][2],
                           signature=receiver.requests[0][1]["X-Lakana-Signature"])
    # When they disable and delete it
    off = client.post(f"/csirt/webhooks/{hook.id}/active",
                      data={"csrf_token": csrf_from(page.text), "active": "0"})
    assert off.status_code == 200 and "Le webhook a été désactivé." in off.text
    gone = client.post(f"/csirt/webhooks/{hook.id}/delete",
                       data={"csrf_token": csrf_from(page.text)})
    assert gone.status_code == 200 and "Le webhook a été supprimé." in gone.text
    assert "Aucun webhook n'est enregistré." in gone.text


def test_failed_delivery_can_be_retried_from_the_page(
        login_as: LoginAs, focal_a: User, receiver: Receiver, settings: Settings,
        session_factory: sessionmaker[Session], csirt_institutions: Institutions) -> None:
    # Given a delivery failed for good (the URL became unsafe)
    hook_id, _ = _hook(session_factory, settings, focal_a, receiver.url)
    settings.webhook_allow_http = False
    with session_factory.begin() as session:
        webhooks.dispatch(session, event="case.notification", payload={},
                          institution_ids=[csirt_institutions.a])
    _run_due(settings, session_factory)
    delivery = _deliveries(session_factory, hook_id)[0]
    assert delivery.status == "failed"
    settings.webhook_allow_http = True
    # When the owner opens the log and asks to send it again
    client = login_as(focal_a)
    page = client.get(f"/csirt/webhooks/{hook_id}/deliveries")
    assert "Échoué" in page.text and f"/deliveries/{delivery.id}/retry" in page.text
    done = client.post(f"/csirt/webhooks/{hook_id}/deliveries/{delivery.id}/retry",
                       data={"csrf_token": csrf_from(page.text)})
    assert done.status_code == 200 and "L'envoi va être renouvelé." in done.text
    _run_due(settings, session_factory)
    # Then it is delivered; a delivered one cannot be retried
    assert _deliveries(session_factory, hook_id)[0].status == "delivered"
    with session_factory.begin() as session, pytest.raises(Conflict):
        webhooks.retry_delivery(session=session, actor=actor_of(focal_a), webhook_id=hook_id,
                                delivery_id=delivery.id)
    with session_factory.begin() as session, pytest.raises(NotFound):
        webhooks.retry_delivery(session=session, actor=actor_of(focal_a), webhook_id=hook_id,
                                delivery_id=delivery.id + 1000)

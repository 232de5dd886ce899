"""Notices to institutions: inbox, e-mail through a real local SMTP server, signed webhooks
to a real receiver, acknowledgement, TLP rules, scope, API and pages."""

from __future__ import annotations

import email
import email.policy
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role, system_actor
from lakana.core.config import Settings
from lakana.core.errors import Forbidden, Invalid, NotFound
from lakana.core.jobs.models import Job
from lakana.core.jobs.worker import run_worker
from lakana.core.notifications.models import Notification
from lakana.csirt import coordination, demo, webhooks
from lakana.csirt.coordination_models import CaseNotice
from lakana.csirt.models import CaseEvent
from lakana.registry import demo as registry_demo
from tests.conftest import Factory, csrf_from
from tests.csirt.conftest import Institutions, actor_of
from tests.csirt.test_webhooks import Receiver, receiver  # noqa: F401  (fixture)

LoginAs = Callable[[User], TestClient]
ApiAs = Callable[[User], TestClient]
MakeCase = Callable[..., int]
MESSAGE = "Bloquez le domaine paie-etat.ml : il sert à une campagne d'hameçonnage."


@dataclass
class Mailbox:
    """What the local SMTP server received."""

    messages: list[email.message.EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Keep the message."""
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        """The messages sent to ``address``."""
        return [m for m in self.messages if address in str(m["To"])]


@pytest.fixture
def smtp(settings: Settings) -> Iterator[Mailbox]:
    """A real SMTP server on loopback; the settings point at it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.smtp_host, settings.smtp_port = "127.0.0.1", port
    settings.smtp_sender, settings.base_url = "csirt@agence.ml", "https://lakana.agence.ml"
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture
def people_b(factory: Factory, csirt_institutions: Institutions) -> dict[str, User]:
    """A second focal point, an inactive focal point and a viewer of institution b."""
    people = {
        "focal2": factory.user(Role.FOCAL_POINT, institution_id=csirt_institutions.b,
                               email="focal.b2@example.ml", language="en"),
        "gone": factory.user(Role.FOCAL_POINT, institution_id=csirt_institutions.b,
                             email="gone.b@example.ml"),
        "viewer": factory.user(Role.INSTITUTION_VIEWER, institution_id=csirt_institutions.b,
                               email="viewer.b@example.ml"),
    }
    with factory.session_factory.begin() as session:
        gone = session.get(User, people["gone"].id)
        assert gone is not None
        gone.is_active = False
    return people


def _webhook(session_factory: sessionmaker[Session], settings: Settings, user: User,
             url: str) -> tuple[int, str]:
    with session_factory.begin() as session:
        hook, secret = webhooks.create_webhook(
            session=session, actor=actor_of(user), settings=settings, url=url,
            events=["case.notification"])
        return hook.id, secret


def test_notice_reaches_focal_points_by_inbox_mail_and_webhook(
        session_factory: sessionmaker[Session], settings: Settings, smtp: Mailbox,
        receiver: Receiver, analyst: User, focal_a: User, focal_b: User,  # noqa: F811
        people_b: dict[str, User], csirt_institutions: Institutions,
        make_case: MakeCase) -> None:
    # Given a case of institution a, and a webhook of institution b on a real receiver
    case_id = make_case(csirt_institutions.a)
    _hook_id, secret = _webhook(session_factory, settings, focal_b, receiver.url)
    # When the analyst notifies institution b (TLP:GREEN)
    with session_factory.begin() as session:
        notices = coordination.notify_institutions(
            session=session, actor=actor_of(analyst), case_id=case_id,
            institution_ids=[csirt_institutions.b], message=MESSAGE, tlp="TLP:GREEN")
        notice_id, reference = notices[0].id, notices[0].case_id
    # Then b's active focal points have it in their inbox (not the viewer nor the inactive)
    with session_factory() as session:
        inbox = session.scalars(select(Notification)).all()
        assert sorted(n.user_id for n in inbox) == sorted([focal_b.id, people_b["focal2"].id])
        assert all(n.link == f"/csirt/notices#notice-{notice_id}" for n in inbox)
        assert reference == case_id
    # When a real worker runs, Then each active focal point gets the e-mail in their language
    stats = run_worker(settings, once=True)
    assert stats.dead == 0 and stats.failed == 0
    assert len(smtp.messages) == 2
    french = smtp.to(focal_b.email)[0]
    english = smtp.to(people_b["focal2"].email)[0]
    assert french["Subject"].startswith("Avis du CSIRT national concernant INC-")
    assert english["Subject"].startswith("Notice from the national CSIRT about INC-")
    body = french.get_content()
    assert MESSAGE in body and "TLP:GREEN" in body
    assert f"https://lakana.agence.ml/csirt/notices#notice-{notice_id}" in body
    # And b's webhook received the signed case.notification event with the message
    assert len(receiver.requests) == 1
    _path, headers, raw = receiver.requests[0]
    assert headers["X-Lakana-Event"] == "case.notification"
    assert webhooks.verify(secret, timestamp=headers["X-Lakana-Timestamp"], body=raw,
                           signature=headers["X-Lakana-Signature"])
    data = json.loads(raw)["data"]
    assert data["notice_id"] == notice_id and data["message"] == MESSAGE
    assert data["tlp"] == "green" and data["case_reference"].startswith("INC-")
    # And the case's timeline and the ledger say so
    with session_factory() as session:
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                         CaseEvent.kind == "notice")).all()
        assert [e.params["institutions"] for e in events] == ["INSTB"]
        actions = session.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("csirt.notice.%"))).all()
        assert actions == ["csirt.notice.send"]


def test_amber_strict_text_stays_on_the_platform(
        session_factory: sessionmaker[Session], settings: Settings, smtp: Mailbox,
        receiver: Receiver, analyst: User, focal_b: User,  # noqa: F811
        csirt_institutions: Institutions, make_case: MakeCase,
        api_as: ApiAs) -> None:
    # Given a webhook of b, When the analyst sends an AMBER+STRICT notice
    _webhook(session_factory, settings, focal_b, receiver.url)
    case_id = make_case(csirt_institutions.a)
    with session_factory.begin() as session:
        coordination.notify_institutions(
            session=session, actor=actor_of(analyst), case_id=case_id,
            institution_ids=[csirt_institutions.b], message=MESSAGE, tlp="amber+strict")
    run_worker(settings, once=True)
    # Then neither the e-mail nor the webhook carries the text (nor the label)
    body = smtp.to(focal_b.email)[0].get_content()
    assert MESSAGE not in body and "TLP:AMBER+STRICT" in body
    data = json.loads(receiver.requests[0][2])["data"]
    assert data["withheld"] is True and data["message"] is None and "tlp" not in data
    # But the focal point reads it on the platform
    notices = api_as(focal_b).get("/api/v1/csirt/notices").json()["items"]
    assert [(n["message"], n["tlp"]) for n in notices] == [(MESSAGE, "amber+strict")]


def test_red_and_bad_notices_are_refused_and_nothing_is_written(
        session_factory: sessionmaker[Session], analyst: User, api_as: ApiAs,
        csirt_institutions: Institutions, make_case: MakeCase) -> None:
    case_id = make_case(csirt_institutions.a)
    client = api_as(analyst)
    url = f"/api/v1/csirt/cases/{case_id}/notices"
    # When the analyst sends a TLP:RED notice, Then it is refused with a clear message
    red = client.post(url, json={"institution_ids": [csirt_institutions.b],
                                 "message": MESSAGE, "tlp": "red"})
    assert red.status_code == 422
    assert "TLP:RED" in red.json()["detail"] and red.json()["errors"][0]["field"] == "tlp"
    # And other bad notices too: no institution, an unknown one, blank or huge text, bad TLP
    for body in ({"institution_ids": [], "message": MESSAGE},
                 {"institution_ids": [999999], "message": MESSAGE},
                 {"institution_ids": [csirt_institutions.b], "message": "   "},
                 {"institution_ids": [csirt_institutions.b], "message": "x" * 10001},
                 {"institution_ids": [csirt_institutions.b], "message": "a\x00b"},
                 {"institution_ids": [csirt_institutions.b], "message": MESSAGE,
                  "tlp": "purple"}):
        assert client.post(url, json=body).status_code == 422, body
    with session_factory() as session:
        assert session.scalars(select(CaseNotice)).all() == []
        assert session.scalars(select(Job)).all() == []
        assert session.scalars(select(CaseEvent).where(CaseEvent.kind == "notice")).all() == []


def test_only_the_centre_notifies(session_factory: sessionmaker[Session], focal_a: User,
                                  viewer_a: User, analyst: User,
                                  csirt_institutions: Institutions,
                                  make_case: MakeCase) -> None:
    a_case, b_case = make_case(csirt_institutions.a), make_case(csirt_institutions.b)
    with session_factory() as session:
        # A focal point may not notify about its own case, nor learn that b's exists
        with pytest.raises(Forbidden):
            coordination.notify_institutions(
                session=session, actor=actor_of(focal_a), case_id=a_case,
                institution_ids=[csirt_institutions.b], message=MESSAGE, tlp="green")
        with pytest.raises(NotFound):
            coordination.notify_institutions(
                session=session, actor=actor_of(focal_a), case_id=b_case,
                institution_ids=[csirt_institutions.a], message=MESSAGE, tlp="green")
        with pytest.raises(Invalid):
            coordination.notify_institutions(
                session=session, actor=actor_of(analyst), case_id=a_case,
                institution_ids=list(range(1, coordination.MAX_INSTITUTIONS + 2)),
                message=MESSAGE, tlp="green")


def test_acknowledgement_flow(session_factory: sessionmaker[Session], analyst: User,
                              focal_a: User, focal_b: User, people_b: dict[str, User],
                              api_as: ApiAs, csirt_institutions: Institutions,
                              make_case: MakeCase) -> None:
    # Given a notice to b about a's case, sent through the API
    case_id = make_case(csirt_institutions.a)
    sent = api_as(analyst).post(f"/api/v1/csirt/cases/{case_id}/notices", json={
        "institution_ids": [csirt_institutions.b, csirt_institutions.b], "message": MESSAGE,
        "tlp": "amber"})
    assert sent.status_code == 201, sent.text
    assert len(sent.json()) == 1
    notice = sent.json()[0]
    b_client = api_as(focal_b)
    # Then b reads the notice (and the case's reference), but not the case itself
    listed = b_client.get("/api/v1/csirt/notices").json()
    assert listed["total"] == 1 and listed["items"][0]["message"] == MESSAGE
    assert listed["items"][0]["case_reference"].startswith("INC-")
    assert b_client.get(f"/api/v1/csirt/cases/{case_id}").status_code == 404
    assert api_as(focal_a).get("/api/v1/csirt/notices").json()["total"] == 0
    # When someone else tries to acknowledge: a's focal point (404), b's viewer and the
    # analyst (403)
    url = f"/api/v1/csirt/notices/{notice['id']}/acknowledge"
    assert api_as(focal_a).post(url).status_code == 404
    assert api_as(people_b["viewer"]).post(url).status_code == 403
    assert api_as(analyst).post(url).status_code == 403
    # When b's focal point acknowledges (twice)
    first = b_client.post(url)
    assert first.status_code == 200 and first.json()["acknowledged_by"]
    again = api_as(people_b["focal2"]).post(url).json()
    # Then the first acknowledgement stays, and the sender is told once
    assert again["acknowledged_at"] == first.json()["acknowledged_at"]
    assert again["acknowledged_by"] == first.json()["acknowledged_by"]
    with session_factory() as session:
        told = session.scalars(select(Notification).where(
            Notification.user_id == analyst.id)).all()
        assert [n.level for n in told] == ["success"]
        assert told[0].link == f"/csirt/cases/{case_id}/notify"
    shown = api_as(analyst).get(f"/api/v1/csirt/cases/{case_id}/notices").json()
    assert shown[0]["acknowledged_at"] is not None
    assert api_as(focal_b).get(f"/api/v1/csirt/cases/{case_id}/notices").status_code == 404


def test_notify_and_notices_pages(login_as: LoginAs, analyst: User, focal_a: User,
                                  focal_b: User, csirt_institutions: Institutions,
                                  make_case: MakeCase,
                                  session_factory: sessionmaker[Session]) -> None:
    case_id = make_case(csirt_institutions.a)
    centre = login_as(analyst)
    # Given the case page offers the analyst (not the focal point) the notify page
    assert f"/csirt/cases/{case_id}/notify" in centre.get(f"/csirt/cases/{case_id}").text
    assert f"/csirt/cases/{case_id}/notify" not in login_as(focal_a).get(
        f"/csirt/cases/{case_id}").text
    form = centre.get(f"/csirt/cases/{case_id}/notify")
    assert form.status_code == 200 and "INSTB" in form.text
    assert 'value="red"' not in form.text
    # When the form is posted without CSRF, Then it is refused
    data = {"institution_ids": [str(csirt_institutions.b)], "tlp": "amber",
            "message": "<script>alert(1)</script>\nDeuxième ligne"}
    assert centre.post(f"/csirt/cases/{case_id}/notify", data=data).status_code == 403
    # When a RED label is forced, Then the form says why
    red = centre.post(f"/csirt/cases/{case_id}/notify",
                      data={**data, "tlp": "red", "csrf_token": csrf_from(form.text)})
    assert red.status_code == 422 and "TLP:RED" in red.text and "Deuxième ligne" in red.text
    # When it is sent
    done = centre.post(f"/csirt/cases/{case_id}/notify",
                       data={**data, "csrf_token": csrf_from(form.text)})
    # Then the page lists it, escaped, awaiting acknowledgement
    assert done.status_code == 200 and "L'avis a été envoyé." in done.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>Deuxième ligne" in done.text
    assert "<script>alert(1)" not in done.text
    assert "En attente d&#39;accusé de réception" in done.text or \
        "En attente d'accusé de réception" in done.text
    # When b's focal point opens their notices and acknowledges
    b_client = login_as(focal_b)
    inbox = b_client.get("/csirt/notices")
    assert inbox.status_code == 200 and "&lt;script&gt;" in inbox.text
    with session_factory() as session:
        notice_id = session.scalars(select(CaseNotice.id)).one()
    assert f"/csirt/notices/{notice_id}/acknowledge" in inbox.text
    acked = b_client.post(f"/csirt/notices/{notice_id}/acknowledge",
                          data={"csrf_token": csrf_from(inbox.text)})
    assert acked.status_code == 200 and "La réception de l'avis est confirmée." in acked.text
    assert f"/csirt/notices/{notice_id}/acknowledge" not in acked.text
    # Then the analyst sees who acknowledged; a's focal point sees no notice of b
    assert focal_b.email in centre.get(f"/csirt/cases/{case_id}/notify").text
    assert "&lt;script&gt;" not in login_as(focal_a).get("/csirt/notices").text


def test_demo_notice(session_factory: sessionmaker[Session]) -> None:
    # Given the registry's and the CSIRT's demo data
    actor = system_actor("tests")
    with session_factory.begin() as session:
        registry_demo.load_demo(session=session, actor=actor)
        demo.load_demo(session=session, actor=actor)
        # When the demo notice is loaded twice, Then one notice exists
        assert coordination.load_demo(session=session, actor=actor) == {"notices": 1}
    with session_factory.begin() as session:
        assert coordination.load_demo(session=session, actor=actor) == {"notices": 0}
    with session_factory() as session:
        assert len(session.scalars(select(CaseNotice)).all()) == 1

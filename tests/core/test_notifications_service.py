"""Notifications: inbox rows, e-mail through a real local SMTP server and a real worker run."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core import i18n
from lakana.core.auth.rbac import Role, system_actor
from lakana.core.config import Settings
from lakana.core.errors import Invalid, NotFound
from lakana.core.jobs import service as jobs
from lakana.core.jobs.models import Job, JobStatus
from lakana.core.jobs.worker import run_worker
from lakana.core.notifications import mail, service
from lakana.core.notifications.models import Notification
from tests.conftest import Factory


@dataclass
class Mailbox:
    """What the local SMTP server received; ``refuse`` makes it answer with that reply."""

    messages: list[email.message.EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    refuse: str | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Keep the message (or refuse it)."""
        if self.refuse:
            return self.refuse
        self.recipients.append(list(envelope.rcpt_tos))
        self.messages.append(email.message_from_bytes(
            envelope.content, policy=email.policy.default))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp(settings: Settings) -> Iterator[Mailbox]:
    """A real SMTP server on loopback; the settings point at it."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.smtp_host, settings.smtp_port = "127.0.0.1", controller.port
    settings.smtp_sender = "lakana@agence.ml"
    settings.base_url = "https://lakana.agence.ml"
    try:
        yield mailbox
    finally:
        controller.stop()


def test_notify_fills_inboxes_and_mails_through_a_worker(
        session_factory: sessionmaker[Session], settings: Settings, factory: Factory,
        smtp: Mailbox) -> None:
    # Given a French-speaking and an English-speaking user
    fr_user = factory.user(Role.AGENCY_OFFICER, language="fr")
    en_user = factory.user(Role.CSIRT_ANALYST, language="en")
    # When both are notified, in one transaction, with a link into the site
    with session_factory.begin() as session:
        created = service.notify(session=session, user_ids=[fr_user.id, en_user.id, 99999],
                                 title="You have new notifications.", body="Body of %(case)s",
                                 params={"case": "INC-42"}, link="/incidents/42")
    # Then each (known) user has an inbox row and an e-mail job waits
    assert sorted(n.user_id for n in created) == sorted([fr_user.id, en_user.id])
    with session_factory() as session:
        assert len(session.scalars(select(Job).where(Job.name == "core.send_email")).all()) == 2
    assert smtp.messages == []
    # When a real worker runs
    stats = run_worker(settings, once=True)
    # Then the SMTP server received one message per user, in the user's language
    assert stats.dead == 0 and len(smtp.messages) == 2
    by_rcpt = {tuple(r): m for r, m in zip(smtp.recipients, smtp.messages, strict=True)}
    fr_mail = by_rcpt[(fr_user.email,)]
    en_mail = by_rcpt[(en_user.email,)]
    assert en_mail["Subject"] == "You have new notifications."
    assert fr_mail["Subject"] == "Vous avez de nouvelles notifications."
    assert fr_mail["From"] == "lakana@agence.ml" and fr_mail["Auto-Submitted"]
    body = en_mail.get_content()
    assert "Body of INC-42" in body and "https://lakana.agence.ml/incidents/42" in body


def test_without_smtp_server_mail_is_skipped(session_factory: sessionmaker[Session],
                                             settings: Settings, factory: Factory) -> None:
    # Given no SMTP server configured and a notified user
    user = factory.user()
    with session_factory.begin() as session:
        service.notify(session=session, user_ids=[user.id], title="Hello")
    # When the worker runs the e-mail job
    stats = run_worker(settings, once=True)
    # Then the job succeeds without sending anything (logged), and no e-mail is retried
    assert stats.failed == 0 and stats.dead == 0
    assert mail.send_email(settings, to=["a@b.ml"], subject="s", body="b") is False


def test_email_false_and_inactive_users_get_no_mail(session_factory: sessionmaker[Session],
                                                    factory: Factory) -> None:
    # Given an active and an inactive user
    active, inactive = factory.user(), factory.user()
    with session_factory.begin() as session:
        from lakana.core.auth.models import User

        fresh = session.get(User, inactive.id)
        assert fresh is not None
        fresh.is_active = False
    # When both are notified, once with e-mail and once without
    with session_factory.begin() as session:
        service.notify(session=session, user_ids=[active.id, inactive.id], title="A")
        service.notify(session=session, user_ids=[active.id], title="B", email=False)
    # Then both have inbox rows, and only the active user's first notification is mailed
    with session_factory() as session:
        assert len(session.scalars(select(Notification)).all()) == 3
        jobs_ = session.scalars(select(Job).where(Job.name == "core.send_email")).all()
    assert [j.payload["to"] for j in jobs_] == [[active.email]]


def test_smtp_refusals_retry_or_give_up(session_factory: sessionmaker[Session],
                                        settings: Settings, smtp: Mailbox) -> None:
    # Given an SMTP server that is temporarily unavailable
    smtp.refuse = "451 try again later"
    with session_factory.begin() as session:
        temporary = mail.queue_email(session, to=["a@agence.ml"], subject="s", body="b")
    # When the e-mail job runs, Then it is kept for a retry
    assert jobs.run_next(settings, session_factory, worker_id="w") is JobStatus.FAILED
    # Given a server that refuses the message for good
    smtp.refuse = "554 no thanks"
    with session_factory.begin() as session:
        permanent = mail.queue_email(session, to=["a@agence.ml"], subject="s", body="b")
    # When it runs, Then it is dead at once
    assert jobs.run_next(settings, session_factory, worker_id="w") is JobStatus.DEAD
    with session_factory() as session:
        assert session.get(Job, temporary).status == "failed"  # type: ignore[union-attr]
        assert session.get(Job, permanent).attempts == 1  # type: ignore[union-attr]


def test_bad_payload_is_not_retried(session_factory: sessionmaker[Session],
                                    settings: Settings) -> None:
    # Given an e-mail job without recipients
    with session_factory.begin() as session:
        jobs.enqueue(session, mail.SEND_EMAIL, {"subject": "s"})
    # When it runs, Then it is dead
    assert jobs.run_next(settings, session_factory, worker_id="w") is JobStatus.DEAD


def test_inbox_is_personal(session_factory: sessionmaker[Session], factory: Factory) -> None:
    # Given two users with notifications
    alice, bob = factory.user(), factory.user()
    with session_factory.begin() as session:
        service.notify(session=session, user_ids=[alice.id], title="one", email=False)
        service.notify(session=session, user_ids=[alice.id], title="two", email=False)
        (bobs,) = service.notify(session=session, user_ids=[bob.id], title="bob", email=False)
    from lakana.core.auth.service import actor_for

    as_alice, as_bob = actor_for(alice), actor_for(bob)
    with session_factory.begin() as session:
        # When Alice lists hers, Then she sees only hers, newest first
        rows, total = service.list_notifications(session=session, actor=as_alice)
        assert [r.title for r in rows] == ["two", "one"] and total == 2
        # And she cannot read or mark Bob's (404, as if it did not exist)
        with pytest.raises(NotFound):
            service.mark_read(session=session, actor=as_alice, notification_id=bobs.id)
        # When she marks all hers read
        assert service.mark_all_read(session=session, actor=as_alice) == 2
        # Then her unread count drops to zero, and Bob's is untouched
        assert service.unread_count(session=session, actor=as_alice) == 0
        assert service.unread_count(session=session, actor=as_bob) == 1
        assert service.list_notifications(session=session, actor=as_bob,
                                          unread_only=True)[1] == 1
    # And an actor without a user (the system) has no inbox
    with session_factory() as session, pytest.raises(NotFound):
        service.list_notifications(session=session, actor=system_actor())


def test_notify_checks_its_input(session_factory: sessionmaker[Session]) -> None:
    # Given / When a foreign link or an unknown level / Then the notification is refused
    with session_factory() as session:
        with pytest.raises(Invalid):
            service.notify(session=session, user_ids=[1], title="x", link="https://evil.example")
        with pytest.raises(Invalid):
            service.notify(session=session, user_ids=[1], title="x", link="//evil.example")
        with pytest.raises(Invalid):
            service.notify(session=session, user_ids=[1], title="x", level="shout")


def test_render_text_survives_stray_percent_signs() -> None:
    # Given / When free text with a percent sign and parameters / Then it renders as is
    with i18n.use_language("en"):
        assert service.render_text("100% done", {"x": 1}) == "100% done"
        assert service.render_text("Case %(ref)s", {"ref": "INC-1"}) == "Case INC-1"

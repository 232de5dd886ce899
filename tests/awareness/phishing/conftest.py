"""Phishing fixtures: a real SMTP server on loopback, an exercise ready to send, and
helpers to read the tracking link out of a received message."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from lakana.awareness.phishing import permissions, service
from lakana.awareness.phishing.schemas import ExerciseCreate, TemplateCreate
from lakana.awareness.training import permissions as training_permissions
from lakana.awareness.training import service as training
from lakana.awareness.training.schemas import CourseCreate, CourseKind
from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings
from tests.awareness.phishing.makers import BODY

permissions.register()
training_permissions.register()
ADMIN = system_actor("tests")
TARGETS = ("email;nom;service\n"
           "awa.traore@mef.example.ml;Awa Traoré;Budget\n"
           "moussa.keita@mef.example.ml;Moussa Keïta;Budget\n"
           "fanta.diallo@mef.example.ml;Fanta Diallo;Trésor\n").encode()


@dataclass
class Mailbox:
    """What the local SMTP server received."""

    messages: list[email.message.EmailMessage] = field(default_factory=list)
    refuse_after: int | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Keep the message (or, past ``refuse_after`` messages, refuse it for now)."""
        if self.refuse_after is not None and len(self.messages) >= self.refuse_after:
            return "451 try again later"
        self.messages.append(email.message_from_bytes(  # type: ignore[arg-type]
            envelope.content, policy=email.policy.default))
        return "250 OK"

    def to(self, address: str) -> email.message.EmailMessage:
        """The message sent to ``address``."""
        return next(m for m in self.messages if m["To"] == address)


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
    settings.smtp_sender = "rh@agence.ml"
    settings.base_url = "http://testserver"
    try:
        yield mailbox
    finally:
        controller.stop()


def click_path(message: email.message.EmailMessage) -> str:
    """The tracking link of the plain-text part, as a path."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"http://testserver(/p/c/[\w.=-]+)", body.get_content())
    assert found, body.get_content()
    return found.group(1)


@pytest.fixture
def make_exercise(session_factory: sessionmaker[Session]) -> Callable[..., int]:
    """A draft exercise of an institution with three targets and an e-learning follow-up
    course; returns its id."""

    def _make(institution_id: int, targets: bytes = TARGETS) -> int:
        with session_factory.begin() as session:
            course = training.create_course(session=session, actor=ADMIN, data=CourseCreate(
                kind=CourseKind.ELEARNING, title="Hygiène numérique", duration_hours=2,
                url="https://formation.example.ml/hygiene"))
            template = service.create_template(session=session, actor=ADMIN, data=TemplateCreate(
                name="Compte bloqué", subject="Votre compte sera bloqué", body=BODY,
                sender_name="Service informatique", landing_text="Vérifiez toujours l'adresse."))
            found = service.create_exercise(session=session, actor=ADMIN, data=ExerciseCreate(
                institution_id=institution_id, template_id=template.id, name="Exercice MEF",
                followup_course_id=course.id))
            if targets:
                service.import_targets(session=session, actor=ADMIN, exercise_id=found.id,
                                       data=targets)
            return found.id
    return _make

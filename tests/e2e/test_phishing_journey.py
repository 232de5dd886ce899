"""A phishing exercise seen by its target: the message arrives in a local SMTP mailbox, a
real browser follows its link to the French landing page and submits the harmless form;
the server records the click and the submission, never what was typed."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, select

from lakana.awareness.phishing import sending, service
from lakana.awareness.phishing.models import PhishingEvent
from lakana.awareness.phishing.schemas import ExerciseCreate, TemplateCreate
from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings
from lakana.core.db import make_session_factory
from lakana.registry import service as registry_service
from lakana.registry.schemas import InstitutionCreate
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e

WAIT_MS = 60_000


class _Mailbox:
    """What the local SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Keep the message."""
        self.messages.append(email.message_from_bytes(  # type: ignore[arg-type]
            envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[_Mailbox, int]]:
    """A real SMTP server on a free loopback port."""
    box = _Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def _settings(live_server: LiveServer, smtp_port: int) -> Settings:
    if not live_server.database_url.startswith("sqlite:///"):
        pytest.skip("the server's home (and secret key) is known only with SQLite")
    home = Path(live_server.database_url.removeprefix("sqlite:///")).parent
    return Settings(home=home, database_url=live_server.database_url,  # type: ignore[call-arg]
                    smtp_host="127.0.0.1", smtp_port=smtp_port, base_url=live_server.url,
                    _env_file=None)


def test_a_target_follows_the_link_in_a_real_browser(
        live_server: LiveServer, browser: Any, mailbox: tuple[_Mailbox, int]) -> None:
    # Given a sent exercise of an institution, mailed through the local SMTP server
    box, port = mailbox
    settings = _settings(live_server, port)
    engine = create_engine(live_server.database_url)
    factory = make_session_factory(engine)
    actor = system_actor("e2e")
    with factory.begin() as session:
        institution = registry_service.create_institution(
            session=session, actor=actor, data=InstitutionCreate(
                name="Ministère de l'Hameçonnage E2E", acronym="MHE2E", kind="ministry",
                region="bamako", sector="government", criticality_tier=2))
        template = service.create_template(session=session, actor=actor, data=TemplateCreate(
            name="Colis E2E", subject="Votre colis est en attente",
            body="Bonjour,\n\nSuivez votre colis : {{lien}}\n\nLa Poste"))
        exercise = service.create_exercise(session=session, actor=actor, data=ExerciseCreate(
            institution_id=institution.id, template_id=template.id, name="Colis E2E"))
        service.import_targets(session=session, actor=actor, exercise_id=exercise.id,
                               data=b"email,nom\nawa.e2e@mhe2e.example.ml,Awa Traore\n")
        service.send_exercise(session=session, actor=actor, exercise_id=exercise.id)
        ids = [t.id for t in service.targets_of(session, exercise.id)]
    assert sending.send_batch(settings, factory, exercise.id, ids) == 1
    (message,) = box.messages
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    link = re.search(r"(http://127\.0\.0\.1:\d+/p/c/[\w.=-]+)", plain.get_content())
    assert link, plain.get_content()
    # When the target opens the link in a browser and submits the practice form
    page = browser.new_page(locale="fr-FR")
    try:
        page.goto(link.group(1), timeout=WAIT_MS)
        assert "exercice d'hameçonnage" in page.locator("h1").inner_text()
        page.locator("#f-login").fill("awa")
        page.locator("#f-secret").fill("Secret-Typed-In-E2E")
        page.get_by_role("button", name="Valider").click()
        page.wait_for_selector("text=Formulaire reçu", timeout=WAIT_MS)
    finally:
        page.close()
    # Then the click and the submission are recorded (once), and nothing typed was kept
    with factory() as session:
        kinds = set(session.scalars(select(PhishingEvent.kind).where(
            PhishingEvent.exercise_id == exercise.id)))
    engine.dispose()
    assert kinds == {"sent", "opened", "clicked", "submitted"}
    assert b"Secret-Typed-In-E2E" not in Path(
        live_server.database_url.removeprefix("sqlite:///")).read_bytes()

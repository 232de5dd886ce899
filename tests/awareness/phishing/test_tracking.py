"""The journey of an exercise's messages: sent through a real local SMTP server by a real
worker, links followed, events recorded once per person and kind, forged tokens refused
without a trace, the clicker enrolled in the follow-up course and their completion shown."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from lakana.awareness.phishing import service
from lakana.awareness.phishing.models import PhishingEvent, PhishingTarget
from lakana.awareness.training import service as training
from lakana.awareness.training.schemas import EnrolmentResult, Outcome
from lakana.core.config import Settings
from lakana.core.db import utcnow
from lakana.core.jobs.models import Job
from lakana.core.jobs.worker import run_worker
from tests.awareness.phishing.conftest import ADMIN, Mailbox, click_path
from tests.conftest import Factory, csrf_from


def _events(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with session_factory() as session:
        return dict(session.execute(select(PhishingEvent.kind, func.count()).group_by(
            PhishingEvent.kind)).all())  # type: ignore[arg-type]


def _send(session_factory: sessionmaker[Session], settings: Settings, exercise: int) -> None:
    with session_factory.begin() as session:
        assert service.send_exercise(session=session, actor=ADMIN, exercise_id=exercise) == 1
    stats = run_worker(settings, once=True)
    assert stats.dead == 0


def test_messages_links_events_and_follow_up(
        session_factory: sessionmaker[Session], settings: Settings, factory: Factory,
        client: TestClient, smtp: Mailbox, make_exercise: Callable[..., int]) -> None:
    # Given a draft exercise of the MEF with three targets
    exercise = make_exercise(factory.institution("MEF"))
    # When it is sent and a real worker runs
    _send(session_factory, settings, exercise)
    # Then each target received one French message with their own link and open pixel
    assert len(smtp.messages) == 3
    mail = smtp.to("awa.traore@mef.example.ml")
    assert mail["Subject"] == "Votre compte sera bloqué"
    assert "Service informatique" in mail["From"] and mail["X-Lakana-Exercise"]
    html = mail.get_body(preferencelist=("html",))
    assert html is not None and "/p/o/" in html.get_content()
    path = click_path(mail)
    assert path != click_path(smtp.to("moussa.keita@mef.example.ml"))
    assert _events(session_factory) == {"sent": 3}
    # When Awa opens the message (pixel) and clicks the link twice
    pixel = client.get(path.replace("/p/c/", "/p/o/"))
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
    page = client.get(path)
    again = client.get(path)
    # Then the landing page explains the exercise in French, and each event counts once
    assert page.status_code == 200 and "exercice" in page.text.lower()
    assert again.status_code == 200
    assert _events(session_factory) == {"sent": 3, "opened": 1, "clicked": 1}
    # And she is registered as a trainee and enrolled in the follow-up course
    with session_factory() as session:
        trainee = training.trainees_by_email(session, ["awa.traore@mef.example.ml"])
        assert trainee["awa.traore@mef.example.ml"].full_name == "Awa Traoré"
        enrolments = training.list_enrolments(
            session=session, actor=ADMIN, trainee_id=trainee["awa.traore@mef.example.ml"].id)
        assert len(enrolments) == 1
        assert enrolments[0].session.course.title == "Hygiène numérique"
    # When she submits the harmless form with a password, twice
    for _ in range(2):
        sent = client.post(path.replace("/p/c/", "/p/s/"), data={
            "csrf_token": csrf_from(page.text), "login": "awa", "secret": "MotDePasse123"})
        assert sent.status_code == 200
    # Then only the fact is recorded, never what she typed
    assert _events(session_factory)["submitted"] == 1
    with session_factory() as session:
        dump = " ".join(str(row) for row in session.execute(
            select(PhishingEvent.kind, PhishingEvent.source, PhishingTarget.full_name)
            .join(PhishingTarget)).all())
        assert "MotDePasse123" not in dump
    # When Moussa reports his message through the API (a mail client's button)
    token = click_path(smtp.to("moussa.keita@mef.example.ml")).removeprefix("/p/c/")
    reported = client.post("/api/v1/awareness/phishing/report", json={"token": token})
    assert reported.status_code == 204
    # Then the results count people, with rates of those sent
    with session_factory() as session:
        results = service.results(session=session, actor=ADMIN, exercise_id=exercise)
    assert results.counts == {"sent": 3, "opened": 1, "clicked": 1, "submitted": 1,
                              "reported": 1}
    assert results.rates["clicked"] == 33 and results.rates["reported"] == 33
    assert results.clickers_enrolled == 1 and results.clickers_completed == 0
    # When Awa completes the course, then the exercise shows it
    with session_factory.begin() as session:
        training.record_result(session=session, actor=ADMIN,
                               enrolment_id=enrolments[0].id,
                               data=EnrolmentResult(outcome=Outcome.COMPLETED, score=90,
                                                    version=enrolments[0].version))
    with session_factory() as session:
        results = service.results(session=session, actor=ADMIN, exercise_id=exercise)
    assert results.clickers_completed == 1


def test_forged_tokens_get_a_neutral_404_and_record_nothing(
        session_factory: sessionmaker[Session], settings: Settings, factory: Factory,
        client: TestClient, smtp: Mailbox, make_exercise: Callable[..., int]) -> None:
    # Given a sent exercise and Awa's real link
    exercise = make_exercise(factory.institution("MEF"))
    _send(session_factory, settings, exercise)
    token = click_path(smtp.to("awa.traore@mef.example.ml")).removeprefix("/p/c/")
    ident, signature = token.split(".")
    forged = [f"{ident}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
              f"{int(ident) + 1}.{signature}", ident, "nothing", f"{ident}.{signature}x"]
    before = _events(session_factory)
    # When someone tampers with it, on every tracking route
    for bad in forged:
        for route in ("/p/o/", "/p/c/", "/p/r/"):
            response = client.get(f"{route}{bad}")
            # Then the answer is a neutral 404 that names no exercise
            assert response.status_code == 404, (route, bad)
            assert "Exercice" not in response.text
        assert client.post("/api/v1/awareness/phishing/report",
                           json={"token": bad}).status_code in (404, 422)
    # And nothing was recorded
    assert _events(session_factory) == before


def test_a_closed_exercise_records_nothing(
        session_factory: sessionmaker[Session], settings: Settings, factory: Factory,
        client: TestClient, smtp: Mailbox, make_exercise: Callable[..., int]) -> None:
    # Given an exercise sent, then closed
    exercise = make_exercise(factory.institution("MEF"))
    _send(session_factory, settings, exercise)
    with session_factory.begin() as session:
        service.close_exercise(session=session, actor=ADMIN, exercise_id=exercise)
    # When a late reader clicks
    page = client.get(click_path(smtp.to("fanta.diallo@mef.example.ml")))
    # Then the page still explains the exercise, but nothing is recorded
    assert page.status_code == 200
    assert _events(session_factory) == {"sent": 3}


def test_a_batch_cut_short_is_retried_without_mailing_anyone_twice(
        session_factory: sessionmaker[Session], settings: Settings, factory: Factory,
        smtp: Mailbox, make_exercise: Callable[..., int]) -> None:
    # Given an exercise of three targets and an SMTP server that refuses after one message
    exercise = make_exercise(factory.institution("MEF"))
    smtp.refuse_after = 1
    with session_factory.begin() as session:
        service.send_exercise(session=session, actor=ADMIN, exercise_id=exercise)
    # When the worker runs the batch, then it fails for now, with one message sent
    stats = run_worker(settings, once=True)
    assert stats.failed == 1 and len(smtp.messages) == 1
    assert _events(session_factory) == {"sent": 1}
    # When the server recovers and the job is retried
    smtp.refuse_after = None
    with session_factory.begin() as session:
        session.execute(update(Job).values(run_after=utcnow()))
    stats = run_worker(settings, once=True)
    # Then the two others get their message, and nobody gets two
    assert stats.succeeded == 1
    assert sorted(m["To"] for m in smtp.messages) == [
        "awa.traore@mef.example.ml", "fanta.diallo@mef.example.ml",
        "moussa.keita@mef.example.ml"]
    assert _events(session_factory) == {"sent": 3}

"""Sending an exercise's messages: one ``awareness.phishing.send`` job per batch of targets,
each batch over one SMTP connection. Each message carries the person's own signed links
(click, open pixel, report); a target whose "sent" event exists is skipped, so a retried
batch does not mail people twice.
"""

from __future__ import annotations

import html
import logging
import smtplib

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.awareness.phishing import tracking
from lakana.awareness.phishing.models import PhishingEvent, PhishingExercise, PhishingTarget
from lakana.awareness.phishing.schemas import LINK_PLACEHOLDER, EventKind, ExerciseStatus
from lakana.core.config import Settings
from lakana.core.db import transaction, utcnow
from lakana.core.jobs.service import JobContext, NoRetry, Payload, task
from lakana.core.notifications.mail import build_html_message, open_smtp

log = logging.getLogger("lakana.awareness.phishing")

SEND_TASK = "awareness.phishing.send"
BATCH = 200


def links(settings: Settings, token: str) -> dict[str, str]:
    """The person's tracking addresses on this site."""
    base = settings.base_url.rstrip("/")
    return {"click": f"{base}/p/c/{token}", "open": f"{base}/p/o/{token}",
            "report": f"{base}/p/r/{token}"}


def _html(body: str, found: dict[str, str]) -> str:
    anchor = f'<a href="{html.escape(found["click"])}">{html.escape(found["click"])}</a>'
    text = html.escape(body).replace(html.escape(LINK_PLACEHOLDER), anchor)
    return (f'<html><body><p>{text.replace(chr(10), "<br>")}</p>'
            f'<img src="{html.escape(found["open"])}" width="1" height="1" alt=""></body></html>')


def _pending(session: Session, exercise_id: int, target_ids: list[int]) -> list[PhishingTarget]:
    done = select(PhishingEvent.target_id).where(PhishingEvent.exercise_id == exercise_id,
                                                 PhishingEvent.kind == EventKind.SENT.value)
    return list(session.scalars(select(PhishingTarget).where(
        PhishingTarget.exercise_id == exercise_id, PhishingTarget.id.in_(target_ids),
        PhishingTarget.id.not_in(done)).order_by(PhishingTarget.id)))


def send_batch(settings: Settings, session_factory: sessionmaker[Session], exercise_id: int,
               target_ids: list[int]) -> int:
    """Mail the targets of a batch not mailed yet; returns how many messages were sent."""
    with transaction(session_factory) as session:
        exercise = session.get(PhishingExercise, exercise_id)
        if exercise is None or exercise.status != ExerciseStatus.SENT.value:
            return 0
        template = exercise.template
        subject, body, sender = template.subject, template.body, template.sender_name
        people = [(t.id, t.email) for t in _pending(session, exercise_id, target_ids)]
    if not people:
        return 0
    tokens = tracking.make_tokens(settings, [ident for ident, _ in people])
    sent: list[dict[str, object]] = []
    try:
        with open_smtp(settings) as smtp:
            for ident, email in people:
                found = links(settings, tokens[ident])
                message = build_html_message(
                    settings, to=[email], subject=subject, html=_html(body, found),
                    body=body.replace(LINK_PLACEHOLDER, found["click"]), sender_name=sender,
                    headers={"X-Lakana-Exercise": str(exercise_id),
                             "X-Lakana-Report": found["report"]})
                smtp.send_message(message)
                sent.append({"target_id": ident, "exercise_id": exercise_id,
                             "kind": EventKind.SENT.value, "at": utcnow(),
                             "source": "lakana"})
    finally:
        # One write for the batch, even when the SMTP server fails half-way: a retry then
        # mails only the others (a killed process may mail up to a batch twice).
        if sent:
            with transaction(session_factory) as session:
                session.execute(insert(PhishingEvent), sent)
    return len(sent)


@task(SEND_TASK, max_attempts=5, backoff_base=30.0)
def send_batch_job(ctx: JobContext, payload: Payload) -> None:
    """Job handler: mail one batch of an exercise's targets."""
    exercise_id = payload.get("exercise_id")
    target_ids = payload.get("target_ids")
    if not isinstance(exercise_id, int) or not isinstance(target_ids, list):
        raise NoRetry("payload needs exercise_id and target_ids")
    if not ctx.settings.smtp_host:
        raise NoRetry("no SMTP server configured: phishing messages cannot be sent")
    try:
        count = send_batch(ctx.settings, ctx.session_factory, exercise_id,
                           [int(i) for i in target_ids])
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            raise NoRetry(f"SMTP server refused the message: {exc.smtp_code}") from exc
        raise
    log.info("exercise %s: %s messages sent", exercise_id, count)

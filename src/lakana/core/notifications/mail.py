"""E-mail through the configured SMTP server, sent by the ``core.send_email`` job.

Nothing is sent from a web request: :func:`queue_email` adds a job in the caller's
transaction, and the worker delivers it with retries. Without ``smtp_host`` the message is
logged and dropped, so a laptop without a mail server still works.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from sqlalchemy.orm import Session

from lakana.core.config import Settings
from lakana.core.jobs.service import JobContext, NoRetry, Payload, enqueue, task

log = logging.getLogger("lakana.mail")

SEND_EMAIL = "core.send_email"


def build_message(settings: Settings, *, to: list[str], subject: str, body: str) -> EmailMessage:
    """A plain-text message from the platform's sender address."""
    message = EmailMessage()
    message["From"] = settings.smtp_sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject.replace("\r", " ").replace("\n", " ")
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.smtp_sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def build_html_message(settings: Settings, *, to: list[str], subject: str, body: str,
                       html: str, sender_name: str = "",
                       headers: dict[str, str] | None = None) -> EmailMessage:
    """A message with a plain-text part and an HTML alternative, from the platform's sender
    address (shown under ``sender_name``), with extra ``headers``."""
    message = build_message(settings, to=to, subject=subject, body=body)
    if sender_name:
        message.replace_header("From", formataddr((sender_name, settings.smtp_sender)))
    for name, value in (headers or {}).items():
        message[name] = value.replace("\r", " ").replace("\n", " ")
    message.add_alternative(html, subtype="html")
    return message


@contextmanager
def open_smtp(settings: Settings) -> Iterator[smtplib.SMTP]:
    """A logged-in connection to the configured SMTP server, to send many messages."""
    if not settings.smtp_host:
        raise RuntimeError("no SMTP server configured")
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        yield smtp


def send_email(settings: Settings, *, to: list[str], subject: str, body: str) -> bool:
    """Deliver one message now; ``False`` when no SMTP server is configured."""
    if not settings.smtp_host:
        log.info("no SMTP server configured: e-mail to %s not sent (%s)", to, subject)
        return False
    message = build_message(settings, to=to, subject=subject, body=body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(message)
    return True


def queue_email(session: Session, *, to: list[str], subject: str, body: str,
                link: str | None = None) -> int:
    """Enqueue ``core.send_email`` in the caller's transaction; returns the job's id.

    ``link`` is a path on this site; the job appends it after the configured ``base_url``
    (a worker knows no request host).
    """
    return enqueue(session, SEND_EMAIL, {"to": to, "subject": subject, "body": body,
                                         "link": link})


@task(SEND_EMAIL, max_attempts=5, backoff_base=30.0)
def send_email_job(ctx: JobContext, payload: Payload) -> None:
    """Job handler: send the message; permanent SMTP refusals (5xx) are not retried."""
    to = payload.get("to")
    if not isinstance(to, list) or not to or not all(isinstance(a, str) for a in to):
        raise NoRetry("payload has no recipient list")
    body = str(payload.get("body") or "")
    link = payload.get("link")
    if isinstance(link, str) and link.startswith("/"):
        body = f"{body}\n\n{ctx.settings.base_url.rstrip('/')}{link}".lstrip()
    try:
        send_email(ctx.settings, to=to, subject=str(payload.get("subject", "")), body=body)
    except smtplib.SMTPRecipientsRefused as exc:
        raise NoRetry(f"every recipient was refused: {exc.recipients}") from exc
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            raise NoRetry(f"SMTP server refused the message: {exc.smtp_code}") from exc
        raise

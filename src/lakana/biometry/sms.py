"""Pluggable SMS gateway for the citizens' one-time codes.

Production **must** set ``LAKANA_BIOMETRY_SMS_URL``: the HTTP endpoint of the operator's (or an
aggregator's) gateway, which receives a JSON ``POST {"to": "+223…", "text": "…"}`` and answers
2xx once it has accepted the message. Without it, messages are appended to an outbox file in
the data folder (``sms-outbox.jsonl``), which suits development and the demo only: that file
holds live codes, so it must never exist on a production server.

The text of a message (it carries a one-time code) is never written to a log, nor put in an
error: a failing gateway gives :class:`SmsUnavailable` (HTTP 503) with a generic message.
"""

from __future__ import annotations

import json
import logging
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import httpx

from lakana.core.config import Settings
from lakana.core.db import utcnow
from lakana.core.errors import LakanaError

log = logging.getLogger("lakana.biometry.sms")

#: Seconds the HTTP gateway has to accept a message.
TIMEOUT_SECONDS = 5.0
#: Name of the development outbox in the data folder.
OUTBOX_NAME = "sms-outbox.jsonl"


class SmsUnavailable(LakanaError):
    """The SMS gateway could not take the message (down, slow, refused it)."""

    status: ClassVar[int] = 503
    title: ClassVar[str] = "Service unavailable"
    type_slug: ClassVar[str] = "unavailable"


class SmsGateway(ABC):
    """Something that delivers a text message to a mobile number."""

    @abstractmethod
    def send(self, to: str, text: str) -> None:
        """Deliver ``text`` to ``to`` (E.164) or raise :class:`SmsUnavailable`."""


class HttpSmsGateway(SmsGateway):
    """A gateway reached by a JSON POST ``{"to", "text"}`` with a short timeout."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url
        self.timeout = timeout

    def send(self, to: str, text: str) -> None:
        try:
            response = httpx.post(self.url, json={"to": to, "text": text},
                                  timeout=self.timeout, follow_redirects=False)
        except httpx.HTTPError as exc:
            log.warning("SMS gateway unreachable: %s", type(exc).__name__)
            raise SmsUnavailable("The text message could not be sent. Try again in a few "
                                 "minutes.") from None
        if not 200 <= response.status_code < 300:
            log.warning("SMS gateway refused a message: HTTP %s", response.status_code)
            raise SmsUnavailable("The text message could not be sent. Try again in a few "
                                 "minutes.")


class OutboxSmsGateway(SmsGateway):
    """Development and demo only: append each message as a JSON line to a file."""

    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, to: str, text: str) -> None:
        line = json.dumps({"at": utcnow().isoformat(), "to": to, "text": text},
                          ensure_ascii=False)
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as outbox:
                    outbox.write(line + "\n")
        except OSError as exc:
            log.warning("SMS outbox not writable: %s", type(exc).__name__)
            raise SmsUnavailable("The text message could not be sent. Try again in a few "
                                 "minutes.") from None

    def messages(self) -> list[dict[str, str]]:
        """The messages written so far (for the demo and tests)."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines()
                if line.strip()]


def gateway_from_settings(settings: Settings) -> SmsGateway:
    """The HTTP gateway of ``biometry_sms_url``, or the outbox file when it is unset (an
    error is logged when the site is served over HTTPS, a sign of a real deployment: live
    codes then sit in a plaintext file; it still works, for the demo)."""
    if settings.biometry_sms_url:
        return HttpSmsGateway(settings.biometry_sms_url)
    path = settings.resolved_home / OUTBOX_NAME
    if settings.https:
        log.error("LAKANA_BIOMETRY_SMS_URL is not set on an HTTPS site: citizens' codes are "
                  "written in clear to %s instead of being texted", path)
    return OutboxSmsGateway(path)

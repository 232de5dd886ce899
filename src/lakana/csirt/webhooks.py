"""Signed webhooks: institutions (and the centre) receive events as HTTPS POSTs.

**Contract for other modules**: :func:`dispatch` queues one delivery per active webhook
subscribed to an event, in the caller's transaction. Each delivery is a row and a job
(``csirt.webhook_deliver``) run by a worker.

**What a receiver gets**: a JSON body ``{"id", "event", "created_at", "platform", "data"}``
and the headers ``X-Lakana-Event``, ``X-Lakana-Delivery`` (the delivery id),
``X-Lakana-Timestamp`` (Unix seconds) and ``X-Lakana-Signature: sha256=<hex>``, the
HMAC-SHA256 of ``timestamp + "." + body`` with the webhook's secret (see :func:`verify`).

**Retries**: any answer other than 2xx (redirects are not followed), a timeout (5 s per
step) or a connection error is retried with exponential backoff (1 min doubling, capped at
1 h, ±20 %) up to :data:`MAX_ATTEMPTS` attempts; then the delivery has failed. After
:data:`DISABLE_AFTER` deliveries failed in a row, the webhook is disabled and its creator
warned.

**SSRF**: URLs are ``https`` only, without credentials, at most 2,000 characters; the host
is resolved and every address must be public (no private, link-local, shared, reserved or
multicast range). ``Settings.webhook_allow_http`` allows plain ``http`` and loopback
addresses (tests, a local receiver). The check runs at creation and again before each
attempt, so a name re-pointed to an internal address is refused at send time (a
resolver answering differently between the check and the connection remains possible).

**Secrets at rest** are encrypted with AES-GCM under a key derived (HKDF) from the
platform's secret key: a database dump alone does not reveal them. Changing the platform's
secret key makes existing webhook secrets unreadable (re-create the webhooks).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lakana.core.audit import record
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Actor, ensure_in_scope, restrict, system_actor
from lakana.core.config import Settings
from lakana.core.db import transaction, utcnow
from lakana.core.errors import Conflict, Invalid, NotFound
from lakana.core.i18n import N_, Msg
from lakana.core.jobs.service import JobContext, NoRetry, Payload, backoff_delay, enqueue, task
from lakana.core.notifications.service import notify
from lakana.csirt.coordination_models import Webhook, WebhookDelivery
from lakana.csirt.permissions import CsirtPermission
from lakana.csirt.tlp import shareable
from lakana.registry import service as registry_service

#: Events one may subscribe to, with their labels.
EVENTS: dict[str, str] = {
    "case.notification": N_("An institution is notified about a case"),
    "case.status_changed": N_("A case changes status"),
    "advisory.published": N_("An advisory is published"),
}
#: The ping event: sent on request to one webhook, whatever it subscribes to.
TEST_EVENT = "test"
DELIVER = "csirt.webhook_deliver"
MAX_ATTEMPTS = 8
BACKOFF_BASE = 60.0
BACKOFF_MAX = 3600.0
DISABLE_AFTER = 5
TIMEOUT = 5.0
MAX_URL = 2000
MAX_PAYLOAD = 64 * 1024
MAX_PER_OWNER = 20
#: How old a signed timestamp may be when a receiver checks it (replay window).
TOLERANCE = 300
WEBHOOK = Msg("webhook")
DELIVERY = Msg("webhook delivery")
_ACTOR = system_actor("csirt.webhooks", source="system")


# --- signatures ------------------------------------------------------------------------

def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Lakana-Signature`` value: ``sha256=`` and the hex HMAC of
    ``timestamp + "." + body``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(secret: str, *, timestamp: str, body: bytes, signature: str,
           tolerance: int = TOLERANCE, now: float | None = None) -> bool:
    """Whether ``signature`` signs ``body`` at ``timestamp`` and the timestamp is fresh
    (what a receiver does; the webhook page shows the same steps)."""
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


# --- secrets at rest -------------------------------------------------------------------

def _cipher(settings: Settings) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"lakana csirt webhook secret v1").derive(settings.effective_secret_key())
    return AESGCM(key)


def seal(settings: Settings, secret: str) -> str:
    """Encrypt a webhook secret for storage."""
    nonce = secrets.token_bytes(12)
    sealed = _cipher(settings).encrypt(nonce, secret.encode(), b"csirt_webhook")
    return "v1." + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(settings: Settings, stored: str) -> str:
    """Decrypt a stored webhook secret (``ValueError`` when the key changed)."""
    if not stored.startswith("v1."):
        raise ValueError("unknown webhook secret format")
    raw = base64.urlsafe_b64decode(stored[3:].encode())
    try:
        return _cipher(settings).decrypt(raw[:12], raw[12:], b"csirt_webhook").decode()
    except InvalidTag as exc:
        raise ValueError("the webhook secret cannot be decrypted with this secret key") from exc


# --- URL checks ------------------------------------------------------------------------

class UnsafeUrl(Invalid):
    """A webhook URL that may not be called (scheme, credentials, private address...)."""

    def __init__(self, message: str, /, **params: Any) -> None:
        super().__init__(message, errors=[{"field": "url", "message": message,
                                           "params": params}], **params)


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeUrl("The host %(host)s of the webhook URL cannot be resolved.",
                        host=host[:100]) from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def check_url(url: str, *, allow_http: bool) -> str:
    """``url`` if a webhook may be sent there (see the module's docstring), else
    :class:`Invalid` (422) saying why."""
    text = url.strip()
    if not text or len(text) > MAX_URL:
        raise UnsafeUrl("A webhook URL has 1 to 2000 characters.")
    if not text.isprintable() or any(c.isspace() for c in text) or "\\" in text:
        raise UnsafeUrl("A webhook URL may not contain spaces or control characters.")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeUrl("A webhook URL must start with https://.")
    if "@" in parts.netloc:
        raise UnsafeUrl("A webhook URL may not contain a user name or password.")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise UnsafeUrl("The port of the webhook URL is not valid.") from None
    if not host or parts.fragment:
        raise UnsafeUrl("A webhook URL needs a host name and no fragment (#).")
    found = _addresses(host, port or (443 if scheme == "https" else 80))
    loopback = all(_plain(ip).is_loopback for ip in found)
    for ip in found:
        plain = _plain(ip)
        if plain.is_loopback and allow_http:
            continue
        if not plain.is_global or plain.is_multicast:
            raise UnsafeUrl("The webhook host %(host)s points to a private or reserved address "
                          "(%(address)s): only public addresses are allowed.",
                          host=host[:100], address=str(plain))
    if scheme == "http" and not (allow_http and loopback):
        raise UnsafeUrl("A webhook URL must start with https://.")
    return text


def _plain(ip: ipaddress.IPv4Address | ipaddress.IPv6Address
           ) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    # ``::ffff:10.0.0.1`` is 10.0.0.1: judge the IPv4 address it carries.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


# --- managing webhooks -----------------------------------------------------------------

def _state(hook: Webhook) -> dict[str, Any]:
    return {"url": hook.url, "events": list(hook.events), "active": hook.active,
            "institution_id": hook.institution_id, "description": hook.description}


def _repr(hook: Webhook) -> str:
    # The URL's path may hold a receiver's token: the ledger keeps its host only.
    return f"webhook {hook.id} ({urlsplit(hook.url).hostname or '?'})"


def _events(events: Iterable[str]) -> list[str]:
    chosen = sorted({str(e).strip() for e in events if str(e).strip()})
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown or not chosen:
        raise Invalid("Choose one or more events among %(events)s.",
                      events=", ".join(EVENTS), errors=[{"field": "events",
                                                    "message": N_("Choose one or more events.")}])
    return chosen


def _owner(session: Session, actor: Actor, institution_id: int | None) -> int | None:
    actor.require(CsirtPermission.WEBHOOK_MANAGE)
    if not actor.is_national:
        if institution_id not in (None, actor.institution_id) or actor.institution_id is None:
            raise NotFound("This %(what)s does not exist or is not visible to you.",
                           what=Msg("institution"))
        return actor.institution_id
    if institution_id is not None:
        registry_service.get_institution(session=session, actor=actor,
                                         institution_id=institution_id)
    return institution_id


def create_webhook(*, session: Session, actor: Actor, settings: Settings, url: str,
                   events: Iterable[str], institution_id: int | None = None,
                   description: str = "") -> tuple[Webhook, str]:
    """Register a webhook; returns it and its secret, shown once.

    Focal points register for their own institution; the centre for any institution, or
    centre-wide (``institution_id=None``: every subscribed event).
    """
    owner = _owner(session, actor, institution_id)
    checked = check_url(url, allow_http=settings.webhook_allow_http)
    chosen = _events(events)
    note = description.strip()
    if len(note) > 200:
        raise Invalid("A description has at most 200 characters.",
                      errors=[{"field": "description", "message":
                               N_("A description has at most 200 characters.")}])
    count = session.scalar(select(func.count()).select_from(Webhook).where(
        Webhook.institution_id.is_(None) if owner is None else Webhook.institution_id == owner))
    if int(count or 0) >= MAX_PER_OWNER:
        raise Conflict("At most %(count)s webhooks per institution.", count=MAX_PER_OWNER)
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = Webhook(institution_id=owner, url=checked, description=note,
                   secret_encrypted=seal(settings, secret), events=chosen, active=True,
                   created_by_id=actor.user_id, created_by=actor.name, created_at=utcnow())
    session.add(hook)
    session.flush()
    record(session=session, actor=actor, action="csirt.webhook.create",
           object_type="csirt.webhook", object_id=hook.id, object_repr=_repr(hook),
           after=_state(hook), institution_id=owner)
    return hook, secret


def list_webhooks(*, session: Session, actor: Actor) -> list[Webhook]:
    """The webhooks the actor manages (a focal point: their institution's)."""
    stmt = restrict(select(Webhook), actor=actor, permission=CsirtPermission.WEBHOOK_MANAGE,
                    scope=Webhook.institution_id)
    return list(session.scalars(stmt.order_by(Webhook.id)))


def get_webhook(*, session: Session, actor: Actor, webhook_id: int,
                for_update: bool = False) -> Webhook:
    """One webhook the actor manages (404 for anyone else's, centre-wide ones included)."""
    hook = session.get(Webhook, webhook_id, with_for_update=for_update)
    # A centre-wide webhook (no institution) is out of every institution's scope.
    ensure_in_scope(actor, hook.institution_id if hook else -1,
                    CsirtPermission.WEBHOOK_MANAGE, what=WEBHOOK)
    if hook is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=WEBHOOK)
    return hook


def delete_webhook(*, session: Session, actor: Actor, webhook_id: int) -> None:
    """Delete a webhook and its delivery log."""
    hook = get_webhook(session=session, actor=actor, webhook_id=webhook_id, for_update=True)
    record(session=session, actor=actor, action="csirt.webhook.delete",
           object_type="csirt.webhook", object_id=hook.id, object_repr=_repr(hook),
           before=_state(hook), institution_id=hook.institution_id)
    session.delete(hook)
    session.flush()


def set_active(*, session: Session, actor: Actor, webhook_id: int, active: bool) -> Webhook:
    """Enable or disable a webhook (enabling clears its failure count)."""
    hook = get_webhook(session=session, actor=actor, webhook_id=webhook_id, for_update=True)
    before = _state(hook)
    hook.active = active
    if active:
        hook.failure_count, hook.disabled_reason = 0, ""
    session.flush()
    record(session=session, actor=actor, action="csirt.webhook.update",
           object_type="csirt.webhook", object_id=hook.id, object_repr=_repr(hook),
           before=before, after=_state(hook), institution_id=hook.institution_id)
    return hook


def ping(*, session: Session, actor: Actor, webhook_id: int) -> WebhookDelivery:
    """Queue a ``test`` event to one webhook."""
    hook = get_webhook(session=session, actor=actor, webhook_id=webhook_id)
    if not hook.active:
        raise Conflict("This webhook is disabled: enable it first.")
    delivery = _queue(session, hook, TEST_EVENT, {"message": "ping", "sent_by": actor.name})
    record(session=session, actor=actor, action="csirt.webhook.ping",
           object_type="csirt.webhook", object_id=hook.id, object_repr=_repr(hook),
           institution_id=hook.institution_id, details={"delivery_id": delivery.id})
    return delivery


def list_deliveries(*, session: Session, actor: Actor, webhook_id: int,
                    limit: int = 50) -> list[WebhookDelivery]:
    """The latest deliveries of a webhook, newest first."""
    hook = get_webhook(session=session, actor=actor, webhook_id=webhook_id)
    return list(session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.webhook_id == hook.id).order_by(WebhookDelivery.id.desc())
        .limit(max(1, min(limit, 200)))))


def retry_delivery(*, session: Session, actor: Actor, webhook_id: int,
                   delivery_id: int) -> WebhookDelivery:
    """Send a failed delivery again, with a fresh set of attempts."""
    hook = get_webhook(session=session, actor=actor, webhook_id=webhook_id)
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.webhook_id != hook.id:
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=DELIVERY)
    if delivery.status != "failed":
        raise Conflict("Only a failed delivery can be sent again.")
    if not hook.active:
        raise Conflict("This webhook is disabled: enable it first.")
    delivery.status, delivery.attempts, delivery.last_error = "pending", 0, None
    delivery.next_attempt_at = utcnow()
    enqueue(session, DELIVER, {"delivery_id": delivery.id})
    record(session=session, actor=actor, action="csirt.webhook.retry",
           object_type="csirt.webhook", object_id=hook.id, object_repr=_repr(hook),
           institution_id=hook.institution_id, details={"delivery_id": delivery.id})
    return delivery


# --- dispatch --------------------------------------------------------------------------

def _queue(session: Session, hook: Webhook, event: str, payload: dict[str, Any]
           ) -> WebhookDelivery:
    now = utcnow()
    delivery = WebhookDelivery(webhook_id=hook.id, event=event, payload=payload,
                               status="pending", attempts=0, next_attempt_at=now,
                               created_at=now)
    session.add(delivery)
    session.flush()
    enqueue(session, DELIVER, {"delivery_id": delivery.id})
    return delivery


def dispatch(session: Session, *, event: str, payload: dict[str, Any],
             institution_ids: Iterable[int] | None = None) -> int:
    """Queue ``event`` for every active webhook subscribed to it; returns how many.

    With ``institution_ids``, only the webhooks of those institutions, plus the centre-wide
    ones; with ``None``, every subscribed webhook (a public advisory). Rows and jobs join
    the caller's transaction. A payload labelled TLP:AMBER+STRICT or TLP:RED (``"tlp"``
    key) never leaves the platform: it is refused (``ValueError``), as is an unknown event
    or a payload over 64 KiB.
    """
    if event not in EVENTS and event != TEST_EVENT:
        raise ValueError(f"unknown webhook event {event!r}")
    label = payload.get("tlp")
    if isinstance(label, str) and label and not shareable(label.lower().removeprefix("tlp:")):
        raise ValueError(f"a {label} payload never leaves the platform")
    if len(json.dumps(payload, default=str).encode()) > MAX_PAYLOAD:
        raise ValueError("webhook payload over 64 KiB")
    stmt = select(Webhook).where(Webhook.active.is_(True))
    if institution_ids is not None:
        stmt = stmt.where(or_(Webhook.institution_id.in_(set(institution_ids)),
                              Webhook.institution_id.is_(None)))
    hooks = [h for h in session.scalars(stmt.order_by(Webhook.id)) if event in (h.events or [])]
    body = json.loads(json.dumps(payload, default=str))
    for hook in hooks:
        _queue(session, hook, event, body)
    return len(hooks)


# --- delivery --------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """What one attempt gave: the HTTP status (if any answer) and the problem (if any)."""

    status: int | None
    error: str | None
    permanent: bool = False

    @property
    def ok(self) -> bool:
        """Whether the receiver accepted the event (2xx)."""
        return self.error is None


def body_of(delivery: WebhookDelivery, settings: Settings) -> bytes:
    """The exact bytes POSTed for a delivery (stable across its attempts)."""
    created = delivery.created_at.replace(tzinfo=dt.UTC) if delivery.created_at.tzinfo is None \
        else delivery.created_at
    document = {"id": delivery.id, "event": delivery.event,
                "created_at": created.isoformat().replace("+00:00", "Z"),
                "platform": settings.base_url.rstrip("/"), "data": delivery.payload}
    return json.dumps(document, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode()


def post(url: str, *, secret: str, event: str, delivery_id: int, body: bytes,
         allow_http: bool) -> Outcome:
    """One attempt: check the URL again, then POST the signed body (no redirects)."""
    try:
        check_url(url, allow_http=allow_http)
    except Invalid as exc:
        return Outcome(None, str(exc)[:500], permanent=True)
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "Lakana-Webhooks/1",
               "X-Lakana-Event": event, "X-Lakana-Delivery": str(delivery_id),
               "X-Lakana-Timestamp": timestamp,
               "X-Lakana-Signature": sign(secret, timestamp, body)}
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client, \
                client.stream("POST", url, content=body, headers=headers) as response:
            if 200 <= response.status_code < 300:
                return Outcome(response.status_code, None)
            return Outcome(response.status_code, f"HTTP {response.status_code}: "
                           f"{_snippet(response)}"[:500])
    except Exception as exc:  # whatever broke (even outside httpx), this attempt failed
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])


def _snippet(response: httpx.Response) -> str:
    # Read at most a few hundred bytes: a hostile receiver may answer without end.
    kept = b""
    for chunk in response.iter_bytes():
        kept += chunk
        if len(kept) >= 300:
            break
    return kept[:300].decode("utf-8", "replace")


def _disable(session: Session, hook: Webhook) -> None:
    before = _state(hook)
    hook.active = False
    hook.disabled_reason = f"{hook.failure_count} deliveries failed in a row"
    record(session=session, actor=_ACTOR, action="csirt.webhook.disable",
           object_type="csirt.webhook", object_id=hook.id, object_repr=_repr(hook),
           before=before, after=_state(hook), institution_id=hook.institution_id)
    if hook.created_by_id is not None and session.get(User, hook.created_by_id) is not None:
        notify(session=session, user_ids=[hook.created_by_id],
               title=N_("A webhook was disabled after repeated failures"),
               body=N_("The webhook %(url)s failed %(count)s deliveries in a row and was "
                       "disabled. Check the receiver, then enable it again."),
               params={"url": hook.url[:200], "count": hook.failure_count},
               link="/csirt/webhooks", level="danger")


def _settle(session: Session, delivery: WebhookDelivery, hook: Webhook,
            outcome: Outcome) -> None:
    now = utcnow()
    delivery.attempts += 1
    delivery.response_status = outcome.status
    if outcome.ok:
        delivery.status, delivery.delivered_at = "delivered", now
        delivery.last_error, delivery.next_attempt_at = None, None
        hook.failure_count, hook.last_success_at = 0, now
        return
    delivery.last_error = outcome.error
    hook.last_failure_at = now
    if not outcome.permanent and delivery.attempts < MAX_ATTEMPTS:
        delay = backoff_delay(delivery.attempts, base=BACKOFF_BASE, cap=BACKOFF_MAX)
        delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
        enqueue(session, DELIVER, {"delivery_id": delivery.id},
                run_after=delivery.next_attempt_at)
        return
    delivery.status, delivery.next_attempt_at = "failed", None
    hook.failure_count += 1
    if hook.active and hook.failure_count >= DISABLE_AFTER:
        _disable(session, hook)


def deliver(settings: Settings, session_factory: Any, delivery_id: int) -> str | None:
    """Make one attempt at a pending delivery and record it; returns its new status
    (``None`` when there was nothing to do)."""
    with transaction(session_factory) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status != "pending":
            return None
        hook = session.get(Webhook, delivery.webhook_id)
        if hook is None or not hook.active:
            delivery.status, delivery.next_attempt_at = "failed", None
            delivery.last_error = "the webhook is disabled"
            return delivery.status
        try:
            secret = unseal(settings, hook.secret_encrypted)
        except ValueError as exc:
            delivery.status, delivery.last_error = "failed", str(exc)[:500]
            return delivery.status
        url, event, body = hook.url, delivery.event, body_of(delivery, settings)
    # No transaction is held while waiting for the receiver.
    outcome = post(url, secret=secret, event=event, delivery_id=delivery_id, body=body,
                   allow_http=settings.webhook_allow_http)
    with transaction(session_factory) as session:
        delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
        hook = session.get(Webhook, delivery.webhook_id, with_for_update=True) \
            if delivery is not None else None
        if delivery is None or hook is None or delivery.status != "pending":
            return None
        _settle(session, delivery, hook, outcome)
        return delivery.status


@task(DELIVER, max_attempts=3, backoff_base=30.0)
def deliver_job(ctx: JobContext, payload: Payload) -> None:
    """Job handler: one attempt at a webhook delivery (retries are queued as new jobs)."""
    delivery_id = payload.get("delivery_id")
    if not isinstance(delivery_id, int):
        raise NoRetry("payload has no delivery id")
    deliver(ctx.settings, ctx.session_factory, delivery_id)

"""Relying services: who may ask the registry what, for which lawful purpose.

A relying service (the electoral body, a social security fund…) is registered with its
legal basis, the purposes of :data:`~lakana.biometry.purposes.PURPOSES` it may invoke, its
rate limits and the Ed25519 public key that verifies its requests. Each request carries a
short signed token (a JWT signed EdDSA): ``iss`` the service's code, ``aud``
``lakana-biometry``, ``iat``/``exp`` (at most five minutes apart), a unique ``jti`` (a
replayed one is refused) and the ``purpose`` invoked. The purpose must be one the service
holds *and* must allow the operation; otherwise the request is refused (403), and the
refusal is recorded like any access.

What a service is told is minimal: a verification answers ``match`` and a band (low,
medium, high), never a score or a template; an identification (voter roll deduplication)
answers pseudonyms that are stable for that service only (two roll entries with the same
pseudonym are the same person) and never a person's number; ``attributes`` releases the
purpose's fields only, never an image. Every access is a :class:`ServiceAccess` row (what
the citizen and the authority see) and a ledger entry naming the purpose.

Refusals (purpose, locked modality, unknown number for ``attributes``) are written in
their own short transaction, so they stay recorded although the request fails; so are the
token ids (replay) and the rate counters. When a service's requests in one hour cross its
``alert_per_hour``, one CSIRT case is opened for the national CSIRT (once per service and
hour).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import persons, registry_search
from lakana.biometry.abis.resident import ResidentGallery
from lakana.biometry.engine import FingerSample, MatchingEngine, Probe
from lakana.biometry.models import Person, RelyingService, ServiceAccess
from lakana.biometry.permissions import BiometryPermission as P
from lakana.biometry.protection.blind_index import blind_index
from lakana.biometry.protection.keystore import MasterKeyStore
from lakana.biometry.purposes import PURPOSES
from lakana.core import i18n, ratelimit
from lakana.core.audit.ledger import record
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.db import utcnow
from lakana.core.errors import (
    Conflict,
    Forbidden,
    Invalid,
    LakanaError,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from lakana.core.i18n import N_
from lakana.csirt import service as csirt
from lakana.csirt.schemas import CaseReport

log = logging.getLogger("lakana.biometry.relying")

#: The ``aud`` every service token must name.
AUDIENCE = "lakana-biometry"
#: The longest a token may live (``exp - iat``), seconds.
MAX_LIFETIME = 300
#: Clock skew tolerated between the service and the registry, seconds.
LEEWAY = 30
OPERATIONS = ("verify", "identify", "attributes")
#: Candidates an identification reports at most.
MAX_CANDIDATES = 10
#: Accesses shown on a service's page.
RECENT_ACCESSES = 50
CODE_PATTERN = r"^[a-z0-9][a-z0-9_.-]{1,39}$"
#: Failed token checks one address may make within :data:`FAILED_WINDOW` before it is told
#: to wait (429), whatever it presents.
FAILED_LIMIT = 20
FAILED_WINDOW = dt.timedelta(minutes=10)
#: One answer for an unknown, deactivated or keyless service and for a bad signature, so
#: that outsiders cannot list the services' codes; it never repeats the token's ``iss``.
REFUSED = N_("The service token is refused: the service is unknown, deactivated or has no "
             "registered key, or the signature does not verify with its key.")
TOO_MANY = N_("Too many attempts. Try again in %(seconds)s seconds.")

ALERT_TITLE = N_("Unusual volume of requests from the relying service %(service)s")
ALERT_BODY = N_(
    "The relying service %(service)s (%(name)s) sent %(count)s requests to the biometric "
    "registry within one hour, above its alert threshold of %(threshold)s. Check with the "
    "service whether this volume is expected; its accesses are listed on %(link)s.")

LOCKED = {"finger": N_("The citizen has locked fingerprint authentication: use another means "
                       "of identification."),
          "face": N_("The citizen has locked face authentication: use another means of "
                     "identification.")}


class Locked(LakanaError):
    """The citizen locked this modality for authentication."""

    status = 423
    title = "Locked"
    type_slug = "locked"


# --- shapes -----------------------------------------------------------------------------------

class ServiceIn(BaseModel):
    """A relying service to register."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=2, max_length=40, pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    legal_basis: str = Field(min_length=1, max_length=2000)
    purposes: list[str] = Field(min_length=1, max_length=len(PURPOSES))
    public_key_pem: str | None = Field(default=None, max_length=2000)
    rate_per_minute: int = Field(default=120, ge=1, le=100_000)
    alert_per_hour: int = Field(default=2000, ge=1, le=10_000_000)

    @field_validator("purposes")
    @classmethod
    def _known_purposes(cls, value: list[str]) -> list[str]:
        return _check_purposes(value)


class ServiceUpdate(BaseModel):
    """Changes to a relying service; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    legal_basis: str | None = Field(default=None, min_length=1, max_length=2000)
    purposes: list[str] | None = Field(default=None, min_length=1, max_length=len(PURPOSES))
    public_key_pem: str | None = Field(default=None, max_length=2000)
    rate_per_minute: int | None = Field(default=None, ge=1, le=100_000)
    alert_per_hour: int | None = Field(default=None, ge=1, le=10_000_000)
    active: bool | None = None

    @field_validator("purposes")
    @classmethod
    def _known_purposes(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_purposes(value)


class ServiceOut(BaseModel):
    """A relying service as administrators read it (the public key's fingerprint, not the
    key)."""

    id: int
    code: str
    name: str
    legal_basis: str
    purposes: list[str]
    key_fingerprint: str | None
    rate_per_minute: int
    alert_per_hour: int
    active: bool
    created_at: dt.datetime


class FingerIn(BaseModel):
    """One finger of a request: a base64 image (PNG, JPEG, WSQ) or ISO/IEC 19794-2
    template."""

    model_config = ConfigDict(extra="forbid")

    position: int = Field(ge=1, le=10)
    image_base64: str | None = Field(default=None, max_length=4_000_000)
    ppi: int = Field(default=500, ge=250, le=1000)
    iso_template_base64: str | None = Field(default=None, max_length=100_000)


class VerifyIn(BaseModel):
    """A 1:1 verification: is this person the holder of this number?"""

    model_config = ConfigDict(extra="forbid")

    nin: str = Field(min_length=1, max_length=32)
    modality: Literal["finger", "face"]
    #: The finger position (1-10) for a finger; ignored for a face.
    position: int = Field(default=0, ge=0, le=10)
    image_base64: str | None = Field(default=None, max_length=4_000_000)
    ppi: int = Field(default=500, ge=250, le=1000)
    iso_template_base64: str | None = Field(default=None, max_length=100_000)


class VerifyOut(BaseModel):
    """The verification's answer: a decision and a band, never a score."""

    match: bool
    band: Literal["low", "medium", "high"]


class IdentifyIn(BaseModel):
    """A 1:N search with one to ten fingers."""

    model_config = ConfigDict(extra="forbid")

    fingers: list[FingerIn] = Field(min_length=1, max_length=10)


class IdentifyOut(BaseModel):
    """Whether the fingers belong to persons of the registry, as pseudonyms stable for the
    asking service only."""

    found: bool
    count: int
    pseudonyms: list[str]


class AttributesIn(BaseModel):
    """The person whose attributes the purpose releases."""

    model_config = ConfigDict(extra="forbid")

    nin: str = Field(min_length=1, max_length=32)


class AttributesOut(BaseModel):
    """The attributes the purpose releases, and nothing else."""

    purpose: str
    attributes: dict[str, str]


def _check_purposes(value: list[str]) -> list[str]:
    unknown = [p for p in value if p not in PURPOSES]
    if unknown:
        raise ValueError(f"unknown purpose: {', '.join(sorted(unknown))[:200]}")
    return sorted(set(value))


# --- keys and tokens --------------------------------------------------------------------------

def generate_keypair() -> tuple[bytes, str]:
    """A new Ed25519 key pair for a service: (private key PEM, PKCS#8 unencrypted, to keep
    at the service; public key PEM, to register here)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    return private_pem, public_pem_of(private)


def public_pem_of(private: Ed25519PrivateKey) -> str:
    """The PEM of a private key's public half."""
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from its PEM; :class:`Invalid` otherwise."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise Invalid("The private key is not an unencrypted PEM key.") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise Invalid("The key must be an Ed25519 key.")
    return key


def normalise_public_key(pem: str) -> str:
    """The canonical PEM of an Ed25519 public key; :class:`Invalid` for anything else."""
    try:
        key = serialization.load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError, UnicodeError) as exc:
        raise Invalid("The public key is not a PEM public key.") from exc
    except UnsupportedAlgorithm as exc:  # e.g. an EC key on a curve OpenSSL does not know
        raise Invalid("The key must be an Ed25519 key.") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise Invalid("The key must be an Ed25519 key.")
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_fingerprint(pem: str | None) -> str | None:
    """SHA-256 (hex) of the public key's DER, to compare with what the service holds."""
    if not pem:
        return None
    key = serialization.load_pem_public_key(pem.encode())
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def mint_token(private_pem: bytes, *, code: str, purpose: str, lifetime: int = 120,
               jti: str | None = None, audience: str = AUDIENCE,
               now: int | None = None) -> str:
    """A signed request token as a service makes one (the CLI's ``token``, tests)."""
    issued = int(time.time()) if now is None else now
    claims = {"iss": code, "aud": audience, "iat": issued, "exp": issued + lifetime,
              "jti": jti or secrets.token_urlsafe(18), "purpose": purpose}
    return jwt.encode(claims, load_private_key(private_pem), algorithm="EdDSA")


# --- administration ---------------------------------------------------------------------------

def service_state(service: RelyingService) -> dict[str, Any]:
    """What the ledger digests of a service."""
    return {"code": service.code, "name": service.name, "legal_basis": service.legal_basis,
            "purposes": service.purposes, "key": key_fingerprint(service.public_key_pem),
            "rate_per_minute": service.rate_per_minute,
            "alert_per_hour": service.alert_per_hour, "active": service.active}


def purposes_of(service: RelyingService) -> list[str]:
    """The purpose codes the service holds."""
    return [p for p in service.purposes.split(",") if p]


def to_out(service: RelyingService) -> ServiceOut:
    """The API shape of a service."""
    return ServiceOut(id=service.id, code=service.code, name=service.name,
                      legal_basis=service.legal_basis, purposes=purposes_of(service),
                      key_fingerprint=key_fingerprint(service.public_key_pem),
                      rate_per_minute=service.rate_per_minute,
                      alert_per_hour=service.alert_per_hour, active=service.active,
                      created_at=service.created_at)


def list_services(*, session: Session, actor: Actor) -> list[RelyingService]:
    """Every relying service, active first, by code."""
    actor.require(P.SERVICE_MANAGE)
    return list(session.scalars(select(RelyingService).order_by(
        RelyingService.active.desc(), RelyingService.code)))


def get_service(*, session: Session, actor: Actor, service_id: int) -> RelyingService:
    """One relying service; 404 for anyone who may not manage services (they do not learn
    which services exist)."""
    service = session.get(RelyingService, service_id) if actor.can(P.SERVICE_MANAGE) else None
    if service is None:
        raise NotFound("This relying service does not exist or is not visible to you.")
    return service


def get_by_code(*, session: Session, actor: Actor, code: str) -> RelyingService:
    """The relying service with this code."""
    actor.require(P.SERVICE_MANAGE)
    service = session.scalar(select(RelyingService).where(RelyingService.code == code))
    if service is None:
        raise NotFound("This relying service does not exist or is not visible to you.")
    return service


def create_service(*, session: Session, actor: Actor, data: ServiceIn) -> RelyingService:
    """Register a relying service (409 when its code is taken)."""
    actor.require(P.SERVICE_MANAGE)
    if session.scalar(select(RelyingService.id).where(RelyingService.code == data.code)):
        raise Conflict("A relying service with the code %(code)s already exists.",
                       code=data.code)
    service = RelyingService(
        code=data.code, name=data.name, legal_basis=data.legal_basis,
        purposes=",".join(data.purposes),
        public_key_pem=normalise_public_key(data.public_key_pem) if data.public_key_pem
        else None,
        rate_per_minute=data.rate_per_minute, alert_per_hour=data.alert_per_hour, active=True)
    session.add(service)
    session.flush()
    record(session=session, actor=actor, action="biometry.service.create",
           object_type="biometry.service", object_id=service.id, object_repr=service.code,
           after=service_state(service), details={"purposes": data.purposes})
    return service


def update_service(*, session: Session, actor: Actor, service_id: int,
                   data: ServiceUpdate) -> RelyingService:
    """Change a service's description, purposes, key, limits or state."""
    service = get_service(session=session, actor=actor, service_id=service_id)
    before = service_state(service)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("public_key_pem"):
        service.public_key_pem = normalise_public_key(changes["public_key_pem"])
    for name in ("name", "legal_basis", "rate_per_minute", "alert_per_hour", "active"):
        if changes.get(name) is not None:
            setattr(service, name, changes[name])
    if changes.get("purposes") is not None:
        service.purposes = ",".join(changes["purposes"])
    after = service_state(service)
    if after != before:
        session.flush()
        action = "biometry.service.update"
        if before["active"] and not after["active"]:
            action = "biometry.service.deactivate"
        elif not before["active"] and after["active"]:
            action = "biometry.service.activate"
        record(session=session, actor=actor, action=action, object_type="biometry.service",
               object_id=service.id, object_repr=service.code, before=before, after=after)
    return service


def deactivate_service(*, session: Session, actor: Actor, service_id: int) -> RelyingService:
    """Stop a service's access at once (its tokens are refused from now on)."""
    return update_service(session=session, actor=actor, service_id=service_id,
                          data=ServiceUpdate(active=False))


def recent_accesses(*, session: Session, actor: Actor, service_id: int,
                    limit: int = RECENT_ACCESSES) -> list[ServiceAccess]:
    """The service's latest accesses, newest first."""
    service = get_service(session=session, actor=actor, service_id=service_id)
    return list(session.scalars(select(ServiceAccess).where(
        ServiceAccess.service_id == service.id)
        .order_by(ServiceAccess.at.desc(), ServiceAccess.id.desc()).limit(limit)))


# --- authentication of a service's request ----------------------------------------------------

@dataclass(frozen=True)
class ServiceClient:
    """A relying service whose signed token was accepted for this request."""

    service_id: int
    code: str
    purposes: tuple[str, ...]
    purpose: str
    jti: str
    source_ip: str | None = None
    #: The token's ``iat`` (seconds since the epoch).
    issued_at: int = 0

    @property
    def actor(self) -> Actor:
        """The service as the ledger names it (it holds no permission of the platform)."""
        return Actor(user_id=None, name=f"relying service {self.code}", role=None,
                     source_ip=self.source_ip, via="service")


def _token_error(exc: jwt.InvalidTokenError) -> Unauthenticated:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return Unauthenticated("The service token has expired.")
    if isinstance(exc, jwt.InvalidAudienceError):
        return Unauthenticated("The service token is meant for another audience than "
                               "lakana-biometry.")
    if isinstance(exc, jwt.InvalidSignatureError):
        return Unauthenticated(REFUSED)
    if isinstance(exc, jwt.ImmatureSignatureError):
        return Unauthenticated("The service token is issued in the future: check the "
                               "service's clock.")
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return Unauthenticated("The service token lacks the %(claim)s claim.",
                               claim=str(exc.claim)[:20])
    return Unauthenticated("The service token is not a valid signed token.")


def _claims(token: str, service: RelyingService) -> dict[str, Any]:
    assert service.public_key_pem is not None
    try:
        claims: dict[str, Any] = jwt.decode(
            token, service.public_key_pem, algorithms=["EdDSA"], audience=AUDIENCE,
            issuer=service.code, leeway=LEEWAY,
            options={"require": ["iss", "aud", "iat", "exp", "jti", "purpose"]})
    except jwt.InvalidTokenError as exc:
        raise _token_error(exc) from None
    if not isinstance(claims["iat"], int) or not isinstance(claims["exp"], int):
        raise Unauthenticated("The service token is not a valid signed token.")
    if claims["exp"] - claims["iat"] > MAX_LIFETIME:
        raise Unauthenticated("The service token lives longer than %(seconds)s seconds.",
                              seconds=MAX_LIFETIME)
    jti, purpose = claims["jti"], claims["purpose"]
    if not isinstance(jti, str) or not 8 <= len(jti) <= 80 or not jti.isprintable():
        raise Unauthenticated("The service token's jti must be a unique string of 8 to 80 "
                              "characters.")
    if not isinstance(purpose, str) or len(purpose) > 40:
        raise Unauthenticated("The service token is not a valid signed token.")
    return claims


def _issuer(token: str) -> str:
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise _token_error(exc) from None
    issuer = unverified.get("iss")
    if header.get("alg") != "EdDSA":
        raise Unauthenticated("The service token must be signed with EdDSA (Ed25519).")
    if not isinstance(issuer, str) or not issuer:
        raise Unauthenticated("The service token lacks the %(claim)s claim.", claim="iss")
    return issuer[:40]


def authenticate(*, session_factory: sessionmaker[Session], token: str,
                 source_ip: str | None = None, now: dt.datetime | None = None
                 ) -> ServiceClient:
    """Check a service's signed token, burn its ``jti`` and count it against the service's
    limits (429 past ``rate_per_minute``); 401 for anything wrong with the token or an
    unknown or deactivated service, 429 for an address past :data:`FAILED_LIMIT` failed
    checks.

    Runs in its own short transactions (the counters must outlive a failed request), before
    the request's transaction reads anything.
    """
    moment = now or utcnow()
    _refuse_throttled(session_factory, source_ip, moment)
    try:
        client, limits = _check_token(session_factory, token, source_ip)
        # The window follows the token's own iat, so every replay of a token lands in its
        # first use's counter whenever it comes back.
        issued = dt.datetime.fromtimestamp(client.issued_at, dt.UTC)
        seen = ratelimit.count(session_factory,
                               f"biometry-jti:{client.service_id}:{client.jti}",
                               limit=1, window=dt.timedelta(minutes=1), now=issued)
        if seen.exceeded:
            raise Unauthenticated("This service token was already used: sign a new one (with "
                                  "a new jti) for each request.")
    except Unauthenticated as exc:
        _count_failure(session_factory, source_ip, moment, reason=exc.message)
        raise
    name, per_minute, per_hour = limits
    hourly = ratelimit.count(session_factory, f"biometry-service-hour:{client.service_id}",
                             limit=per_hour, window=dt.timedelta(hours=1), now=moment)
    if hourly.count > per_hour:  # the alert itself is opened once per service and hour
        raise_volume_alert(session_factory=session_factory, client=client, name=name,
                           count=hourly.count, threshold=per_hour, now=moment)
    ratelimit.hit(session_factory, f"biometry-service-minute:{client.service_id}",
                  limit=per_minute, window=dt.timedelta(minutes=1), now=moment)
    return client


def _check_token(session_factory: sessionmaker[Session], token: str, source_ip: str | None
                 ) -> tuple[ServiceClient, tuple[str, int, int]]:
    issuer = _issuer(token)
    with session_factory() as session:
        service = session.scalar(select(RelyingService).where(RelyingService.code == issuer))
        if service is None or not service.active or not service.public_key_pem:
            raise Unauthenticated(REFUSED)
        claims = _claims(token, service)
        client = ServiceClient(service_id=service.id, code=service.code,
                               purposes=tuple(purposes_of(service)),
                               purpose=claims["purpose"], jti=claims["jti"],
                               source_ip=source_ip, issued_at=claims["iat"])
        return client, (service.name, service.rate_per_minute, service.alert_per_hour)


def _window_start(moment: dt.datetime, window: dt.timedelta) -> int:
    epoch = int((moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp())
    return epoch - epoch % int(window.total_seconds())


def _failures_key(source_ip: str | None) -> str:
    return f"biometry-service-failed:{source_ip or 'unknown'}"


def _refuse_throttled(session_factory: sessionmaker[Session], source_ip: str | None,
                      moment: dt.datetime) -> None:
    """429 (checking nothing) for an address already past the failed checks' limit."""
    with session_factory() as session:
        failures = ratelimit.current(session, _failures_key(source_ip), window=FAILED_WINDOW,
                                     now=moment)
    if failures > FAILED_LIMIT:
        elapsed = int(moment.timestamp()) - _window_start(moment, FAILED_WINDOW)
        raise TooManyRequests(TOO_MANY,
                              seconds=max(1, int(FAILED_WINDOW.total_seconds()) - elapsed))


def _count_failure(session_factory: sessionmaker[Session], source_ip: str | None,
                   moment: dt.datetime, *, reason: str) -> None:
    """Count a failed token check against the address (429 past the limit), log it, and
    ledger the address once, when it crosses the limit."""
    address = source_ip or "unknown"
    log.warning("relying service token refused from %r: %s", address, reason)
    failures = ratelimit.count(session_factory, _failures_key(source_ip), limit=FAILED_LIMIT,
                               window=FAILED_WINDOW, now=moment)
    if failures.count == FAILED_LIMIT + 1:
        actor = Actor(user_id=None, name="unauthenticated relying service", role=None,
                      source_ip=source_ip, via="service")
        try:
            with session_factory.begin() as session:
                record(session=session, actor=actor, action="biometry.service.auth_throttled",
                       object_type="biometry.service", object_id=None, object_repr=address,
                       details={"address": address, "failures": failures.count,
                                "window_seconds": int(FAILED_WINDOW.total_seconds())})
        except Exception:  # the refusal stands even if the ledger cannot take the entry
            log.exception("could not ledger the failed service logins from %r", address)
    if failures.exceeded:
        raise TooManyRequests(TOO_MANY, seconds=failures.retry_after) from None


def raise_volume_alert(*, session_factory: sessionmaker[Session], client: ServiceClient,
                       name: str, count: int, threshold: int,
                       now: dt.datetime | None = None) -> str | None:
    """Open a case for the national CSIRT about a service's unusual volume (in its own
    transaction), once per service and hour; returns the case reference (None if one was
    already opened this hour or the case could not be opened). Never raises: the service's
    request goes on whatever happens here, and a failed alert is tried again by the next
    request."""
    params = {"service": client.code, "name": name, "count": count, "threshold": threshold,
              "link": f"/biometry/services/{client.service_id}"}
    with i18n.use_language(i18n.DEFAULT_LANGUAGE):
        title = i18n.gettext(ALERT_TITLE, **params)
        body = i18n.gettext(ALERT_BODY, **params)
    actor = system_actor("lakana biometry")
    # A row keyed by service and hour, written with the case: a unique key, so that two
    # requests crossing the threshold together open one case, and none once it is open.
    key = f"biometry-service-alert:{client.service_id}"
    hour = _window_start(now or utcnow(), dt.timedelta(hours=1))
    try:
        with session_factory.begin() as session:
            if session.get(ratelimit.RateCounter, (key, hour)) is not None:
                return None
            session.add(ratelimit.RateCounter(key=key, window_start=hour, count=1))
            session.flush()
            case = csirt.report_case(
                session=session, actor=actor, source="detection",
                data=CaseReport(title=title[:200], description=body,
                                taxonomy_class="other", taxonomy_type="undetermined",
                                personal_data=True, biometric_data=True))
            record(session=session, actor=actor, action="biometry.service.volume_alert",
                   object_type="biometry.service", object_id=client.service_id,
                   object_repr=client.code,
                   details={"count": count, "threshold": threshold, "case": case.reference})
            return case.reference
    except IntegrityError:  # a concurrent request opened this hour's case
        return None
    except Exception:
        log.exception("could not open the CSIRT case for relying service %s", client.code)
        return None


# --- accesses ---------------------------------------------------------------------------------

def _access(session: Session, client: ServiceClient, *, operation: str, outcome: str,
            person_id: int | None, band: str = "", reason: str = "",
            details: dict[str, Any] | None = None) -> None:
    session.add(ServiceAccess(service_id=client.service_id, person_id=person_id,
                              operation=operation, purpose=client.purpose[:40],
                              outcome=outcome, score_band=band, reason=reason,
                              request_id=client.jti, at=utcnow()))
    extra = {"service": client.code, "purpose": client.purpose, "outcome": outcome,
             "request_id": client.jti, **(details or {})}
    if band:
        extra["band"] = band
    if reason:
        extra["reason"] = reason
    record(session=session, actor=client.actor, action=f"biometry.access.{operation}",
           object_type="biometry.person" if person_id is not None else "biometry.service",
           object_id=person_id if person_id is not None else client.service_id,
           object_repr=f"person {person_id}" if person_id is not None else client.code,
           details=extra)


def _refuse(session_factory: sessionmaker[Session], client: ServiceClient, *, operation: str,
            reason: str, error: LakanaError, person_id: int | None = None) -> LakanaError:
    """Record the refusal in its own transaction (the request's rolls back) and return the
    error to raise."""
    with session_factory.begin() as session:
        _access(session, client, operation=operation, outcome="refused",
                person_id=person_id, reason=reason)
    return error


def check_purpose(*, session_factory: sessionmaker[Session], client: ServiceClient,
                  operation: str) -> None:
    """403 (recorded) unless the service holds the token's purpose and it allows
    ``operation``."""
    purpose = PURPOSES.get(client.purpose)
    if purpose is None or client.purpose not in client.purposes \
            or operation not in purpose.operations:
        raise _refuse(session_factory, client, operation=operation, reason="purpose",
                      error=Forbidden(
                          "Purpose not held / operation not allowed for this purpose: the "
                          "service %(service)s may not %(operation)s for %(purpose)s.",
                          service=client.code, operation=operation,
                          purpose=client.purpose))


def _decode(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("The image or template sent is not valid base64.") from None


def finger_sample(engine: MatchingEngine, *, position: int, image_base64: str | None,
                  iso_template_base64: str | None, ppi: int = 500) -> FingerSample:
    """A probe finger from an image or a template (exactly one); 422 when unusable."""
    if position < 1:
        raise Invalid("A finger needs its position (1 right thumb … 10 left little finger).")
    if bool(image_base64) == bool(iso_template_base64):
        raise Invalid("Send a finger as an image or as an ISO/IEC 19794-2 template (one of "
                      "them).")
    if image_base64:
        return engine.finger_from_image(_decode(image_base64), position=position,
                                        ppi=ppi)
    assert iso_template_base64 is not None
    return engine.finger_from_template(_decode(iso_template_base64),
                                       position=position)


def _locked(person: Person, modality: str) -> bool:
    return modality in {m.strip() for m in person.locked_modalities.split(",")}


def _matches_faces(engine: MatchingEngine) -> bool:
    # NbisEngine compares faces only with a face encoder; an engine without that attribute
    # is trusted here and judged on the template it extracts.
    return getattr(engine, "face_encoder", True) is not None


def _verify_probe(engine: MatchingEngine, data: VerifyIn) -> Probe:
    """The request's sample as a probe (422 when unusable or not comparable here)."""
    if data.modality == "finger":
        sample = finger_sample(engine, position=data.position, image_base64=data.image_base64,
                               iso_template_base64=data.iso_template_base64, ppi=data.ppi)
        return Probe(fingers={data.position: sample.iso_template})
    # Refuse before decoding: face detection is costly and useless without a face matcher.
    if not _matches_faces(engine):
        raise Invalid("Face verification needs a face matcher (not available in this "
                      "engine).")
    if not data.image_base64:
        raise Invalid("Send the face as an image.")
    face = engine.face_from_image(_decode(data.image_base64))
    if not face.template:
        raise Invalid("Face verification needs a face matcher (not available in this "
                      "engine).")
    return Probe(face=face.template)


def verify(*, session: Session, session_factory: sessionmaker[Session], store: MasterKeyStore,
           engine: MatchingEngine, client: ServiceClient, data: VerifyIn) -> VerifyOut:
    """1:1: does the sample match the holder of ``nin``? A band, never a score.

    An unknown number, or a person who is not active (pending, deceased, deleted), answers
    ``match: false`` like a different finger, after the same comparison work: neither the
    answer nor its time tells whether the number exists. A modality an active citizen
    locked is refused (423, recorded); the lock of a person who is not active is not
    revealed.
    """
    check_purpose(session_factory=session_factory, client=client, operation="verify")
    probe = _verify_probe(engine, data)
    person = persons.find_by_nin(session=session, store=store, nin=data.nin)
    if person is None or person.status != "active":
        # Compare the probe with itself, so the answer takes as long as for a holder.
        engine.compare(probe, probe)
        _access(session, client, operation="verify", outcome="no_match", band="low",
                person_id=person.id if person is not None else None,
                reason="unknown number" if person is None else f"status {person.status}")
        return VerifyOut(match=False, band="low")
    if _locked(person, data.modality):
        raise _refuse(session_factory, client, operation="verify", person_id=person.id,
                      reason=f"locked:{data.modality}",
                      error=Locked(LOCKED[data.modality]))
    reference = persons.probe_of(session=session, store=store, person_id=person.id)
    result = engine.compare(probe, reference)
    matched = result.score >= engine.match_threshold
    band = engine.band(result.score)
    if not result.scores:
        reason = "no reference sample for this finger" if data.modality == "finger" \
            else "no reference face"
    else:
        reason = ""
    _access(session, client, operation="verify", outcome="match" if matched else "no_match",
            band=band, person_id=person.id, reason=reason,
            details={"modality": data.modality, "position": data.position})
    return VerifyOut.model_validate({"match": matched, "band": band})


def pseudonym(store: MasterKeyStore, client: ServiceClient, person_id: int) -> str:
    """The person's identifier for this service only: stable across its requests,
    unlinkable to other services' and to the registry's numbers."""
    return blind_index(store, f"relying-service:{client.code}", str(person_id))[:32]


def identify(*, session: Session, session_factory: sessionmaker[Session],
             store: MasterKeyStore, engine: MatchingEngine, client: ServiceClient,
             data: IdentifyIn, gallery: ResidentGallery | None = None) -> IdentifyOut:
    """1:N over active persons (through the resident ``gallery`` when one is given): whether
    the fingers are known, as service pseudonyms.

    The answer is what voter roll deduplication needs and no more: two roll entries that
    come back with the same pseudonym are one person; no number, name or score is given.
    """
    check_purpose(session_factory=session_factory, client=client, operation="identify")
    positions = [f.position for f in data.fingers]
    if len(set(positions)) != len(positions):
        raise Invalid("Send each finger position once.")
    fingers = {f.position: finger_sample(engine, position=f.position,
                                         image_base64=f.image_base64,
                                         iso_template_base64=f.iso_template_base64,
                                         ppi=f.ppi).iso_template for f in data.fingers}
    candidates = registry_search.identify(session=session, store=store, engine=engine,
                                          probe=Probe(fingers=fingers), gallery=gallery,
                                          max_results=MAX_CANDIDATES)
    if not candidates:
        _access(session, client, operation="identify", outcome="no_match", person_id=None,
                details={"fingers": sorted(fingers)})
    for candidate in candidates:
        _access(session, client, operation="identify", outcome="candidates",
                person_id=candidate.reference_id, band=engine.band(candidate.score),
                details={"fingers": sorted(fingers), "candidates": len(candidates)})
    return IdentifyOut(found=bool(candidates), count=len(candidates),
                       pseudonyms=[pseudonym(store, client, c.reference_id)
                                   for c in candidates])


def attributes(*, session: Session, session_factory: sessionmaker[Session],
               store: MasterKeyStore, client: ServiceClient,
               data: AttributesIn) -> AttributesOut:
    """The purpose's attributes of an active person (never an image or a template); 404
    (recorded) for an unknown or inactive number."""
    check_purpose(session_factory=session_factory, client=client, operation="attributes")
    purpose = PURPOSES[client.purpose]
    person = persons.find_by_nin(session=session, store=store, nin=data.nin)
    demographics = persons.demographics_of(session=session, store=store, person=person) \
        if person is not None and person.status == "active" else None
    if person is None or demographics is None:
        raise _refuse(session_factory, client, operation="attributes",
                      person_id=person.id if person is not None else None,
                      reason="unknown number" if person is None else "not active",
                      error=NotFound("No active person of the registry has this number."))
    values = demographics.model_dump(mode="json")
    released = {name: str(values[name]) for name in purpose.attributes
                if values.get(name) is not None}
    _access(session, client, operation="attributes", outcome="released", person_id=person.id,
            details={"fields": sorted(released)})
    return AttributesOut(purpose=client.purpose, attributes=released)


# --- demo -------------------------------------------------------------------------------------

DEMO_SERVICES = (
    ("ceni", "Commission électorale nationale indépendante",
     "Loi électorale, article relatif à l'identification des électeurs (démonstration)",
     ["voter_roll_deduplication", "voter_verification"], 600, 20_000),
    ("cnss", "Caisse nationale de sécurité sociale",
     "Code de la prévoyance sociale, paiement des prestations (démonstration)",
     ["social_security_benefit"], 120, 2000),
)


def load_demo(*, session: Session, actor: Actor) -> dict[str, int]:
    """Register the demo's relying services (the electoral commission and the social
    security fund) without keys: their requests are refused until an administrator
    registers a public key (``lakana biometry service keygen``). Loading twice changes
    nothing."""
    created = 0
    for code, name, basis, purposes, per_minute, per_hour in DEMO_SERVICES:
        if session.scalar(select(RelyingService.id).where(RelyingService.code == code)):
            continue
        create_service(session=session, actor=actor, data=ServiceIn(
            code=code, name=name, legal_basis=basis, purposes=purposes,
            rate_per_minute=per_minute, alert_per_hour=per_hour))
        created += 1
    return {"services": created}

"""Citizens' own access to the registry, without an account: a one-time code sent by SMS to
the phone of their record opens a short session in which they see which services looked
them up (and why), lock a modality, and file a complaint with the data protection authority.

Against enumeration, asking for a code answers the same way, and does the same work,
whatever the number: a challenge row is written for every request (for an unknown number, or
one without a phone, its code is random and sent to no one), and looking the person up,
decrypting their phone and calling the SMS gateway happen only after the answer is sent
(:func:`deliver_code`, a background task), so neither the page nor its timing tells whether
the number exists; checking a code behaves identically too. Numbers are normalised (NFKC,
upper case, ASCII letters, digits and dashes) before anything else, so that one number has
one throttle. Requests are throttled per number (by a keyed hash, never in clear) and per
address. A challenge takes at most :data:`MAX_ATTEMPTS` tries (counted atomically in the
database), then it is burnt; past :data:`BRUTE_FORCE_FAILURES` failures for one number in
:data:`BRUTE_FORCE_WINDOW` the brute force is ledgered and the number gets no more codes, nor
code checks, until the window ends (the answers stay the generic ones). Codes and session
secrets are stored only as HMACs under a key derived from the platform's secret key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import persons
from lakana.biometry.models import (
    CitizenChallenge,
    CitizenSession,
    Complaint,
    Person,
    RelyingService,
    ServiceAccess,
)
from lakana.biometry.protection.keystore import MasterKeyStore
from lakana.biometry.purposes import PURPOSES
from lakana.biometry.sms import SmsGateway, SmsUnavailable
from lakana.core import ratelimit
from lakana.core.audit.ledger import record
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Actor, Role
from lakana.core.config import Settings
from lakana.core.db import as_utc, utcnow
from lakana.core.errors import Invalid, NotFound
from lakana.core.i18n import gettext
from lakana.core.notifications.service import notify

log = logging.getLogger("lakana.biometry.citizen")

CODE_TTL = dt.timedelta(minutes=10)
SESSION_TTL = dt.timedelta(minutes=15)
MAX_ATTEMPTS = 5
#: Code requests per number and per address in :data:`REQUEST_WINDOW`.
REQUESTS_PER_NIN = 3
REQUESTS_PER_ADDRESS = 10
REQUEST_WINDOW = dt.timedelta(minutes=15)
#: Code checks per address in :data:`REQUEST_WINDOW`.
CHECKS_PER_ADDRESS = 30
#: Wrong codes for one number in :data:`BRUTE_FORCE_WINDOW` that make a brute force.
BRUTE_FORCE_FAILURES = 10
BRUTE_FORCE_WINDOW = dt.timedelta(days=1)
#: Statuses of persons who may see their record (a deceased person's heirs may still need it).
ELIGIBLE = ("active", "deceased")
MODALITIES = ("face", "finger")
COMPLAINT_MAX = 4000
#: Complaints one person may file in :data:`COMPLAINT_WINDOW` (whatever their sessions).
COMPLAINTS_PER_PERSON = 5
COMPLAINT_WINDOW = dt.timedelta(hours=1)
_NIN_RE = re.compile(r"[A-Z0-9-]{6,32}")


def citizen_actor(source_ip: str | None, name: str = "citizen") -> Actor:
    """The actor under which a citizen's own actions are ledgered (no permission)."""
    return Actor(user_id=None, name=name, role=None, permissions=frozenset(),
                 source_ip=source_ip, via="public")


def _key(settings: Settings) -> bytes:
    return hmac.new(settings.effective_secret_key(), b"lakana.biometry.citizen",
                    hashlib.sha256).digest()


def _digest(settings: Settings, kind: str, value: str) -> str:
    return hmac.new(_key(settings), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def _nin_key(settings: Settings, nin: str) -> str:
    """A throttling key for a number that is not its blind index (kept in rate counters);
    ``nin`` is already cleaned (:func:`_clean_nin`), so that every spelling of one number
    shares its key."""
    return _digest(settings, "nin", nin)[:32]


def _failure_key(index: str) -> str:
    """The rate counter of wrong codes for the number of blind index ``index``."""
    return f"biometry-citizen-fail:{index[:40]}"


def check_request_rate(session_factory: sessionmaker[Session], settings: Settings, nin: str,
                       source_ip: str | None) -> None:
    """Count a code request; :class:`TooManyRequests` over the limits per number/address,
    :class:`Invalid` when ``nin`` is not a well-formed number (counted for the address)."""
    ratelimit.hit(session_factory, f"biometry-citizen-ip:{source_ip or 'unknown'}",
                  limit=REQUESTS_PER_ADDRESS, window=REQUEST_WINDOW)
    ratelimit.hit(session_factory, f"biometry-citizen-nin:{_nin_key(settings, _clean_nin(nin))}",
                  limit=REQUESTS_PER_NIN, window=REQUEST_WINDOW)


def check_verify_rate(session_factory: sessionmaker[Session], source_ip: str | None) -> None:
    """Count a code check of an address; :class:`TooManyRequests` over the limit."""
    ratelimit.hit(session_factory, f"biometry-citizen-check:{source_ip or 'unknown'}",
                  limit=CHECKS_PER_ADDRESS, window=REQUEST_WINDOW)


def _clean_nin(nin: str) -> str:
    # NFKC first (fullwidth "ＭＬ1" is "ML1"), then ASCII only: the blind index folds
    # spellings together, so the throttle key must see one spelling per number.
    value = unicodedata.normalize("NFKC", nin).strip().upper()
    if not _NIN_RE.fullmatch(value):
        raise Invalid("Enter your national identification number (6 to 32 letters, digits "
                      "or dashes).")
    return value


def _blocked(session: Session, index: str) -> bool:
    """Whether the number of blind index ``index`` is past the brute-force limit."""
    return ratelimit.current(session, _failure_key(index),
                             window=BRUTE_FORCE_WINDOW) > BRUTE_FORCE_FAILURES


@dataclass(frozen=True)
class CodeDelivery:
    """A code to text, once the request has answered, by :func:`deliver_code` (kept in
    memory only: the code is never stored in clear)."""

    nin_index: str
    challenge_id: int
    text: str = field(repr=False)
    source_ip: str | None = None


def start_challenge(*, session: Session, store: MasterKeyStore, settings: Settings, nin: str,
                    source_ip: str | None = None) -> CodeDelivery | None:
    """Write a challenge for ``nin`` and return the message to deliver after the answer
    (None when the number is blocked for brute force). The work is the same whatever the
    number: whether it is a person's with a phone is left to :func:`deliver_code`. The
    caller commits."""
    nin = _clean_nin(nin)
    index = persons.nin_index(store, nin)
    now = utcnow()
    session.execute(update(CitizenChallenge).where(
        CitizenChallenge.nin_index == index, CitizenChallenge.used_at.is_(None))
        .values(used_at=now))
    code = f"{secrets.randbelow(1_000_000):06d}"
    challenge = CitizenChallenge(nin_index=index, code_hash=_digest(settings, "code", code),
                                 attempts=0, created_at=now, expires_at=now + CODE_TTL)
    session.add(challenge)
    session.flush()
    text = gettext("Lakana: your code to see your registry record is %(code)s. It expires in "
                   "%(minutes)s minutes. Never give it to anyone.", code=code,
                   minutes=int(CODE_TTL.total_seconds() // 60))
    if _blocked(session, index):
        return None
    return CodeDelivery(nin_index=index, challenge_id=challenge.id, text=text,
                        source_ip=source_ip)


def deliver_code(*, session_factory: sessionmaker[Session], store: MasterKeyStore,
                 gateway: SmsGateway, delivery: CodeDelivery) -> None:
    """Text the code of ``delivery`` when its number is an eligible person's with a phone
    and the challenge is still live; ledger the outcome. Runs after the answer (a background
    task), in its own transactions, with none open during the call to the gateway; it
    raises nothing (nobody is there to see it)."""
    try:
        with session_factory() as session:
            challenge = session.get(CitizenChallenge, delivery.challenge_id)
            if challenge is None or challenge.used_at is not None:
                return  # superseded by a newer request, or burnt
            person = session.scalar(select(Person).where(Person.nin_index == delivery.nin_index))
            if person is None or person.status not in ELIGIBLE:
                return
            person_id = person.id
            demographics = persons.demographics_of(session=session, store=store, person=person)
        if demographics is None or not demographics.phone:
            return
        try:
            gateway.send(demographics.phone, delivery.text)
        except SmsUnavailable:
            # the citizen was answered as for any number; the registry sees its gateway fail
            sent = False
        else:
            sent = True
        with session_factory.begin() as session:
            record(session=session, actor=citizen_actor(delivery.source_ip),
                   action="biometry.citizen.code_sent" if sent
                   else "biometry.citizen.code_failed",
                   object_type="biometry.person", object_id=person_id,
                   object_repr=f"person {person_id}",
                   details={"challenge_id": delivery.challenge_id})
    except Exception:  # a background task: nobody would see it raise; log (never the code)
        log.exception("Could not deliver a citizen code (challenge %s)", delivery.challenge_id)


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of a code check: a session secret when right; otherwise how many tries
    are left (0: the challenge is burnt, ask for a new code)."""

    secret: str | None
    attempts_left: int = 0

    @property
    def ok(self) -> bool:
        """Whether the code was right."""
        return self.secret is not None


def verify_code(*, session: Session, store: MasterKeyStore, settings: Settings, nin: str,
                code: str, session_factory: sessionmaker[Session] | None = None,
                source_ip: str | None = None) -> VerifyResult:
    """Check ``code`` against the latest challenge of ``nin``. Failures are written (the
    caller commits them too): after :data:`MAX_ATTEMPTS` the challenge is burnt. Success
    opens a :class:`CitizenSession` whose secret is returned, for a cookie."""
    try:
        nin = _clean_nin(nin)
    except Invalid:
        return VerifyResult(None, 0)
    index = persons.nin_index(store, nin)
    now = utcnow()
    if _blocked(session, index):
        return VerifyResult(None, 0)
    challenge = session.scalar(
        select(CitizenChallenge).where(CitizenChallenge.nin_index == index,
                                       CitizenChallenge.used_at.is_(None))
        .order_by(CitizenChallenge.id.desc()).limit(1))
    if challenge is None or as_utc(challenge.expires_at) <= now:
        return VerifyResult(None, 0)
    challenge_id = challenge.id
    person = session.scalar(select(Person).where(Person.nin_index == index))
    given = "".join(ch for ch in code if ch.isdigit())[:6]
    right = hmac.compare_digest(challenge.code_hash, _digest(settings, "code", given)) \
        and person is not None and person.status in ELIGIBLE
    failures = None
    if not right and session_factory is not None:
        # counted before this session writes anything (the counter commits on its own)
        failures = ratelimit.count(session_factory, _failure_key(index),
                                   limit=BRUTE_FORCE_FAILURES, window=BRUTE_FORCE_WINDOW)
    # One atomic statement counts the try, so concurrent checks cannot both read n and
    # write n + 1 (a row lock is a no-op on SQLite); a right code uses the challenge in it.
    values: dict[str, object] = {"attempts": CitizenChallenge.attempts + 1}
    if right:
        values["used_at"] = now
    attempts = session.execute(
        update(CitizenChallenge)
        .where(CitizenChallenge.id == challenge_id, CitizenChallenge.used_at.is_(None),
               CitizenChallenge.attempts < MAX_ATTEMPTS)
        .values(values).returning(CitizenChallenge.attempts)
        .execution_options(synchronize_session=False)).scalar_one_or_none()
    if attempts is None:
        return VerifyResult(None, 0)  # burnt or used meanwhile by a concurrent check
    if right and person is not None:
        secret = secrets.token_urlsafe(32)
        session.add(CitizenSession(secret_hash=_digest(settings, "session", secret),
                                   person_id=person.id, expires_at=now + SESSION_TTL))
        record(session=session, actor=citizen_actor(source_ip),
               action="biometry.citizen.session_open", object_type="biometry.person",
               object_id=person.id, object_repr=f"person {person.id}")
        return VerifyResult(secret)
    left = max(0, MAX_ATTEMPTS - attempts)
    if left == 0:
        session.execute(update(CitizenChallenge).where(CitizenChallenge.id == challenge_id)
                        .values(used_at=now).execution_options(synchronize_session=False))
    if failures is not None and failures.count == BRUTE_FORCE_FAILURES + 1:
        _ledger_brute_force(session, challenge, person, source_ip, failures.count)
    return VerifyResult(None, left)


def _ledger_brute_force(session: Session, challenge: CitizenChallenge, person: Person | None,
                        source_ip: str | None, failures: int) -> None:
    log.warning("Possible brute force of citizen codes (challenge %s)", challenge.id)
    if person is not None:
        object_type, object_id, label = "biometry.person", person.id, f"person {person.id}"
    else:
        object_type, object_id = "biometry.citizen_challenge", challenge.id
        label = f"challenge {challenge.id}"
    record(session=session, actor=citizen_actor(source_ip),
           action="biometry.citizen.brute_force", object_type=object_type,
           object_id=object_id, object_repr=label,
           details={"failures": failures, "challenge_id": challenge.id})


def person_of_session(*, session: Session, settings: Settings,
                      secret: str | None) -> Person | None:
    """The person of a live citizen session secret (None when absent, unknown, expired)."""
    if not secret or len(secret) > 100:
        return None
    row = session.scalar(select(CitizenSession).where(
        CitizenSession.secret_hash == _digest(settings, "session", secret)))
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    person = session.get(Person, row.person_id)
    return person if person is not None and person.status in ELIGIBLE else None


def end_session(*, session: Session, settings: Settings, secret: str | None) -> None:
    """Close a citizen session (log out)."""
    if not secret or len(secret) > 100:
        return
    row = session.scalar(select(CitizenSession).where(
        CitizenSession.secret_hash == _digest(settings, "session", secret)))
    if row is not None:
        session.delete(row)


@dataclass(frozen=True)
class AccessView:
    """One access of a service to the person's record, as the citizen sees it."""

    at: dt.datetime
    service: str
    operation: str
    purpose: str
    purpose_label: str
    outcome: str


def access_history(*, session: Session, person_id: int, limit: int = 500) -> list[AccessView]:
    """The services' accesses to the person's record, newest first."""
    rows = session.execute(
        select(ServiceAccess, RelyingService.name)
        .join(RelyingService, RelyingService.id == ServiceAccess.service_id)
        .where(ServiceAccess.person_id == person_id)
        .order_by(ServiceAccess.at.desc(), ServiceAccess.id.desc()).limit(limit)).all()
    found = []
    for access, name in rows:
        purpose = PURPOSES.get(access.purpose)
        found.append(AccessView(at=as_utc(access.at), service=name, operation=access.operation,
                                purpose=access.purpose,
                                purpose_label=purpose.label if purpose else access.purpose,
                                outcome=access.outcome))
    return found


def services_of(*, session: Session, person_id: int) -> list[tuple[int, str]]:
    """The services that accessed the person's record (for the complaint form)."""
    return [(sid, name) for sid, name in session.execute(
        select(RelyingService.id, RelyingService.name)
        .join(ServiceAccess, ServiceAccess.service_id == RelyingService.id)
        .where(ServiceAccess.person_id == person_id).distinct().order_by(RelyingService.name))]


def locked(person: Person) -> set[str]:
    """The modalities the person locked."""
    return {m for m in person.locked_modalities.split(",") if m}


def set_locks(*, session: Session, person: Person, modalities: set[str] | list[str],
              source_ip: str | None = None) -> None:
    """Lock exactly ``modalities`` (the others are unlocked); ledgered."""
    chosen = set(modalities)
    unknown = chosen - set(MODALITIES)
    if unknown:
        raise Invalid("Unknown modality %(modality)s.", modality=sorted(unknown)[0][:20])
    before = person.locked_modalities
    after = ",".join(m for m in MODALITIES if m in chosen)
    if before == after:
        return
    person.locked_modalities = after
    record(session=session, actor=citizen_actor(source_ip), action="biometry.person.locks",
           object_type="biometry.person", object_id=person.id,
           object_repr=f"person {person.id}", before={"locked": before},
           after={"locked": after}, details={"locked": after})


def _reference(complaint: Complaint) -> str:
    return f"PLT-{as_utc(complaint.created_at).year}-{complaint.id:06d}"


def protection_auditors(session: Session) -> list[int]:
    """Ids of the active data protection auditors (who receive complaints)."""
    return list(session.scalars(select(User.id).where(
        User.role == Role.PROTECTION_AUDITOR.value, User.is_active.is_(True))))


def complaint_recipients(session: Session) -> list[int]:
    """Who is told of a new complaint: the active data protection auditors or, when there
    is none, the active registry administrators (a complaint must never go unseen)."""
    auditors = protection_auditors(session)
    if auditors:
        return auditors
    log.warning("No active data protection auditor: complaints go to registry admins")
    return list(session.scalars(select(User.id).where(
        User.role == Role.REGISTRY_ADMIN.value, User.is_active.is_(True))))


def check_complaint_rate(session_factory: sessionmaker[Session], person_id: int) -> None:
    """Count a complaint of the person; :class:`TooManyRequests` past
    :data:`COMPLAINTS_PER_PERSON` in :data:`COMPLAINT_WINDOW`."""
    ratelimit.hit(session_factory, f"biometry-citizen-complaint:{person_id}",
                  limit=COMPLAINTS_PER_PERSON, window=COMPLAINT_WINDOW)


def file_complaint(*, session: Session, person: Person, body: str,
                   service_id: int | None = None, source_ip: str | None = None) -> Complaint:
    """File the person's complaint, notify :func:`complaint_recipients`; ledgered."""
    text = body.strip()
    if not text:
        raise Invalid("Describe your complaint.")
    if len(text) > COMPLAINT_MAX:
        raise Invalid("The complaint is too long (%(max)s characters at most).",
                      max=COMPLAINT_MAX)
    if service_id is not None and session.get(RelyingService, service_id) is None:
        raise NotFound("This service does not exist.")
    complaint = Complaint(reference=f"tmp-{secrets.token_hex(6)}", person_id=person.id,
                          service_id=service_id, body=text, state="open", created_at=utcnow())
    session.add(complaint)
    session.flush()
    complaint.reference = _reference(complaint)
    session.flush()
    notify(session=session, user_ids=complaint_recipients(session),
           title="New complaint %(reference)s about the biometric registry",
           body="A citizen filed a complaint about the use of their data.",
           params={"reference": complaint.reference},
           link=f"/biometry/oversight/complaints/{complaint.id}", level="warning")
    record(session=session, actor=citizen_actor(source_ip), action="biometry.complaint.file",
           object_type="biometry.complaint", object_id=complaint.id,
           object_repr=complaint.reference,
           details={"person_id": person.id, "service_id": service_id})
    return complaint

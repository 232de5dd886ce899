"""Incident reports from the public, without an account, followed with a tracking code.

A person fills a short form (category, title, description, optional contact and one
optional file). The report becomes a case of source ``public`` without an institution, seen
by the centre only (see :mod:`lakana.csirt.access`); the person receives a random tracking
code, shown once and stored only as its SHA-256, with which they later read a public status:
received, being analysed or closed, and the messages the centre chose to address to them
(never internal notes or analysts' names).

Abuse is contained by rate limits per address and overall (:func:`check_report_rate`,
:func:`check_status_rate`, counted in the database so every worker shares them), a size
limit on the file (:data:`ATTACHMENT_MAX_BYTES`, never above the platform's
``max_upload_bytes``) and a type check on its content, not its name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, BinaryIO

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core import i18n, ratelimit
from lakana.core.audit import record
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Actor, Role
from lakana.core.config import Settings
from lakana.core.db import as_utc, utcnow
from lakana.core.errors import Invalid, NotFound
from lakana.core.files import service as files
from lakana.core.i18n import N_
from lakana.core.notifications.service import notify
from lakana.csirt import access, clocks, timeline
from lakana.csirt.models import Case, CaseAttachment, CaseEvent
from lakana.csirt.permissions import CsirtPermission
from lakana.csirt.references import assign_reference
from lakana.csirt.tlp import Tlp

#: Largest file a member of the public may attach (5 MiB; the platform-wide
#: ``max_upload_bytes`` still applies when it is lower). A module constant on purpose: the
#: public form's limit is a policy of this service, not a deployment setting.
ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
#: Reports per address, and in all, before the form answers 429.
REPORTS_PER_ADDRESS = 5
REPORT_WINDOW = dt.timedelta(minutes=10)
REPORTS_PER_MINUTE = 60
#: Status lookups per address (against guessing codes).
LOOKUPS_PER_ADDRESS = 20
LOOKUP_WINDOW = dt.timedelta(minutes=10)

#: Unambiguous characters only (no 0/O, 1/I/L, U): 30 symbols, 12 of them ≈ 59 bits, and
#: lookups are rate limited.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
_CODE_CHARS = re.compile(rf"^[{ALPHABET}]{{{CODE_LENGTH}}}$")
_PHONE = re.compile(r"^\+?[0-9 ().-]{6,40}$")
#: The first lines of an e-mail message: header fields ("Name: value").
_HEADER = re.compile(rb"^[!-9;-~]{1,76}:[ \t]")
_MAIL_HEADERS = (b"from:", b"to:", b"subject:", b"date:", b"received:", b"message-id:",
                 b"return-path:", b"delivered-to:", b"mime-version:")

PUBLIC_STATUS = {"new": "received", "closed": "closed"}
PUBLIC_STATUS_LABELS = {"received": N_("Received"), "analysing": N_("Being analysed"),
                        "closed": N_("Closed")}
PUBLIC_EVENT = "public"


class PublicCategory(StrEnum):
    """What the person reports."""

    SCAM = "scam"
    PHISHING = "phishing"
    DEFACEMENT = "defacement"
    EXTORTION = "extortion"
    OTHER = "other"


CATEGORY_LABELS: dict[str, str] = {
    "scam": N_("Online scam or fraud"), "phishing": N_("Phishing (fake message or site)"),
    "defacement": N_("Defaced public website"), "extortion": N_("Extortion or blackmail"),
    "other": N_("Other incident")}
#: Severity a public report starts with, before triage.
CATEGORY_SEVERITY: dict[str, str] = {"scam": "medium", "phishing": "medium",
                                     "defacement": "high", "extortion": "high",
                                     "other": "low"}

#: Allowed extensions and the content type the core store must detect for each.
ATTACHMENT_TYPES: dict[str, str] = {".eml": "text/plain", ".png": "image/png",
                                    ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                                    ".pdf": "application/pdf", ".txt": "text/plain"}


class PublicReportIn(BaseModel):
    """What the public form (or the public API) sends."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: PublicCategory
    title: str = Field(min_length=3, max_length=200)
    description: str = Field(min_length=10, max_length=10_000)
    reporter_name: str | None = Field(default=None, max_length=200)
    reporter_email: str | None = Field(default=None, max_length=254)
    reporter_phone: str | None = Field(default=None, max_length=40)

    @field_validator("reporter_name", "reporter_email", "reporter_phone", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("reporter_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError:
            raise ValueError("not a valid e-mail address") from None

    @field_validator("reporter_phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not _PHONE.match(value):
            raise ValueError("not a valid phone number")
        return value


@dataclass(frozen=True)
class Attachment:
    """A file sent with a report: its name, content and the type the browser declared."""

    name: str
    data: bytes | BinaryIO
    declared_type: str | None = None


@dataclass(frozen=True)
class PublicMessage:
    """A message of the centre to the reporter."""

    at: dt.datetime
    text: str


@dataclass(frozen=True)
class PublicStatus:
    """What a reporter may know of their report."""

    reference: str
    title: str
    category: str
    category_label: str
    status: str
    status_label: str
    reported_at: dt.datetime
    acknowledged_at: dt.datetime | None
    closed_at: dt.datetime | None
    updated_at: dt.datetime
    messages: tuple[PublicMessage, ...]


# --- tracking codes --------------------------------------------------------------------

def new_tracking_code() -> str:
    """A random code such as ``K7QH-M3XP-9TRW`` (12 characters of :data:`ALPHABET`)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize_code(code: str) -> str:
    """The code as hashed: upper-case, without dashes or spaces."""
    return re.sub(r"[\s\-]", "", code or "").upper()


def tracking_hash(code: str) -> str:
    """SHA-256 (hex) of the normalized code: the only form stored."""
    return hashlib.sha256(normalize_code(code).encode("ascii", "replace")).hexdigest()


# --- rate limits -----------------------------------------------------------------------

def check_report_rate(session_factory: sessionmaker[Session], source_ip: str | None, *,
                      now: dt.datetime | None = None) -> None:
    """Count a report attempt; raise :class:`TooManyRequests` over a limit (per address:
    :data:`REPORTS_PER_ADDRESS` per :data:`REPORT_WINDOW`; overall:
    :data:`REPORTS_PER_MINUTE`)."""
    ratelimit.hit(session_factory, f"csirt-public:{source_ip or 'unknown'}",
                  limit=REPORTS_PER_ADDRESS, window=REPORT_WINDOW, now=now)
    ratelimit.hit(session_factory, "csirt-public:*", limit=REPORTS_PER_MINUTE,
                  window=dt.timedelta(minutes=1), now=now)


def check_status_rate(session_factory: sessionmaker[Session], source_ip: str | None, *,
                      now: dt.datetime | None = None) -> None:
    """Count a status lookup of an address (slows down anyone guessing codes)."""
    ratelimit.hit(session_factory, f"csirt-public-status:{source_ip or 'unknown'}",
                  limit=LOOKUPS_PER_ADDRESS, window=LOOKUP_WINDOW, now=now)


# --- reporting -------------------------------------------------------------------------

def public_actor(source_ip: str | None) -> Actor:
    """The system-like actor under which public reports are recorded (no permission)."""
    return Actor(user_id=None, name="public", role=None, permissions=frozenset(),
                 source_ip=source_ip, via="public")


def _head(source: bytes | BinaryIO, size: int = 8192) -> bytes:
    if isinstance(source, bytes):
        return source[:size]
    position = source.tell()
    head = source.read(size)
    source.seek(position)
    return head


def looks_like_email(head: bytes) -> bool:
    """Whether the first bytes of a file are those of an e-mail message (RFC 5322)."""
    lines = head.lstrip(b"\r\n").splitlines()
    if not lines or not _HEADER.match(lines[0]):
        return False
    names = {line.split(b":", 1)[0].lower() + b":" for line in lines[:200]
             if _HEADER.match(line)}
    return len(names & set(_MAIL_HEADERS)) >= 2


def _store_attachment(session: Session, settings: Settings, actor: Actor,
                      attachment: Attachment) -> tuple[int, str, str, int, str]:
    """Check and store the file; returns (file id, sha256, media type, size, clean name)."""
    name = files.clean_name(attachment.name or "")
    extension = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    expected = ATTACHMENT_TYPES.get(extension)
    if expected is None:
        raise Invalid("This type of file is not accepted; accepted: %(allowed)s.",
                      allowed=", ".join(sorted(ATTACHMENT_TYPES)),
                      errors=[{"field": "attachment", "message": N_("Not an accepted file.")}])
    media_type = expected
    if extension == ".eml":
        if not looks_like_email(_head(attachment.data)):
            raise Invalid("The file named %(name)s is not an e-mail message.", name=name[:80],
                          errors=[{"field": "attachment",
                                   "message": N_("Not an accepted file.")}])
        media_type = "message/rfc822"
    # The store detects the type from the content and refuses anything but the one the
    # name announces, before the file is kept (PNG bytes named .eml never land).
    stored = files.store(session=session, actor=actor, settings=settings,
                         data=attachment.data, name=name, declared_type=attachment.declared_type,
                         allowed={expected},
                         max_bytes=min(settings.max_upload_bytes, ATTACHMENT_MAX_BYTES))
    return stored.id, stored.sha256, media_type, stored.size, name


def submit_public_report(*, session: Session, settings: Settings,
                         data: PublicReportIn | Mapping[str, Any],
                         attachment: Attachment | tuple[str, bytes | BinaryIO, str | None] | None,
                         source_ip: str | None,
                         now: dt.datetime | None = None) -> tuple[Case, str]:
    """Record a report from the public; returns the case and its tracking code (to show
    once: only its SHA-256 is kept).

    Rate limits are the caller's (they need their own transactions): see
    :func:`check_report_rate`. The file is checked and stored before the case is made, so a
    refused file leaves nothing behind.
    """
    report = data if isinstance(data, PublicReportIn) else PublicReportIn.model_validate(data)
    actor = public_actor(source_ip)
    if isinstance(attachment, tuple):
        attachment = Attachment(*attachment)
    stored = None
    if attachment is not None:
        stored = _store_attachment(session, settings, actor, attachment)
    moment = as_utc(now or utcnow())
    code = new_tracking_code()
    case = Case(title=report.title, description=report.description, source="public",
                institution_id=None, status="new", public_category=report.category.value,
                severity=CATEGORY_SEVERITY[report.category.value], tlp=Tlp.AMBER.value,
                reporter_name=report.reporter_name, reporter_email=report.reporter_email,
                reporter_phone=report.reporter_phone, tracking_hash=tracking_hash(code),
                reported_at=moment, created_by="public", created_at=moment, updated_at=moment)
    session.add(case)
    assign_reference(session, case)
    timeline.add_event(session, case, kind="created", actor=actor, at=moment,
                       message=N_("Reported by the public through the web form (%(category)s)."),
                       params={"category": CATEGORY_LABELS[report.category.value]})
    if stored is not None:
        file_id, sha256, media_type, size, name = stored
        session.add(CaseAttachment(case_id=case.id, file_id=file_id, sha256=sha256, name=name,
                                   media_type=media_type, size=size, tlp=Tlp.AMBER.value,
                                   added_by="public", added_at=moment))
        timeline.add_event(session, case, kind="attachment", actor=actor, at=moment,
                           message=N_("File attached: %(name)s."), params={"name": name})
    session.flush()
    record(session=session, actor=actor, action="csirt.case.public_report",
           object_type="csirt.case", object_id=case.id, object_repr=case.reference or "",
           after={"title": case.title, "category": case.public_category,
                  "contact": bool(report.reporter_email or report.reporter_phone)},
           details={"category": case.public_category,
                    "attachment": stored[1] if stored else None})
    clocks.start_for_case(session, case, actor=actor, now=moment)
    _tell_analysts(session, case)
    return case, code


def _tell_analysts(session: Session, case: Case) -> None:
    """Put the new report in the inbox of every active analyst (no e-mail: a flood of
    public reports must not become a flood of mail)."""
    user_ids = list(session.scalars(select(User.id).where(
        User.role == Role.CSIRT_ANALYST.value, User.is_active.is_(True))))
    if user_ids:
        notify(session=session, user_ids=user_ids, title="New public report %(reference)s",
               body="A member of the public reported an incident: %(category)s.",
               params={"reference": case.reference,
                       "category": CATEGORY_LABELS.get(case.public_category or "", "")},
               link=f"/csirt/cases/{case.id}", level="info", email=False)


# --- status ----------------------------------------------------------------------------

def public_status_of(case: Case) -> str:
    """received, analysing or closed, from the case's status."""
    return PUBLIC_STATUS.get(case.status, "analysing")


def find_by_code(*, session: Session, code: str) -> Case:
    """The public report of a tracking code; every wrong code gives the same 404."""
    normalized = normalize_code(code)
    case = None
    if _CODE_CHARS.match(normalized):
        case = session.execute(select(Case).where(
            Case.tracking_hash == tracking_hash(normalized),
            Case.source == "public")).scalar_one_or_none()
    if case is None:
        raise NotFound("No report matches this tracking code. Check it and try again.")
    return case


def status_by_code(*, session: Session, code: str, language: str | None = None
                   ) -> PublicStatus:
    """What the reporter of ``code`` may read (labels in ``language``)."""
    case = find_by_code(session=session, code=code)
    status = public_status_of(case)
    messages = session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == PUBLIC_EVENT)
        .order_by(CaseEvent.at, CaseEvent.id))
    with i18n.use_language(language or i18n.current_language()):
        return PublicStatus(
            reference=case.reference or "", title=case.title,
            category=case.public_category or "other",
            category_label=i18n.gettext(CATEGORY_LABELS.get(case.public_category or "other",
                                                            CATEGORY_LABELS["other"])),
            status=status, status_label=i18n.gettext(PUBLIC_STATUS_LABELS[status]),
            reported_at=as_utc(case.reported_at),
            acknowledged_at=as_utc(case.acknowledged_at) if case.acknowledged_at else None,
            closed_at=as_utc(case.closed_at) if case.closed_at else None,
            updated_at=as_utc(case.updated_at),
            messages=tuple(PublicMessage(at=as_utc(e.at), text=str(e.params.get("text", "")))
                           for e in messages))


def add_public_message(*, session: Session, actor: Actor, case_id: int, text: str) -> CaseEvent:
    """An analyst writes to the reporter of a public case (shown on the status page);
    timeline (kind ``public``, TLP:CLEAR since the reporter reads it) and ledger."""
    case = access.get_case(session, actor, case_id, CsirtPermission.CASE_MANAGE)
    if case.source != "public":
        raise Invalid("Only a public report has a reporter to write to.")
    body = (text or "").strip()
    if not body:
        raise Invalid("Write the message.",
                      errors=[{"field": "text", "message": N_("This value is required.")}])
    if len(body) > 2000:
        raise Invalid("The message is too long (at most %(max)s characters).", max=2000)
    event = timeline.add_event(session, case, kind=PUBLIC_EVENT, actor=actor,
                               message=N_("Message to the reporter: %(text)s"),
                               params={"text": body}, tlp=Tlp.CLEAR.value)
    session.flush()
    record(session=session, actor=actor, action="csirt.case.public_message",
           object_type="csirt.case", object_id=case.id, object_repr=case.reference or "",
           details={"length": len(body)})
    return event


def attachment_limit(settings: Settings) -> int:
    """The public form's file limit in bytes under ``settings``."""
    return min(settings.max_upload_bytes, ATTACHMENT_MAX_BYTES)

"""Certificates of completed training: a random verification code, the PDF, and the public
check anyone can make without an account.

A code is 16 symbols of Crockford's base32 (80 random bits from :mod:`secrets`), shown in
groups of four; it is stored as is (it is printed on the certificate and meant to be
shared), and the public checker is rate limited per address, so guessing one is hopeless.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import secrets
from pathlib import Path

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.awareness.training.models import Enrolment, TrainingCertificate
from lakana.awareness.training.permissions import TrainingPermission as P
from lakana.awareness.training.schemas import Verification
from lakana.core import audit, i18n, ratelimit
from lakana.core.auth.rbac import Actor, ensure_in_scope
from lakana.core.db import utcnow
from lakana.core.errors import NotFound
from lakana.core.i18n import Msg
from lakana.core.web import pdf
from lakana.core.web.templating import build_environment

#: Crockford's base32: no I, L, O or U.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
_CODE = re.compile(rf"^[{ALPHABET}]{{{CODE_LENGTH}}}$")
#: Look-ups per address before the public checker answers 429.
CHECKS_PER_ADDRESS = 20
CHECK_WINDOW = dt.timedelta(minutes=10)
TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
PDF_TEMPLATE = "awareness/training/certificate_pdf.html"


def new_code() -> str:
    """A fresh random code: 80 random bits, five per character."""
    bits = int.from_bytes(secrets.token_bytes(CODE_LENGTH * 5 // 8), "big")
    return "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    """The code as stored: upper case, without spaces or dashes; the letters people mix up
    read as Crockford says (O as 0, I and L as 1)."""
    cleaned = re.sub(r"[\s-]", "", text or "").upper()
    return cleaned.translate(str.maketrans("OIL", "011"))


def display_code(code: str) -> str:
    """The code in groups of four, as printed."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def prepare_issue(session: Session, enrolment: Enrolment, full_name: str,
                  course_title: str) -> tuple[TrainingCertificate, str] | None:
    """Create (or lift the revocation of) the certificate of a completed enrolment, without
    flushing; returns it with its ledger action, or ``None`` when it is already valid."""
    cert = enrolment.certificate
    if cert is not None:
        if cert.revoked_on is None:
            return None
        cert.revoked_on = None
        return cert, "awareness.training_certificate.restore"
    cert = TrainingCertificate(
        enrolment_id=enrolment.id, institution_id=enrolment.institution_id,
        code=new_code(), full_name=full_name, course_title=course_title,
        issued_on=utcnow().date())
    session.add(cert)
    enrolment.certificate = cert
    return cert, "awareness.training_certificate.issue"


def ledger_issue(session: Session, actor: Actor, cert: TrainingCertificate,
                 action: str) -> None:
    """Ledger a flushed certificate issue or restore."""
    audit.record(session=session, actor=actor, action=action,
                 object_type="training_certificate", object_id=cert.id,
                 object_repr=f"{cert.full_name} — {cert.course_title}",
                 after={"enrolment_id": cert.enrolment_id,
                        "issued_on": cert.issued_on.isoformat()},
                 institution_id=cert.institution_id)


def issue(*, session: Session, actor: Actor, enrolment: Enrolment) -> bool:
    """Issue the certificate of a completed enrolment (or lift its revocation); returns
    whether a certificate was issued or restored."""
    prepared = prepare_issue(session, enrolment, enrolment.trainee.full_name,
                             enrolment.session.course.title)
    if prepared is None:
        return False
    session.flush()
    ledger_issue(session, actor, *prepared)
    return True


def prepare_revoke(enrolment: Enrolment) -> TrainingCertificate | None:
    """Mark the valid certificate of an enrolment revoked (no flush); the certificate or
    ``None`` when there is nothing to revoke."""
    cert = enrolment.certificate
    if cert is None or cert.revoked_on is not None:
        return None
    cert.revoked_on = utcnow().date()
    return cert


def ledger_revoke(session: Session, actor: Actor, cert: TrainingCertificate) -> None:
    """Ledger a certificate revocation."""
    audit.record(session=session, actor=actor, action="awareness.training_certificate.revoke",
                 object_type="training_certificate", object_id=cert.id,
                 object_repr=f"{cert.full_name} — {cert.course_title}",
                 after={"revoked_on": cert.revoked_on.isoformat() if cert.revoked_on else None},
                 institution_id=cert.institution_id)


def revoke(*, session: Session, actor: Actor, enrolment: Enrolment) -> None:
    """Revoke the certificate of an enrolment whose outcome is no longer a completion."""
    cert = prepare_revoke(enrolment)
    if cert is None:
        return
    session.flush()
    ledger_revoke(session, actor, cert)


def get_certificate(*, session: Session, actor: Actor,
                    certificate_id: int) -> TrainingCertificate:
    """One certificate the actor may see (through the trainee's institution)."""
    cert = session.get(TrainingCertificate, certificate_id)
    ensure_in_scope(actor, cert.institution_id if cert else -1, P.TRAINING_READ,
                    what=Msg("certificate"))
    if cert is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("certificate"))
    return cert


def check_rate(session_factory: sessionmaker[Session], source_ip: str | None) -> None:
    """Count a public check of an address (against anyone guessing codes)."""
    ratelimit.hit(session_factory, f"training-verify:{source_ip or 'unknown'}",
                  limit=CHECKS_PER_ADDRESS, window=CHECK_WINDOW)


def verify(*, session: Session, code: str) -> Verification:
    """What a code certifies (name, course, date, revoked or not); a code never issued, or
    malformed, gets :class:`NotFound`. Needs no account."""
    normal = normalize_code(code)
    cert = session.scalar(select(TrainingCertificate).where(
        TrainingCertificate.code == normal)) if _CODE.match(normal) else None
    if cert is None:
        raise NotFound("No certificate has this code. Check it character by character.")
    return Verification(code=display_code(cert.code), full_name=cert.full_name,
                        course_title=cert.course_title, issued_on=cert.issued_on,
                        revoked=cert.revoked_on is not None)


@functools.cache
def _environment() -> jinja2.Environment:
    return build_environment([TEMPLATES_DIR])


def certificate_pdf(*, session: Session, actor: Actor, certificate_id: int,
                    language: str | None = None) -> tuple[bytes, str]:
    """A certificate as PDF, with its file name; the download is ledgered."""
    cert = get_certificate(session=session, actor=actor, certificate_id=certificate_id)
    enrolment = cert.enrolment
    with i18n.use_language(language or actor.language):
        html = _environment().get_template(PDF_TEMPLATE).render({
            "cert": cert, "code": display_code(cert.code), "course": enrolment.session.course,
            "course_session": enrolment.session, "score": enrolment.score})
    audit.record(session=session, actor=actor, action="awareness.training_certificate.download",
                 object_type="training_certificate", object_id=cert.id,
                 object_repr=f"{cert.full_name} — {cert.course_title}",
                 institution_id=cert.institution_id, details={"format": "pdf"})
    return pdf.to_pdf(html), f"certificate-{cert.id}.pdf"

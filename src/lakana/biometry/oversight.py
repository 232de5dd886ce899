"""Oversight of the registry, for the data protection authority and the registry's
administrator: accesses by service and purpose, refusals and anomalies, deletions, key
rotations and citizens' complaints. Everything here reads, except complaint handling.

Also the public statistics: enrollments by region and deduplication outcomes, where every
count below :data:`SUPPRESS_BELOW` is shown as ``"< 10"`` (small cells could single people
out). No total is published next to suppressed cells, so none can be recovered by
subtraction.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakana.biometry.models import (
    CitizenChallenge,
    Complaint,
    Enrollment,
    KeyRotation,
    MasterKeyRecord,
    Person,
    RelyingService,
    ServiceAccess,
)
from lakana.biometry.permissions import BiometryPermission as P
from lakana.biometry.purposes import PURPOSES
from lakana.biometry.schemas import REGIONS
from lakana.core.audit.ledger import record
from lakana.core.auth.rbac import Actor
from lakana.core.db import utcnow
from lakana.core.errors import Invalid, NotFound

SUPPRESS_BELOW = 10
SUPPRESSED = "< 10"
COMPLAINT_STATES = ("open", "in_review", "closed")
ENROLLMENT_STATES = ("received", "quality_failed", "pending_dedup", "adjudication", "issued",
                     "updated", "rejected")
MAX_DAYS = 3660


def suppress(count: int) -> int | str:
    """``count``, or ``"< 10"`` when it is below the publication threshold."""
    return SUPPRESSED if count < SUPPRESS_BELOW else count


@dataclass(frozen=True)
class AccessCount:
    """Accesses of one service for one purpose over the period."""

    service: str
    purpose: str
    purpose_label: str
    total: int
    refused: int
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Dashboard:
    """What the oversight dashboard shows over the last ``days`` days."""

    days: int
    since: dt.datetime
    accesses: list[AccessCount]
    refusals: list[tuple[str, str, int]]
    burnt_challenges: int
    deletions: list[tuple[str, int]]
    deceased: int
    rotations: list[KeyRotation]
    master_keys: list[MasterKeyRecord]
    complaints: dict[str, int]

    @property
    def total_accesses(self) -> int:
        """Every access counted in the period."""
        return sum(a.total for a in self.accesses)


def _since(days: int) -> dt.datetime:
    if not 1 <= days <= MAX_DAYS:
        raise Invalid("The period must be between 1 and %(max)s days.", max=MAX_DAYS)
    return utcnow() - dt.timedelta(days=days)


def accesses_by_service(*, session: Session, actor: Actor, days: int = 30) -> list[AccessCount]:
    """Accesses by service and purpose over the period, most used first."""
    actor.require(P.OVERSIGHT_READ)
    since = _since(days)
    rows = session.execute(
        select(RelyingService.name, ServiceAccess.purpose, ServiceAccess.outcome,
               func.count(ServiceAccess.id))
        .join(RelyingService, RelyingService.id == ServiceAccess.service_id)
        .where(ServiceAccess.at >= since)
        .group_by(RelyingService.name, ServiceAccess.purpose, ServiceAccess.outcome)).all()
    grouped: dict[tuple[str, str], Counter[str]] = {}
    for name, purpose, outcome, count in rows:
        grouped.setdefault((name, purpose), Counter())[outcome] += int(count)
    found = []
    for (name, purpose), outcomes in grouped.items():
        known = PURPOSES.get(purpose)
        found.append(AccessCount(service=name, purpose=purpose,
                                 purpose_label=known.label if known else purpose,
                                 total=sum(outcomes.values()), refused=outcomes["refused"],
                                 outcomes=dict(sorted(outcomes.items()))))
    return sorted(found, key=lambda a: (-a.total, a.service, a.purpose))


def dashboard(*, session: Session, actor: Actor, days: int = 30) -> Dashboard:
    """The figures of the oversight dashboard over the last ``days`` days."""
    actor.require(P.OVERSIGHT_READ)
    since = _since(days)
    refusals = [(name, reason or "", int(count)) for name, reason, count in session.execute(
        select(RelyingService.name, ServiceAccess.reason, func.count(ServiceAccess.id))
        .join(RelyingService, RelyingService.id == ServiceAccess.service_id)
        .where(ServiceAccess.at >= since, ServiceAccess.outcome == "refused")
        .group_by(RelyingService.name, ServiceAccess.reason)
        .order_by(func.count(ServiceAccess.id).desc()).limit(50))]
    burnt = session.scalar(select(func.count(CitizenChallenge.id)).where(
        CitizenChallenge.created_at >= since,
        CitizenChallenge.attempts >= 5)) or 0
    deletions = [(reason or "", int(count)) for reason, count in session.execute(
        select(Person.deletion_reason, func.count(Person.id))
        .where(Person.status == "deleted").group_by(Person.deletion_reason)
        .order_by(func.count(Person.id).desc()))]
    deceased = session.scalar(select(func.count(Person.id)).where(
        Person.status == "deceased")) or 0
    rotations = list(session.scalars(select(KeyRotation).order_by(KeyRotation.id.desc())
                                     .limit(50)))
    keys = list(session.scalars(select(MasterKeyRecord).order_by(MasterKeyRecord.created_at)))
    complaints = dict.fromkeys(COMPLAINT_STATES, 0)
    for state, count in session.execute(select(Complaint.state, func.count(Complaint.id))
                                        .group_by(Complaint.state)):
        complaints[state] = int(count)
    return Dashboard(days=days, since=since,
                     accesses=accesses_by_service(session=session, actor=actor, days=days),
                     refusals=refusals, burnt_challenges=int(burnt), deletions=deletions,
                     deceased=int(deceased), rotations=rotations, master_keys=keys,
                     complaints=complaints)


@dataclass(frozen=True)
class ComplaintRow:
    """A complaint with the name of the service it is about."""

    complaint: Complaint
    service: str | None


def list_complaints(*, session: Session, actor: Actor, state: str | None = None,
                    limit: int = 200) -> list[ComplaintRow]:
    """Complaints, open first then newest first."""
    actor.require(P.OVERSIGHT_READ)
    if state is not None and state not in COMPLAINT_STATES:
        raise Invalid("Unknown complaint state %(state)s.", state=state[:20])
    stmt = select(Complaint, RelyingService.name).outerjoin(
        RelyingService, RelyingService.id == Complaint.service_id)
    if state is not None:
        stmt = stmt.where(Complaint.state == state)
    order = {s: i for i, s in enumerate(COMPLAINT_STATES)}
    rows = [ComplaintRow(c, name) for c, name in session.execute(
        stmt.order_by(Complaint.id.desc()).limit(limit))]
    return sorted(rows, key=lambda r: order.get(r.complaint.state, 9))


def get_complaint(*, session: Session, actor: Actor, complaint_id: int) -> ComplaintRow:
    """One complaint; :class:`NotFound` otherwise."""
    actor.require(P.OVERSIGHT_READ)
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound("This complaint does not exist.")
    service = session.get(RelyingService, complaint.service_id) \
        if complaint.service_id is not None else None
    return ComplaintRow(complaint, service.name if service else None)


def handle_complaint(*, session: Session, actor: Actor, complaint_id: int, state: str,
                     response: str) -> Complaint:
    """Move a complaint to ``in_review`` or ``closed`` with the authority's response;
    ledgered. A closed complaint needs a response."""
    actor.require(P.COMPLAINT_HANDLE)
    complaint = get_complaint(session=session, actor=actor,
                              complaint_id=complaint_id).complaint
    if state not in ("in_review", "closed"):
        raise Invalid("Unknown complaint state %(state)s.", state=state[:20])
    text = response.strip()
    if len(text) > 4000:
        raise Invalid("The response is too long (%(max)s characters at most).", max=4000)
    if state == "closed" and not text:
        raise Invalid("Write the response before closing the complaint.")
    before = {"state": complaint.state, "response": complaint.response}
    complaint.state = state
    complaint.response = text
    complaint.closed_at = utcnow() if state == "closed" else None
    record(session=session, actor=actor, action="biometry.complaint.handle",
           object_type="biometry.complaint", object_id=complaint.id,
           object_repr=complaint.reference, before=before,
           after={"state": complaint.state, "response": complaint.response},
           details={"state": state})
    return complaint


@dataclass(frozen=True)
class Statistics:
    """Public statistics, small counts suppressed."""

    persons_by_region: list[tuple[str, int | str]]
    enrollments_by_state: list[tuple[str, int | str]]
    generated_at: dt.datetime


def public_statistics(*, session: Session) -> Statistics:
    """Issued identities (active persons) by region and enrollments by state (public)."""
    by_region = Counter({region: int(count) for region, count in session.execute(
        select(Person.region, func.count(Person.id)).where(Person.status == "active")
        .group_by(Person.region))})
    regions = list(REGIONS) + sorted(r for r in by_region if r not in REGIONS)
    by_state = Counter({state: int(count) for state, count in session.execute(
        select(Enrollment.state, func.count(Enrollment.id)).group_by(Enrollment.state))})
    states = list(ENROLLMENT_STATES) + sorted(s for s in by_state if s not in ENROLLMENT_STATES)
    return Statistics(
        persons_by_region=[(r, suppress(by_region[r])) for r in regions],
        enrollments_by_state=[(s, suppress(by_state[s])) for s in states],
        generated_at=utcnow())


#: The registry's entries in the ledger: what the authority's export discloses.
LEDGER_PREFIX = "biometry."


def ledger_head(*, session: Session) -> int:
    """The sequence number of the ledger's last entry."""
    from lakana.core.audit.models import LedgerHead

    return int(session.scalar(select(LedgerHead.seq).where(LedgerHead.id == 1)) or 0)


def ledger_export(*, session: Session, actor: Actor, key: Ed25519PrivateKey,
                  known_keys: Mapping[str, Ed25519PublicKey], from_seq: int | None = None,
                  to_seq: int | None = None) -> dict[str, Any]:
    """The ledger from ``from_seq`` to ``to_seq`` (default: the whole ledger, within the
    export limit) with its proof, disclosing the registry's entries only: the others keep
    their place in the chain (sequence and hashes) so the chain and the signed checkpoints
    still verify (``lakana audit verify-export``). The export itself is ledgered."""
    from lakana.core.audit import export as ledger_exports

    actor.require(P.OVERSIGHT_READ)
    head = ledger_head(session=session)
    last = to_seq or head
    first = from_seq or max(1, last - ledger_exports.MAX_EXPORT_ENTRIES + 1)
    document = ledger_exports.build_export(
        session=session, key=key, from_seq=first, to_seq=last, known_keys=known_keys,
        disclose=lambda entry: str(entry["action"]).startswith(LEDGER_PREFIX))
    record(session=session, actor=actor, action="biometry.ledger.export",
           object_type="core.audit", object_id=f"{first}-{last}",
           object_repr=f"registry entries {first}-{last}",
           details={"last_hash": document["last_hash"],
                    "redacted": document.get("redacted", 0)})
    return document

"""Skills register services: role holders and their certifications, each institution's
staffing against what its criticality tier requires, and the national talent gap.

Scope: a role holder belongs to its institution; every list goes through :func:`restrict`
and every single holder through :func:`ensure_in_scope`, so a person of institution A gets
"not found" for a holder of B (names and e-mail addresses are personal data). The national
view aggregates only the institutions the actor may see. Services never commit.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from lakana.awareness.skills.models import Certification, RoleHolder
from lakana.awareness.skills.permissions import SkillsPermission as P
from lakana.awareness.skills.profiles import framework
from lakana.awareness.skills.schemas import (
    EXPIRY_WARNING_DAYS,
    CertificationCreate,
    HolderCreate,
    HolderQuery,
    HolderUpdate,
    InstitutionStaffing,
    NationalStaffing,
    ProfileStaffing,
)
from lakana.core import audit
from lakana.core.auth.rbac import Actor, ensure_in_scope, restrict
from lakana.core.concurrency import check_version as _check_version
from lakana.core.concurrency import flush_or_conflict as _flush
from lakana.core.db import count_rows as _count
from lakana.core.db import utcnow
from lakana.core.errors import Invalid, NotFound
from lakana.core.i18n import Msg, current_language
from lakana.registry import service as registry
from lakana.registry.service import InstitutionSummary

EDITABLE = ("profile_id", "full_name", "email", "position", "since", "until")
CSV_COLUMNS = ("id", "institution", "profile_id", "profile", "full_name", "email", "position",
               "since", "until", "active", "certifications")


# --- helpers ----------------------------------------------------------------------------

def today() -> dt.date:
    """Today's date (UTC), the default day of every staffing report."""
    return utcnow().date()


def holder_state(holder: RoleHolder) -> dict[str, Any]:
    """The ledgered state of a role holder (dates as ISO text)."""
    state: dict[str, Any] = {name: getattr(holder, name) for name in EDITABLE}
    state["since"] = holder.since.isoformat()
    state["until"] = holder.until.isoformat() if holder.until else None
    state["institution_id"] = holder.institution_id
    return state


def is_active(holder: RoleHolder, day: dt.date) -> bool:
    """Whether the person holds the role on ``day``."""
    return holder.since <= day and (holder.until is None or holder.until >= day)


def certification_state(cert: Certification, day: dt.date) -> str:
    """``valid``, ``expiring`` (within :data:`EXPIRY_WARNING_DAYS`) or ``expired`` on
    ``day``; a certification without an expiry date stays valid."""
    if cert.expires_on is None:
        return "valid"
    if cert.expires_on < day:
        return "expired"
    if cert.expires_on <= day + dt.timedelta(days=EXPIRY_WARNING_DAYS):
        return "expiring"
    return "valid"


def profile_title(profile_id: str) -> str:
    """The profile's title in the current language (its identifier if unknown)."""
    found = framework().profile(profile_id)
    return found.title(current_language()) if found else profile_id


def _check_profile(profile_id: str) -> None:
    if framework().profile(profile_id) is None:
        raise Invalid("Unknown role profile %(profile)s; allowed: %(allowed)s.",
                      profile=profile_id,
                      allowed=", ".join(p.id for p in framework().profiles),
                      errors=[{"field": "profile_id",
                               "message": "Unknown role profile."}])


def institution_acronyms(*, session: Session) -> dict[int, str]:
    """Acronym of every institution, by id (through the registry's service)."""
    return {ident: text.split(" — ", 1)[0]
            for ident, text in registry.institution_choices(session=session)}


# --- role holders -----------------------------------------------------------------------

def get_holder(*, session: Session, actor: Actor, holder_id: int,
               permission: str = P.SKILLS_READ) -> RoleHolder:
    """One role holder the actor may see (404 when absent or out of scope)."""
    holder = session.get(RoleHolder, holder_id)
    ensure_in_scope(actor, holder.institution_id if holder else -1, permission,
                    what=Msg("role holder"))
    if holder is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("role holder"))
    return holder


def create_holder(*, session: Session, actor: Actor, data: HolderCreate) -> RoleHolder:
    """Name a person in a role of an institution (its focal point, or the agency)."""
    actor.require(P.SKILLS_WRITE)
    ensure_in_scope(actor, data.institution_id, P.SKILLS_WRITE, what=Msg("institution"))
    if data.institution_id not in institution_acronyms(session=session):
        raise Invalid("The institution %(id)s does not exist.", id=data.institution_id)
    _check_profile(data.profile_id)
    holder = RoleHolder(created_by=actor.name, **data.model_dump())
    holder.email = str(data.email) if data.email else None
    session.add(holder)
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.role_holder.create",
                 object_type="role_holder", object_id=holder.id, object_repr=holder.full_name,
                 after=holder_state(holder), institution_id=holder.institution_id)
    return holder


def update_holder(*, session: Session, actor: Actor, holder_id: int,
                  data: HolderUpdate) -> RoleHolder:
    """Change a role holder; a stale ``version`` is refused with 409, a bad period with 422."""
    holder = get_holder(session=session, actor=actor, holder_id=holder_id,
                        permission=P.SKILLS_WRITE)
    _check_version(holder.version, data.version)
    changes = {k: getattr(data, k) for k in data.model_fields_set if k != "version"}
    for key in ("profile_id", "full_name", "since"):
        if key in changes and changes[key] is None:
            raise Invalid("The field %(field)s cannot be empty.", field=key)
    if "profile_id" in changes:
        _check_profile(changes["profile_id"])
    before = holder_state(holder)
    with session.no_autoflush:
        for key, value in changes.items():
            if key == "position" and value is None:
                value = ""
            if key == "email" and value is not None:
                value = str(value)
            setattr(holder, key, value)
    if holder.until is not None and holder.until < holder.since:
        raise Invalid("The end date may not be before the start date.",
                      errors=[{"field": "until",
                               "message": "The end date may not be before the start date."}])
    if holder_state(holder) == before:
        return holder
    holder.updated_at = utcnow()
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.role_holder.update",
                 object_type="role_holder", object_id=holder.id, object_repr=holder.full_name,
                 before=before, after=holder_state(holder), institution_id=holder.institution_id)
    return holder


def delete_holder(*, session: Session, actor: Actor, holder_id: int,
                  version: int | None = None) -> None:
    """Remove a role holder entered by mistake, with their certifications (a person who left
    keeps their record with an end date instead)."""
    holder = get_holder(session=session, actor=actor, holder_id=holder_id,
                        permission=P.SKILLS_WRITE)
    if version is not None:
        _check_version(holder.version, version)
    before = holder_state(holder)
    session.delete(holder)
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.role_holder.delete",
                 object_type="role_holder", object_id=holder_id, object_repr=before["full_name"],
                 before=before, institution_id=before["institution_id"])


def _holders_stmt(actor: Actor) -> Select[Any]:
    return restrict(select(RoleHolder), actor=actor, permission=P.SKILLS_READ,
                    scope=RoleHolder.institution_id)


def _active_on(day: dt.date) -> Any:
    return (RoleHolder.since <= day) & or_(RoleHolder.until.is_(None), RoleHolder.until >= day)


def list_holders(*, session: Session, actor: Actor, query: HolderQuery | None = None,
                 day: dt.date | None = None) -> tuple[list[RoleHolder], int]:
    """Role holders the actor may see (those in post on ``day`` unless ``include_past``),
    filtered and paged, with the total."""
    query = query or HolderQuery()
    stmt = _holders_stmt(actor)
    if not query.include_past:
        stmt = stmt.where(_active_on(day or today()))
    if query.institution_id is not None:
        stmt = stmt.where(RoleHolder.institution_id == query.institution_id)
    if query.profile_id:
        stmt = stmt.where(RoleHolder.profile_id == query.profile_id)
    if query.q:
        needle = query.q.lower()
        stmt = stmt.where(func.lower(RoleHolder.full_name).contains(needle, autoescape=True)
                          | func.lower(RoleHolder.position).contains(needle, autoescape=True))
    total = _count(session, stmt)
    rows = session.scalars(stmt.options(selectinload(RoleHolder.certifications))
                           .order_by(RoleHolder.institution_id, RoleHolder.profile_id,
                                     RoleHolder.full_name, RoleHolder.id)
                           .limit(query.limit).offset(query.offset)).all()
    return list(rows), total


# --- certifications ---------------------------------------------------------------------

def add_certification(*, session: Session, actor: Actor, holder_id: int,
                      data: CertificationCreate) -> Certification:
    """Record a certification a role holder earned."""
    holder = get_holder(session=session, actor=actor, holder_id=holder_id,
                        permission=P.SKILLS_WRITE)
    cert = Certification(holder_id=holder.id, **data.model_dump())
    session.add(cert)
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.certification.create",
                 object_type="certification", object_id=cert.id, object_repr=cert.name,
                 after={"holder_id": holder.id, "name": cert.name, "issuer": cert.issuer,
                        "obtained_on": cert.obtained_on.isoformat(),
                        "expires_on": cert.expires_on.isoformat() if cert.expires_on
                        else None},
                 institution_id=holder.institution_id)
    return cert


def get_certification(*, session: Session, actor: Actor, certification_id: int,
                      permission: str = P.SKILLS_READ) -> Certification:
    """One certification the actor may see (through its holder's institution)."""
    cert = session.get(Certification, certification_id)
    owner = cert.holder.institution_id if cert else -1
    ensure_in_scope(actor, owner, permission, what=Msg("certification"))
    if cert is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("certification"))
    return cert


def delete_certification(*, session: Session, actor: Actor, certification_id: int) -> int:
    """Remove a certification; returns its holder's id."""
    cert = get_certification(session=session, actor=actor, certification_id=certification_id,
                             permission=P.SKILLS_WRITE)
    holder_id, institution_id, name = cert.holder_id, cert.holder.institution_id, cert.name
    session.delete(cert)
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.certification.delete",
                 object_type="certification", object_id=certification_id, object_repr=name,
                 before={"holder_id": holder_id, "name": name}, institution_id=institution_id)
    return holder_id


# --- staffing ---------------------------------------------------------------------------

def _profile_rows(required: dict[str, int], holders: Iterable[RoleHolder],
                  day: dt.date) -> list[ProfileStaffing]:
    by_profile: dict[str, list[RoleHolder]] = defaultdict(list)
    for holder in holders:
        by_profile[holder.profile_id].append(holder)
    rows = []
    for profile in framework().profiles:
        people = by_profile.get(profile.id, [])
        need = required.get(profile.id, 0)
        if not need and not people:
            continue
        states = [[certification_state(c, day) for c in h.certifications] for h in people]
        rows.append(ProfileStaffing(
            profile_id=profile.id, title=profile.title(current_language()), required=need,
            held=len(people), missing=max(0, need - len(people)),
            certified=sum(1 for s in states if "valid" in s or "expiring" in s),
            expiring=sum(s.count("expiring") for s in states),
            expired=sum(s.count("expired") for s in states)))
    return rows


def _institution_row(inst: InstitutionSummary, holders: list[RoleHolder],
                     day: dt.date) -> InstitutionStaffing:
    required = framework().required(inst.criticality_tier)
    profiles = _profile_rows(required, holders, day)
    need = sum(required.values())
    filled = sum(min(p.held, p.required) for p in profiles)
    return InstitutionStaffing(
        institution_id=inst.id, acronym=inst.acronym, name=inst.name,
        tier=inst.criticality_tier, required=need, filled=filled, missing=need - filled,
        coverage=filled * 100 // need if need else None,
        expiring=sum(p.expiring for p in profiles), expired=sum(p.expired for p in profiles),
        profiles=profiles)


def _active_holders(session: Session, actor: Actor, day: dt.date,
                    institution_id: int | None = None) -> dict[int, list[RoleHolder]]:
    stmt = _holders_stmt(actor).where(_active_on(day))
    if institution_id is not None:
        stmt = stmt.where(RoleHolder.institution_id == institution_id)
    found: dict[int, list[RoleHolder]] = defaultdict(list)
    for holder in session.scalars(stmt.options(selectinload(RoleHolder.certifications))):
        found[holder.institution_id].append(holder)
    return found


def institution_staffing(*, session: Session, actor: Actor, institution_id: int,
                         day: dt.date | None = None) -> InstitutionStaffing:
    """One institution's staffing on ``day`` against what its criticality tier requires."""
    day = day or today()
    ensure_in_scope(actor, institution_id, P.SKILLS_READ, what=Msg("institution"))
    inst = next((i for i in registry.institution_summaries(session=session, actor=actor)
                 if i.id == institution_id), None)
    if inst is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("institution"))
    holders = _active_holders(session, actor, day, institution_id)
    return _institution_row(inst, holders.get(institution_id, []), day)


def national_staffing(*, session: Session, actor: Actor,
                      day: dt.date | None = None) -> NationalStaffing:
    """The talent gap over every institution the actor may see: per profile (summed) and per
    institution (largest gap first)."""
    day = day or today()
    actor.require(P.SKILLS_READ)
    holders = _active_holders(session, actor, day)
    rows = [_institution_row(inst, holders.get(inst.id, []), day)
            for inst in registry.institution_summaries(session=session, actor=actor)]
    totals: dict[str, ProfileStaffing] = {}
    for row in rows:
        for part in row.profiles:
            seen = totals.get(part.profile_id)
            if seen is None:
                totals[part.profile_id] = part.model_copy()
                continue
            for name in ("required", "held", "missing", "certified", "expiring", "expired"):
                setattr(seen, name, getattr(seen, name) + getattr(part, name))
    order = {p.id: index for index, p in enumerate(framework().profiles)}
    need = sum(r.required for r in rows)
    filled = sum(r.filled for r in rows)
    rows.sort(key=lambda r: (-r.missing, r.tier, r.acronym))
    return NationalStaffing(
        as_of=day, required=need, filled=filled, missing=need - filled,
        coverage=filled * 100 // need if need else None,
        institutions_short=sum(1 for r in rows if r.missing),
        profiles=sorted(totals.values(), key=lambda p: order.get(p.profile_id, 99)),
        institutions=rows)


def count_missing_seats(session: Session, actor: Actor) -> int:
    """Required role seats not filled in the institutions the actor sees (dashboard)."""
    return national_staffing(session=session, actor=actor).missing


def export_csv(*, session: Session, actor: Actor, institution_id: int | None = None,
               day: dt.date | None = None) -> str:
    """The register as CSV (UTF-8 with BOM for spreadsheets): one institution's, or every
    visible one; people who left are included, marked inactive."""
    day = day or today()
    if institution_id is not None:
        ensure_in_scope(actor, institution_id, P.SKILLS_READ, what=Msg("institution"))
    stmt = _holders_stmt(actor)
    if institution_id is not None:
        stmt = stmt.where(RoleHolder.institution_id == institution_id)
    names = institution_acronyms(session=session)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for holder in session.scalars(stmt.options(selectinload(RoleHolder.certifications))
                                  .order_by(RoleHolder.institution_id, RoleHolder.profile_id,
                                            RoleHolder.id)):
        certs = "; ".join(
            f"{c.name} ({c.expires_on.isoformat() if c.expires_on else '-'})"
            for c in holder.certifications)
        writer.writerow([holder.id, names.get(holder.institution_id, ""), holder.profile_id,
                         profile_title(holder.profile_id), holder.full_name, holder.email or "",
                         holder.position, holder.since.isoformat(),
                         holder.until.isoformat() if holder.until else "",
                         "yes" if is_active(holder, day) else "no", certs])
    return "\ufeff" + out.getvalue()

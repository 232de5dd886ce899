"""Registry services: institutions (a hierarchy) and their information systems.

Scope: institutions are scoped by their own id, systems by their owner's id; every list goes
through :func:`restrict` and every single object through :func:`ensure_in_scope`, so a person
of institution A gets "not found" for anything of institution B. Services never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session, selectinload

from lakana.core import audit
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Actor, ensure_in_scope, restrict
from lakana.core.concurrency import check_version as _check_version
from lakana.core.concurrency import flush_or_conflict as _flush
from lakana.core.db import count_rows as _count
from lakana.core.db import utcnow
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from lakana.core.i18n import Msg
from lakana.registry.models import Contact, Endpoint, InformationSystem, Institution
from lakana.registry.permissions import RegistryPermission as P
from lakana.registry.schemas import (
    InstitutionCreate,
    InstitutionQuery,
    InstitutionUpdate,
    SystemCreate,
    SystemQuery,
    SystemUpdate,
)

MAX_DEPTH = 50
#: Fields only the agency may change (a focal point edits the rest of its own record).
AGENCY_ONLY_FIELDS = frozenset({"acronym", "kind", "parent_id", "criticality_tier"})

_CRITICALITY_RANK = case({"low": 1, "medium": 2, "high": 3, "critical": 4},
                         value=InformationSystem.criticality, else_=0)
INSTITUTION_SORTS: dict[str, Any] = {
    "name": Institution.name, "acronym": Institution.acronym, "kind": Institution.kind,
    "region": Institution.region, "sector": Institution.sector,
    "tier": Institution.criticality_tier, "updated": Institution.updated_at,
}
SYSTEM_SORTS: dict[str, Any] = {
    "name": InformationSystem.name, "institution": Institution.acronym,
    "criticality": _CRITICALITY_RANK, "classification": InformationSystem.data_classification,
    "hosting": InformationSystem.hosting, "updated": InformationSystem.updated_at,
}


# --- states for the ledger --------------------------------------------------------------

def institution_state(inst: Institution) -> dict[str, Any]:
    """The ledgered state of an institution."""
    return {"name": inst.name, "acronym": inst.acronym, "kind": inst.kind,
            "parent_id": inst.parent_id, "region": inst.region, "sector": inst.sector,
            "criticality_tier": inst.criticality_tier, "website": inst.website,
            "description": inst.description,
            "contacts": [[c.full_name, c.position, c.email, c.phone] for c in inst.contacts]}


def system_state(system: InformationSystem) -> dict[str, Any]:
    """The ledgered state of an information system."""
    return {"name": system.name, "institution_id": system.institution_id,
            "purpose": system.purpose, "criticality": system.criticality,
            "data_classification": system.data_classification, "hosting": system.hosting,
            "personal_data": system.personal_data, "biometric_data": system.biometric_data,
            "endpoints": sorted([e.kind, e.value] for e in system.endpoints)}


# --- helpers ----------------------------------------------------------------------------

def _order(stmt: Select[Any], sort: str | None, columns: dict[str, Any], default: str,
           tiebreak: Any) -> Select[Any]:
    key = sort or default
    descending = key.startswith("-")
    column = columns.get(key.lstrip("-"))
    if column is None:
        raise Invalid("Unknown sort column %(column)s; allowed: %(allowed)s.",
                      column=key, allowed=", ".join(sorted(columns)))
    return stmt.order_by(column.desc() if descending else column.asc(), tiebreak)


def _like(value: str) -> str:
    return value.strip().lower()


# --- institutions -----------------------------------------------------------------------

def get_institution_id_by_acronym(*, session: Session, acronym: str) -> int | None:
    """The id of the institution with this acronym (case-insensitive), if any."""
    return session.scalar(select(Institution.id).where(Institution.acronym ==
                                                       acronym.strip().upper()))


def get_institution(*, session: Session, actor: Actor, institution_id: int,
                    permission: str = P.INSTITUTION_READ) -> Institution:
    """One institution the actor may see (404 when absent or out of scope)."""
    inst = session.get(Institution, institution_id)
    ensure_in_scope(actor, inst.id if inst else -1, permission, what=Msg("institution"))
    if inst is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("institution"))
    return inst


def get_institution_by_acronym(*, session: Session, actor: Actor, acronym: str) -> Institution:
    """One institution by acronym (404 when absent or out of scope)."""
    found = get_institution_id_by_acronym(session=session, acronym=acronym)
    return get_institution(session=session, actor=actor, institution_id=found or -1)


def institution_choices(*, session: Session) -> list[tuple[int, str]]:
    """Every institution as ``(id, "ACRONYM — name")`` by acronym (internal: no scope check;
    the core's account pages offer these to administrators)."""
    rows = session.execute(select(Institution.id, Institution.acronym, Institution.name)
                           .order_by(Institution.acronym)).all()
    return [(row.id, f"{row.acronym} — {row.name}") for row in rows]


def _ensure_acronym_free(session: Session, acronym: str, own_id: int | None = None) -> None:
    found = get_institution_id_by_acronym(session=session, acronym=acronym)
    if found is not None and found != own_id:
        raise Conflict("An institution with the acronym %(acronym)s already exists.",
                       acronym=acronym)


def check_parent(*, session: Session, institution_id: int | None, parent_id: int) -> None:
    """Refuse a parent that does not exist, is the institution itself, or closes a cycle."""
    if institution_id is not None and parent_id == institution_id:
        raise Conflict("An institution cannot be its own parent.")
    if session.get(Institution, parent_id) is None:
        raise Invalid("The parent institution %(id)s does not exist.", id=parent_id)
    current: int | None = parent_id
    seen: set[int] = set()
    while current is not None:
        if current == institution_id or current in seen or len(seen) > MAX_DEPTH:
            raise Conflict("This parent would create a cycle in the institution hierarchy.")
        seen.add(current)
        current = session.scalar(select(Institution.parent_id).where(Institution.id == current))


def _contacts(data: InstitutionCreate | InstitutionUpdate) -> list[Contact]:
    return [Contact(full_name=c.full_name, position=c.position, email=c.email, phone=c.phone)
            for c in data.contacts or []]


def create_institution(*, session: Session, actor: Actor, data: InstitutionCreate) -> Institution:
    """Register an institution (the agency); the acronym must be unique."""
    actor.require(P.INSTITUTION_CREATE)
    _ensure_acronym_free(session, data.acronym)
    if data.parent_id is not None:
        check_parent(session=session, institution_id=None, parent_id=data.parent_id)
    inst = Institution(
        name=data.name, acronym=data.acronym, kind=data.kind.value, parent_id=data.parent_id,
        region=data.region.value, sector=data.sector.value,
        criticality_tier=data.criticality_tier, website=data.website,
        description=data.description, contacts=_contacts(data))
    session.add(inst)
    _flush(session)
    audit.record(session=session, actor=actor, action="registry.institution.create",
                 object_type="institution", object_id=inst.id, object_repr=inst.acronym,
                 after=institution_state(inst), institution_id=inst.id)
    return inst


def _changes(data: InstitutionUpdate | SystemUpdate) -> dict[str, Any]:
    return {k: getattr(data, k) for k in data.model_fields_set
            if k not in ("version", "contacts", "endpoints")}


def update_institution(*, session: Session, actor: Actor, institution_id: int,
                       data: InstitutionUpdate) -> Institution:
    """Change an institution; a stale ``version`` is refused with 409."""
    inst = get_institution(session=session, actor=actor, institution_id=institution_id,
                           permission=P.INSTITUTION_WRITE)
    _check_version(inst.version, data.version)
    changes = _changes(data)
    for key in ("name", "kind", "region", "sector", "criticality_tier", "acronym"):
        if key in changes and changes[key] is None:
            raise Invalid("The field %(field)s cannot be empty.", field=key)
    touched = {k for k, v in changes.items() if getattr(inst, k) != v}
    if touched & AGENCY_ONLY_FIELDS and not actor.can(P.INSTITUTION_CREATE):
        raise Forbidden("Only the agency may change the acronym, type, parent or criticality "
                        "tier of an institution.")
    if "acronym" in touched:
        _ensure_acronym_free(session, changes["acronym"], inst.id)
    if "parent_id" in touched and changes["parent_id"] is not None:
        check_parent(session=session, institution_id=inst.id, parent_id=changes["parent_id"])
    before = institution_state(inst)
    for key, value in changes.items():
        setattr(inst, key, value.value if hasattr(value, "value") else value)
    if data.contacts is not None:
        inst.contacts = _contacts(data)
    after = institution_state(inst)
    if after == before:
        return inst
    inst.updated_at = utcnow()  # always touch the row so its version moves on
    _flush(session)
    audit.record(session=session, actor=actor, action="registry.institution.update",
                 object_type="institution", object_id=inst.id, object_repr=inst.acronym,
                 before=before, after=after, institution_id=inst.id)
    return inst


def delete_institution(*, session: Session, actor: Actor, institution_id: int,
                       version: int | None = None) -> None:
    """Delete an institution that has no sub-institutions, systems or accounts (the agency)."""
    inst = get_institution(session=session, actor=actor, institution_id=institution_id,
                           permission=P.INSTITUTION_CREATE)
    if version is not None:
        _check_version(inst.version, version)
    for model, column, msgid in (
        (Institution, Institution.parent_id,
         "This institution still has %(count)s sub-institutions: move or delete them first."),
        (InformationSystem, InformationSystem.institution_id,
         "This institution still has %(count)s information systems: delete them first."),
        (User, User.institution_id,
         "This institution still has %(count)s user accounts: move or delete them first."),
    ):
        count = session.scalar(select(func.count()).select_from(model)
                               .where(column == inst.id)) or 0
        if count:
            raise Conflict(msgid, count=count)
    before = institution_state(inst)
    session.delete(inst)
    _flush(session)
    audit.record(session=session, actor=actor, action="registry.institution.delete",
                 object_type="institution", object_id=institution_id, object_repr=inst.acronym,
                 before=before, institution_id=institution_id)


def _institution_filters(stmt: Select[Any], query: InstitutionQuery) -> Select[Any]:
    if query.q:
        needle = _like(query.q)
        stmt = stmt.where(func.lower(Institution.name).contains(needle, autoescape=True)
                          | func.lower(Institution.acronym).contains(needle, autoescape=True))
    simple: list[tuple[Any, Any]] = [
        (Institution.kind, query.kind), (Institution.region, query.region),
        (Institution.sector, query.sector), (Institution.criticality_tier, query.tier),
        (Institution.parent_id, query.parent_id)]
    for column, value in simple:
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def list_institutions(*, session: Session, actor: Actor, query: InstitutionQuery | None = None
                      ) -> tuple[list[Institution], int]:
    """Institutions the actor may see, searched, filtered, sorted and paged, with the total."""
    query = query or InstitutionQuery()
    stmt = restrict(select(Institution), actor=actor, permission=P.INSTITUTION_READ,
                    scope=Institution.id)
    stmt = _institution_filters(stmt, query)
    total = _count(session, stmt)
    stmt = _order(stmt, query.sort, INSTITUTION_SORTS, "name", Institution.id)
    rows = session.scalars(stmt.options(selectinload(Institution.contacts))
                           .limit(query.limit).offset(query.offset)).unique().all()
    return list(rows), total


def all_institutions(*, session: Session, actor: Actor) -> list[Institution]:
    """Every institution the actor may see, by acronym (exports, pickers)."""
    stmt = restrict(select(Institution), actor=actor, permission=P.INSTITUTION_READ,
                    scope=Institution.id).order_by(Institution.acronym)
    return list(session.scalars(stmt.options(selectinload(Institution.contacts))).unique())


@dataclass(frozen=True)
class InstitutionSummary:
    """The few facts of an institution that scores and reports need (no contacts)."""

    id: int
    acronym: str
    name: str
    kind: str
    criticality_tier: int
    parent_id: int | None


def institution_summaries(*, session: Session, actor: Actor) -> list[InstitutionSummary]:
    """Every institution the actor may see, as light summaries by acronym (one query, no
    ORM objects): for aggregations over hundreds of institutions."""
    columns: Any = select(Institution.id, Institution.acronym, Institution.name,
                          Institution.kind, Institution.criticality_tier, Institution.parent_id)
    stmt = restrict(columns, actor=actor, permission=P.INSTITUTION_READ,
                    scope=Institution.id).order_by(Institution.acronym)
    return [InstitutionSummary(*row) for row in session.execute(stmt)]


def children(*, session: Session, actor: Actor, institution_id: int) -> list[Institution]:
    """The direct sub-institutions the actor may see."""
    get_institution(session=session, actor=actor, institution_id=institution_id)
    stmt = restrict(select(Institution), actor=actor, permission=P.INSTITUTION_READ,
                    scope=Institution.id).where(Institution.parent_id == institution_id)
    return list(session.scalars(stmt.order_by(Institution.name)).unique())


def ancestors(*, session: Session, actor: Actor, institution_id: int) -> list[Institution]:
    """The chain of parents the actor may see, nearest first."""
    inst = get_institution(session=session, actor=actor, institution_id=institution_id)
    chain: list[Institution] = []
    current = inst.parent
    while current is not None and len(chain) < MAX_DEPTH:
        if not actor.is_national and current.id != actor.institution_id:
            break
        chain.append(current)
        current = current.parent
    return chain


# --- information systems ----------------------------------------------------------------

def get_system(*, session: Session, actor: Actor, system_id: int,
               permission: str = P.SYSTEM_READ) -> InformationSystem:
    """One information system the actor may see (404 when absent or out of scope)."""
    system = session.get(InformationSystem, system_id)
    ensure_in_scope(actor, system.institution_id if system else -1, permission,
                    what=Msg("information system"))
    if system is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("information system"))
    return system


def get_system_by_name(*, session: Session, institution_id: int, name: str
                       ) -> InformationSystem | None:
    """The system of an institution with this name, if any (internal: no scope check)."""
    return session.scalar(select(InformationSystem).where(
        InformationSystem.institution_id == institution_id, InformationSystem.name == name))


def _owner(session: Session, actor: Actor, institution_id: int) -> Institution:
    return get_institution(session=session, actor=actor, institution_id=institution_id,
                           permission=P.SYSTEM_WRITE)


def _ensure_name_free(session: Session, owner: Institution, name: str,
                      own_id: int | None = None) -> None:
    found = get_system_by_name(session=session, institution_id=owner.id, name=name)
    if found is not None and found.id != own_id:
        raise Conflict("%(acronym)s already has a system named %(name)s.",
                       acronym=owner.acronym, name=name)


def _endpoints(data: SystemCreate | SystemUpdate) -> list[Endpoint]:
    return [Endpoint(kind=e.kind.value, value=e.value) for e in data.endpoints or []]


def create_system(*, session: Session, actor: Actor, data: SystemCreate) -> InformationSystem:
    """Register an information system of an institution in the actor's scope."""
    owner = _owner(session, actor, data.institution_id)
    _ensure_name_free(session, owner, data.name)
    system = InformationSystem(
        name=data.name, institution_id=owner.id, institution=owner, purpose=data.purpose,
        criticality=data.criticality.value, data_classification=data.data_classification.value,
        hosting=data.hosting.value, personal_data=data.personal_data,
        biometric_data=data.biometric_data, endpoints=_endpoints(data))
    session.add(system)
    _flush(session)
    audit.record(session=session, actor=actor, action="registry.system.create",
                 object_type="system", object_id=system.id,
                 object_repr=f"{owner.acronym}/{system.name}", after=system_state(system),
                 institution_id=owner.id)
    return system


def update_system(*, session: Session, actor: Actor, system_id: int, data: SystemUpdate
                  ) -> InformationSystem:
    """Change a system; a stale ``version`` is refused with 409."""
    system = get_system(session=session, actor=actor, system_id=system_id,
                        permission=P.SYSTEM_WRITE)
    _check_version(system.version, data.version)
    changes = _changes(data)
    for key in ("name", "institution_id", "criticality", "data_classification", "hosting",
                "personal_data", "biometric_data"):
        if key in changes and changes[key] is None:
            raise Invalid("The field %(field)s cannot be empty.", field=key)
    owner = system.institution
    if changes.get("institution_id", owner.id) != owner.id:
        owner = _owner(session, actor, changes["institution_id"])
    if owner.id != system.institution_id or changes.get("name", system.name) != system.name:
        _ensure_name_free(session, owner, changes.get("name", system.name), system.id)
    before = system_state(system)
    for key, value in changes.items():
        setattr(system, key, value.value if hasattr(value, "value") else value)
    system.institution = owner
    if data.endpoints is not None:
        wanted = {(e.kind.value, e.value) for e in data.endpoints}
        system.endpoints = [e for e in system.endpoints if (e.kind, e.value) in wanted]
        have = {(e.kind, e.value) for e in system.endpoints}
        system.endpoints.extend(e for e in _endpoints(data) if (e.kind, e.value) not in have)
    after = system_state(system)
    if after == before:
        return system
    system.updated_at = utcnow()
    _flush(session)
    audit.record(session=session, actor=actor, action="registry.system.update",
                 object_type="system", object_id=system.id,
                 object_repr=f"{owner.acronym}/{system.name}", before=before, after=after,
                 institution_id=owner.id)
    return system


def delete_system(*, session: Session, actor: Actor, system_id: int,
                  version: int | None = None) -> None:
    """Delete an information system."""
    system = get_system(session=session, actor=actor, system_id=system_id,
                        permission=P.SYSTEM_WRITE)
    if version is not None:
        _check_version(system.version, version)
    before = system_state(system)
    label = f"{system.institution.acronym}/{system.name}"
    owner_id = system.institution_id
    session.delete(system)
    _flush(session)
    audit.record(session=session, actor=actor, action="registry.system.delete",
                 object_type="system", object_id=system_id, object_repr=label, before=before,
                 institution_id=owner_id)


def _has_endpoint() -> ColumnElement[bool]:
    return select(Endpoint.id).where(Endpoint.system_id == InformationSystem.id).exists()


def _system_filters(stmt: Select[Any], query: SystemQuery) -> Select[Any]:
    if query.q:
        needle = _like(query.q)
        stmt = stmt.where(func.lower(InformationSystem.name).contains(needle, autoescape=True)
                          | func.lower(Institution.acronym).contains(needle, autoescape=True)
                          | select(Endpoint.id).where(
                              Endpoint.system_id == InformationSystem.id,
                              func.lower(Endpoint.value).contains(needle, autoescape=True)
                          ).exists())
    simple: list[tuple[Any, Any]] = [
        (InformationSystem.institution_id, query.institution_id),
        (InformationSystem.criticality, query.criticality),
        (InformationSystem.hosting, query.hosting),
        (InformationSystem.data_classification, query.data_classification),
        (InformationSystem.personal_data, query.personal_data),
        (InformationSystem.biometric_data, query.biometric_data)]
    for column, value in simple:
        if value is not None:
            stmt = stmt.where(column == value)
    if query.internet_facing is not None:
        stmt = stmt.where(_has_endpoint() if query.internet_facing else ~_has_endpoint())
    return stmt


def _systems_stmt(actor: Actor) -> Select[Any]:
    return restrict(select(InformationSystem).join(
        Institution, Institution.id == InformationSystem.institution_id),
        actor=actor, permission=P.SYSTEM_READ, scope=InformationSystem.institution_id)


def list_systems(*, session: Session, actor: Actor, query: SystemQuery | None = None
                 ) -> tuple[list[InformationSystem], int]:
    """Systems the actor may see, searched, filtered, sorted and paged, with the total."""
    query = query or SystemQuery()
    stmt = _system_filters(_systems_stmt(actor), query)
    total = _count(session, stmt)
    stmt = _order(stmt, query.sort, SYSTEM_SORTS, "name", InformationSystem.id)
    rows = session.scalars(stmt.options(selectinload(InformationSystem.endpoints))
                           .limit(query.limit).offset(query.offset)).unique().all()
    return list(rows), total


def all_systems(*, session: Session, actor: Actor) -> list[InformationSystem]:
    """Every system the actor may see, by owner acronym then name (exports)."""
    stmt = _systems_stmt(actor).order_by(Institution.acronym, InformationSystem.name)
    return list(session.scalars(stmt.options(selectinload(InformationSystem.endpoints)))
                .unique())


# --- dashboard --------------------------------------------------------------------------

def count_institutions(session: Session, actor: Actor) -> int:
    """How many institutions the actor sees."""
    return _count(session, restrict(select(Institution.id), actor=actor,
                                    permission=P.INSTITUTION_READ, scope=Institution.id))


def count_systems(session: Session, actor: Actor) -> int:
    """How many information systems the actor sees."""
    return _count(session, _systems_stmt(actor))


def count_internet_facing(session: Session, actor: Actor) -> int:
    """How many visible systems have at least one internet-facing endpoint."""
    return _count(session, _systems_stmt(actor).where(_has_endpoint()))


def count_biometric(session: Session, actor: Actor) -> int:
    """How many visible systems process biometric data."""
    return _count(session, _systems_stmt(actor).where(InformationSystem.biometric_data.is_(True)))


def dashboard_counts(*, session: Session, actor: Actor) -> dict[str, int]:
    """Every registry figure of the home dashboard, for the actor's scope."""
    return {"institutions": count_institutions(session, actor),
            "systems": count_systems(session, actor),
            "internet_facing": count_internet_facing(session, actor),
            "biometric": count_biometric(session, actor)}

"""Compliance services: import, browse and export catalogs (OSCAL) and profiles.

The baseline is national: every person may read it, only the agency imports. Versions are
append-only: importing a catalog version (or profile) that exists with the same content does
nothing; with different content it is refused with 409, so nothing an assessment relies on
ever changes. Every import is ledgered. Services never commit.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from lakana.compliance import oscal
from lakana.compliance.models import (
    Catalog,
    CatalogVersion,
    Domain,
    MaturityLevel,
    Profile,
    ProfileRequirement,
    Requirement,
)
from lakana.compliance.permissions import CompliancePermission as P
from lakana.compliance.schemas import RequirementQuery
from lakana.core import audit
from lakana.core.auth.rbac import Actor
from lakana.core.db import count_rows as _count
from lakana.core.errors import Conflict, Invalid, NotFound
from lakana.core.i18n import N_, Msg


def _not_found(what: str) -> NotFound:
    return NotFound("This %(what)s does not exist or is not visible to you.", what=Msg(what))


# --- catalogs ------------------------------------------------------------------------------

def _find_version(session: Session, catalog_id: str, version: str) -> CatalogVersion | None:
    return session.scalar(select(CatalogVersion).join(Catalog).where(
        Catalog.catalog_id == catalog_id, CatalogVersion.version == version))


def _requirement(parsed: oscal.ParsedRequirement, version_id: int, domain_id: int,
                 position: int) -> Requirement:
    refs = " ".join(r.upper() for r in (*parsed.iso_refs, *parsed.csf_refs))
    words = (parsed.control_id, parsed.title_fr, parsed.title_en, parsed.statement_fr,
             parsed.statement_en, parsed.legal_source)
    return Requirement(
        catalog_version_id=version_id, domain_id=domain_id, control_id=parsed.control_id,
        kind=parsed.kind, title_fr=parsed.title_fr, title_en=parsed.title_en,
        statement_fr=parsed.statement_fr, statement_en=parsed.statement_en,
        guidance_fr=parsed.guidance_fr, guidance_en=parsed.guidance_en,
        tiers=",".join(parsed.tiers), weight=parsed.weight, iso_refs=list(parsed.iso_refs),
        csf_refs=list(parsed.csf_refs), legal_source=parsed.legal_source, position=position,
        refs_text=f" {refs} ", search_text=" ".join(words).casefold())


def store_catalog(*, session: Session, actor: Actor, parsed: oscal.ParsedCatalog,
                  origin: str = "oscal") -> tuple[CatalogVersion, bool]:
    """Store a checked catalog as a new version; ``(version, created)``.

    The same version with the same content is a no-op; with other content, 409.
    """
    actor.require(P.CATALOG_MANAGE)
    existing = _find_version(session, parsed.catalog_id, parsed.version)
    if existing is not None:
        if existing.sha256 == parsed.sha256:
            return existing, False
        raise Conflict("The catalog version %(key)s already exists with other content: "
                       "versions never change; give this one a new version number.",
                       key=existing.key)
    catalog = session.scalar(select(Catalog).where(Catalog.catalog_id == parsed.catalog_id))
    if catalog is None:
        catalog = Catalog(catalog_id=parsed.catalog_id, title_fr=parsed.title_fr,
                          title_en=parsed.title_en)
        session.add(catalog)
    else:  # the catalog shows the titles of its newest version
        catalog.title_fr, catalog.title_en = parsed.title_fr, parsed.title_en
    version = CatalogVersion(
        catalog=catalog, version=parsed.version, uuid=parsed.uuid, title_fr=parsed.title_fr,
        title_en=parsed.title_en, oscal_version=parsed.oscal_version,
        last_modified=parsed.last_modified, imported_by=actor.name[:254],
        sha256=parsed.sha256, source=json.dumps(parsed.source, ensure_ascii=False))
    version.maturity_levels = [MaturityLevel(level=lvl, text_fr=fr, text_en=en)
                               for lvl, fr, en in parsed.maturity]
    version.domains = [Domain(code=d.code, title_fr=d.title_fr, title_en=d.title_en,
                              position=i) for i, d in enumerate(parsed.domains)]
    session.add(version)
    session.flush()
    position = 0
    rows = []
    for domain, parsed_domain in zip(version.domains, parsed.domains, strict=True):
        for item in parsed_domain.requirements:
            rows.append(_requirement(item, version.id, domain.id, position))
            position += 1
    session.add_all(rows)
    session.flush()
    audit.record(session=session, actor=actor, action="compliance.catalog.import",
                 object_type="catalog_version", object_id=version.id, object_repr=version.key,
                 after={"sha256": version.sha256, "requirements": len(rows)},
                 details={"origin": origin})
    return version, True


def import_catalog(*, session: Session, actor: Actor, content: bytes | str | dict[str, Any]
                   ) -> tuple[CatalogVersion, bool]:
    """Import an OSCAL catalog document as a new catalog version (422 with JSON paths)."""
    actor.require(P.CATALOG_MANAGE)
    return store_catalog(session=session, actor=actor, parsed=oscal.parse_catalog(content))


def list_catalogs(*, session: Session, actor: Actor) -> list[Catalog]:
    """Every catalog with its versions, by id."""
    actor.require(P.CATALOG_READ)
    return list(session.scalars(select(Catalog).options(selectinload(Catalog.versions))
                                .order_by(Catalog.catalog_id)))


def get_catalog_version(*, session: Session, actor: Actor, catalog_version_id: int
                        ) -> CatalogVersion:
    """One catalog version (404 when absent)."""
    actor.require(P.CATALOG_READ)
    version = session.get(CatalogVersion, catalog_version_id)
    if version is None:
        raise _not_found("catalog version")
    return version


def get_catalog_version_by_key(*, session: Session, actor: Actor, catalog_id: str,
                               version: str) -> CatalogVersion:
    """A catalog version by catalog id and version string (404 when absent)."""
    actor.require(P.CATALOG_READ)
    found = _find_version(session, catalog_id, version)
    if found is None:
        raise NotFound("There is no version %(version)s of the catalog %(catalog)s.",
                       version=version, catalog=catalog_id)
    return found


def get_version_or_none(*, session: Session, catalog_id: str, version: str
                        ) -> CatalogVersion | None:
    """A catalog version by key, or None (internal: no permission check)."""
    return _find_version(session, catalog_id, version)


def latest_version(*, session: Session, actor: Actor, catalog_id: str
                   ) -> CatalogVersion | None:
    """The most recently imported version of a catalog, if any."""
    actor.require(P.CATALOG_READ)
    return session.scalar(select(CatalogVersion).join(Catalog)
                          .where(Catalog.catalog_id == catalog_id)
                          .order_by(CatalogVersion.id.desc()).limit(1))


def requirement_counts(*, session: Session, catalog_version_ids: list[int]) -> dict[int, int]:
    """How many requirements each catalog version holds (internal: no permission check)."""
    rows = session.execute(select(Requirement.catalog_version_id, func.count())
                           .where(Requirement.catalog_version_id.in_(catalog_version_ids))
                           .group_by(Requirement.catalog_version_id)).all()
    return {row[0]: row[1] for row in rows}


def export_catalog(*, session: Session, actor: Actor, catalog_version_id: int
                   ) -> dict[str, Any]:
    """The catalog version as OSCAL JSON, exactly as it was imported."""
    version = get_catalog_version(session=session, actor=actor,
                                  catalog_version_id=catalog_version_id)
    source: dict[str, Any] = json.loads(version.source)
    return source


# --- requirements --------------------------------------------------------------------------

def _filtered(stmt: Select[Any], query: RequirementQuery) -> Select[Any]:
    if query.domain:
        stmt = stmt.where(Requirement.domain_id.in_(
            select(Domain.id).where(Domain.code == query.domain)))
    if query.tier is not None:
        stmt = stmt.where(Requirement.tiers.contains(str(query.tier)))
    if query.kind:
        stmt = stmt.where(Requirement.kind == query.kind)
    if query.q:
        stmt = stmt.where(Requirement.search_text.contains(query.q.casefold(), autoescape=True))
    if query.ref:
        stmt = stmt.where(Requirement.refs_text.contains(" " + query.ref.upper(),
                                                         autoescape=True))
    return stmt


def list_requirements(*, session: Session, actor: Actor, catalog_version_id: int,
                      query: RequirementQuery | None = None) -> tuple[list[Requirement], int]:
    """Requirements of a catalog version, searched (``q``), filtered (domain, tier, kind,
    ISO/CSF ``ref`` prefix) and paged, in catalog order, with the total."""
    query = query or RequirementQuery()
    version = get_catalog_version(session=session, actor=actor,
                                  catalog_version_id=catalog_version_id)
    stmt = _filtered(select(Requirement).where(Requirement.catalog_version_id == version.id),
                     query)
    total = _count(session, stmt)
    rows = session.scalars(stmt.order_by(Requirement.position)
                           .limit(query.limit).offset(query.offset)).all()
    return list(rows), total


def all_requirements(*, session: Session, actor: Actor, catalog_version_id: int
                     ) -> list[Requirement]:
    """Every requirement of a catalog version in catalog order (exports)."""
    version = get_catalog_version(session=session, actor=actor,
                                  catalog_version_id=catalog_version_id)
    return list(session.scalars(select(Requirement).where(
        Requirement.catalog_version_id == version.id).order_by(Requirement.position)))


def get_requirement(*, session: Session, actor: Actor, requirement_id: int) -> Requirement:
    """One requirement (404 when absent)."""
    actor.require(P.CATALOG_READ)
    found = session.get(Requirement, requirement_id)
    if found is None:
        raise _not_found("requirement")
    return found


# --- profiles ------------------------------------------------------------------------------

def _resolve(session: Session, parsed: oscal.ParsedProfile
             ) -> tuple[list[CatalogVersion], list[Requirement]]:
    problems: list[dict[str, Any]] = []

    def problem(path: str, message: str, **params: Any) -> None:
        problems.append({"path": path, "message": message,
                         "params": {k: str(v) for k, v in params.items()}})

    versions: list[CatalogVersion] = []
    chosen: list[Requirement] = []
    for item in parsed.imports:
        catalog_id, _, number = item.href.partition("@")
        version = _find_version(session, catalog_id, number) if number else None
        if version is None:
            problem(f"{item.path}.href", N_("Unknown catalog version %(href)s: import it "
                                            "first (expected <catalog-id>@<version>)."),
                    href=item.href)
            continue
        versions.append(version)
        rows = list(session.scalars(select(Requirement).where(
            Requirement.catalog_version_id == version.id).order_by(Requirement.position)))
        by_id = {r.control_id: r for r in rows}
        for ident, path in (*item.include_ids, *item.exclude_ids):
            if ident not in by_id:
                problem(path, N_("The control %(id)s is not in %(href)s."), id=ident,
                        href=item.href)
        included = {i for i, _ in item.include_ids}
        excluded = {i for i, _ in item.exclude_ids}
        chosen.extend(r for r in rows if (item.include_all or r.control_id in included)
                      and r.control_id not in excluded)
    if problems:
        raise Invalid("The OSCAL %(what)s is invalid (%(count)s problem(s)); nothing was "
                      "imported.", what=Msg("profile"), count=len(problems), errors=problems)
    unique = list({r.id: r for r in chosen}.values())
    return versions, unique


def import_profile(*, session: Session, actor: Actor, content: bytes | str | dict[str, Any]
                   ) -> tuple[Profile, bool]:
    """Import an OSCAL profile, resolving its imports against known catalog versions
    (``<catalog-id>@<version>``); ``(profile, created)``."""
    actor.require(P.CATALOG_MANAGE)
    parsed = oscal.parse_profile(content)
    existing = session.scalar(select(Profile).where(Profile.profile_id == parsed.profile_id,
                                                    Profile.version == parsed.version))
    if existing is not None:
        if existing.sha256 == parsed.sha256:
            return existing, False
        raise Conflict("The profile %(key)s already exists with other content: versions never "
                       "change; give this one a new version number.", key=existing.key)
    versions, requirements = _resolve(session, parsed)
    profile = Profile(
        profile_id=parsed.profile_id, version=parsed.version, uuid=parsed.uuid,
        title_fr=parsed.title_fr, title_en=parsed.title_en, oscal_version=parsed.oscal_version,
        base_version_id=versions[0].id, imports=[v.key for v in versions],
        imported_by=actor.name[:254], sha256=parsed.sha256,
        source=json.dumps(parsed.source, ensure_ascii=False))
    session.add(profile)
    session.flush()
    session.add_all(ProfileRequirement(profile_pk=profile.id, requirement_id=r.id, position=i)
                    for i, r in enumerate(requirements))
    session.flush()
    audit.record(session=session, actor=actor, action="compliance.profile.import",
                 object_type="profile", object_id=profile.id, object_repr=profile.key,
                 after={"sha256": profile.sha256, "requirements": len(requirements),
                        "imports": profile.imports})
    return profile, True


def list_profiles(*, session: Session, actor: Actor) -> list[Profile]:
    """Every profile, by id then version."""
    actor.require(P.CATALOG_READ)
    return list(session.scalars(select(Profile).order_by(Profile.profile_id, Profile.id)))


def get_profile(*, session: Session, actor: Actor, profile_id: int) -> Profile:
    """One profile (404 when absent)."""
    actor.require(P.CATALOG_READ)
    found = session.get(Profile, profile_id)
    if found is None:
        raise _not_found("profile")
    return found


def _profile_stmt(profile_pk: int) -> Select[Any]:
    return (select(Requirement).join(ProfileRequirement,
                                     ProfileRequirement.requirement_id == Requirement.id)
            .where(ProfileRequirement.profile_pk == profile_pk))


def list_profile_requirements(*, session: Session, actor: Actor, profile_id: int,
                              query: RequirementQuery | None = None
                              ) -> tuple[list[Requirement], int]:
    """The resolved requirements of a profile, filtered and paged, with the total."""
    query = query or RequirementQuery()
    profile = get_profile(session=session, actor=actor, profile_id=profile_id)
    stmt = _filtered(_profile_stmt(profile.id), query)
    total = _count(session, stmt)
    rows = session.scalars(stmt.order_by(ProfileRequirement.position)
                           .limit(query.limit).offset(query.offset)).all()
    return list(rows), total


def profile_counts(*, session: Session, profile: Profile) -> tuple[int, int]:
    """``(resolved requirements, requirements of the baseline version)``."""
    resolved = _count(session, _profile_stmt(profile.id))
    base = requirement_counts(session=session, catalog_version_ids=[profile.base_version_id])
    return resolved, base.get(profile.base_version_id, 0)


def profile_diff(*, session: Session, actor: Actor, profile_id: int
                 ) -> tuple[list[str], list[str]]:
    """``(added, dropped)`` control ids compared with the profile's baseline version;
    added ids from another catalog are written ``<catalog-id>@<version>:<id>``."""
    profile = get_profile(session=session, actor=actor, profile_id=profile_id)
    rows = session.execute(select(Requirement.control_id, Requirement.catalog_version_id,
                                  CatalogVersion.version, Catalog.catalog_id)
                           .join(ProfileRequirement,
                                 ProfileRequirement.requirement_id == Requirement.id)
                           .join(CatalogVersion,
                                 CatalogVersion.id == Requirement.catalog_version_id)
                           .join(Catalog, Catalog.id == CatalogVersion.catalog_pk)
                           .where(ProfileRequirement.profile_pk == profile.id)
                           .order_by(ProfileRequirement.position)).all()
    base_ids = list(session.scalars(select(Requirement.control_id).where(
        Requirement.catalog_version_id == profile.base_version_id)
        .order_by(Requirement.position)))
    kept = {r.control_id for r in rows if r.catalog_version_id == profile.base_version_id}
    added = [f"{r.catalog_id}@{r.version}:{r.control_id}" for r in rows
             if r.catalog_version_id != profile.base_version_id]
    dropped = [i for i in base_ids if i not in kept]
    return added, dropped


def export_profile(*, session: Session, actor: Actor, profile_id: int,
                   resolved: bool = False) -> dict[str, Any]:
    """The profile as imported (OSCAL profile), or its resolved OSCAL catalog."""
    profile = get_profile(session=session, actor=actor, profile_id=profile_id)
    source: dict[str, Any] = json.loads(profile.source)
    if not resolved:
        return source
    selections: list[tuple[dict[str, Any], list[str]]] = []
    for key in profile.imports:
        catalog_id, _, number = key.partition("@")
        version = get_catalog_version_by_key(session=session, actor=actor,
                                             catalog_id=catalog_id, version=number)
        kept = list(session.scalars(_profile_stmt(profile.id).with_only_columns(
            Requirement.control_id).where(Requirement.catalog_version_id == version.id)))
        selections.append((json.loads(version.source), kept))
    return oscal.resolved_catalog(profile=source, selections=selections)


# --- dashboard -----------------------------------------------------------------------------

def count_profiles(session: Session, actor: Actor) -> int:
    """How many profiles are known."""
    actor.require(P.CATALOG_READ)
    return _count(session, select(Profile.id))

"""Tables of the compliance domain: catalogs and their immutable versions, profiles.

Versions are append-only: once imported, a catalog version (its domains, requirements and
maturity scale) and a profile (its resolved requirements) never change, so that an
assessment tied to them keeps meaning what it meant when it was made.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lakana.core.db import Base, utcnow


class Catalog(Base):
    """A catalog of requirements (such as the national baseline), identified by a slug."""

    __tablename__ = "compliance_catalog"

    id: Mapped[int] = mapped_column(primary_key=True)
    catalog_id: Mapped[str] = mapped_column(String(80), unique=True)
    title_fr: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[CatalogVersion]] = relationship(
        back_populates="catalog", order_by="CatalogVersion.id")

    def __repr__(self) -> str:
        return f"<Catalog {self.catalog_id}>"


class CatalogVersion(Base):
    """One imported version of a catalog, kept with its OSCAL source for faithful export."""

    __tablename__ = "compliance_catalog_version"
    __table_args__ = (UniqueConstraint("catalog_pk", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    catalog_pk: Mapped[int] = mapped_column(
        ForeignKey("compliance_catalog.id", ondelete="RESTRICT"), index=True)
    version: Mapped[str] = mapped_column(String(60))
    uuid: Mapped[str] = mapped_column(String(40))
    title_fr: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300))
    oscal_version: Mapped[str] = mapped_column(String(20))
    last_modified: Mapped[str] = mapped_column(String(40), default="")
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(254))
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)

    catalog: Mapped[Catalog] = relationship(back_populates="versions", lazy="joined",
                                            innerjoin=True)
    domains: Mapped[list[Domain]] = relationship(order_by="Domain.position",
                                                 cascade="all, delete-orphan")
    maturity_levels: Mapped[list[MaturityLevel]] = relationship(
        order_by="MaturityLevel.level", cascade="all, delete-orphan")

    @property
    def catalog_id(self) -> str:
        """The catalog's slug."""
        return self.catalog.catalog_id

    @property
    def key(self) -> str:
        """How profiles name this version: ``<catalog-id>@<version>``."""
        return f"{self.catalog.catalog_id}@{self.version}"

    def __repr__(self) -> str:
        return f"<CatalogVersion {self.key}>"


class Domain(Base):
    """A group of requirements of one catalog version (an OSCAL group)."""

    __tablename__ = "compliance_domain"
    __table_args__ = (UniqueConstraint("catalog_version_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    catalog_version_id: Mapped[int] = mapped_column(
        ForeignKey("compliance_catalog_version.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(80))
    title_fr: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer)


class Requirement(Base):
    """A requirement or legal obligation (an OSCAL control) of one catalog version."""

    __tablename__ = "compliance_requirement"
    __table_args__ = (UniqueConstraint("catalog_version_id", "control_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    catalog_version_id: Mapped[int] = mapped_column(
        ForeignKey("compliance_catalog_version.id", ondelete="CASCADE"), index=True)
    domain_id: Mapped[int] = mapped_column(
        ForeignKey("compliance_domain.id", ondelete="CASCADE"), index=True)
    control_id: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    title_fr: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300))
    statement_fr: Mapped[str] = mapped_column(Text)
    statement_en: Mapped[str] = mapped_column(Text)
    guidance_fr: Mapped[str] = mapped_column(Text, default="")
    guidance_en: Mapped[str] = mapped_column(Text, default="")
    #: Criticality tiers the requirement applies to, as "1,2,3".
    tiers: Mapped[str] = mapped_column(String(20))
    weight: Mapped[int] = mapped_column(Integer, default=1)
    iso_refs: Mapped[list[str]] = mapped_column(JSON, default=list)
    csf_refs: Mapped[list[str]] = mapped_column(JSON, default=list)
    legal_source: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer)
    #: " A.5.1 GV.OC " for prefix searches by mapping, on SQLite and PostgreSQL alike.
    refs_text: Mapped[str] = mapped_column(Text, default="")
    #: Case-folded id, titles and statements in both languages, for the text search.
    search_text: Mapped[str] = mapped_column(Text, default="")

    domain: Mapped[Domain] = relationship(lazy="joined", innerjoin=True)

    @property
    def domain_code(self) -> str:
        """The code of the requirement's domain."""
        return self.domain.code

    @property
    def tier_list(self) -> list[int]:
        """The tiers as numbers."""
        return [int(t) for t in self.tiers.split(",") if t]

    def text(self, field: str, language: str) -> str:
        """``title``, ``statement`` or ``guidance`` in ``language`` (French by default)."""
        value: Any = getattr(self, f"{field}_{'en' if language == 'en' else 'fr'}")
        return str(value or "")


class MaturityLevel(Base):
    """One step (0 to 5) of a catalog version's maturity scale."""

    __tablename__ = "compliance_maturity_level"
    __table_args__ = (UniqueConstraint("catalog_version_id", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    catalog_version_id: Mapped[int] = mapped_column(
        ForeignKey("compliance_catalog_version.id", ondelete="CASCADE"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    text_fr: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)


class Profile(Base):
    """A tailoring of catalog versions (an OSCAL profile), resolved when imported."""

    __tablename__ = "compliance_profile"
    __table_args__ = (UniqueConstraint("profile_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(80), index=True)
    version: Mapped[str] = mapped_column(String(60))
    uuid: Mapped[str] = mapped_column(String(40))
    title_fr: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300))
    oscal_version: Mapped[str] = mapped_column(String(20))
    #: The catalog version of the first import: the baseline the profile is compared with.
    base_version_id: Mapped[int] = mapped_column(
        ForeignKey("compliance_catalog_version.id", ondelete="RESTRICT"), index=True)
    #: Every imported catalog version, as ``["ml-baseline@2026.1", ...]`` in import order.
    imports: Mapped[list[str]] = mapped_column(JSON, default=list)
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(254))
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)

    base_version: Mapped[CatalogVersion] = relationship(lazy="joined", innerjoin=True)

    @property
    def key(self) -> str:
        """``<profile-id>@<version>``."""
        return f"{self.profile_id}@{self.version}"


class ProfileRequirement(Base):
    """One requirement of a profile's resolved set."""

    __tablename__ = "compliance_profile_requirement"
    __table_args__ = (UniqueConstraint("profile_pk", "requirement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_pk: Mapped[int] = mapped_column(
        ForeignKey("compliance_profile.id", ondelete="CASCADE"), index=True)
    requirement_id: Mapped[int] = mapped_column(
        ForeignKey("compliance_requirement.id", ondelete="RESTRICT"), index=True)
    position: Mapped[int] = mapped_column(Integer)

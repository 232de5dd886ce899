"""Pydantic schemas of the compliance domain (API output and list queries)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ExportFormat(StrEnum):
    """How a catalog version can be exported."""

    OSCAL = "oscal"
    XLSX = "xlsx"
    CSV = "csv"


class MaturityLevelOut(BaseModel):
    """One step of a maturity scale."""

    model_config = ConfigDict(from_attributes=True)

    level: int
    text_fr: str
    text_en: str


class DomainOut(BaseModel):
    """A domain (OSCAL group) of a catalog version."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    title_fr: str
    title_en: str
    position: int


class CatalogVersionOut(BaseModel):
    """A catalog version as the API lists it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    catalog_id: str
    version: str
    key: str
    title_fr: str
    title_en: str
    oscal_version: str
    imported_at: dt.datetime
    imported_by: str
    sha256: str
    requirements: int = 0


class CatalogVersionDetailOut(CatalogVersionOut):
    """A catalog version with its domains and maturity scale."""

    domains: list[DomainOut]
    maturity_levels: list[MaturityLevelOut]


class CatalogOut(BaseModel):
    """A catalog and its versions, newest last."""

    id: int
    catalog_id: str
    title_fr: str
    title_en: str
    versions: list[CatalogVersionOut]


class ImportResultOut(BaseModel):
    """What an import did: ``created`` is false when the same content was already there."""

    created: bool
    id: int
    key: str


class RequirementOut(BaseModel):
    """A requirement of a catalog version."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    catalog_version_id: int
    control_id: str
    kind: str
    domain_code: str
    title_fr: str
    title_en: str
    statement_fr: str
    statement_en: str
    guidance_fr: str
    guidance_en: str
    tiers: list[int] = Field(validation_alias="tier_list")
    weight: int
    iso_refs: list[str]
    csf_refs: list[str]
    legal_source: str


class ProfileOut(BaseModel):
    """A profile, with the size of its resolved set."""

    id: int
    profile_id: str
    version: str
    key: str
    title_fr: str
    title_en: str
    oscal_version: str
    imports: list[str]
    base_version_id: int
    imported_at: dt.datetime
    requirements: int
    baseline_requirements: int


class ProfileDetailOut(ProfileOut):
    """A profile with its difference from its baseline catalog version."""

    added: list[str]
    dropped: list[str]


class RequirementQuery(BaseModel):
    """Search, filters and page of a requirement list."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    q: str | None = Field(default=None, max_length=100)
    domain: str | None = Field(default=None, max_length=80)
    tier: int | None = Field(default=None, ge=1, le=3)
    kind: str | None = Field(default=None, pattern=r"^(requirement|legal)$")
    ref: str | None = Field(default=None, max_length=40)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

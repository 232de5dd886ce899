"""Pydantic schemas of the skills register: inputs, outputs, list queries, staffing reports."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from lakana.core.i18n import N_
from lakana.registry.schemas import lakana_error

#: How far ahead a certification counts as "expiring soon".
EXPIRY_WARNING_DAYS = 90


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class HolderCreate(BaseModel):
    """A person newly holding a role profile in an institution."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    institution_id: int = Field(gt=0)
    profile_id: str = Field(min_length=1, max_length=40)
    full_name: str = Field(min_length=2, max_length=200)
    email: EmailStr | None = None
    position: str = Field(default="", max_length=200)
    since: dt.date
    until: dt.date | None = None

    _blank = field_validator("email", "until", mode="before")(_blank_to_none)

    @model_validator(mode="after")
    def _period(self) -> HolderCreate:
        if self.until is not None and self.until < self.since:
            raise lakana_error(N_("The end date may not be before the start date."))
        return self


class HolderUpdate(BaseModel):
    """Changes to a role holder; ``version`` is the one read (409 when stale)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    profile_id: str | None = Field(default=None, min_length=1, max_length=40)
    full_name: str | None = Field(default=None, min_length=2, max_length=200)
    email: EmailStr | None = None
    position: str | None = Field(default=None, max_length=200)
    since: dt.date | None = None
    until: dt.date | None = None
    version: int | None = None

    _blank = field_validator("email", "until", mode="before")(_blank_to_none)


class CertificationCreate(BaseModel):
    """A certification earned by a role holder."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str = Field(min_length=2, max_length=120)
    issuer: str = Field(default="", max_length=120)
    credential_id: str | None = Field(default=None, max_length=120)
    obtained_on: dt.date
    expires_on: dt.date | None = None

    _blank = field_validator("credential_id", "expires_on", mode="before")(_blank_to_none)

    @model_validator(mode="after")
    def _expiry(self) -> CertificationCreate:
        if self.expires_on is not None and self.expires_on <= self.obtained_on:
            raise lakana_error(N_("A certification must expire after the date it was "
                                   "obtained."))
        return self


class HolderQuery(BaseModel):
    """Filters of the list of role holders."""

    model_config = ConfigDict(extra="forbid")

    institution_id: int | None = None
    profile_id: str | None = Field(default=None, max_length=40)
    q: str | None = Field(default=None, max_length=200)
    include_past: bool = False
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class CertificationOut(BaseModel):
    """A certification as the API shows it, with its state on the day asked."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    issuer: str
    credential_id: str | None
    obtained_on: dt.date
    expires_on: dt.date | None
    state: str = ""


class HolderOut(BaseModel):
    """A role holder as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_id: int
    institution_acronym: str = ""
    profile_id: str
    profile_title: str = ""
    full_name: str
    email: str | None
    position: str
    since: dt.date
    until: dt.date | None
    active: bool = True
    version: int
    certifications: list[CertificationOut] = []


class ProfileOut(BaseModel):
    """A role profile of the framework, with the staffing each tier requires."""

    id: str
    title: str
    mission: str
    required_by_tier: dict[int, int]


class ProfileStaffing(BaseModel):
    """One profile in a staffing report: required, held, missing, certifications."""

    profile_id: str
    title: str
    required: int
    held: int
    missing: int
    certified: int
    expiring: int
    expired: int


class InstitutionStaffing(BaseModel):
    """An institution's staffing against its tier: per profile and in total."""

    institution_id: int
    acronym: str
    name: str
    tier: int
    required: int
    filled: int
    missing: int
    coverage: int | None = Field(description="Filled required seats, in percent (none when "
                                             "the tier requires nobody).")
    expiring: int
    expired: int
    profiles: list[ProfileStaffing]


class NationalStaffing(BaseModel):
    """The national talent gap: per profile over every visible institution, and per
    institution."""

    as_of: dt.date
    required: int
    filled: int
    missing: int
    coverage: int | None
    institutions_short: int
    profiles: list[ProfileStaffing]
    institutions: list[InstitutionStaffing]

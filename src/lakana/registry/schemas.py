"""Pydantic schemas of the registry (API and form input, API output) and its enumerations.

Labels are English gettext message ids, translated where they are shown. Validation errors
raised by our own validators carry their message id and parameters (see :func:`lakana_error`)
so forms and CSV reports can show them in French or English.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError


class InstitutionKind(StrEnum):
    """What sort of public body an institution is."""

    PRESIDENCY = "presidency"
    MINISTRY = "ministry"
    DIRECTORATE = "directorate"
    AGENCY = "agency"
    PUBLIC_BODY = "public_body"
    STATE_COMPANY = "state_company"
    INDEPENDENT_AUTHORITY = "independent_authority"
    REGIONAL_ADMINISTRATION = "regional_administration"
    LOCAL_ADMINISTRATION = "local_administration"
    OTHER = "other"


class Region(StrEnum):
    """Mali's regions and the District of Bamako."""

    BAMAKO = "bamako"
    KAYES = "kayes"
    KOULIKORO = "koulikoro"
    SIKASSO = "sikasso"
    SEGOU = "segou"
    MOPTI = "mopti"
    TOMBOUCTOU = "tombouctou"
    GAO = "gao"
    KIDAL = "kidal"
    MENAKA = "menaka"
    TAOUDENI = "taoudeni"
    NIORO = "nioro"
    KITA = "kita"
    DIOILA = "dioila"
    NARA = "nara"
    BOUGOUNI = "bougouni"
    KOUTIALA = "koutiala"
    SAN = "san"
    DOUENTZA = "douentza"
    BANDIAGARA = "bandiagara"


class Sector(StrEnum):
    """The field an institution works in."""

    GOVERNMENT = "government"
    FINANCE = "finance"
    DEFENCE = "defence"
    SECURITY = "security"
    JUSTICE = "justice"
    HEALTH = "health"
    EDUCATION = "education"
    ENERGY = "energy"
    TELECOMMUNICATIONS = "telecommunications"
    TRANSPORT = "transport"
    AGRICULTURE = "agriculture"
    WATER = "water"
    SOCIAL_PROTECTION = "social_protection"
    ELECTIONS = "elections"
    CIVIL_REGISTRY = "civil_registry"
    MEDIA = "media"
    MINING = "mining"
    OTHER = "other"


class Criticality(StrEnum):
    """How much harm an outage or compromise of a system would do."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class DataClassification(StrEnum):
    """The highest classification of the data a system holds."""

    PUBLIC = "public"
    INTERNAL = "internal"
    RESTRICTED = "restricted"
    SECRET = "secret"


class Hosting(StrEnum):
    """Where a system runs."""

    OWN_PREMISES = "own_premises"
    GOVERNMENT_DATACENTRE = "government_datacentre"
    NATIONAL_CLOUD = "national_cloud"
    FOREIGN_CLOUD = "foreign_cloud"


class EndpointKind(StrEnum):
    """The form of an internet-facing address."""

    URL = "url"
    DOMAIN = "domain"
    IP = "ip"


LABELS: dict[str, str] = {
    # kinds
    "presidency": "Presidency or Primature", "ministry": "Ministry",
    "directorate": "Directorate or department", "agency": "Agency",
    "public_body": "Public body", "state_company": "State-owned company",
    "independent_authority": "Independent authority",
    "regional_administration": "Regional administration",
    "local_administration": "Local administration", "other": "Other",
    # regions (proper names: the same in both languages)
    "bamako": "District of Bamako", "kayes": "Kayes", "koulikoro": "Koulikoro",
    "sikasso": "Sikasso", "segou": "Ségou", "mopti": "Mopti", "tombouctou": "Tombouctou",
    "gao": "Gao", "kidal": "Kidal", "menaka": "Ménaka", "taoudeni": "Taoudénit",
    "nioro": "Nioro du Sahel", "kita": "Kita", "dioila": "Dioïla", "nara": "Nara",
    "bougouni": "Bougouni", "koutiala": "Koutiala", "san": "San", "douentza": "Douentza",
    "bandiagara": "Bandiagara",
    # sectors
    "government": "General administration", "finance": "Economy and finance",
    "defence": "Defence", "security": "Internal security", "justice": "Justice",
    "health": "Health", "education": "Education and research", "energy": "Energy",
    "telecommunications": "Telecommunications and digital", "transport": "Transport",
    "agriculture": "Agriculture and livestock", "water": "Water and sanitation",
    "social_protection": "Social protection", "elections": "Elections",
    "civil_registry": "Civil registry and identity", "media": "Media",
    "mining": "Mines and industry",
    # criticality
    "low": "Low", "medium": "Medium", "high": "High", "critical": "Critical",
    # classification
    "public": "Public", "internal": "Internal", "restricted": "Restricted",
    "secret": "Secret",
    # hosting
    "own_premises": "Own premises", "government_datacentre": "Government data centre",
    "national_cloud": "National cloud", "foreign_cloud": "Foreign cloud",
    # endpoints
    "url": "URL", "domain": "Domain name", "ip": "IP address",
}

TIER_LABELS: dict[int, str] = {1: "Tier 1 (vital)", 2: "Tier 2 (important)", 3: "Tier 3 (standard)"}


def label(value: object) -> str:
    """The English label (a gettext message id) of an enumeration value."""
    if isinstance(value, int) and not isinstance(value, bool):
        return TIER_LABELS.get(value, str(value))
    text = str(value)
    return LABELS.get(text, text)


def lakana_error(msgid: str, **params: Any) -> PydanticCustomError:
    """A validation error that keeps its gettext message id and parameters in its context."""
    template = re.sub(r"%\((\w+)\)s", r"{\1}", msgid)
    return PydanticCustomError("lakana", template, {"msgid": msgid, **params})


_HOST_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
HOSTNAME_RE = re.compile(
    rf"^(?=.{{1,253}}$){_HOST_LABEL}(\.{_HOST_LABEL})*\.[a-z][a-z0-9-]{{1,62}}$")
ACRONYM_RE = re.compile(r"^[0-9A-ZÀ-ÖØ-Þ][0-9A-ZÀ-ÖØ-Þ&.\-_/]{0,29}$")
PHONE_RE = re.compile(r"^\+?[0-9 ().\-]{6,30}$")


def _hostname(value: str) -> str:
    host = value.strip().lower().rstrip(".")
    if not HOSTNAME_RE.match(host):
        raise lakana_error("Not a valid domain name: %(value)s.", value=value)
    return host


def _ip(value: str) -> str:
    try:
        return ipaddress.ip_address(value.strip()).compressed
    except ValueError:
        raise lakana_error("Not a valid IP address: %(value)s.", value=value) from None


def _url(value: str) -> str:
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname \
            or any(c.isspace() for c in text):
        raise lakana_error("Not a valid web address (http:// or https://): %(value)s.",
                           value=value)
    host = parts.hostname
    try:
        ipaddress.ip_address(host)
    except ValueError:
        _hostname(host)
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise lakana_error("Not a valid web address (http:// or https://): %(value)s.",
                           value=value) from None
    return text


def normalize_endpoint(kind: str, value: str) -> str:
    """Check and normalise an endpoint value (raises a pydantic custom error)."""
    if kind == EndpointKind.IP:
        return _ip(value)
    if kind == EndpointKind.DOMAIN:
        return _hostname(value)
    return _url(value)


def guess_endpoint_kind(value: str) -> EndpointKind:
    """The kind of a bare endpoint (CSV cells, form lines): IP, URL (has ``://``) or domain."""
    text = value.strip()
    try:
        ipaddress.ip_address(text)
        return EndpointKind.IP
    except ValueError:
        pass
    return EndpointKind.URL if "://" in text else EndpointKind.DOMAIN


def normalize_acronym(value: str) -> str:
    """Acronyms are upper-case, without surrounding spaces."""
    acronym = value.strip().upper()
    if not ACRONYM_RE.match(acronym):
        raise lakana_error("An acronym has 1 to 30 letters, digits or - & . _ / "
                           "and starts with a letter or digit: %(value)s.", value=value)
    return acronym


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ContactIn(_Strict):
    """A contact person given with an institution."""

    full_name: str = Field(min_length=1, max_length=200)
    position: str = Field(default="", max_length=120)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=40)

    @field_validator("email", "phone", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not PHONE_RE.match(value):
            raise lakana_error("Not a valid phone number: %(value)s.", value=value)
        return value


class ContactOut(BaseModel):
    """A contact person as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    full_name: str
    position: str
    email: str | None
    phone: str | None


Tier = Annotated[int, Field(ge=1, le=3)]


def _website(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return _url(value)


class InstitutionCreate(_Strict):
    """Input to register an institution."""

    name: str = Field(min_length=2, max_length=200)
    acronym: str = Field(min_length=1, max_length=30)
    kind: InstitutionKind
    parent_id: int | None = None
    region: Region
    sector: Sector
    criticality_tier: Tier
    website: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=5000)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=50)

    @field_validator("acronym")
    @classmethod
    def _acronym(cls, value: str) -> str:
        return normalize_acronym(value)

    @field_validator("website")
    @classmethod
    def _site(cls, value: str | None) -> str | None:
        return _website(value)


class InstitutionUpdate(_Strict):
    """A partial change to an institution; ``version`` is the one the client read."""

    name: str | None = Field(default=None, min_length=2, max_length=200)
    acronym: str | None = Field(default=None, min_length=1, max_length=30)
    kind: InstitutionKind | None = None
    parent_id: int | None = None
    region: Region | None = None
    sector: Sector | None = None
    criticality_tier: Tier | None = None
    website: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=5000)
    contacts: list[ContactIn] | None = Field(default=None, max_length=50)
    version: int | None = Field(default=None, ge=1)

    @field_validator("acronym")
    @classmethod
    def _acronym(cls, value: str | None) -> str | None:
        return None if value is None else normalize_acronym(value)

    @field_validator("website")
    @classmethod
    def _site(cls, value: str | None) -> str | None:
        return _website(value)


class InstitutionOut(BaseModel):
    """An institution as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    acronym: str
    kind: str
    parent_id: int | None
    region: str
    sector: str
    criticality_tier: int
    website: str | None
    description: str | None
    contacts: list[ContactOut]
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class EndpointIn(_Strict):
    """An internet-facing address of a system."""

    kind: EndpointKind
    value: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _check(self) -> EndpointIn:
        self.value = normalize_endpoint(self.kind, self.value)
        return self


class EndpointOut(BaseModel):
    """An endpoint as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    kind: str
    value: str


def _unique_endpoints(value: list[EndpointIn] | None) -> list[EndpointIn] | None:
    if value is None:
        return None
    seen: set[tuple[str, str]] = set()
    for endpoint in value:
        key = (endpoint.kind.value, endpoint.value)
        if key in seen:
            raise lakana_error("The endpoint %(value)s is listed twice.", value=endpoint.value)
        seen.add(key)
    return value


class SystemCreate(_Strict):
    """Input to register an information system."""

    name: str = Field(min_length=2, max_length=200)
    institution_id: int
    purpose: str = Field(default="", max_length=5000)
    criticality: Criticality
    data_classification: DataClassification
    hosting: Hosting
    personal_data: bool = False
    biometric_data: bool = False
    endpoints: list[EndpointIn] = Field(default_factory=list, max_length=200)

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, value: list[EndpointIn] | None) -> list[EndpointIn] | None:
        return _unique_endpoints(value)


class SystemUpdate(_Strict):
    """A partial change to a system; ``version`` is the one the client read."""

    name: str | None = Field(default=None, min_length=2, max_length=200)
    institution_id: int | None = None
    purpose: str | None = Field(default=None, max_length=5000)
    criticality: Criticality | None = None
    data_classification: DataClassification | None = None
    hosting: Hosting | None = None
    personal_data: bool | None = None
    biometric_data: bool | None = None
    endpoints: list[EndpointIn] | None = Field(default=None, max_length=200)
    version: int | None = Field(default=None, ge=1)

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, value: list[EndpointIn] | None) -> list[EndpointIn] | None:
        return _unique_endpoints(value)


class SystemOut(BaseModel):
    """An information system as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    institution_id: int
    institution_acronym: str
    purpose: str
    criticality: str
    data_classification: str
    hosting: str
    personal_data: bool
    biometric_data: bool
    endpoints: list[EndpointOut]
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int

    @model_validator(mode="before")
    @classmethod
    def _from_model(cls, value: Any) -> Any:
        if hasattr(value, "institution") and not isinstance(value, dict):
            data = {name: getattr(value, name) for name in cls.model_fields
                    if name != "institution_acronym"}
            data["institution_acronym"] = value.institution.acronym
            return data
        return value


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    q: str | None = Field(default=None, max_length=100)
    sort: str | None = Field(default=None, max_length=40)
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class InstitutionQuery(_Query):
    """Search, filters, sort and page of the institutions list."""

    kind: InstitutionKind | None = None
    region: Region | None = None
    sector: Sector | None = None
    tier: Tier | None = None
    parent_id: int | None = None


class SystemQuery(_Query):
    """Search, filters, sort and page of the systems list."""

    institution_id: int | None = None
    criticality: Criticality | None = None
    hosting: Hosting | None = None
    data_classification: DataClassification | None = None
    personal_data: bool | None = None
    biometric_data: bool | None = None
    internet_facing: bool | None = None


class RowErrorOut(BaseModel):
    """One problem of a CSV import: the spreadsheet row (header is row 1) and column."""

    row: int
    column: str | None
    message: str


class ImportReportOut(BaseModel):
    """What a CSV import did (or would have done)."""

    applied: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    errors: list[RowErrorOut]


_PYDANTIC_MESSAGES: dict[str, str] = {
    "missing": "This value is required.",
    "enum": "Unknown value %(value)s; allowed: %(allowed)s.",
    "string_too_short": "Too short (at least %(min)s characters).",
    "string_too_long": "Too long (at most %(max)s characters).",
    "int_parsing": "Expected a whole number.",
    "int_type": "Expected a whole number.",
    "bool_parsing": "Expected yes or no.",
    "greater_than_equal": "Must be at least %(min)s.",
    "less_than_equal": "Must be at most %(max)s.",
    "too_long": "Too many items (at most %(max)s).",
    "value_error": "Not a valid value: %(value)s.",
    "extra_forbidden": "Unknown field.",
}


def describe_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Each validation problem as ``{"field", "message", "params"}`` with a gettext msgid."""
    out: list[dict[str, Any]] = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        ctx = dict(err.get("ctx") or {})
        if err["type"] == "lakana":
            msgid = str(ctx.pop("msgid"))
            params = {k: str(v) for k, v in ctx.items()}
        else:
            msgid = _PYDANTIC_MESSAGES.get(err["type"], "Not a valid value: %(value)s.")
            params = {"value": str(err.get("input", ""))[:100],
                      "allowed": str(ctx.get("expected", "")),
                      "min": str(ctx.get("min_length", ctx.get("ge", ""))),
                      "max": str(ctx.get("max_length", ctx.get("le", "")))}
        out.append({"field": loc[0] if loc else "", "loc": loc, "message": msgid,
                    "params": params})
    return out

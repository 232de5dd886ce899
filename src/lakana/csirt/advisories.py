"""Advisories of the centre to institutions and the public: write, publish (CSAF, signed),
revise, read.

Rules:

* The centre (``COORDINATE``) writes drafts and publishes; every staff role
  (``ADVISORY_READ``) reads *published* advisories, whatever their audience; a draft is
  invisible (404) to anyone else. Anonymous readers go through :func:`get_public` /
  :func:`list_public`: published TLP:CLEAR advisories only.
* TLP: a public advisory is TLP:CLEAR; one for institutions is CLEAR, GREEN or AMBER.
  TLP:RED and TLP:AMBER+STRICT advisories cannot exist (what leaves the platform never
  carries them).
* Publishing builds the CSAF document, checks it against the official schema **before**
  anything changes (a failure lists the JSON paths and changes nothing), signs it, keeps the
  exact bytes, hashes and signature, ledgers it, and, for institutions, notifies every
  active focal point (inbox and e-mail) in the same transaction.
* A published advisory changes only through :func:`revise`, which republishes at once with a
  new revision (CSAF ``tracking.version`` and ``revision_history``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lakana.core import i18n
from lakana.core.audit import record
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Actor, Role
from lakana.core.concurrency import check_version, flush_or_conflict
from lakana.core.config import Settings
from lakana.core.db import as_utc, count_rows, utcnow
from lakana.core.errors import Conflict, Invalid, NotFound
from lakana.core.i18n import N_, Msg
from lakana.core.notifications.service import notify
from lakana.csirt import csaf, webhooks
from lakana.csirt.advisory_models import Advisory
from lakana.csirt.models import Case
from lakana.csirt.permissions import CsirtPermission as P
from lakana.csirt.tlp import LABELS as TLP_LABELS
from lakana.csirt.tlp import NEVER_SHARED, Tlp
from lakana.csirt.tlp import parse as parse_tlp

TRACKING_PREFIX = "ML-CSIRT"
Audience = Literal["institutions", "public"]
SeverityLevel = Literal["low", "medium", "high", "critical"]
RemediationCategory = Literal["vendor_fix", "mitigation", "workaround", "none_available",
                              "no_fix_planned"]
AUDIENCE_LABELS = {"institutions": N_("Institutions"), "public": N_("Public")}
SEVERITY_LABELS = {"low": N_("Low"), "medium": N_("Medium"), "high": N_("High"),
                   "critical": N_("Critical")}
REMEDIATION_LABELS = {"vendor_fix": N_("Vendor fix"), "mitigation": N_("Mitigation"),
                      "workaround": N_("Workaround"), "none_available": N_("None available"),
                      "no_fix_planned": N_("No fix planned")}
STATUS_LABELS = {"draft": N_("Draft"), "published": N_("Published")}
FIRST_RELEASE = "Publication initiale."
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
_CVE = r"^CVE-[0-9]{4}-[0-9]{4,}$"
_ADVISORY = Msg("advisory")


# --- input and output ----------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _url(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not _URL.match(value) or not value.isprintable():
        raise ValueError("not an http(s) URL")
    return value


def normalize_cves(values: list[str]) -> list[str]:
    """CVE ids upper-cased, checked (``CVE-2026-12345``), duplicates dropped."""
    out: list[str] = []
    for value in values:
        cve = value.strip().upper()
        if not re.fullmatch(_CVE, cve):
            raise ValueError(f"{value[:30]!r} is not a CVE id (CVE-2026-12345)")
        if cve not in out:
            out.append(cve)
    return out


class ProductIn(_Strict):
    """A product of a vendor: the affected version range and the fixed version(s)."""

    vendor: str = Field(min_length=1, max_length=100)
    product: str = Field(min_length=1, max_length=100)
    #: ``>=7.0.0 <7.2.5`` or a ``vers:`` range; empty when only fixed versions are known.
    affected: str = Field(default="", max_length=100)
    #: ``7.2.5`` or ``7.2.5, 7.4.1``.
    fixed: str = Field(default="", max_length=100)


class RemediationIn(_Strict):
    """What to do: a vendor fix, a mitigation, a workaround."""

    category: RemediationCategory
    details: str = Field(min_length=1, max_length=2000)
    url: str | None = Field(default=None, max_length=500)

    _check_url = field_validator("url")(_url)


class ReferenceIn(_Strict):
    """A link to read more (vendor bulletin, CVE record)."""

    url: str = Field(max_length=500)
    summary: str = Field(default="", max_length=300)

    @field_validator("url")
    @classmethod
    def _check(cls, value: str) -> str:
        checked = _url(value)
        if checked is None:
            raise ValueError("a URL is required")
        return checked


class _Fields(_Strict):
    title_en: str = Field(default="", max_length=200)
    summary_en: str = Field(default="", max_length=5000)
    details_en: str = Field(default="", max_length=20000)
    details_fr: str = Field(default="", max_length=20000)
    cves: list[str] = Field(default_factory=list, max_length=50)
    products: list[ProductIn] = Field(default_factory=list, max_length=50)
    remediations: list[RemediationIn] = Field(default_factory=list, max_length=20)
    references: list[ReferenceIn] = Field(default_factory=list, max_length=20)

    @field_validator("cves")
    @classmethod
    def _cves(cls, values: list[str]) -> list[str]:
        return normalize_cves(values)


class AdvisoryCreate(_Fields):
    """A new advisory (a draft). ``tlp`` takes ``TLP:GREEN``, ``green``..."""

    title_fr: str = Field(min_length=3, max_length=200)
    summary_fr: str = Field(min_length=1, max_length=5000)
    audience: Audience
    tlp: str = Field(default="clear", max_length=20)
    severity: SeverityLevel = "medium"
    case_id: int | None = None


class AdvisoryUpdate(_Strict):
    """Changes to an advisory; fields left out keep their value. ``version`` is the one
    read (or the ``If-Match`` header)."""

    title_fr: str | None = Field(default=None, min_length=3, max_length=200)
    title_en: str | None = Field(default=None, max_length=200)
    summary_fr: str | None = Field(default=None, min_length=1, max_length=5000)
    summary_en: str | None = Field(default=None, max_length=5000)
    details_fr: str | None = Field(default=None, max_length=20000)
    details_en: str | None = Field(default=None, max_length=20000)
    audience: Audience | None = None
    tlp: str | None = Field(default=None, max_length=20)
    severity: SeverityLevel | None = None
    cves: list[str] | None = Field(default=None, max_length=50)
    products: list[ProductIn] | None = Field(default=None, max_length=50)
    remediations: list[RemediationIn] | None = Field(default=None, max_length=20)
    references: list[ReferenceIn] | None = Field(default=None, max_length=20)
    case_id: int | None = None
    version: int | None = None

    @field_validator("cves")
    @classmethod
    def _cves(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else normalize_cves(values)


class AdvisoryRevise(AdvisoryUpdate):
    """A revision of a published advisory: the changes and what changed, in a sentence."""

    revision_summary: str | None = Field(default=None, max_length=500)


class PublishIn(_Strict):
    """Publish a draft (``version`` as read)."""

    version: int | None = None


class AdvisoryQuery(BaseModel):
    """Filters and page of an advisory list."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    status: Literal["draft", "published"] | None = None
    audience: Audience | None = None
    q: str | None = Field(default=None, max_length=100)
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)

    @field_validator("status", "audience", "q", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class AdvisoryOut(BaseModel):
    """An advisory as the API shows it (``case_id`` only to the centre)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    tracking_id: str
    title_fr: str
    title_en: str
    summary_fr: str
    summary_en: str
    details_fr: str
    details_en: str
    audience: str
    tlp: str
    severity: str
    cves: list[str]
    products: list[dict[str, Any]]
    remediations: list[dict[str, Any]]
    references: list[dict[str, Any]]
    status: str
    revisions: list[dict[str, Any]]
    initial_release_date: dt.datetime | None
    current_release_date: dt.datetime | None
    csaf_sha256: str | None
    csaf_sha512: str | None
    signing_key: str | None
    case_id: int | None
    created_by: str
    created_at: dt.datetime
    version: int


# --- rules -----------------------------------------------------------------------------------

def check_tlp(audience: str, label: str) -> Tlp:
    """The advisory's TLP, refusing RED / AMBER+STRICT and a public advisory not CLEAR."""
    tlp = parse_tlp(label, default=Tlp.CLEAR)
    if tlp in NEVER_SHARED:
        raise Invalid("An advisory cannot be %(label)s: advisories leave the platform, and "
                      "what leaves it is never TLP:RED or TLP:AMBER+STRICT.",
                      label=Msg(TLP_LABELS[tlp]),
                      errors=[{"field": "tlp", "message": N_("Not allowed for an advisory.")}])
    if audience == "public" and tlp is not Tlp.CLEAR:
        raise Invalid("A public advisory is TLP:CLEAR (it is published for everyone).",
                      errors=[{"field": "tlp", "message": N_("A public advisory is "
                                                             "TLP:CLEAR.")}])
    return tlp


def _state(advisory: Advisory) -> dict[str, Any]:
    return {"tracking_id": advisory.tracking_id, "title_fr": advisory.title_fr,
            "title_en": advisory.title_en, "summary_fr": advisory.summary_fr,
            "summary_en": advisory.summary_en, "details_fr": advisory.details_fr,
            "details_en": advisory.details_en, "audience": advisory.audience,
            "tlp": advisory.tlp, "severity": advisory.severity, "cves": advisory.cves,
            "products": advisory.products, "remediations": advisory.remediations,
            "references": advisory.references, "status": advisory.status,
            "case_id": advisory.case_id, "revision": len(advisory.revisions or []),
            "csaf_sha256": advisory.csaf_sha256}


def content_of(advisory: Advisory, **changes: Any) -> csaf.Content:
    """The CSAF content of ``advisory`` with ``changes`` applied (the row is not touched)."""
    values = {name: getattr(advisory, name) for name in (
        "tracking_id", "title_fr", "title_en", "summary_fr", "summary_en", "details_fr",
        "details_en", "audience", "tlp", "severity", "cves", "products", "remediations",
        "references", "revisions", "initial_release_date", "current_release_date")}
    values.update(changes)
    values["status"] = "final" if values.get("revisions") else "draft"
    for name in ("initial_release_date", "current_release_date"):
        if values[name] is not None:
            values[name] = as_utc(values[name])
    for name in ("title_en", "summary_en", "details_fr", "details_en"):
        values[name] = values[name] or ""
    return csaf.Content(**values)


# --- reading ---------------------------------------------------------------------------------

def _visible(stmt: Select[Any], actor: Actor) -> Select[Any]:
    actor.require(P.ADVISORY_READ)
    if actor.can(P.COORDINATE):
        return stmt
    return stmt.where(Advisory.status == "published")


def get_advisory(*, session: Session, actor: Actor, advisory_id: int) -> Advisory:
    """One advisory the actor may read (a draft only for the centre; else 404)."""
    found: Advisory | None = session.scalars(
        _visible(select(Advisory), actor).where(Advisory.id == advisory_id)).first()
    if found is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=_ADVISORY)
    return found


def get_by_tracking_id(*, session: Session, actor: Actor, tracking_id: str) -> Advisory:
    """One advisory the actor may read, by tracking id (``ML-CSIRT-2026-0001``)."""
    found: Advisory | None = session.scalars(_visible(select(Advisory), actor).where(
        Advisory.tracking_id == tracking_id.strip()[:40].upper())).first()
    if found is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=_ADVISORY)
    return found


def list_advisories(*, session: Session, actor: Actor, query: AdvisoryQuery | None = None
                    ) -> tuple[list[Advisory], int]:
    """Advisories the actor may read, filtered, newest first, and how many in all."""
    query = query or AdvisoryQuery()
    stmt = _visible(select(Advisory), actor)
    if query.status:
        stmt = stmt.where(Advisory.status == query.status)
    if query.audience:
        stmt = stmt.where(Advisory.audience == query.audience)
    if query.q:
        like = f"%{query.q.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(Advisory.title_fr.ilike(like), Advisory.title_en.ilike(like),
                              Advisory.tracking_id.ilike(like)))
    total = count_rows(session, stmt)
    rows = session.scalars(stmt.order_by(Advisory.current_release_date.desc().nulls_first(),
                                         Advisory.id.desc())
                           .limit(query.limit).offset(query.offset)).all()
    return list(rows), total


def _public() -> Select[Any]:
    return select(Advisory).where(Advisory.status == "published", Advisory.tlp == "clear")


def list_public(*, session: Session, limit: int = 50, offset: int = 0
                ) -> tuple[list[Advisory], int]:
    """Published TLP:CLEAR advisories (no account needed), newest first."""
    stmt = _public()
    rows = session.scalars(stmt.order_by(Advisory.current_release_date.desc(),
                                         Advisory.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), count_rows(session, stmt)


def get_public(*, session: Session, tracking_id: str) -> Advisory:
    """A published TLP:CLEAR advisory by tracking id (404 for anything else)."""
    found: Advisory | None = session.scalars(
        _public().where(Advisory.tracking_id == tracking_id[:40].upper())).first()
    if found is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=_ADVISORY)
    return found


def public_documents(*, session: Session) -> list[Advisory]:
    """Every published TLP:CLEAR advisory (the public CSAF directory)."""
    return list(session.scalars(_public().order_by(Advisory.id)).all())


def public_path(advisory: Advisory) -> str:
    """``2026/ml-csirt-2026-0001.json`` (the initial release's year)."""
    assert advisory.initial_release_date is not None
    return csaf.relative_path(advisory.tracking_id, as_utc(advisory.initial_release_date))


def get_public_document(*, session: Session, year: str, name: str) -> Advisory:
    """The public advisory whose CSAF file is ``<year>/<name>`` (404 otherwise)."""
    for advisory in public_documents(session=session):
        if public_path(advisory) == f"{year}/{name}":
            return advisory
    raise NotFound("This %(what)s does not exist or is not visible to you.", what=_ADVISORY)


def last_change(*, session: Session) -> dt.datetime | None:
    """When the public directory last changed."""
    moment = session.scalar(select(func.max(Advisory.current_release_date)).where(
        Advisory.status == "published", Advisory.tlp == "clear"))
    return as_utc(moment) if moment is not None else None


def csaf_bytes(*, session: Session, actor: Actor, settings: Settings, advisory_id: int
               ) -> tuple[Advisory, bytes, bool]:
    """The CSAF document of an advisory: the signed one when published, else a preview
    (unsigned, ``status: draft``); the flag tells which."""
    advisory = get_advisory(session=session, actor=actor, advisory_id=advisory_id)
    if advisory.csaf_document is not None:
        return advisory, advisory.csaf_document.encode("utf-8"), True
    doc = csaf.build_document(content_of(advisory), base_url=settings.base_url,
                              advisory_id=advisory.id)
    return advisory, csaf.serialize(doc), False


def verify_published(advisory: Advisory, settings: Settings) -> bool:
    """Whether the stored document still matches its hashes and signature."""
    if advisory.csaf_document is None or advisory.csaf_signature is None:
        return False
    data = advisory.csaf_document.encode("utf-8")
    if csaf.digests(data) != (advisory.csaf_sha256, advisory.csaf_sha512):
        return False
    return csaf.verify(data, advisory.csaf_signature, csaf.public_key(settings))


# --- writing ---------------------------------------------------------------------------------

def _check_case(session: Session, case_id: int | None) -> None:
    if case_id is not None and session.get(Case, case_id) is None:
        raise Invalid("Unknown case %(case_id)s.", case_id=case_id,
                      errors=[{"field": "case_id", "message": N_("Unknown case.")}])


def _next_tracking_id(session: Session, year: int) -> str:
    prefix = f"{TRACKING_PREFIX}-{year}-"
    taken = session.scalars(select(Advisory.tracking_id).where(
        Advisory.tracking_id.like(f"{prefix}%"))).all()
    numbers = [int(t.removeprefix(prefix)) for t in taken if t.removeprefix(prefix).isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:04d}"


def _dump(items: Sequence[BaseModel]) -> list[dict[str, Any]]:
    return [item.model_dump(exclude_none=True) for item in items]


def create_advisory(*, session: Session, actor: Actor, data: AdvisoryCreate) -> Advisory:
    """Write a new draft (the centre); its tracking id is the next of the year."""
    actor.require(P.COORDINATE)
    tlp = check_tlp(data.audience, data.tlp)
    _check_case(session, data.case_id)
    advisory = Advisory(
        tracking_id=_next_tracking_id(session, utcnow().year), title_fr=data.title_fr,
        title_en=data.title_en, summary_fr=data.summary_fr, summary_en=data.summary_en,
        details_fr=data.details_fr, details_en=data.details_en, audience=data.audience,
        tlp=tlp.value, severity=data.severity, cves=list(data.cves),
        products=_dump(data.products), remediations=_dump(data.remediations),
        references=_dump(data.references), status="draft", case_id=data.case_id,
        revisions=[], created_by=actor.name, created_at=utcnow())
    session.add(advisory)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("Another advisory took tracking id %(tracking_id)s meanwhile: send "
                       "it again.", tracking_id=advisory.tracking_id) from None
    record(session=session, actor=actor, action="csirt.advisory.create",
           object_type="csirt.advisory", object_id=advisory.id,
           object_repr=advisory.tracking_id, after=_state(advisory))
    return advisory


def _changes(session: Session, advisory: Advisory, data: AdvisoryUpdate) -> dict[str, Any]:
    """The validated new values of the fields ``data`` sets."""
    sent = data.model_dump(exclude_unset=True, exclude={"version", "revision_summary"})
    changes: dict[str, Any] = {}
    for name, value in sent.items():
        if name in ("title_fr", "summary_fr", "audience", "severity") and value is None:
            continue  # a required field cannot be emptied
        changes[name] = "" if value is None and name.endswith(("_en", "_fr")) else value
    if "cves" in changes:
        changes["cves"] = list(changes["cves"] or [])
    for name in ("products", "remediations", "references"):
        if name in changes:
            changes[name] = [{k: v for k, v in item.items() if v is not None}
                             for item in changes[name] or []]
    audience = changes.get("audience", advisory.audience)
    changes["tlp"] = check_tlp(audience, changes.get("tlp") or advisory.tlp).value
    if "case_id" in changes:
        _check_case(session, changes["case_id"])
    return {k: v for k, v in changes.items() if getattr(advisory, k) != v}


def update_advisory(*, session: Session, actor: Actor, advisory_id: int,
                    data: AdvisoryUpdate) -> Advisory:
    """Change a draft (the centre). A published advisory changes through :func:`revise`."""
    advisory = get_advisory(session=session, actor=actor, advisory_id=advisory_id)
    actor.require(P.COORDINATE)
    check_version(advisory.version, data.version)
    if advisory.status != "draft":
        raise Conflict("Advisory %(tracking_id)s is published: change it with a revision, "
                       "which publishes it again.", tracking_id=advisory.tracking_id)
    changes = _changes(session, advisory, data)
    if not changes:
        return advisory
    before = _state(advisory)
    for name, value in changes.items():
        setattr(advisory, name, value)
    flush_or_conflict(session)
    record(session=session, actor=actor, action="csirt.advisory.update",
           object_type="csirt.advisory", object_id=advisory.id,
           object_repr=advisory.tracking_id, before=before, after=_state(advisory))
    return advisory


@dataclass(frozen=True)
class Release:
    """A document ready to publish: its bytes, hashes and signature."""

    data: bytes
    sha256: str
    sha512: str
    signature: str
    key: str


def _prepare(settings: Settings, advisory: Advisory, changes: dict[str, Any], summary: str,
             now: dt.datetime) -> tuple[dict[str, Any], Release]:
    """Build, check and sign the next release, before the row changes; a schema failure
    raises :class:`Invalid` with the JSON paths."""
    revisions = [*(advisory.revisions or []),
                 {"number": str(len(advisory.revisions or []) + 1),
                  "date": csaf.csaf_date(now), "summary": summary}]
    initial = as_utc(advisory.initial_release_date) if advisory.initial_release_date else now
    dates = {"revisions": revisions, "initial_release_date": initial,
             "current_release_date": now}
    content = content_of(advisory, **changes, **dates)
    doc = csaf.build_document(content, base_url=settings.base_url, advisory_id=advisory.id,
                              now=now)
    problems = csaf.validate_document(doc)
    if problems:
        raise Invalid("The CSAF document of this advisory does not pass the official CSAF "
                      "2.0 schema (%(count)s problem(s)): nothing was published.",
                      count=len(problems),
                      errors=[{"path": p.path, "message": p.message} for p in problems])
    data = csaf.serialize(doc)
    sha256, sha512 = csaf.digests(data)
    release = Release(data, sha256, sha512, csaf.sign(settings, data),
                      csaf.fingerprint(settings))
    return {**changes, **dates}, release


def _release(session: Session, actor: Actor, advisory: Advisory, values: dict[str, Any],
             release: Release, *, action: str) -> None:
    before = _state(advisory)
    for name, value in values.items():
        setattr(advisory, name, value)
    advisory.status = "published"
    advisory.csaf_document = release.data.decode("utf-8")
    advisory.csaf_sha256, advisory.csaf_sha512 = release.sha256, release.sha512
    advisory.csaf_signature, advisory.signing_key = release.signature, release.key
    advisory.published_by = actor.name
    flush_or_conflict(session)
    record(session=session, actor=actor, action=action, object_type="csirt.advisory",
           object_id=advisory.id, object_repr=advisory.tracking_id, before=before,
           after=_state(advisory),
           details={"revision": len(advisory.revisions), "sha256": release.sha256,
                    "signing_key": release.key, "tlp": advisory.tlp,
                    "audience": advisory.audience})
    if advisory.audience == "institutions":
        _tell_focal_points(session, advisory, revised=action.endswith("revise"))
    # Institutions' systems hear of it too; the label is CLEAR, GREEN or AMBER (check_tlp),
    # which may leave the platform. Public advisories go to every subscriber as well.
    webhooks.dispatch(session, event="advisory.published", payload={
        "tracking_id": advisory.tracking_id, "title": advisory.title_fr,
        "title_en": advisory.title_en, "audience": advisory.audience, "tlp": advisory.tlp,
        "severity": advisory.severity, "cves": list(advisory.cves or []),
        "revision": len(advisory.revisions or []), "sha256": release.sha256,
        "released_at": as_utc(advisory.current_release_date).isoformat()
        if advisory.current_release_date else None})


def publish(*, session: Session, actor: Actor, settings: Settings, advisory_id: int,
            version: int | None) -> Advisory:
    """Publish a draft: CSAF document checked against the schema, signed, kept, ledgered;
    institutions' focal points are told (audience ``institutions``)."""
    advisory = get_advisory(session=session, actor=actor, advisory_id=advisory_id)
    actor.require(P.COORDINATE)
    check_version(advisory.version, version)
    if advisory.status != "draft":
        raise Conflict("Advisory %(tracking_id)s is already published: publish a revision "
                       "instead.", tracking_id=advisory.tracking_id)
    check_tlp(advisory.audience, advisory.tlp)
    values, release = _prepare(settings, advisory, {}, FIRST_RELEASE,
                               utcnow().replace(microsecond=0))
    _release(session, actor, advisory, values, release, action="csirt.advisory.publish")
    return advisory


def revise(*, session: Session, actor: Actor, settings: Settings, advisory_id: int,
           data: AdvisoryRevise) -> Advisory:
    """Change a published advisory and publish it again as a new revision."""
    advisory = get_advisory(session=session, actor=actor, advisory_id=advisory_id)
    actor.require(P.COORDINATE)
    check_version(advisory.version, data.version)
    if advisory.status != "published":
        raise Conflict("Advisory %(tracking_id)s is a draft: edit it, then publish it.",
                       tracking_id=advisory.tracking_id)
    summary = (data.revision_summary or "").strip()
    if len(summary) < 3:
        raise Invalid("Say what changed in this revision (revision_summary).",
                      errors=[{"field": "revision_summary",
                               "message": N_("This value is required.")}])
    changes = _changes(session, advisory, data)
    values, release = _prepare(settings, advisory, changes, summary,
                               utcnow().replace(microsecond=0))
    _release(session, actor, advisory, values, release, action="csirt.advisory.revise")
    return advisory


def _tell_focal_points(session: Session, advisory: Advisory, *, revised: bool) -> None:
    """Inbox and e-mail to every active focal point, the title in their language."""
    by_language: dict[str, list[int]] = defaultdict(list)
    for user in session.scalars(select(User).where(User.role == Role.FOCAL_POINT.value,
                                                   User.is_active.is_(True))):
        by_language[i18n.normalize_language(user.language)].append(user.id)
    title = (N_("Advisory %(tracking_id)s revised: %(title)s") if revised
             else N_("New advisory %(tracking_id)s: %(title)s"))
    for language, user_ids in sorted(by_language.items()):
        text = advisory.title_en if language == "en" and advisory.title_en \
            else advisory.title_fr
        with i18n.use_language(language):
            severity = i18n.gettext(SEVERITY_LABELS.get(advisory.severity, "Medium"))
        notify(session=session, user_ids=user_ids, title=title,
               body=N_("The national CSIRT published an advisory for institutions "
                       "(%(tlp)s, severity %(severity)s)."),
               params={"tracking_id": advisory.tracking_id, "title": text,
                       "tlp": f"TLP:{advisory.tlp.upper()}", "severity": severity},
               link=f"/csirt/advisories/{advisory.id}",
               level="danger" if advisory.severity == "critical" else "warning", email=True)

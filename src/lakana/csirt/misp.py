"""MISP event JSON: a case exported as a MISP event, MISP events imported as cases.

**Export** (:func:`export_case`) builds, with PyMISP's own ``MISPEvent`` (offline: it only
reads the type catalogue it ships), the ``{"Event": {...}}`` document that MISP's REST API and
feeds produce. Decisions:

* Only what may leave the platform leaves it: a case labelled AMBER+STRICT or RED is refused
  (403); indicators labelled AMBER+STRICT or RED are left out; notes, attachments, the
  description and the reporter's details are never exported (the title is the event's
  ``info``).
* ``distribution`` follows the TLP label: AMBER → 0 (*your organisation only*: the
  recipient's organisation, TLP:AMBER's limit), GREEN → 1 (*this community only*: TLP:GREEN
  stays in the community, never passed to connected ones), CLEAR → 3 (*all communities*). An
  indicator with another label than its case gets its own ``tlp:`` tag and distribution,
  otherwise 5 (*inherit event*).
* ``to_ids`` is the indicator's IOC flag (a victim's address is no detection rule), always
  false for a CVE identifier. IP addresses are ``ip-src`` for scans, intrusion attempts and
  denial of service (the attacker is the source), ``ip-dst`` otherwise.
* UUIDs are derived (UUID v5) from the case and its indicators: exporting twice gives the same
  event, which MISP then updates instead of duplicating.

**Import** (:func:`import_events`) reads a document from outside through
:func:`lakana.core.safejson.loads` (20 MB, 32 levels, a value cap), accepts ``{"Event": …}``,
a bare event or ``{"response": [{"Event": …}, …]}``, checks its shape (a wrong type anywhere is
a 422 naming the JSON path) and makes each event one case (source ``partner``), idempotent by
the event's UUID (:class:`~lakana.csirt.exchange_models.ExternalReference`): importing it again
adds only the new indicators. Attributes of MISP objects are imported like the event's own.
PyMISP's loader is not used here: it stops a whole event on a type it does not know (newer
MISP versions add types), accepts numbers as values and iterates a string given for a list.

* Attribute types Lakana keeps no indicator for (``filename``, ``text``, ``regkey``…) are
  skipped and counted by type.
* An attribute whose value is not valid for its type (``ip-dst`` ``999.1.1.1``, a URL with
  spaces) **rejects the import** (422, every such attribute named): MISP validates values by
  type, so such a value means a corrupt or crafted file, and a partial case would let
  analysts believe they hold indicators they do not. ``skip_invalid`` imports the rest
  instead and reports them.
* The TLP label comes from the event's ``tlp:`` tag (AMBER when none; ``tlp:white`` is
  CLEAR); an attribute's own ``tlp:`` tag is kept for its indicator; TLP:RED stays RED.

Everything happens in the caller's transaction: a refused document writes nothing.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pymisp import MISPEvent, MISPOrganisation
from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core import audit
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.db import as_utc
from lakana.core.errors import Forbidden, Invalid, NotFound, TooLarge
from lakana.core.i18n import N_, Msg
from lakana.core.safejson import loads
from lakana.core.web.errors import VALIDATION_MESSAGES
from lakana.csirt import access, observable_service, observables, service, taxonomy, timeline
from lakana.csirt import tlp as tlp_labels
from lakana.csirt.exchange_models import ExternalReference
from lakana.csirt.models import Case
from lakana.csirt.observable_service import CaseObservableView, NewObservable
from lakana.csirt.permissions import CsirtPermission
from lakana.csirt.schemas import CaseReport, Source
from lakana.csirt.tlp import Tlp
from lakana.registry import service as registry_service

#: The organisation that creates the exported events.
CENTRE_NAME = "CSIRT national du Mali"
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:lakana:csirt:misp")
CENTRE_UUID = uuid.uuid5(NAMESPACE, "centre")
SOURCE = "misp"
#: How documents are named in error messages.
WHAT = Msg("MISP event")
MAX_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 32
MAX_VALUES = 1_000_000
MAX_EVENTS = 100
#: Attributes of one event, those of its objects included.
MAX_ATTRIBUTES = 10_000
#: How many refused attributes a 422 names.
MAX_ERRORS = 100

THREAT_LEVELS = {"critical": 1, "high": 1, "medium": 2, "low": 3}
ANALYSIS = {"new": 0, "triage": 0, "investigation": 1, "containment": 1, "eradication": 1,
            "recovery": 1, "closed": 2}
DISTRIBUTION = {Tlp.CLEAR: 3, Tlp.GREEN: 1, Tlp.AMBER: 0}
INHERIT = 5
#: Classes where the attacker's address is the source of the traffic.
SOURCE_IP_CLASSES = frozenset({"information-gathering", "intrusion-attempts"})
SOURCE_IP_TYPES = frozenset({"dos", "ddos"})
#: Lakana's RSIT type ids that MISP's rsit taxonomy spells otherwise.
RSIT_TO_MISP = {"unauthorised-use-of-resources": "unauthorized-use-of-resources"}
RSIT_FROM_MISP = {v: k for k, v in RSIT_TO_MISP.items()}
_RSIT = re.compile(r'^rsit:([a-z0-9-]+)(?:="([a-z0-9-]+)")?$')

#: MISP attribute type → (category, type) of each observable kind (IPs decided per case).
_EXPORT = {"domain": ("Network activity", "domain"), "url": ("Network activity", "url"),
           "email": ("Payload delivery", "email-src"), "md5": ("Payload delivery", "md5"),
           "sha1": ("Payload delivery", "sha1"), "sha256": ("Payload delivery", "sha256"),
           "sha512": ("Payload delivery", "sha512"),
           "cve": ("External analysis", "vulnerability")}
_IP_KINDS = frozenset({"ipv4", "ipv6", "cidr"})
IP = "ip"
#: Imported MISP types: the observable kind of each part of the value (None: part ignored).
_IMPORT: dict[str, tuple[str | None, ...]] = {
    "ip-src": (IP,), "ip-dst": (IP,), "ip-src|port": (IP, None), "ip-dst|port": (IP, None),
    "domain": ("domain",), "hostname": ("domain",), "hostname|port": ("domain", None),
    "domain|ip": ("domain", IP), "url": ("url",),
    "email": ("email",), "email-src": ("email",), "email-dst": ("email",),
    "email-reply-to": ("email",),
    "md5": ("md5",), "sha1": ("sha1",), "sha256": ("sha256",), "sha512": ("sha512",),
    "filename|md5": (None, "md5"), "filename|sha1": (None, "sha1"),
    "filename|sha256": (None, "sha256"), "filename|sha512": (None, "sha512"),
    "vulnerability": ("cve",),
}


# --- export -----------------------------------------------------------------------------

def event_uuid(case: Case) -> str:
    """The UUID of a case's event (the same at every export of the case)."""
    return str(uuid.uuid5(NAMESPACE, f"case:{case.id}:{as_utc(case.reported_at).isoformat()}"))


def _attribute_type(case: Case, kind: str) -> tuple[str, str]:
    if kind in _IP_KINDS:
        outbound = (case.taxonomy_class in SOURCE_IP_CLASSES
                    or case.taxonomy_type in SOURCE_IP_TYPES)
        return "Network activity", "ip-src" if outbound else "ip-dst"
    return _EXPORT[kind]


def rsit_tag(class_id: str | None, type_id: str | None) -> str | None:
    """The MISP ``rsit`` machine tag of a classification (``rsit:fraud="phishing"``)."""
    if not class_id:
        return None
    if not type_id:
        return f"rsit:{class_id}"
    return f'rsit:{class_id}="{RSIT_TO_MISP.get(type_id, type_id)}"'


def build_event(case: Case, items: list[CaseObservableView]) -> dict[str, Any]:
    """The MISP event of ``case`` with ``items`` as attributes (callers filter the labels)."""
    label = Tlp(case.tlp)
    event = MISPEvent()
    event.uuid = event_uuid(case)
    event.info = f"{case.reference} — {case.title}" if case.reference else case.title
    event.date = as_utc(case.occurred_at or case.reported_at).date()
    event.timestamp = as_utc(case.updated_at or case.reported_at)
    event.threat_level_id = THREAT_LEVELS.get(case.severity, 4)
    event.analysis = ANALYSIS.get(case.status, 0)
    event.distribution = DISTRIBUTION[label]
    event.published = False
    orgc = MISPOrganisation()
    orgc.from_dict(name=CENTRE_NAME, uuid=str(CENTRE_UUID))
    event.Orgc = orgc
    event.add_tag(f"tlp:{label.value}")
    rsit = rsit_tag(case.taxonomy_class, case.taxonomy_type)
    if rsit:
        event.add_tag(rsit)
    for item in items:
        category, kind = _attribute_type(case, item.kind)
        own = Tlp(item.tlp)
        event.add_attribute(
            kind, item.value, category=category, to_ids=item.is_ioc and item.kind != "cve",
            uuid=str(uuid.uuid5(NAMESPACE, f"{event.uuid}:observable:{item.observable_id}")),
            comment=item.comment, distribution=INHERIT if own is label else DISTRIBUTION[own],
            timestamp=as_utc(item.added_at),
            Tag=[] if own is label else [{"name": f"tlp:{own.value}"}])
    return {"Event": json.loads(event.to_json())}


def export_case(*, session: Session, actor: Actor, case_id: int) -> dict[str, Any]:
    """A case as a MISP event document (``{"Event": …}``), for whoever sees the case.

    Refuses (403) a case labelled AMBER+STRICT or RED; leaves out such indicators. The export
    is ledgered.
    """
    case = access.get_case(session, actor, case_id)
    if not tlp_labels.shareable(case.tlp):
        raise Forbidden("This case is labelled %(label)s: it may not leave the platform.",
                        label=Msg(tlp_labels.LABELS[Tlp(case.tlp)]))
    visible = observable_service.for_case(session=session, actor=actor, case=case)
    items = [i for i in visible if tlp_labels.shareable(i.tlp)]
    doc = build_event(case, items)
    audit.record(session=session, actor=actor, action="csirt.case.export", object_type="csirt.case",
                 object_id=case.id, object_repr=f"{case.reference} {case.title}"[:300],
                 institution_id=case.institution_id,
                 details={"format": SOURCE, "event_uuid": doc["Event"]["uuid"],
                          "attributes": len(items), "left_out": len(visible) - len(items)})
    return doc


def export_filename(case_id: int, doc: dict[str, Any]) -> str:
    """A download name for an exported event."""
    info = str(doc["Event"].get("info", ""))
    reference = info.split(" ", 1)[0] if info.startswith(("INC-", "PUB-")) else f"case-{case_id}"
    return f"{reference}.misp.json"


# --- import: shape ----------------------------------------------------------------------

def _none_is_empty(value: object) -> object:
    # Some MISP versions and feed tools write null for an empty list or text.
    return [] if value is None else value


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore")


class MispTag(_Shape):
    """A tag (only its name matters here)."""

    name: str = Field(max_length=1000)


class MispAttribute(_Shape):
    """An attribute as MISP writes it."""

    type: str = Field(min_length=1, max_length=100)
    value: str
    category: str | None = None
    to_ids: bool = False
    uuid: str | None = Field(default=None, max_length=100)
    comment: str | None = None
    object_relation: str | None = Field(default=None, max_length=200)
    deleted: bool = False
    Tag: list[MispTag] = []

    _lists = field_validator("Tag", mode="before")(_none_is_empty)


class MispObject(_Shape):
    """A MISP object (``file``, ``domain-ip``…) and its attributes."""

    name: str = Field(default="", max_length=200)
    deleted: bool = False
    Attribute: list[MispAttribute] = []

    _lists = field_validator("Attribute", mode="before")(_none_is_empty)


class MispOrg(_Shape):
    """The organisation that created the event."""

    name: str = Field(default="", max_length=1000)
    uuid: str | None = Field(default=None, max_length=100)


class MispEventIn(_Shape):
    """An event as MISP writes it (what Lakana reads of it)."""

    uuid: str = Field(max_length=100)
    info: str = ""
    date: str | None = Field(default=None, max_length=40)
    Orgc: MispOrg | None = None
    Tag: list[MispTag] = []
    Attribute: list[MispAttribute] = []
    Object: list[MispObject] = []

    _lists = field_validator("Tag", "Attribute", "Object", mode="before")(_none_is_empty)

    @field_validator("info", mode="before")
    @classmethod
    def _info(cls, value: object) -> object:
        return "" if value is None else value

    @field_validator("uuid")
    @classmethod
    def _uuid(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value.strip()))
        except ValueError:
            raise ValueError("not a UUID") from None


@dataclass(frozen=True)
class PlannedItem:
    """An indicator an event brings."""

    kind: str
    value: str
    tlp: str
    is_ioc: bool
    comment: str


@dataclass
class PlannedEvent:
    """An event read and checked, not yet written."""

    index: int
    uuid: str
    title: str
    description: str
    producer: str
    tlp: str
    taxonomy_class: str | None
    taxonomy_type: str | None
    items: list[PlannedItem] = field(default_factory=list)
    #: Unsupported (or deleted) attributes by MISP type.
    skipped: Counter[str] = field(default_factory=Counter)
    #: Attributes whose value is not valid for their type (problem items, untranslated).
    invalid: list[dict[str, Any]] = field(default_factory=list)


def _events_of(doc: Any) -> list[tuple[str, Any]]:
    """The events of a document with their JSON paths."""
    if isinstance(doc, dict) and "response" in doc and "Event" not in doc:
        listed = doc["response"]
        if not isinstance(listed, list) or not listed:
            raise Invalid("%(what)s: response must be a non-empty list of events.", what=WHAT)
        if len(listed) > MAX_EVENTS:
            raise TooLarge("Too many events in one document (%(count)s, at most %(max)s).",
                           count=len(listed), max=MAX_EVENTS)
        found = []
        for n, entry in enumerate(listed):
            if not isinstance(entry, dict) or not isinstance(entry.get("Event"), dict):
                raise Invalid("%(what)s: response[%(index)s] holds no Event object.", what=WHAT,
                              index=n)
            found.append((f"response[{n}].Event", entry["Event"]))
        return found
    if isinstance(doc, dict) and "Event" in doc:
        if not isinstance(doc["Event"], dict):
            raise Invalid("%(what)s: Event must be a JSON object.", what=WHAT)
        return [("Event", doc["Event"])]
    if isinstance(doc, dict) and ("uuid" in doc or "Attribute" in doc or "info" in doc):
        return [("", doc)]
    raise Invalid("This is not a MISP event: expected an object holding Event, an event, or "
                  "an object holding a response list of events.")


def _shape_errors(exc: ValidationError, prefix: str) -> list[dict[str, Any]]:
    out = []
    for error in exc.errors()[:MAX_ERRORS]:
        path = prefix
        for part in error.get("loc", ()):
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        ctx = error.get("ctx") or {}
        out.append({"field": path, "message": VALIDATION_MESSAGES.get(
            str(error.get("type")), N_("Not a valid value: %(value)s.")), "params": {
            "value": str(error.get("input", ""))[:100], "allowed": str(ctx.get("expected", "")),
            "min": str(ctx.get("min_length", ctx.get("ge", ""))),
            "max": str(ctx.get("max_length", ctx.get("le", "")))}})
    return out


def tlp_of(tags: list[MispTag]) -> Tlp | None:
    """The strictest TLP label among MISP tags (``tlp:white`` is CLEAR), None when none."""
    found: list[Tlp] = []
    for tag in tags:
        name = tag.name.strip().lower()
        if not name.startswith("tlp:"):
            continue
        text = name[4:].strip().strip('"')
        try:
            found.append(Tlp("clear" if text == "white" else text))
        except ValueError:
            continue  # tlp:ex:chr and other extensions are no TLP 2.0 label
    return max(found, key=lambda t: tlp_labels.rank(t.value)) if found else None


def classification_of(tags: list[MispTag]) -> tuple[str | None, str | None]:
    """The first valid RSIT classification among MISP tags (``rsit:fraud="phishing"``)."""
    for tag in tags:
        found = _RSIT.match(tag.name.strip().lower())
        if not found:
            continue
        kind = found.group(2)
        try:
            return taxonomy.validate(found.group(1), RSIT_FROM_MISP.get(kind, kind)
                                     if kind else None)
        except Invalid:
            continue
    return None, None


def _parts(attribute: MispAttribute) -> list[tuple[str, str]] | None:
    """(kind, raw value) of each indicator in an attribute; None for an unsupported type."""
    kinds = _IMPORT.get(attribute.type.strip().lower())
    if kinds is None:
        return None
    values = attribute.value.split("|") if len(kinds) > 1 else [attribute.value]
    if len(values) != len(kinds):
        raise Invalid("A %(type)s value has %(count)s parts separated by |.",
                      type=attribute.type, count=len(kinds))
    out = []
    for kind, raw in zip(kinds, values, strict=True):
        if kind == IP:
            text = raw.strip()
            kind = "cidr" if "/" in text else "ipv6" if ":" in text else "ipv4"
        if kind is not None:
            out.append((kind, raw))
    return out


def _plan_attribute(plan: PlannedEvent, attribute: MispAttribute, path: str,
                    context: str, seen: set[tuple[str, str]]) -> None:
    if attribute.deleted:
        plan.skipped["deleted"] += 1
        return
    label = (tlp_of(attribute.Tag) or Tlp(plan.tlp)).value
    comment = " ".join(x for x in (context, (attribute.comment or "").strip()) if x)
    try:
        parts = _parts(attribute)
        if parts is None:
            plan.skipped[attribute.type.strip().lower()[:100]] += 1
            return
        parsed = [observables.parse(kind, raw) for kind, raw in parts]
    except Invalid as exc:
        plan.invalid.append({"field": path, "type": attribute.type[:100],
                             "value": observables.shown(attribute.value),
                             "message": exc.message, "params": dict(exc.params)})
        return
    for one in parsed:
        if (one.kind, one.value) in seen:
            continue
        seen.add((one.kind, one.value))
        plan.items.append(PlannedItem(kind=one.kind, value=one.value, tlp=label,
                                      is_ioc=attribute.to_ids,
                                      comment=comment[:observable_service.COMMENT_MAX]))


def plan_event(index: int, path: str, raw: Any) -> PlannedEvent:
    """Check one event's shape and values (nothing written)."""
    try:
        event = MispEventIn.model_validate(raw)
    except ValidationError as exc:
        raise Invalid("%(what)s: the event at %(path)s is not shaped as MISP writes it.",
                      what=WHAT, path=path or "(document)",
                      errors=_shape_errors(exc, path)) from None
    count = len(event.Attribute) + sum(len(o.Attribute) for o in event.Object)
    if count > MAX_ATTRIBUTES:
        raise TooLarge("Too many attributes in one event (%(count)s, at most %(max)s).",
                       count=count, max=MAX_ATTRIBUTES)
    klass, kind = classification_of(event.Tag)
    info = " ".join(event.info.split()) or f"MISP {event.uuid}"
    producer = (event.Orgc.name.strip() if event.Orgc else "")[:200]
    plan = PlannedEvent(index=index, uuid=event.uuid, title=info[:200],
                        description=info[:20_000] if len(info) > 200 else "", producer=producer,
                        tlp=(tlp_of(event.Tag) or Tlp.AMBER).value, taxonomy_class=klass,
                        taxonomy_type=kind)
    seen: set[tuple[str, str]] = set()
    prefix = f"{path}." if path else ""
    for n, attribute in enumerate(event.Attribute):
        _plan_attribute(plan, attribute, f"{prefix}Attribute[{n}]", "", seen)
    for n, obj in enumerate(event.Object):
        for m, attribute in enumerate(obj.Attribute):
            if obj.deleted:
                plan.skipped["deleted"] += 1
                continue
            context = f"[{obj.name}/{attribute.object_relation or attribute.type}]"
            _plan_attribute(plan, attribute, f"{prefix}Object[{n}].Attribute[{m}]", context,
                            seen)
    return plan


def plan_import(data: bytes | str) -> list[PlannedEvent]:
    """Parse a MISP document with limits and check every event (nothing written)."""
    doc = loads(data, what=WHAT, max_bytes=MAX_BYTES, max_depth=MAX_DEPTH,
                max_values=MAX_VALUES)
    return [plan_event(n, path, raw) for n, (path, raw) in enumerate(_events_of(doc))]


# --- import: writing --------------------------------------------------------------------

@dataclass(frozen=True)
class EventImport:
    """What one event gave: its case, new or found again, and its attributes' fate."""

    event_uuid: str
    producer: str
    case_id: int
    reference: str
    title: str
    created: bool
    added: int
    already: int
    skipped: dict[str, int]
    invalid: list[dict[str, Any]]


@dataclass(frozen=True)
class ImportResult:
    """What a document gave, event by event."""

    events: list[EventImport]

    @property
    def skipped(self) -> dict[str, int]:
        """Skipped attributes of every event, by MISP type."""
        total: Counter[str] = Counter()
        for event in self.events:
            total.update(event.skipped)
        return dict(sorted(total.items()))


def _case_for(session: Session, actor: Actor, plan: PlannedEvent,
              institution_id: int | None) -> tuple[Case, bool]:
    ref = session.scalar(select(ExternalReference).where(
        ExternalReference.source == SOURCE, ExternalReference.external_id == plan.uuid))
    if ref is not None:
        return access.get_case(session, actor, ref.case_id), False
    case = service.report_case(session=session, actor=actor, source=Source.PARTNER.value,
                               data=CaseReport(institution_id=institution_id, title=plan.title,
                                               description=plan.description,
                                               taxonomy_class=plan.taxonomy_class,
                                               taxonomy_type=plan.taxonomy_type, tlp=plan.tlp))
    session.add(ExternalReference(source=SOURCE, external_id=plan.uuid, case_id=case.id,
                                  producer=plan.producer, imported_by=actor.name[:254]))
    session.flush()
    return case, True


def _write(session: Session, actor: Actor, plan: PlannedEvent,
           institution_id: int | None) -> EventImport:
    case, created = _case_for(session, actor, plan, institution_id)
    added = already = 0
    for start in range(0, len(plan.items), observables.MAX_ITEMS):
        chunk = plan.items[start:start + observables.MAX_ITEMS]
        result = observable_service.add_many(
            session=session, actor=actor, case_id=case.id,
            items=[NewObservable(value=i.value, kind=i.kind, tlp=i.tlp, is_ioc=i.is_ioc,
                                 comment=i.comment) for i in chunk])
        added += result.created
        already += len(result.accepted) - result.created
    timeline.add_event(session, case, kind="observable" if not created else "created",
                       actor=actor, message=N_("MISP event %(uuid)s of %(producer)s imported: "
                                               "%(added)s new indicators."),
                       params={"uuid": plan.uuid, "producer": plan.producer or "?",
                               "added": added})
    skipped = dict(sorted(plan.skipped.items()))
    audit.record(session=session, actor=actor, action="csirt.case.import", object_type="csirt.case",
                 object_id=case.id, object_repr=f"{case.reference} {case.title}"[:300],
                 institution_id=case.institution_id,
                 details={"format": SOURCE, "event_uuid": plan.uuid, "producer": plan.producer,
                          "created": created, "added": added, "already": already,
                          "skipped": skipped, "invalid": len(plan.invalid)})
    return EventImport(event_uuid=plan.uuid, producer=plan.producer, case_id=case.id,
                       reference=case.reference or "", title=case.title, created=created,
                       added=added, already=already, skipped=skipped, invalid=plan.invalid)


def _check_institution(session: Session, institution_id: int | None) -> None:
    if institution_id is None:
        return
    try:
        registry_service.get_institution(session=session, actor=system_actor("csirt"),
                                         institution_id=institution_id)
    except NotFound:
        raise Invalid("The institution %(id)s does not exist.", id=institution_id) from None


def import_events(*, session: Session, actor: Actor, data: bytes | str,
                  institution_id: int | None = None, skip_invalid: bool = False
                  ) -> ImportResult:
    """Import a MISP document: each event becomes a case (source ``partner``) or adds its new
    indicators to the case made from it before. The centre only (``COORDINATE``).

    Raises :class:`Invalid` (422) or :class:`TooLarge` (413) before writing anything when the
    document is malformed, or when an attribute's value is invalid for its type unless
    ``skip_invalid``. Never commits.
    """
    actor.require(CsirtPermission.COORDINATE)
    _check_institution(session, institution_id)
    plans = plan_import(data)
    invalid = [item for plan in plans for item in plan.invalid]
    if invalid and not skip_invalid:
        raise Invalid("Attributes with a value that is not valid for their type: %(count)s; "
                      "nothing was imported.", count=len(invalid), errors=invalid[:MAX_ERRORS])
    return ImportResult(events=[_write(session, actor, plan, institution_id)
                                for plan in plans])


def export_json(doc: dict[str, Any]) -> bytes:
    """An exported document as the bytes of a file."""
    return json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")


"""STIX 2.1 import: a partner's bundle becomes cases and indicators, all or nothing.

The file is parsed with limits (:mod:`lakana.core.safejson`: 20 MB, 32 levels, at most
:data:`MAX_OBJECTS` objects), its shape checked, then validated by the OASIS validator
(``stix2-validator``, default options: errors refuse the file, warnings do not). Then:

* each ``incident`` — and each ``report`` that names no incident of the bundle — becomes a
  case (source *partner*, the institution given or none), titled by its ``name`` and
  described by its ``description`` (cut to the column sizes), under the strictest TLP of its
  markings (TLP 2.0 or 1.0; AMBER when unmarked: an imported TLP:RED case stays RED);
* the indicators, cyber-observables and vulnerabilities linked to it — by a relationship, by
  the report's ``object_refs``, or one step further from a linked indicator — become its
  observables, each under its own marking (the case's label when unmarked); an indicator's
  STIX pattern gives its values (``=`` and ``ISSUBSET`` on addresses, domains, URLs, e-mail
  addresses and file hashes); a vulnerability its CVE identifier;
* what is linked to nothing goes to one case *Imported indicators* per bundle.

**All or nothing**: one invalid value (``999.1.1.1``, a URL with a space) refuses the whole
file, listing every refused value (at most :data:`MAX_ERRORS`); nothing is written. What
Lakana does not keep (other pattern comparisons, other object types) is skipped and listed.

Idempotent: each case made is remembered in :class:`ExternalReference` (source ``stix``,
the incident's, report's or bundle's id); importing the bundle again finds those cases and
adds only the observables they lack. Everything happens in the caller's transaction and is
ledgered with its counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stix2patterns.exceptions import ParseException  # type: ignore[import-untyped]
from stix2patterns.v21.pattern import Pattern  # type: ignore[import-untyped]

from lakana.core import audit, safejson
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Conflict, Invalid, LakanaError, TooLarge
from lakana.core.i18n import Msg
from lakana.csirt import observable_service, observables, service, taxonomy
from lakana.csirt import tlp as tlp_labels
from lakana.csirt.exchange_models import ExternalReference
from lakana.csirt.models import Case
from lakana.csirt.observables import Parsed
from lakana.csirt.permissions import CsirtPermission
from lakana.csirt.schemas import DESCRIPTION_MAX, TITLE_MAX, CaseReport, Source
from lakana.csirt.stix_export import TLP_EXTENSION, TLP_MARKINGS
from lakana.csirt.tlp import Tlp

MAX_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 32
MAX_VALUES = 800_000
MAX_OBJECTS = 50_000
MAX_ERRORS = 50
WHAT = Msg("STIX bundle")
SOURCE = "stix"
#: The TLP 1.0 marking definitions of STIX 2.1 (§7.2.1.4), still sent by many producers.
TLP1_MARKINGS: dict[str, Tlp] = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": Tlp.CLEAR,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": Tlp.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": Tlp.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": Tlp.RED,
}
KNOWN_MARKINGS: dict[str, Tlp] = {**{v: k for k, v in TLP_MARKINGS.items()}, **TLP1_MARKINGS}
_SCO_KINDS = {"ipv4-addr": "ipv4", "ipv6-addr": "ipv6", "domain-name": "domain",
              "url": "url", "email-addr": "email"}
_HASH_KINDS = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "SHA512": "sha512"}
_CONTAINERS = ("incident", "report")
_VALUE_TYPES = ("indicator", "vulnerability", *_SCO_KINDS, "file")
#: Title of the case holding what a bundle links to no incident (stored data, in French
#: like the rest of the centre's records).
LOOSE_TITLE = "Indicateurs importés"
#: One add_many call at most takes this many indicators.
_CHUNK = observables.MAX_ITEMS


@dataclass(frozen=True)
class Value:
    """An indicator to import: where it came from, its parsed form and its label."""

    source_id: str
    parsed: Parsed
    tlp: str | None


@dataclass
class Target:
    """A case to fill: a STIX container (or the bundle, for what is linked to nothing)."""

    external_id: str
    title: str
    description: str
    tlp: Tlp
    producer: str
    taxonomy_class: str | None = None
    taxonomy_type: str | None = None
    values: list[Value] = field(default_factory=list)


@dataclass
class ImportResult:
    """What an import did."""

    bundle_id: str
    cases_created: list[str] = field(default_factory=list)
    cases_updated: list[str] = field(default_factory=list)
    case_ids: list[int] = field(default_factory=list)
    observables_added: int = 0
    observables_known: int = 0
    #: Objects (or pattern parts) Lakana does not keep: ``{"object", "reason"}``.
    skipped: list[dict[str, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The counts (for the ledger and the CLI)."""
        return {"cases_created": len(self.cases_created),
                "cases_updated": len(self.cases_updated),
                "observables_added": self.observables_added,
                "observables_known": self.observables_known, "skipped": len(self.skipped)}


# --- reading ----------------------------------------------------------------------------

def load(data: bytes | str) -> dict[str, Any]:
    """Parse a bundle with limits and check its shape; raise 413/422 otherwise."""
    doc = safejson.loads(data, what=WHAT, max_bytes=MAX_BYTES, max_depth=MAX_DEPTH,
                         max_values=MAX_VALUES)
    if not isinstance(doc, dict) or doc.get("type") != "bundle":
        raise Invalid("%(what)s: the document must be an object of type \"bundle\".",
                      what=WHAT)
    if not isinstance(doc.get("id"), str) or not doc["id"].startswith("bundle--"):
        raise Invalid("%(what)s: the bundle has no valid id.", what=WHAT)
    objects = doc.get("objects", [])
    if not isinstance(objects, list):
        raise Invalid("%(what)s: \"objects\" must be a list.", what=WHAT)
    if len(objects) > MAX_OBJECTS:
        raise TooLarge("%(what)s holds %(count)s objects (at most %(max)s).", what=WHAT,
                       count=len(objects), max=MAX_OBJECTS)
    for number, obj in enumerate(objects, 1):
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str) \
                or not isinstance(obj.get("id"), str):
            raise Invalid("%(what)s: object %(number)s has no \"type\" or \"id\" string.",
                          what=WHAT, number=number)
    return doc


def validate(doc: dict[str, Any]) -> None:
    """Run the OASIS validator; its errors (at most :data:`MAX_ERRORS`) refuse the bundle."""
    # Imported here: the validator pulls in jsonschema and its format checkers, which the
    # web processes need only when someone imports a bundle.
    from stix2validator import (  # type: ignore[import-untyped]
        ValidationOptions,
        validate_instance,
    )

    try:
        result = validate_instance(doc, ValidationOptions(version="2.1"))
    except Exception as exc:  # the validator raises its own errors on odd input
        raise Invalid("%(what)s is not valid STIX 2.1: %(reason)s", what=WHAT,
                      reason=str(exc)[:300]) from None
    if result.is_valid:
        return
    errors = [{"object": str(getattr(e, "instance_id", "") or ""),
               "message": str(e)[:500]} for e in (result.errors or [])][:MAX_ERRORS]
    raise Invalid("%(what)s is not valid STIX 2.1 (%(count)s errors).", what=WHAT,
                  count=len(result.errors or []), errors=errors)


# --- mapping ----------------------------------------------------------------------------

def _marking_labels(doc: dict[str, Any]) -> dict[str, Tlp]:
    """Marking-definition id → TLP label: the known ids and the bundle's own TLP markings."""
    labels = dict(KNOWN_MARKINGS)
    for obj in doc["objects"]:
        if obj["type"] != "marking-definition":
            continue
        found = _tlp_of_marking(obj)
        if found is not None:
            labels[obj["id"]] = found
    return labels


def _tlp_of_marking(obj: dict[str, Any]) -> Tlp | None:
    extension = (obj.get("extensions") or {}).get(TLP_EXTENSION)
    candidates = [
        extension.get("tlp_2_0") if isinstance(extension, dict) else None,
        (obj.get("definition") or {}).get("tlp") if isinstance(obj.get("definition"), dict)
        else None,
        obj.get("name"),
    ]
    for text in candidates:
        if isinstance(text, str):
            value = text.strip().lower().removeprefix("tlp:")
            try:
                return Tlp.CLEAR if value == "white" else Tlp(value)
            except ValueError:
                continue
    return None


def _label(obj: dict[str, Any], labels: dict[str, Tlp]) -> Tlp | None:
    """The strictest TLP among ``obj``'s markings, or None when it carries none."""
    refs = obj.get("object_marking_refs")
    found = [labels[r] for r in refs if isinstance(r, str) and r in labels] \
        if isinstance(refs, list) else []
    if not found:
        return None
    return max(found, key=lambda t: tlp_labels.rank(t.value))


def _unquote(literal: str) -> str:
    text = literal[1:-1] if len(literal) >= 2 and literal[0] == literal[-1] == "'" else literal
    return text.replace("\\'", "'").replace("\\\\", "\\")


def _pattern_values(obj: dict[str, Any]) -> Iterator[tuple[str | None, str] | str]:
    """(kind, raw value) of each comparison an indicator's pattern makes that Lakana keeps,
    or a string saying why a part was skipped."""
    if obj.get("pattern_type") != "stix" or not isinstance(obj.get("pattern"), str):
        yield f"pattern type {str(obj.get('pattern_type'))[:30]} is not kept"
        return
    try:
        comparisons = Pattern(obj["pattern"]).inspect().comparisons
    except ParseException as exc:
        raise Invalid("%(what)s: the pattern of %(object)s is not valid: %(reason)s",
                      what=WHAT, object=obj["id"], reason=str(exc)[:200]) from None
    for sco_type, items in comparisons.items():
        for path, operator, literal in items:
            if operator not in ("=", "ISSUBSET") or not literal.startswith("'"):
                yield f"comparison {sco_type}:{'.'.join(map(str, path))} {operator} is not kept"
                continue
            value = _unquote(literal)
            if sco_type in _SCO_KINDS and path == ["value"]:
                yield _sco_kind(sco_type, value), value
            elif sco_type == "file" and len(path) == 2 and path[0] == "hashes" \
                    and _hash_kind(str(path[1])):
                yield _hash_kind(str(path[1])), value
            else:
                yield f"comparison on {sco_type}:{'.'.join(map(str, path))} is not kept"


def _sco_kind(sco_type: str, value: str) -> str:
    kind = _SCO_KINDS[sco_type]
    return "cidr" if kind in ("ipv4", "ipv6") and "/" in value else kind


def _hash_kind(name: str) -> str | None:
    return _HASH_KINDS.get(name.upper().replace("-", "").replace("_", ""))


def _object_values(obj: dict[str, Any]) -> Iterator[tuple[str | None, str] | str]:
    """(kind, raw value) of what one object carries, or why it was skipped."""
    kind = obj["type"]
    if kind == "indicator":
        yield from _pattern_values(obj)
    elif kind in _SCO_KINDS:
        value = obj.get("value")
        if isinstance(value, str):
            yield _sco_kind(kind, value), value
    elif kind == "file":
        hashes = obj.get("hashes")
        for name, value in (hashes.items() if isinstance(hashes, dict) else []):
            hash_kind = _hash_kind(str(name))
            if hash_kind and isinstance(value, str):
                yield hash_kind, value
    elif kind == "vulnerability":
        cves = [r.get("external_id") for r in obj.get("external_references") or []
                if isinstance(r, dict) and r.get("source_name") == "cve"]
        for cve in cves:
            if isinstance(cve, str):
                yield "cve", cve
        if not cves:
            yield "vulnerability without a CVE identifier is not kept"


def _links(doc: dict[str, Any]) -> dict[str, set[str]]:
    """Object id → ids it is linked to (relationships both ways, report object_refs)."""
    links: dict[str, set[str]] = defaultdict(set)
    for obj in doc["objects"]:
        if obj["type"] == "relationship":
            src, dst = obj.get("source_ref"), obj.get("target_ref")
            if isinstance(src, str) and isinstance(dst, str):
                links[src].add(dst)
                links[dst].add(src)
        elif obj["type"] == "report" and isinstance(obj.get("object_refs"), list):
            for ref in obj["object_refs"]:
                if isinstance(ref, str):
                    links[obj["id"]].add(ref)
    return links


def _text(value: object, limit: int) -> str:
    return value.strip()[:limit].strip() if isinstance(value, str) else ""


def _taxonomy(obj: dict[str, Any]) -> tuple[str | None, str | None]:
    klass, kind = obj.get("x_lakana_taxonomy_class"), obj.get("x_lakana_taxonomy_type")
    try:
        return taxonomy.validate(klass if isinstance(klass, str) else None,
                                 kind if isinstance(kind, str) else None)
    except Invalid:  # a partner's classification we do not know: triage will set it
        return None, None


def plan(doc: dict[str, Any]) -> tuple[list[Target], list[dict[str, str]]]:
    """The cases a bundle makes, with their indicators, and what is skipped.

    Raises :class:`Invalid` listing every invalid value: nothing is imported then.
    """
    by_id = {obj["id"]: obj for obj in doc["objects"]}
    labels = _marking_labels(doc)
    links = _links(doc)
    names = {o["id"]: o.get("name") for o in doc["objects"] if o["type"] == "identity"}
    incidents = {o["id"] for o in doc["objects"] if o["type"] == "incident"}
    containers = [o for o in doc["objects"] if o["type"] == "incident" or (
        o["type"] == "report" and not links.get(o["id"], set()) & incidents)]
    skipped: list[dict[str, str]] = []
    errors: list[dict[str, str]] = []
    claimed: set[str] = set()
    targets: list[Target] = []
    for obj in containers:
        label = _label(obj, labels) or Tlp.AMBER
        klass, kind = _taxonomy(obj)
        target = Target(
            external_id=obj["id"], title=_text(obj.get("name"), TITLE_MAX) or obj["id"],
            description=_text(obj.get("description"), DESCRIPTION_MAX), tlp=label,
            producer=_text(names.get(obj.get("created_by_ref")), 200),
            taxonomy_class=klass, taxonomy_type=kind)
        members = _members(obj["id"], links, by_id)
        claimed |= members
        target.values = _values(members, by_id, labels, skipped, errors)
        targets.append(target)
    loose = {o["id"] for o in doc["objects"] if o["type"] in _VALUE_TYPES} - claimed
    if loose:
        values = _values(loose, by_id, labels, skipped, errors)
        if values:
            targets.append(Target(external_id=doc["id"], title=f"{LOOSE_TITLE} "
                                  f"({doc['id'][8:44]})"[:TITLE_MAX], description="",
                                  tlp=Tlp.AMBER, producer="", values=values))
    if errors:
        raise Invalid("%(what)s: %(count)s indicators are not valid; nothing was imported.",
                      what=WHAT, count=len(errors), errors=errors[:MAX_ERRORS])
    for obj in doc["objects"]:
        if obj["type"] not in (*_VALUE_TYPES, *_CONTAINERS, "relationship", "identity",
                               "marking-definition", "extension-definition"):
            skipped.append({"object": obj["id"], "reason": f"{obj['type'][:40]} is not kept"})
    return targets, skipped


def _members(container_id: str, links: dict[str, set[str]],
             by_id: dict[str, dict[str, Any]]) -> set[str]:
    """What belongs to a container: linked value objects, and what a linked indicator
    links to in turn (its cyber-observable)."""
    direct = {i for i in links.get(container_id, set())
              if i in by_id and by_id[i]["type"] in _VALUE_TYPES}
    second = {j for i in direct if by_id[i]["type"] == "indicator"
              for j in links.get(i, set())
              if j in by_id and by_id[j]["type"] in _VALUE_TYPES and j != container_id}
    return direct | second


def _values(ids: Iterable[str], by_id: dict[str, dict[str, Any]], labels: dict[str, Tlp],
            skipped: list[dict[str, str]], errors: list[dict[str, str]]) -> list[Value]:
    values: list[Value] = []
    for object_id in sorted(ids):
        obj = by_id[object_id]
        label = _label(obj, labels)
        for found in _object_values(obj):
            if isinstance(found, str):
                skipped.append({"object": object_id, "reason": found})
                continue
            kind, raw = found
            try:
                parsed = observables.parse(kind, raw)
            except LakanaError as exc:
                errors.append({"object": object_id, "value": observables.shown(raw),
                               "message": str(exc)[:300]})
                continue
            values.append(Value(source_id=object_id, parsed=parsed,
                                tlp=label.value if label else None))
    return values


# --- writing ----------------------------------------------------------------------------

def _existing(session: Session, external_id: str) -> Case | None:
    return session.scalars(select(Case).join(
        ExternalReference, ExternalReference.case_id == Case.id).where(
        ExternalReference.source == SOURCE,
        ExternalReference.external_id == external_id)).first()


def _open_case(session: Session, actor: Actor, target: Target,
               institution_id: int | None) -> Case:
    case = service.report_case(session=session, actor=actor, source=Source.PARTNER.value,
                               data=CaseReport(
        institution_id=institution_id, title=target.title, description=target.description,
        taxonomy_class=target.taxonomy_class, taxonomy_type=target.taxonomy_type,
        tlp=target.tlp.value))
    session.add(ExternalReference(source=SOURCE, external_id=target.external_id[:200],
                                  case_id=case.id, producer=target.producer,
                                  imported_by=actor.name[:254]))
    try:
        session.flush()
    except IntegrityError:  # the same bundle is being imported by someone else right now
        raise Conflict("This STIX bundle is being imported by someone else: try again in "
                       "a moment.") from None
    return case


def _fill(session: Session, actor: Actor, case: Case, target: Target,
          result: ImportResult) -> None:
    items = [observable_service.NewObservable(
        value=v.parsed.value, kind=v.parsed.kind, tlp=v.tlp or case.tlp,
        comment=f"STIX {v.source_id}"[:observable_service.COMMENT_MAX]) for v in target.values]
    for start in range(0, len(items), _CHUNK):
        added = observable_service.add_many(session=session, actor=actor, case_id=case.id,
                                            items=items[start:start + _CHUNK])
        result.observables_added += added.created
        result.observables_known += len(added.accepted) - added.created


def import_bundle(*, session: Session, actor: Actor, data: bytes | str,
                  institution_id: int | None = None) -> ImportResult:
    """Import a STIX 2.1 bundle (see the module's docstring): all of it or nothing.

    Needs :attr:`CsirtPermission.COORDINATE`. ``institution_id`` is the institution the
    new cases concern (None: unattributed, for triage). The caller commits.
    """
    actor.require(CsirtPermission.COORDINATE)
    doc = load(data)
    validate(doc)
    targets, skipped = plan(doc)
    if not targets:
        raise Invalid("%(what)s holds no incident, report or indicator Lakana can import.",
                      what=WHAT)
    result = ImportResult(bundle_id=doc["id"], skipped=skipped[:MAX_ERRORS])
    for target in targets:
        case = _existing(session, target.external_id)
        if case is None:
            case = _open_case(session, actor, target, institution_id)
            result.cases_created.append(case.reference or str(case.id))
        else:
            result.cases_updated.append(case.reference or str(case.id))
        result.case_ids.append(case.id)
        if target.values:
            _fill(session, actor, case, target, result)
    audit.record(session=session, actor=actor, action="csirt.stix.import",
                 object_type="stix_bundle", object_id=doc["id"][:200],
                 object_repr=f"STIX bundle {doc['id'][:60]}", institution_id=institution_id,
                 details={**result.counts(), "skipped_total": len(skipped)})
    return result

"""STIX 2.1 export of cases and their indicators: objects for one case, and a streamed bundle.

What leaves the platform never carries TLP:AMBER+STRICT or TLP:RED (:func:`tlp.shareable`):
a case under such a label refuses export, and such sightings are left out of a shareable
case. Notes, attachments, timeline entries, comments and the reporter's details never leave.

Mapping (one case):

* the case → an ``incident`` named ``reference — title``, with its description, created from
  ``created_at`` and modified at ``updated_at`` (so a change moves ``modified``), its
  classification in ``x_lakana_*`` properties, and an external reference ``lakana`` holding
  the case's reference;
* each shareable sighting of an ip, cidr, domain, url, e-mail or hash → a cyber-observable
  (``ipv4-addr``, ``ipv6-addr`` — a network keeps its ``/prefix`` in ``value`` —,
  ``domain-name``, ``url``, ``email-addr``, ``file`` with ``hashes``), an ``indicator`` whose
  pattern matches it, ``indicator indicates incident`` and ``indicator related-to`` the
  observable;
* a CVE → a ``vulnerability`` (external reference ``cve``) and ``incident related-to`` it.

Ids are deterministic: SDOs and relationships are UUIDv5 in :data:`NAMESPACE` over the case
id or the sighting id (:class:`CaseObservable`), cyber-observables UUIDv5 over their
contributing properties in the OASIS namespace (as STIX 2.1 §2.9 prescribes, so that the same
address sent by two producers has one id). Every object carries ``object_marking_refs`` to
its TLP 2.0 marking definition (the official OASIS objects, :data:`TLP_MARKINGS`); a sighting
inherits nothing: its indicator carries the sighting's own label, the relationship to the
incident the stricter of the two.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core import audit
from lakana.core.auth.rbac import Actor
from lakana.core.db import as_utc
from lakana.core.errors import Invalid
from lakana.csirt import access
from lakana.csirt import tlp as tlp_labels
from lakana.csirt.models import Case, CaseObservable, Observable
from lakana.csirt.permissions import CsirtPermission
from lakana.csirt.tlp import Tlp

#: Lakana's namespace for the UUIDv5 of the objects it produces (fixed forever).
NAMESPACE = uuid.UUID("6f1c3a52-8d0e-5b7a-9f4e-2c1d0b9a8e71")
#: The OASIS namespace of cyber-observable ids (STIX 2.1 §2.9).
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
#: The TLP 2.0 extension of the OASIS CTI TC (cti-stix-common-objects, tlp-2.0).
TLP_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
#: The official TLP 2.0 marking definitions (same ids everywhere).
TLP_MARKINGS: dict[Tlp, str] = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
#: The identity of the national centre, as every exported object names it.
CENTRE_NAME = "Lakana — national CSIRT"
CENTRE_ID = f"identity--{uuid.uuid5(NAMESPACE, 'lakana:centre')}"
_EPOCH = "2026-01-01T00:00:00.000Z"
_TLP_CREATED = "2022-10-01T00:00:00.000Z"
#: STIX hash names of the hash kinds.
HASH_NAMES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512"}
#: Cases read per query, and sightings per IN query, when streaming.
BATCH = 500
#: How many case references the stats (and the ledger) keep.
REFERENCES_KEPT = 1000
MEDIA_TYPE = "application/stix+json;version=2.1"


def stamp(value: dt.datetime) -> str:
    """A STIX timestamp: UTC, millisecond precision, ``Z``."""
    utc = as_utc(value)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _sdo_id(kind: str, key: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, f'{kind}:{key}')}"


def _sco_id(kind: str, contributing: dict[str, Any]) -> str:
    canonical = json.dumps(contributing, sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    return f"{kind}--{uuid.uuid5(SCO_NAMESPACE, canonical)}"


def marking_ref(label: str) -> str:
    """The TLP 2.0 marking-definition id of ``label``."""
    return TLP_MARKINGS[Tlp(label)]


def centre_identity() -> dict[str, Any]:
    """The national centre's ``identity`` (deterministic id), creator of what Lakana exports."""
    return {
        "type": "identity", "spec_version": "2.1", "id": CENTRE_ID,
        "created": _EPOCH, "modified": _EPOCH, "name": CENTRE_NAME,
        "identity_class": "organization", "sectors": ["government"],
        "object_marking_refs": [TLP_MARKINGS[Tlp.CLEAR]],
    }


def marking_definitions(labels: Iterable[Tlp] = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER)
                        ) -> list[dict[str, Any]]:
    """The official TLP 2.0 ``marking-definition`` objects of ``labels`` (the shareable ones
    by default)."""
    return [{
        "type": "marking-definition", "spec_version": "2.1", "id": TLP_MARKINGS[label],
        "created": _TLP_CREATED, "name": f"TLP:{label.value.upper()}",
        "extensions": {TLP_EXTENSION: {"extension_type": "property-extension",
                                       "tlp_2_0": label.value}},
    } for label in labels]


def preamble() -> list[dict[str, Any]]:
    """What every bundle starts with: the centre's identity and the shareable markings."""
    return [centre_identity(), *marking_definitions()]


# --- one case ---------------------------------------------------------------------------

def _incident(case: Case) -> dict[str, Any]:
    created = stamp(case.created_at)
    modified = max(created, stamp(case.updated_at or case.created_at))
    incident: dict[str, Any] = {
        "type": "incident", "spec_version": "2.1", "id": _sdo_id("incident", str(case.id)),
        "created_by_ref": CENTRE_ID, "created": created, "modified": modified,
        "name": f"{case.reference or case.id} — {case.title}",
        "external_references": [{"source_name": "lakana",
                                 "external_id": case.reference or str(case.id)}],
        "object_marking_refs": [marking_ref(case.tlp)],
        "x_lakana_status": case.status, "x_lakana_severity": case.severity,
        "x_lakana_tlp": case.tlp,
    }
    if case.description:
        incident["description"] = case.description
    if case.taxonomy_class:
        incident["labels"] = [case.taxonomy_class]
        incident["x_lakana_taxonomy_class"] = case.taxonomy_class
    if case.taxonomy_type:
        incident["x_lakana_taxonomy_type"] = case.taxonomy_type
    return incident


def sco(kind: str, value: str) -> tuple[dict[str, Any], str] | None:
    """The cyber-observable of an indicator (without markings) and its STIX pattern, or None
    for a kind that has none (CVE)."""
    if kind in ("ipv4", "ipv6", "cidr"):
        sco_type = "ipv6-addr" if ":" in value else "ipv4-addr"
        operator = "ISSUBSET" if kind == "cidr" else "="
        contributing: dict[str, Any] = {"value": value}
        pattern = f"[{sco_type}:value {operator} '{_quote(value)}']"
    elif kind in ("domain", "url", "email"):
        sco_type = {"domain": "domain-name", "url": "url", "email": "email-addr"}[kind]
        contributing = {"value": value}
        pattern = f"[{sco_type}:value = '{_quote(value)}']"
    elif kind in HASH_NAMES:
        sco_type = "file"
        contributing = {"hashes": {HASH_NAMES[kind]: value}}
        pattern = f"[file:hashes.'{HASH_NAMES[kind]}' = '{value}']"
    else:
        return None
    return {"type": sco_type, "spec_version": "2.1", "id": _sco_id(sco_type, contributing),
            **contributing}, pattern


def _quote(value: str) -> str:
    """A string literal's content in a STIX pattern (backslash and quote escaped)."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


class Sighting(NamedTuple):
    """What the export reads of one sighting (a :class:`CaseObservable` and its value)."""

    id: int
    case_id: int
    tlp: str
    is_ioc: bool
    added_at: dt.datetime
    kind: str
    value: str


def _sighting_objects(case: Case, incident_id: str, item: Sighting) -> list[dict[str, Any]]:
    """The objects of one shareable sighting of ``case``."""
    created = stamp(item.added_at)
    marking = [marking_ref(item.tlp)]
    link_marking = [marking_ref(tlp_labels.stricter(case.tlp, item.tlp).value)]
    key = str(item.id)
    common = {"spec_version": "2.1", "created_by_ref": CENTRE_ID, "created": created,
              "modified": created}
    if item.kind == "cve":
        vuln_id = _sdo_id("vulnerability", key)
        return [
            {"type": "vulnerability", **common, "id": vuln_id, "name": item.value,
             "external_references": [{"source_name": "cve", "external_id": item.value}],
             "object_marking_refs": marking},
            {"type": "relationship", **common, "id": _sdo_id("relationship", f"cve:{key}"),
             "relationship_type": "related-to", "source_ref": incident_id,
             "target_ref": vuln_id, "object_marking_refs": link_marking},
        ]
    made = sco(item.kind, item.value)
    if made is None:
        return []
    observable, pattern = made
    indicator_id = _sdo_id("indicator", key)
    return [
        {**observable, "object_marking_refs": marking},
        {"type": "indicator", **common, "id": indicator_id, "name": item.value,
         "indicator_types": ["malicious-activity" if item.is_ioc else "unknown"],
         "pattern": pattern, "pattern_type": "stix", "pattern_version": "2.1",
         "valid_from": created, "object_marking_refs": marking,
         "x_lakana_kind": item.kind},
        {"type": "relationship", **common, "id": _sdo_id("relationship", f"indicates:{key}"),
         "relationship_type": "indicates", "source_ref": indicator_id,
         "target_ref": incident_id, "object_marking_refs": link_marking},
        {"type": "relationship", **common, "id": _sdo_id("relationship", f"observed:{key}"),
         "relationship_type": "related-to", "source_ref": indicator_id,
         "target_ref": observable["id"], "object_marking_refs": marking},
    ]


def _objects(case: Case, sightings: Iterable[Sighting]) -> list[dict[str, Any]]:
    incident = _incident(case)
    out = [incident]
    for item in sightings:
        if tlp_labels.shareable(item.tlp):
            out.extend(_sighting_objects(case, incident["id"], item))
    return out


def ensure_shareable(case: Case) -> None:
    """Raise :class:`Invalid` when ``case``'s label forbids it to leave the platform."""
    if not tlp_labels.shareable(case.tlp):
        raise Invalid("Case %(reference)s is %(label)s: it never leaves the platform.",
                      reference=case.reference or case.id, label=f"TLP:{case.tlp.upper()}")


def _sightings(session: Session, case_ids: Sequence[int]) -> Iterator[Sighting]:
    """The sightings of ``case_ids`` (one query; plain rows, no ORM identity map)."""
    stmt = (select(CaseObservable.id, CaseObservable.case_id, CaseObservable.tlp,
                   CaseObservable.is_ioc, CaseObservable.added_at, Observable.kind,
                   Observable.value)
            .join(Observable, Observable.id == CaseObservable.observable_id)
            .where(CaseObservable.case_id.in_(case_ids))
            .order_by(CaseObservable.case_id, CaseObservable.id))
    for row in session.execute(stmt):
        yield Sighting(*row)


def case_objects(session: Session, case: Case) -> list[dict[str, Any]]:
    """The STIX 2.1 objects of one case (no bundle, no identity, no marking definitions).

    Raises :class:`Invalid` when the case is TLP:AMBER+STRICT or TLP:RED; sightings under
    those labels are left out. The caller has already checked that the case may be read.
    """
    ensure_shareable(case)
    return _objects(case, _sightings(session, [case.id]))


def case_bundle(session: Session, case: Case) -> dict[str, Any]:
    """A whole bundle for one case: preamble, then :func:`case_objects`."""
    objects = case_objects(session, case)
    return {"type": "bundle", "id": bundle_id(), "objects": [*preamble(), *objects]}


def bundle_id() -> str:
    """A fresh bundle id (a bundle is a transport envelope, not an object to dedupe)."""
    return f"bundle--{uuid.uuid4()}"


# --- streaming many cases ---------------------------------------------------------------

@dataclass
class ExportStats:
    """What a streamed export wrote and left out."""

    cases: int = 0
    objects: int = 0
    observables: int = 0
    #: Cases left out because their label never leaves the platform.
    not_shareable: int = 0
    #: Sightings left out for the same reason.
    observables_withheld: int = 0
    #: Requested cases (``case_ids``) the actor does not see.
    not_visible: int = 0
    references: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The counts (for the ledger and the CLI)."""
        return {"cases": self.cases, "objects": self.objects,
                "observables": self.observables, "not_shareable": self.not_shareable,
                "observables_withheld": self.observables_withheld,
                "not_visible": self.not_visible}


def _case_batches(session: Session, actor: Actor, since: dt.datetime | None,
                  case_ids: Sequence[int] | None) -> Iterator[list[Case]]:
    """The cases to export in batches of :data:`BATCH`, in id order (keyset pagination:
    each batch is one short query, so nothing stays open between two writes)."""
    last = 0
    while True:
        stmt = access.restrict_cases(select(Case), actor).where(Case.id > last)
        if since is not None:
            stmt = stmt.where(Case.updated_at >= as_utc(since))
        if case_ids is not None:
            stmt = stmt.where(Case.id.in_(case_ids))
        batch = list(session.scalars(stmt.order_by(Case.id).limit(BATCH)))
        if not batch:
            return
        yield batch
        last = batch[-1].id


def iter_objects(session: Session, actor: Actor, stats: ExportStats, *,
                 since: dt.datetime | None = None,
                 case_ids: Sequence[int] | None = None) -> Iterator[dict[str, Any]]:
    """Every STIX object of the cases ``actor`` sees (and may export), one at a time.

    Cases are read :data:`BATCH` at a time and their sightings with one IN query per batch;
    the session is emptied after each batch so memory stays flat in the number of cases.
    """
    actor.require(CsirtPermission.COORDINATE)
    yield from preamble()
    stats.objects += len(preamble())
    seen = 0
    for batch in _case_batches(session, actor, since, case_ids):
        seen += len(batch)
        shareable = [c for c in batch if tlp_labels.shareable(c.tlp)]
        stats.not_shareable += len(batch) - len(shareable)
        by_case: dict[int, list[Sighting]] = {}
        if shareable:
            for item in _sightings(session, [c.id for c in shareable]):
                by_case.setdefault(item.case_id, []).append(item)
        for case in shareable:
            rows = by_case.get(case.id, [])
            kept = sum(1 for item in rows if tlp_labels.shareable(item.tlp))
            stats.observables += kept
            stats.observables_withheld += len(rows) - kept
            stats.cases += 1
            if len(stats.references) < REFERENCES_KEPT:
                stats.references.append(case.reference or str(case.id))
            for obj in _objects(case, rows):
                stats.objects += 1
                yield obj
        for case in batch:  # only ours: the caller's session may hold other objects
            session.expunge(case)
    if case_ids is not None:
        stats.not_visible = len(set(case_ids)) - seen


def write_bundle(session: Session, out: TextIO, *, actor: Actor,
                 since: dt.datetime | None = None,
                 case_ids: Sequence[int] | None = None) -> ExportStats:
    """Write one STIX bundle of the cases ``actor`` sees to ``out``, object by object.

    Needs :attr:`CsirtPermission.COORDINATE`. ``since`` keeps the cases changed since then;
    ``case_ids`` limits the export to those cases. Cases and sightings that may not leave the
    platform are left out and counted in the returned stats.
    """
    actor.require(CsirtPermission.COORDINATE)  # before a byte is written
    stats = ExportStats()
    for chunk in iter_bundle(session, actor=actor, stats=stats, since=since,
                             case_ids=case_ids):
        out.write(chunk)
    return stats


def iter_bundle(session: Session, *, actor: Actor, stats: ExportStats,
                since: dt.datetime | None = None,
                case_ids: Sequence[int] | None = None) -> Iterator[str]:
    """The bundle of :func:`write_bundle` as text chunks (for a streamed HTTP response)."""
    yield f'{{"type": "bundle", "id": "{bundle_id()}", "objects": [\n'
    first = True
    for obj in iter_objects(session, actor, stats, since=since, case_ids=case_ids):
        yield ("" if first else ",\n") + json.dumps(obj, ensure_ascii=False)
        first = False
    yield "\n]}\n"


# --- services the API, pages and CLI call ------------------------------------------------

def export_case(*, session: Session, actor: Actor, case_id: int) -> dict[str, Any]:
    """One case's bundle for whoever reads the case (ledgered: it is about to leave)."""
    case = access.get_case(session, actor, case_id)
    bundle = case_bundle(session, case)
    audit.record(session=session, actor=actor, action="csirt.stix.export",
                 object_type="case", object_id=case.id,
                 object_repr=f"{case.reference} — STIX", institution_id=case.institution_id,
                 details={"objects": len(bundle["objects"]), "bundle": bundle["id"]})
    return bundle


def record_export(*, session: Session, actor: Actor, stats: ExportStats,
                  since: dt.datetime | None, complete: bool = True) -> None:
    """Ledger a bulk export with its counts (the references of the cases it carried)."""
    audit.record(session=session, actor=actor, action="csirt.stix.export_many",
                 object_type="stix_bundle", object_id=None,
                 object_repr=f"STIX export of {stats.cases} cases",
                 details={**stats.as_dict(), "since": since.isoformat() if since else None,
                          "complete": complete, "references": stats.references})

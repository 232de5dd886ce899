"""STIX 2.1 import: round trip with the export, idempotence, labels, loose indicators, and
hostile or invalid files refused with nothing written."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Role
from lakana.core.errors import Forbidden, Invalid, LakanaError, TooLarge
from lakana.csirt import stix_export, stix_import
from lakana.csirt.exchange_models import ExternalReference
from lakana.csirt.models import Case, CaseObservable, Observable
from tests.conftest import Factory
from tests.csirt.conftest import ADMIN, Institutions, actor_of
from tests.csirt.test_stix_export import MIXED, add_indicators

MakeCase = Callable[..., int]
AMBER = stix_export.TLP_MARKINGS[stix_export.Tlp.AMBER]
GREEN = stix_export.TLP_MARKINGS[stix_export.Tlp.GREEN]
RED = stix_export.TLP_MARKINGS[stix_export.Tlp.RED]
TS = "2026-03-01T10:00:00.000Z"


def run_import(session_factory: sessionmaker[Session], data: bytes | str | dict[str, Any],
               **kwargs: Any) -> stix_import.ImportResult:
    """Import in one committed transaction, as the system."""
    raw = json.dumps(data) if isinstance(data, dict) else data
    with session_factory.begin() as session:
        return stix_import.import_bundle(session=session, actor=ADMIN, data=raw, **kwargs)


def sightings(session: Session, case_id: int) -> set[tuple[str, str, str]]:
    """(kind, value, tlp) of a case's indicators."""
    rows = session.execute(select(Observable.kind, Observable.value, CaseObservable.tlp)
                           .join(CaseObservable, CaseObservable.observable_id == Observable.id)
                           .where(CaseObservable.case_id == case_id)).all()
    return {(k, v, t) for k, v, t in rows}


def counts(session_factory: sessionmaker[Session]) -> tuple[int, int, int]:
    """How many cases, links and external references there are."""
    with session_factory() as session:
        return (session.scalar(select(func.count()).select_from(Case)) or 0,
                session.scalar(select(func.count()).select_from(CaseObservable)) or 0,
                session.scalar(select(func.count()).select_from(ExternalReference)) or 0)


def wipe_cases(session_factory: sessionmaker[Session]) -> None:
    """Empty the centre's cases and indicators (a fresh platform, for the round trip)."""
    with session_factory.begin() as session:
        session.execute(delete(CaseObservable))
        session.execute(delete(Observable))
        for case in session.scalars(select(Case)):
            session.delete(case)


def bundle(*objects: dict[str, Any], bundle_id: str = "bundle--5d0e2c7c-0f36-4d43-9a4a-"
           "1d3f1c2a7e11") -> dict[str, Any]:
    """A bundle of ``objects``."""
    return {"type": "bundle", "id": bundle_id, "objects": list(objects)}


def incident(uid: str, name: str, markings: list[str] | None = None,
             **fields: Any) -> dict[str, Any]:
    """An incident SDO."""
    obj = {"type": "incident", "spec_version": "2.1", "id": f"incident--{uid}",
           "created": TS, "modified": TS, "name": name, **fields}
    if markings is not None:
        obj["object_marking_refs"] = markings
    return obj


def indicator(uid: str, pattern: str, markings: list[str] | None = None) -> dict[str, Any]:
    """An indicator SDO with a STIX pattern."""
    obj = {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uid}",
           "created": TS, "modified": TS, "name": "IOC", "pattern": pattern,
           "pattern_type": "stix", "valid_from": TS}
    if markings is not None:
        obj["object_marking_refs"] = markings
    return obj


def indicates(uid: str, source: str, target: str) -> dict[str, Any]:
    """A relationship ``source indicates target``."""
    return {"type": "relationship", "spec_version": "2.1", "id": f"relationship--{uid}",
            "created": TS, "modified": TS, "relationship_type": "indicates",
            "source_ref": source, "target_ref": target}


U1 = "0a3c0a4e-7a4b-4b5e-9d2a-6f1b1f1a0001"
U2 = "0a3c0a4e-7a4b-4b5e-9d2a-6f1b1f1a0002"
U3 = "0a3c0a4e-7a4b-4b5e-9d2a-6f1b1f1a0003"
U4 = "0a3c0a4e-7a4b-4b5e-9d2a-6f1b1f1a0004"
U5 = "0a3c0a4e-7a4b-4b5e-9d2a-6f1b1f1a0005"


def partner_bundle() -> dict[str, Any]:
    """A partner's bundle: a TLP:RED incident with two indicators, one loose indicator."""
    return bundle(
        incident(U1, "Campagne de rançongiciel", [RED], description="Vue chez un partenaire."),
        indicator(U2, "[ipv4-addr:value = '203.0.113.9' OR domain-name:value = 'c2.evil.ml']",
                  [GREEN]),
        indicator(U3, "[file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']"),
        indicates(U4, f"indicator--{U2}", f"incident--{U1}"),
        indicates(U5, f"indicator--{U3}", f"incident--{U1}"),
        indicator("0a3c0a4e-7a4b-4b5e-9d2a-6f1b1f1a0006",
                  "[url:value = 'http://loose.example.ml/x']", [GREEN]),
        indicator("0a3c0a4e-7a4b-4b5e-9d2a-6f1b1f1a0007", "[process:name = 'evil.exe']"),
    )


def test_round_trip_reproduces_the_indicators(make_case: MakeCase,
                                              csirt_institutions: Institutions,
                                              session_factory: sessionmaker[Session]) -> None:
    # Given a case with indicators under every label, exported
    case_id = make_case(csirt_institutions.a, title="Hameçonnage des agents")
    add_indicators(session_factory, case_id, MIXED)
    with session_factory() as session:
        case = session.get(Case, case_id)
        assert case is not None
        exported = stix_export.case_bundle(session, case)
        shareable = {s for s in sightings(session, case_id) if s[2] in ("clear", "green",
                                                                          "amber")}
        name = f"{case.reference} — {case.title}"
    # When it is imported on a platform without it
    wipe_cases(session_factory)
    result = run_import(session_factory, exported, institution_id=csirt_institutions.b)
    # Then one partner case holds exactly the shareable indicators, with their labels
    assert len(result.cases_created) == 1 and result.observables_added == len(shareable)
    with session_factory() as session:
        imported = session.get(Case, result.case_ids[0])
        assert imported is not None
        assert (imported.source, imported.title, imported.tlp) == ("partner", name, "amber")
        assert imported.institution_id == csirt_institutions.b
        assert sightings(session, imported.id) == shareable
        ref = session.scalars(select(ExternalReference)).one()
        assert ref.source == "stix" and ref.case_id == imported.id
        assert ref.external_id == exported["objects"][4]["id"]  # the incident
        assert ref.producer == stix_export.CENTRE_NAME


def test_import_again_adds_only_what_is_new(session_factory: sessionmaker[Session]) -> None:
    doc = partner_bundle()
    first = run_import(session_factory, doc)
    before = counts(session_factory)
    # When the same bundle comes again
    again = run_import(session_factory, doc)
    # Then no case and no indicator is added
    assert again.cases_created == [] and sorted(again.case_ids) == sorted(first.case_ids)
    assert again.observables_added == 0 and again.observables_known == first.observables_added
    assert counts(session_factory) == before
    # And a new indicator of the incident, sent later, is the only addition
    later = copy.deepcopy(doc)
    later["objects"] += [indicator("0a3c0a4e-7a4b-4b5e-9d2a-6f1b1f1a0008",
                                   "[ipv4-addr:value = '203.0.113.10']"),
                         indicates("0a3c0a4e-7a4b-4b5e-9d2a-6f1b1f1a0009",
                                   "indicator--0a3c0a4e-7a4b-4b5e-9d2a-6f1b1f1a0008",
                                   f"incident--{U1}")]
    third = run_import(session_factory, later)
    assert third.cases_created == [] and third.observables_added == 1
    assert counts(session_factory)[1] == before[1] + 1


def test_labels_loose_indicators_and_skipped_objects(
        session_factory: sessionmaker[Session]) -> None:
    result = run_import(session_factory, partner_bundle())
    assert len(result.cases_created) == 2
    with session_factory() as session:
        red = session.get(Case, result.case_ids[0])
        loose = session.get(Case, result.case_ids[1])
        assert red is not None and loose is not None
        # The TLP:RED incident stays RED inside; an unmarked indicator takes the case's label
        assert (red.tlp, red.source, red.institution_id) == ("red", "partner", None)
        assert red.title == "Campagne de rançongiciel"
        assert sightings(session, red.id) == {
            ("ipv4", "203.0.113.9", "green"), ("domain", "c2.evil.ml", "green"),
            ("md5", "d41d8cd98f00b204e9800998ecf8427e", "red")}
        # What is linked to no incident lands in one case of the bundle
        assert loose.title.startswith("Indicateurs importés")
        assert loose.tlp == "amber"
        assert sightings(session, loose.id) == {("url", "http://loose.example.ml/x", "green")}
        # And the ledger holds the counts
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "csirt.stix.import")).one()
        details = json.loads(entry.details)
        assert details["cases_created"] == 2 and details["observables_added"] == 4
    # What Lakana does not keep is listed, not fatal
    assert {s["reason"] for s in result.skipped} == {"comparison on process:name is not kept"}


def test_tlp1_markings_and_reports_are_understood(
        session_factory: sessionmaker[Session]) -> None:
    tlp1_green = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
    report = {"type": "report", "spec_version": "2.1", "id": f"report--{U1}", "created": TS,
              "modified": TS, "name": "Rapport " + "x" * 300, "published": TS,
              "object_refs": [f"indicator--{U2}", f"vulnerability--{U3}"],
              "object_marking_refs": [tlp1_green]}
    vuln = {"type": "vulnerability", "spec_version": "2.1", "id": f"vulnerability--{U3}",
            "created": TS, "modified": TS, "name": "Faille",
            "external_references": [{"source_name": "cve", "external_id": "CVE-2024-3400"}]}
    result = run_import(session_factory, bundle(
        report, indicator(U2, "[ipv4-addr:value ISSUBSET '198.51.100.0/24']"), vuln))
    with session_factory() as session:
        case = session.get(Case, result.case_ids[0])
        assert case is not None
        assert case.tlp == "green" and len(case.title) == 200
        assert sightings(session, case.id) == {("cidr", "198.51.100.0/24", "green"),
                                               ("cve", "CVE-2024-3400", "green")}


@pytest.mark.parametrize(("data", "error", "message"), [
    ("[" * 10_000 + "]" * 10_000, Invalid, "nested"),
    ('{"type": "bundle", "id": "bundle--1", "objects": [' + ",".join(["1"] * 1_000_000)
     + "]}", TooLarge, "more than"),
    ('{"type": "bundle", "id": "bundle--5d0e2c7c-0f36-4d43-9a4a-1d3f1c2a7e11", '
     '"objects": "x"}', Invalid, "must be a list"),
    ('{"type": "bundle", "id": "bundle--5d0e2c7c-0f36-4d43-9a4a-1d3f1c2a7e11", '
     '"objects": [1]}', Invalid, "object 1"),
    ('{"type": "report"}', Invalid, "bundle"),
    (b'{"type": "bundle", "id": "bundle--\xff"}', Invalid, "UTF-8"),
    ("not json", Invalid, "not valid JSON"),
])
def test_hostile_files_are_refused(data: str | bytes, error: type[LakanaError], message: str,
                                   session_factory: sessionmaker[Session]) -> None:
    before = counts(session_factory)
    with pytest.raises(error, match=message):
        run_import(session_factory, data)
    assert counts(session_factory) == before


def test_too_many_objects_are_refused(monkeypatch: pytest.MonkeyPatch,
                                      session_factory: sessionmaker[Session]) -> None:
    monkeypatch.setattr(stix_import, "MAX_OBJECTS", 3)
    doc = partner_bundle()
    with pytest.raises(TooLarge, match="7 objects"):
        run_import(session_factory, doc)


@pytest.mark.parametrize("pattern", ["[ipv4-addr:value = '999.1.1.1']",
                                     "[url:value = 'http://evil.ml/a b']"])
def test_one_invalid_indicator_refuses_the_whole_file(
        pattern: str, session_factory: sessionmaker[Session]) -> None:
    doc = partner_bundle()
    doc["objects"] += [indicator("0a3c0a4e-7a4b-4b5e-9d2a-6f1b1f1a00aa", pattern),
                       indicates("0a3c0a4e-7a4b-4b5e-9d2a-6f1b1f1a00ab",
                                 "indicator--0a3c0a4e-7a4b-4b5e-9d2a-6f1b1f1a00aa",
                                 f"incident--{U1}")]
    before = counts(session_factory)
    with pytest.raises(Invalid, match="nothing was imported") as caught:
        run_import(session_factory, doc)
    assert caught.value.errors[0]["object"] == "indicator--0a3c0a4e-7a4b-4b5e-9d2a-6f1b1f1a00aa"
    assert counts(session_factory) == before


def test_validator_errors_are_listed(session_factory: sessionmaker[Session]) -> None:
    broken = indicator(U2, "[ipv4-addr:value = '10.0.0.1'")  # unbalanced bracket
    del broken["valid_from"]
    with pytest.raises(Invalid, match="not valid STIX 2.1") as caught:
        run_import(session_factory, bundle(broken))
    assert 1 <= len(caught.value.errors) <= stix_import.MAX_ERRORS
    assert all(e["message"] for e in caught.value.errors)
    assert counts(session_factory) == (0, 0, 0)


def test_importing_needs_coordination(factory: Factory, csirt_institutions: Institutions,
                                      session_factory: sessionmaker[Session]) -> None:
    focal = factory.user(Role.FOCAL_POINT, institution_id=csirt_institutions.a)
    with session_factory() as session, pytest.raises(Forbidden):
        stix_import.import_bundle(session=session, actor=actor_of(focal),
                                  data=json.dumps(partner_bundle()))

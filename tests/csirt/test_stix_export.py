"""STIX 2.1 export: one case's objects (TLP filtering, mapping, determinism), the bundle
checked by the OASIS validator, and the streamed export of many cases."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
import stix2
from sqlalchemy.orm import Session, sessionmaker
from stix2validator import ValidationOptions, validate_parsed_json

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Role
from lakana.core.errors import Forbidden, Invalid
from lakana.csirt import observable_service, stix_export, tasks_service
from lakana.csirt.models import Case
from lakana.csirt.schemas import NoteCreate
from tests.conftest import Factory
from tests.csirt.conftest import ADMIN, Institutions, actor_of

MakeCase = Callable[..., int]

#: (value, TLP of the sighting) put on the mixed case.
MIXED = [
    ("10.0.0.1", "green"), ("198.51.100.7/24", "clear"), ("2001:db8::1", "amber"),
    ("hxxps://evil[.]ml/login?u=1", "amber"), ("phish@evil.ml", "clear"),
    ("evil-domain.ml", "green"), ("e" * 64, "amber"), ("CVE-2024-3400", "green"),
    ("secret.ml", "amber+strict"), ("10.9.9.9", "red"), ("f" * 32, "red"),
]


def add_indicators(session_factory: sessionmaker[Session], case_id: int,
                   values: list[tuple[str, str]]) -> None:
    """Add ``(value, tlp)`` pairs to a case as the system."""
    with session_factory.begin() as session:
        for value, label in values:
            observable_service.add_to_case(session=session, actor=ADMIN, case_id=case_id,
                                           kind=None, value=value, tlp=label,
                                           comment="Commentaire interne")


def objects_of(session_factory: sessionmaker[Session], case_id: int) -> list[dict[str, Any]]:
    """``case_objects`` of a case, read in a fresh session."""
    with session_factory() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return stix_export.case_objects(session, case)


def validate(bundle: dict[str, Any]) -> list[str]:
    """The OASIS validator's errors on a bundle (default options)."""
    result = validate_parsed_json(json.loads(json.dumps(bundle)), ValidationOptions())
    return [str(e) for e in (result.errors or [])]


def values_by_type(objects: list[dict[str, Any]]) -> dict[str, set[str]]:
    """SCO values (or file hashes, CVE names) by STIX type."""
    found: dict[str, set[str]] = {}
    for obj in objects:
        if "value" in obj:
            found.setdefault(obj["type"], set()).add(obj["value"])
        elif obj["type"] == "file":
            found.setdefault("file", set()).update(obj["hashes"].values())
        elif obj["type"] == "vulnerability":
            found.setdefault("vulnerability", set()).add(obj["name"])
    return found


@pytest.fixture
def mixed_case(make_case: MakeCase, csirt_institutions: Institutions,
               session_factory: sessionmaker[Session]) -> int:
    """An AMBER case of A with indicators under every label, a note and a named reporter."""
    case_id = make_case(csirt_institutions.a, title="Hameçonnage des agents",
                        taxonomy_class="fraud", taxonomy_type="phishing")
    add_indicators(session_factory, case_id, MIXED)
    with session_factory.begin() as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.reporter_name, case.reporter_email = "Awa Traoré", "awa.traore@example.ml"
        case.reporter_phone = "+22370000000"
        tasks_service.add_note(session=session, actor=ADMIN, case_id=case_id,
                               data=NoteCreate(body="Note confidentielle de l'analyste"))
    return case_id


def test_case_objects_leave_out_what_may_not_be_shared(
        mixed_case: int, session_factory: sessionmaker[Session]) -> None:
    # When the mixed case is exported
    objects = objects_of(session_factory, mixed_case)
    values = values_by_type(objects)
    # Then every shareable indicator is there, mapped to its STIX type
    assert values["ipv4-addr"] == {"10.0.0.1", "198.51.100.0/24"}
    assert values["ipv6-addr"] == {"2001:db8::1"}
    assert values["url"] == {"https://evil.ml/login?u=1"}
    assert values["email-addr"] == {"phish@evil.ml"}
    assert values["domain-name"] == {"evil-domain.ml"}
    assert values["file"] == {"e" * 64}
    assert values["vulnerability"] == {"CVE-2024-3400"}
    # And nothing under AMBER+STRICT or RED, no note, comment or reporter data
    text = json.dumps(objects, ensure_ascii=False)
    for secret in ("secret.ml", "10.9.9.9", "f" * 32, "Awa", "awa.traore", "+22370000000",
                   "Note confidentielle", "Commentaire interne",
                   stix_export.TLP_MARKINGS[stix_export.Tlp.RED],
                   stix_export.TLP_MARKINGS[stix_export.Tlp.AMBER_STRICT]):
        assert secret not in text
    # And no identity nor bundle wrapper: the caller adds them
    assert {o["type"] for o in objects} >= {"incident", "indicator", "relationship"}
    assert not {"identity", "bundle", "marking-definition"} & {o["type"] for o in objects}


def test_mapping_markings_patterns_and_relationships(
        mixed_case: int, session_factory: sessionmaker[Session]) -> None:
    objects = objects_of(session_factory, mixed_case)
    by_id = {o["id"]: o for o in objects}
    incident = next(o for o in objects if o["type"] == "incident")
    # The incident: reference and title, classification, TLP, the centre as creator
    assert incident["name"].endswith("— Hameçonnage des agents")
    assert incident["name"].startswith("INC-")
    assert incident["x_lakana_taxonomy_class"] == "fraud"
    assert incident["x_lakana_taxonomy_type"] == "phishing"
    assert incident["object_marking_refs"] == [stix_export.TLP_MARKINGS[stix_export.Tlp.AMBER]]
    assert incident["created_by_ref"] == stix_export.centre_identity()["id"]
    # Every object is marked
    assert all(o.get("object_marking_refs") for o in objects)
    # Indicators carry their own label and a pattern that matches the value
    patterns = {o["pattern"]: o for o in objects if o["type"] == "indicator"}
    green = patterns["[ipv4-addr:value = '10.0.0.1']"]
    assert green["object_marking_refs"] == [stix_export.TLP_MARKINGS[stix_export.Tlp.GREEN]]
    assert "[ipv4-addr:value ISSUBSET '198.51.100.0/24']" in patterns
    assert f"[file:hashes.'SHA-256' = '{'e' * 64}']" in patterns
    # Each indicator indicates the incident, under the stricter of the two labels
    indicates = [o for o in objects if o["type"] == "relationship"
                 and o["relationship_type"] == "indicates"]
    assert len(indicates) == len(patterns) == 7
    assert {r["target_ref"] for r in indicates} == {incident["id"]}
    assert all(r["object_marking_refs"] == [stix_export.TLP_MARKINGS[stix_export.Tlp.AMBER]]
               for r in indicates)
    # The CVE is a vulnerability related to the incident
    vuln = next(o for o in objects if o["type"] == "vulnerability")
    assert vuln["external_references"] == [{"source_name": "cve",
                                            "external_id": "CVE-2024-3400"}]
    related = [o for o in objects if o["type"] == "relationship"
               and o.get("target_ref") == vuln["id"]]
    assert related[0]["source_ref"] == incident["id"]
    assert related[0]["relationship_type"] == "related-to"
    # Every reference points at an object of the export
    for rel in (o for o in objects if o["type"] == "relationship"):
        assert rel["source_ref"] in by_id and rel["target_ref"] in by_id


def test_patterns_parse_and_sco_ids_match_the_stix2_library(
        mixed_case: int, session_factory: sessionmaker[Session]) -> None:
    objects = objects_of(session_factory, mixed_case)
    for obj in objects:
        # The stix2 library accepts every object (patterns checked by stix2-patterns)
        parsed = stix2.parse(obj, allow_custom=True)
        if obj["type"] in ("ipv4-addr", "domain-name", "url", "email-addr", "file"):
            # Deterministic SCO ids computed like the reference implementation
            again = type(parsed)(**{k: v for k, v in obj.items()
                                    if k not in ("id", "object_marking_refs")})
            assert again.id == obj["id"]


def test_the_bundle_passes_the_oasis_validator(mixed_case: int,
                                               session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        case = session.get(Case, mixed_case)
        assert case is not None
        bundle = stix_export.case_bundle(session, case)
    assert bundle["objects"][0] == stix_export.centre_identity()
    assert validate(bundle) == []


def test_ids_are_stable_and_modified_moves_with_the_case(
        mixed_case: int, session_factory: sessionmaker[Session]) -> None:
    first = objects_of(session_factory, mixed_case)
    again = objects_of(session_factory, mixed_case)
    assert first == again
    # When the case changes
    with session_factory.begin() as session:
        case = session.get(Case, mixed_case)
        assert case is not None
        case.updated_at = case.updated_at + dt.timedelta(minutes=5)
        case.title = "Hameçonnage des agents (mise à jour)"
    after = objects_of(session_factory, mixed_case)
    # Then the incident keeps its id and creation time, and its modified time moves
    before_incident, after_incident = first[0], after[0]
    assert after_incident["id"] == before_incident["id"]
    assert after_incident["created"] == before_incident["created"]
    assert after_incident["modified"] > before_incident["modified"]
    assert [o["id"] for o in after] == [o["id"] for o in first]


@pytest.mark.parametrize("label", ["red", "amber+strict"])
def test_a_case_that_may_not_leave_refuses(label: str, make_case: MakeCase,
                                           csirt_institutions: Institutions,
                                           session_factory: sessionmaker[Session]) -> None:
    case_id = make_case(csirt_institutions.a, tlp=label)
    with pytest.raises(Invalid, match="never leaves the platform"):
        objects_of(session_factory, case_id)


def _export(session_factory: sessionmaker[Session], **kwargs: Any
            ) -> tuple[dict[str, Any], stix_export.ExportStats]:
    out = io.StringIO()
    with session_factory() as session:
        stats = stix_export.write_bundle(session, out, actor=ADMIN, **kwargs)
    return json.loads(out.getvalue()), stats


def test_streamed_export_of_many_cases(make_case: MakeCase, csirt_institutions: Institutions,
                                       session_factory: sessionmaker[Session],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 7 cases with indicators (batches of 3, so reading goes over several batches),
    # one of them TLP:RED
    monkeypatch.setattr(stix_export, "BATCH", 3)
    ids = [make_case(csirt_institutions.a if n % 2 else csirt_institutions.b,
                     title=f"Incident {n}") for n in range(7)]
    for n, case_id in enumerate(ids):
        add_indicators(session_factory, case_id, [(f"10.1.0.{n + 1}", "green"),
                                                  (f"host{n}.evil.ml", "amber"),
                                                  ("10.66.0.1", "red")])
    with session_factory.begin() as session:
        red = session.get(Case, ids[3])
        assert red is not None
        red.tlp = "red"
    # When all is exported
    bundle, stats = _export(session_factory)
    # Then the output is one valid JSON bundle that the validator accepts
    assert bundle["type"] == "bundle" and bundle["id"].startswith("bundle--")
    assert validate(bundle) == []
    incidents = [o for o in bundle["objects"] if o["type"] == "incident"]
    assert len(incidents) == 6 and stats.cases == 6 and stats.not_shareable == 1
    assert stats.observables == 12 and stats.observables_withheld == 6
    assert stats.objects == len(bundle["objects"])
    values = values_by_type(bundle["objects"])["ipv4-addr"]
    assert "10.1.0.4" not in values and "10.66.0.1" not in values
    assert "Incident 3" not in json.dumps(bundle, ensure_ascii=False)
    # And a selection of cases, or the cases changed since a date, narrow it
    chosen, stats = _export(session_factory, case_ids=[ids[0], ids[5]])
    assert sorted(o["name"].split(" — ")[1] for o in chosen["objects"]
                  if o["type"] == "incident") == ["Incident 0", "Incident 5"]
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    empty, stats = _export(session_factory, since=future)
    assert stats.cases == 0
    assert [o["type"] for o in empty["objects"]] == ["identity"] + ["marking-definition"] * 3


def test_bulk_export_needs_coordination(factory: Factory, csirt_institutions: Institutions,
                                        session_factory: sessionmaker[Session]) -> None:
    focal = factory.user(Role.FOCAL_POINT, institution_id=csirt_institutions.a)
    with session_factory() as session, pytest.raises(Forbidden):
        stix_export.write_bundle(session, io.StringIO(), actor=actor_of(focal))


def test_single_case_export_is_ledgered(mixed_case: int,
                                        session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        bundle = stix_export.export_case(session=session, actor=ADMIN, case_id=mixed_case)
    with session_factory() as session:
        entry = session.query(AuditEntry).filter_by(action="csirt.stix.export").one()
        assert entry.object_id == str(mixed_case)
        assert json.loads(entry.details)["objects"] == len(bundle["objects"])

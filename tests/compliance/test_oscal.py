"""OSCAL parsing: structure, versions, duplicate ids, required parts, JSON paths."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from lakana.compliance import oscal
from lakana.core.errors import Invalid
from tests.compliance.conftest import catalog_doc, profile_doc


def _paths(doc: Any, parse: Any = oscal.parse_catalog) -> list[str]:
    with pytest.raises(Invalid) as caught:
        parse(doc)
    return [e["path"] for e in caught.value.errors]


def test_a_valid_catalog_is_read() -> None:
    # Given the small catalog / When parsed
    parsed = oscal.parse_catalog(json.dumps(catalog_doc()).encode())
    # Then domains, requirements, mappings and the maturity scale are read
    assert [d.code for d in parsed.domains] == ["gov", "net"]
    legal = parsed.domains[0].requirements[2]
    assert legal.kind == "legal" and legal.legal_source.startswith("Loi")
    net2 = parsed.domains[1].requirements[1]
    assert net2.tiers == ("2", "3") and net2.iso_refs == ("A.8.20",) and net2.weight == 2
    assert len(parsed.maturity) == 6 and parsed.maturity[5][2] == "Level 5"
    assert parsed.sha256 == oscal.digest(catalog_doc())


def test_bad_json_is_refused_with_root_path() -> None:
    # Given text that is not JSON / Then it is refused at $
    assert _paths(b'{"catalog": ') == ["$"]


def test_missing_field_names_its_path() -> None:
    # Given a control without its title
    doc = catalog_doc()
    del doc["catalog"]["groups"][1]["controls"][1]["title"]
    # Then the path points at it
    assert _paths(doc) == ["$.catalog.groups[1].controls[1].title"]


def test_unknown_oscal_version_is_refused() -> None:
    # Given an OSCAL 2.0 document / Then it is refused at its version
    doc = catalog_doc()
    doc["catalog"]["metadata"]["oscal-version"] = "2.0.0"
    with pytest.raises(Invalid) as caught:
        oscal.parse_catalog(doc)
    assert caught.value.errors[0]["path"] == "$.catalog.metadata.oscal-version"
    assert "Unknown OSCAL version" in caught.value.errors[0]["message"]
    # And 1.0.x and 1.2.x are accepted
    doc["catalog"]["metadata"]["oscal-version"] = "1.0.4"
    assert oscal.parse_catalog(doc).oscal_version == "1.0.4"
    doc["catalog"]["metadata"]["oscal-version"] = "1.2.3"
    assert oscal.parse_catalog(doc).oscal_version == "1.2.3"


def test_duplicate_ids_name_both_paths() -> None:
    # Given a control id used twice, in two groups
    doc = catalog_doc()
    doc["catalog"]["groups"][1]["controls"][1]["id"] = "gov-2"
    with pytest.raises(Invalid) as caught:
        oscal.parse_catalog(doc)
    # Then the second place is the path and the first is named in the message parameters
    error = caught.value.errors[0]
    assert error["path"] == "$.catalog.groups[1].controls[1].id"
    assert error["params"]["other"] == "$.catalog.groups[0].controls[1].id"


def test_duplicate_part_and_group_ids_are_refused() -> None:
    # Given a part id and a group id reused
    doc = catalog_doc()
    doc["catalog"]["groups"][0]["controls"][1]["parts"][0]["id"] = "gov-1_smt"
    doc["catalog"]["groups"][1]["id"] = "gov"
    # Then both are reported
    paths = _paths(doc)
    assert "$.catalog.groups[0].controls[1].parts[0].id" in paths
    assert "$.catalog.groups[1].id" in paths


def test_english_statement_is_required() -> None:
    # Given a control without its English statement
    doc = catalog_doc()
    parts = doc["catalog"]["groups"][0]["controls"][0]["parts"]
    parts[:] = [p for p in parts if p["name"] != "statement-en"]
    # Then it is refused at the control's parts
    assert _paths(doc) == ["$.catalog.groups[0].controls[0].parts"]


def test_legal_obligation_needs_its_source() -> None:
    # Given a legal obligation without legal-source
    doc = catalog_doc()
    props = doc["catalog"]["groups"][0]["controls"][2]["props"]
    props[:] = [p for p in props if p["name"] != "legal-source"]
    assert _paths(doc) == ["$.catalog.groups[0].controls[2].props"]


def test_extra_oscal_keys_are_accepted() -> None:
    # Given keys OSCAL allows that Lakana does not read (links, remarks)
    doc = catalog_doc()
    doc["catalog"]["groups"][0]["controls"][0]["links"] = [{"href": "#x", "rel": "related"}]
    doc["$schema"] = "https://example.org/schema.json"
    # Then the catalog is read
    assert oscal.parse_catalog(doc).domains[0].requirements[0].control_id == "gov-1"


def test_profile_problems_have_paths() -> None:
    # Given a profile whose import selects nothing and uses modify
    doc = profile_doc(imports=[{"href": "ml-test@2026.1"}])
    doc["profile"]["modify"] = {}
    paths = _paths(doc, oscal.parse_profile)
    assert "$.profile.imports[0]" in paths and "$.profile.modify" in paths


def test_not_a_catalog() -> None:
    # Given a profile given as a catalog / Then the missing top-level key is named
    assert _paths(profile_doc()) == ["$.catalog"]


def test_the_official_schema_is_enforced() -> None:
    # Given a document Lakana's own model would read, but which the official OSCAL schema
    # refuses (a control class that is not a token, an unknown key in a group)
    doc = catalog_doc()
    doc["catalog"]["groups"][0]["controls"][0]["class"] = "legal obligation"
    doc["catalog"]["groups"][1]["weight"] = 3
    # Then both schema problems are reported with their paths, beside Lakana's own check
    paths = _paths(doc)
    assert paths.count("$.catalog.groups[0].controls[0].class") == 2  # schema + Lakana
    assert "$.catalog.groups[1].weight" in paths


def test_resolved_catalog_keeps_only_selected_controls() -> None:
    # Given the catalog and a selection / When resolved
    resolved = oscal.resolved_catalog(profile=profile_doc(),
                                      selections=[(catalog_doc(), ["gov-1", "net-1"])])
    # Then it is a valid catalog with just those controls
    ids = [c["id"] for g in resolved["catalog"]["groups"] for c in g["controls"]]
    assert ids == ["gov-1", "net-1"]
    assert resolved["catalog"]["metadata"]["oscal-version"] == oscal.OSCAL_VERSION
    parsed = oscal.parse_catalog(copy.deepcopy(resolved))
    assert parsed.catalog_id == "small-resolved"
    assert sum(len(d.requirements) for d in parsed.domains) == 2


"""Validation against NIST's official OSCAL 1.2.3 JSON schema: shipped files, exports,
refusals with JSON paths, the Unicode token pattern."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance import oscal, oscal_schema, service, spreadsheet
from lakana.compliance.demo import shipped_files
from lakana.core import i18n
from lakana.core.errors import Invalid
from tests.compliance.conftest import ADMIN, catalog_doc, load, profile_doc


def _refusal(doc: Any, parse: Any = oscal.parse_catalog) -> dict[str, str]:
    """``{path: message}`` of a refused document."""
    with pytest.raises(Invalid) as caught:
        parse(doc)
    return {e["path"]: e["message"] % e.get("params", {}) for e in caught.value.errors}


@pytest.mark.parametrize("path", [*shipped_files("catalogs"), *shipped_files("profiles")],
                         ids=lambda p: Path(p).name)
def test_shipped_documents_are_schema_valid(path: Path) -> None:
    # Given a catalog or profile Lakana ships / Then it fits the official schema, in 1.2.3
    doc = json.loads(path.read_text(encoding="utf-8"))
    model = next(iter(doc))
    assert oscal_schema.schema_problems(doc, model) == []
    assert doc[model]["metadata"]["oscal-version"] == oscal_schema.OSCAL_VERSION
    parse = oscal.parse_catalog if model == "catalog" else oscal.parse_profile
    assert parse(doc).oscal_version == "1.2.3"


def test_test_fixtures_are_schema_valid() -> None:
    # Given the documents the tests build (OSCAL 1.1.2) / Then they fit the 1.2.3 schema too
    assert oscal_schema.schema_problems(catalog_doc(), "catalog") == []
    assert oscal_schema.schema_problems(profile_doc(), "profile") == []


def test_exports_are_schema_valid(session_factory: sessionmaker[Session]) -> None:
    # Given a catalog and a profile imported
    version_id = load(session_factory, catalog_doc())
    profile_pk = load(session_factory, profile_doc())
    with session_factory() as session:
        # When the catalog, the profile and its resolved catalog are exported
        exported = service.export_catalog(session=session, actor=ADMIN,
                                          catalog_version_id=version_id)
        profile = service.export_profile(session=session, actor=ADMIN, profile_id=profile_pk)
        resolved = service.export_profile(session=session, actor=ADMIN, profile_id=profile_pk,
                                          resolved=True)
    # Then each fits the official schema, and the resolved catalog says OSCAL 1.2.3
    assert oscal_schema.schema_problems(exported, "catalog") == []
    assert oscal_schema.schema_problems(profile, "profile") == []
    assert oscal_schema.schema_problems(resolved, "catalog") == []
    assert resolved["catalog"]["metadata"]["oscal-version"] == "1.2.3"


def test_spreadsheet_import_writes_a_schema_valid_catalog(
        session_factory: sessionmaker[Session], version_id: int) -> None:
    # Given a catalog exported as CSV and imported back as a new version
    with session_factory.begin() as session:
        text = spreadsheet.export_csv(session=session, actor=ADMIN,
                                      catalog_version_id=version_id)
        created, _ = spreadsheet.import_spreadsheet(
            session=session, actor=ADMIN, content=text.encode("utf-8"), filename="c.csv",
            catalog_id="ml-test", version="2026.2")
        doc = service.export_catalog(session=session, actor=ADMIN,
                                     catalog_version_id=created.id)
    # Then the document Lakana wrote is OSCAL 1.2.3 and fits the schema
    assert doc["catalog"]["metadata"]["oscal-version"] == "1.2.3"
    assert oscal_schema.schema_problems(doc, "catalog") == []


def test_a_multiline_title_in_a_spreadsheet_is_refused_at_its_cell(
        session_factory: sessionmaker[Session], version_id: int) -> None:
    # Given a CSV whose requirement title spans two lines
    with session_factory() as session:
        text = spreadsheet.export_csv(session=session, actor=ADMIN,
                                      catalog_version_id=version_id)
    text = text.replace("Title gov-1", '"Title\ngov-1"')
    # Then it is refused at its row and column, not as a schema problem
    with session_factory() as session, pytest.raises(Invalid) as caught:
        spreadsheet.import_spreadsheet(session=session, actor=ADMIN,
                                       content=text.encode("utf-8"), filename="c.csv",
                                       catalog_id="ml-test", version="2026.3")
    assert [(e["row"], e["column"]) for e in caught.value.errors] == [(2, "title_en")]


def test_schema_problems_are_refused_with_their_paths() -> None:
    # Given a catalog with a wrong type, a bad prop name, no title and a bad uuid
    doc = catalog_doc()
    doc["catalog"]["uuid"] = "0b8c1f44-7d2e-1c4a-9a0e-000000000001"  # version 1
    doc["catalog"]["groups"][1]["controls"][0]["props"][1]["name"] = "applies to tier"
    doc["catalog"]["groups"][0]["title"] = 12
    del doc["catalog"]["metadata"]["title"]
    # When parsed / Then each problem is named with its JSON path
    problems = _refusal(doc)
    assert "$.catalog.uuid" in problems and "UUID" in problems["$.catalog.uuid"]
    assert "not an OSCAL token" in problems["$.catalog.groups[1].controls[0].props[1].name"]
    assert "JSON type string" in problems["$.catalog.groups[0].title"]
    assert problems["$.catalog.metadata.title"] == "This value is required."


def test_schema_problems_come_with_lakanas_own_checks() -> None:
    # Given a schema problem (a date without time zone) and a duplicate id
    doc = catalog_doc()
    doc["catalog"]["metadata"]["last-modified"] = "2026-01-15T00:00:00"
    doc["catalog"]["groups"][1]["controls"][1]["id"] = "gov-2"
    # Then both are reported at once
    problems = _refusal(doc)
    assert "time zone" in problems["$.catalog.metadata.last-modified"]
    assert "Duplicate id gov-2" in problems["$.catalog.groups[1].controls[1].id"]


def test_profile_schema_problems_have_paths() -> None:
    # Given a profile with an unknown key and a prop namespace that is not a URI
    doc = profile_doc()
    doc["profile"]["imports"][0]["include-everything"] = True
    doc["profile"]["metadata"]["props"][0]["ns"] = "lakana"
    problems = _refusal(doc, oscal.parse_profile)
    assert "Unknown property" in problems["$.profile.imports[0].include-everything"]
    assert "absolute URI" in problems["$.profile.metadata.props[0].ns"]


def test_oscal_versions() -> None:
    # Given a catalog in OSCAL 1.2.3, 1.0.4 and 2.0.0 / Then only 2.0.0 is refused
    doc = catalog_doc()
    for accepted in ("1.2.3", "1.0.4", "1.1.2"):
        doc["catalog"]["metadata"]["oscal-version"] = accepted
        assert oscal.parse_catalog(doc).oscal_version == accepted
    doc["catalog"]["metadata"]["oscal-version"] = "2.0.0"
    problems = _refusal(doc)
    assert list(problems) == ["$.catalog.metadata.oscal-version"]
    assert "supported: 1.0.x, 1.1.x and 1.2.x" in problems["$.catalog.metadata.oscal-version"]


@pytest.mark.parametrize(("name", "valid"), [
    ("maturité", True), ("élément_2", True), ("_x.y-z", True), ("数字", True),
    ("a b", False), ("2fa", False), ("a:b", False), ("", False)])
def test_token_pattern_knows_unicode_letters(name: str, valid: bool) -> None:
    # Given a prop name (an OSCAL token: \p{L} letters, \p{N} digits, . - _)
    doc = catalog_doc()
    doc["catalog"]["metadata"]["props"].append({"name": name, "value": "x"})
    # Then letters of any script are accepted and spaces, colons, leading digits refused
    problems = oscal_schema.schema_problems(doc, "catalog")
    assert (problems == []) is valid, problems
    if not valid:
        assert problems[0][0] == "$.catalog.metadata.props[2].name"


def test_problems_are_sorted_by_path_and_capped() -> None:
    # Given a catalog with a bad prop value on every control of 60 controls
    doc = catalog_doc(groups={"gov": [f"gov-{i}" for i in range(1, 61)]})
    for control in doc["catalog"]["groups"][0]["controls"]:
        control["props"][0]["value"] = " padded "
    # Then paths come in document order (controls[2] before controls[10]) and are capped
    found, total = oscal_schema.schema_errors(doc, "catalog")
    assert total == 60 and len(found) == oscal_schema.MAX_PROBLEMS
    assert found[2].path == "$.catalog.groups[0].controls[2].props[0].value"
    assert found[10].path == "$.catalog.groups[0].controls[10].props[0].value"
    # And parsing says how many more were not listed
    problems = _refusal(doc)
    assert problems["$"] == "10 more problems against the OSCAL schema are not listed."


def test_schema_messages_are_translated() -> None:
    # Given a refused document / Then its messages exist in French
    doc = copy.deepcopy(catalog_doc())
    doc["catalog"]["uuid"] = "nope"
    found, _ = oscal_schema.schema_errors(doc, "catalog")
    i18n.register_catalog_dir(Path(oscal.__file__).parent / "locale")
    with i18n.use_language("fr"):
        text = i18n.gettext(found[0].message, **found[0].params)
    assert text != found[0].text and "UUID" in text


def test_other_models_and_unknown_model() -> None:
    # Given the models the schema knows / Then assessment results are among them
    assert {"catalog", "profile", "assessment-results"} <= set(oscal_schema.models())
    with pytest.raises(ValueError, match="unknown OSCAL model"):
        oscal_schema.schema_problems({}, "nonsense")

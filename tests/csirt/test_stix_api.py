"""STIX API: one case's bundle (scope, TLP), the streamed export (coordination only, valid,
ledgered), and imports (JSON body, file upload, refusals with nothing written); the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.models import User
from lakana.core.config import Settings
from lakana.csirt import stix_export
from lakana.csirt.cli import app as cli_app
from lakana.csirt.models import Case
from tests.csirt.conftest import Institutions
from tests.csirt.test_stix_export import add_indicators, validate
from tests.csirt.test_stix_import import counts, partner_bundle, sightings, wipe_cases

MakeCase = Callable[..., int]
ApiAs = Callable[[User], TestClient]
runner = CliRunner()


@pytest.fixture
def case_a(make_case: MakeCase, csirt_institutions: Institutions,
           session_factory: sessionmaker[Session]) -> int:
    """A GREEN case of A with a shareable and a TLP:RED indicator."""
    case_id = make_case(csirt_institutions.a, tlp="green", title="Défiguration du portail")
    add_indicators(session_factory, case_id, [("portal-defacer.ml", "green"),
                                              ("10.66.6.6", "red")])
    return case_id


def test_one_case_bundle_for_whoever_reads_it(api_as: ApiAs, case_a: int, focal_a: User,
                                              focal_b: User, analyst: User) -> None:
    # The focal point of A reads the bundle of A's case
    answer = api_as(focal_a).get(f"/api/v1/csirt/cases/{case_a}/stix")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/stix+json")
    doc = answer.json()
    assert validate(doc) == []
    text = answer.text
    assert "portal-defacer.ml" in text and "10.66.6.6" not in text
    # The focal point of B does not learn it exists
    assert api_as(focal_b).get(f"/api/v1/csirt/cases/{case_a}/stix").status_code == 404
    assert api_as(analyst).get("/api/v1/csirt/cases/999999/stix").status_code == 404


def test_a_red_case_is_refused(api_as: ApiAs, make_case: MakeCase,
                               csirt_institutions: Institutions, analyst: User) -> None:
    case_id = make_case(csirt_institutions.a, tlp="red")
    answer = api_as(analyst).get(f"/api/v1/csirt/cases/{case_id}/stix")
    assert answer.status_code == 422
    assert "TLP:RED" in answer.json()["detail"]
    assert "quitte jamais la plateforme" in answer.json()["detail"]


def test_bulk_export_streams_for_the_centre_only(api_as: ApiAs, case_a: int, focal_a: User,
                                                 analyst: User,
                                                 session_factory: sessionmaker[Session]
                                                 ) -> None:
    # A focal point may not export everything
    assert api_as(focal_a).get("/api/v1/csirt/stix/export").status_code == 403
    assert api_as(focal_a).post("/api/v1/csirt/stix/import",
                                json=partner_bundle()).status_code == 403
    # The centre gets one valid bundle, streamed
    with api_as(analyst).stream("GET", "/api/v1/csirt/stix/export") as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/stix+json")
        doc = json.loads(b"".join(answer.iter_bytes()))
    assert validate(doc) == []
    assert [o["name"] for o in doc["objects"] if o["type"] == "incident"][0].endswith(
        "Défiguration du portail")
    # And the export is ledgered with its counts
    with session_factory() as session:
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "csirt.stix.export_many")).one()
        details = json.loads(entry.details)
        assert details["cases"] == 1 and details["observables"] == 1
        assert details["observables_withheld"] == 1 and details["complete"] is True
    # A date filter in the future leaves no case
    later = api_as(analyst).get("/api/v1/csirt/stix/export",
                                params={"since": "2999-01-01T00:00:00Z"})
    assert [o["type"] for o in later.json()["objects"]].count("incident") == 0


def test_import_by_json_body_and_by_file(api_as: ApiAs, analyst: User,
                                         csirt_institutions: Institutions,
                                         session_factory: sessionmaker[Session]) -> None:
    client = api_as(analyst)
    answer = client.post("/api/v1/csirt/stix/import", json=partner_bundle(),
                         params={"institution_id": csirt_institutions.a})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["cases_created"]) == 2 and body["observables_added"] == 4
    with session_factory() as session:
        case = session.get(Case, body["case_ids"][0])
        assert case is not None and case.institution_id == csirt_institutions.a
    # The same bundle uploaded as a file adds nothing
    again = client.post("/api/v1/csirt/stix/import", files={
        "file": ("partner.json", json.dumps(partner_bundle()).encode(), "application/json")})
    assert again.status_code == 200, again.text
    assert again.json()["cases_created"] == [] and again.json()["observables_added"] == 0


@pytest.mark.parametrize(("body", "status"), [
    (b"[" * 10_000 + b"]" * 10_000, 422),
    (b'{"type": "bundle", "id": "bundle--x", "objects": [' + b",".join([b"1"] * 1_000_000)
     + b"]}", 413),
    (b'{"type": "bundle", "id": "bundle--x", "objects": "x"}', 422),
    (b'{"type": "bundle", "id": "bundle--\xff"}', 422),
    (b"", 422),
])
def test_hostile_bodies_get_a_problem_and_nothing_is_written(
        api_as: ApiAs, analyst: User, body: bytes, status: int,
        session_factory: sessionmaker[Session]) -> None:
    before = counts(session_factory)
    answer = api_as(analyst).post("/api/v1/csirt/stix/import", content=body,
                                  headers={"Content-Type": "application/json"})
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["detail"]
    assert counts(session_factory) == before


def test_an_invalid_indicator_is_reported_by_object(api_as: ApiAs, analyst: User,
                                                    session_factory: sessionmaker[Session]
                                                    ) -> None:
    doc = partner_bundle()
    doc["objects"][1]["pattern"] = "[ipv4-addr:value = '999.1.1.1']"
    answer = api_as(analyst).post("/api/v1/csirt/stix/import", json=doc)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["errors"][0]["object"] == doc["objects"][1]["id"]
    assert "999.1.1.1" in problem["errors"][0]["value"]
    assert counts(session_factory) == (0, 0, 0)


@pytest.fixture
def env(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the test database and home."""
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)


def test_cli_export_then_import(env: None, case_a: int, tmp_path: Path,
                                csirt_institutions: Institutions,
                                session_factory: sessionmaker[Session]) -> None:
    # Given the case exported by reference to a file
    with session_factory() as session:
        case = session.get(Case, case_a)
        assert case is not None
        reference = case.reference
    out = tmp_path / "export.json"
    done = runner.invoke(cli_app, ["export-stix", "--output", str(out), "--case", reference])
    assert done.exit_code == 0, done.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert validate(doc) == []
    assert "1 case(s), 1 indicator(s)" in done.output
    # When it is imported on an empty platform for institution B
    wipe_cases(session_factory)
    done = runner.invoke(cli_app, ["import-stix", str(out), "--institution", "INSTB",
                                   "--json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.output)
    assert len(result["cases_created"]) == 1 and result["observables_added"] == 1
    with session_factory() as session:
        imported = session.scalars(select(Case)).one()
        assert imported.institution_id == csirt_institutions.b
        assert sightings(session, imported.id) == {("domain", "portal-defacer.ml", "green")}
    # And a hostile file is one line on stderr and a non-zero status
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "bundle", "id": "bundle--x", "objects": "x"}', encoding="utf-8")
    done = runner.invoke(cli_app, ["import-stix", str(bad)])
    assert done.exit_code != 0 and "must be a list" in done.output


def test_cli_export_to_stdout_with_since(env: None, case_a: int) -> None:
    done = runner.invoke(cli_app, ["export-stix", "--since", "2000-01-01"])
    assert done.exit_code == 0, done.output
    assert stix_export.CENTRE_ID in done.output
    done = runner.invoke(cli_app, ["export-stix", "--since", "yesterday"])
    assert done.exit_code != 0 and "not an ISO date" in done.output


def test_case_page_links_to_downloads_and_the_stix_file_comes_out(
        login_as: Callable[[User], TestClient], case_a: int, focal_a: User,
        make_case: MakeCase, csirt_institutions: Institutions) -> None:
    client = login_as(focal_a)
    page = client.get(f"/csirt/cases/{case_a}")
    assert f'href="/csirt/cases/{case_a}/stix.json"' in page.text
    assert f'href="/csirt/cases/{case_a}/misp.json"' in page.text
    answer = client.get(f"/csirt/cases/{case_a}/stix.json")
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith('attachment; filename="INC-')
    assert validate(answer.json()) == [] and "10.66.6.6" not in answer.text
    # A RED case offers no export link, and its file is refused
    red = make_case(csirt_institutions.a, tlp="red", reporter_user_id=focal_a.id)
    page = client.get(f"/csirt/cases/{red}")
    assert page.status_code == 200 and "stix.json" not in page.text
    assert client.get(f"/csirt/cases/{red}/stix.json").status_code == 422


def test_cli_shares_a_case_with_a_group_and_stops(env: None, case_a: int,
                                                  make_case: MakeCase,
                                                  csirt_institutions: Institutions,
                                                  session_factory: sessionmaker[Session]
                                                  ) -> None:
    from lakana.core.auth import sharing
    from lakana.core.auth.rbac import system_actor
    from lakana.csirt.sharing_models import CaseShare, SharedObject

    with session_factory.begin() as session:
        sharing.create_group(session=session, actor=system_actor(), name="ecowas-certs")
    with session_factory() as session:
        case = session.get(Case, case_a)
        assert case is not None
        reference = case.reference
    assert reference is not None
    result = runner.invoke(cli_app, ["share", reference, "--group", "ecowas-certs"])
    assert result.exit_code == 0, result.output
    assert "shared with ecowas-certs" in result.output
    with session_factory() as session:
        served = [o.payload for o in session.scalars(select(SharedObject))]
        assert session.scalar(select(CaseShare.case_id)) == case_a
    assert any(o.get("value") == "portal-defacer.ml" for o in served)
    assert "10.66.6.6" not in json.dumps(served)
    # Stop sharing: the objects leave the group's collection
    result = runner.invoke(cli_app, ["share", reference, "--group", "ecowas-certs", "--stop"])
    assert result.exit_code == 0, result.output
    with session_factory() as session:
        assert session.scalar(select(CaseShare.id)) is None
        assert not any(o.case_id == case_a for o in session.scalars(select(SharedObject)))
    # A RED case and an unknown group are refused with a reason
    red = make_case(csirt_institutions.a, tlp="red")
    with session_factory() as session:
        red_ref = session.get(Case, red).reference  # type: ignore[union-attr]
    result = runner.invoke(cli_app, ["share", str(red_ref), "--group", "ecowas-certs"])
    assert result.exit_code != 0 and "RED" in result.output
    result = runner.invoke(cli_app, ["share", reference, "--group", "nope"])
    assert result.exit_code != 0

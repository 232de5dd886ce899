"""``lakana csirt ...``: report (options, stdin, JSON file), list and show."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lakana.core.config import Settings
from lakana.csirt.cli import app
from lakana.csirt.models import Case
from tests.csirt.conftest import Institutions

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the test database and home."""
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)


def test_report_prints_the_reference(env: None, csirt_institutions: Institutions,
                                     session_factory: sessionmaker[Session]) -> None:
    # When a script reports an incident, the description on standard input
    done = runner.invoke(app, [
        "report", "--institution", "insta", "--title", "Défiguration du portail",
        "--description-file", "-", "--class", "intrusions", "--type",
        "application-compromise", "--tlp", "TLP:GREEN"],
        input="La page d'accueil a été remplacée.\n")
    # Then only the reference is printed, and the case holds what was given
    assert done.exit_code == 0, done.output
    reference = done.output.strip()
    assert re.fullmatch(r"INC-\d{4}-\d{5}", reference)
    with session_factory() as session:
        case = session.query(Case).filter_by(reference=reference).one()
        assert case.institution_id == csirt_institutions.a and case.tlp == "green"
        assert case.description.startswith("La page d'accueil")
        assert case.source == "institution"


def test_report_from_a_json_file_and_show(env: None, csirt_institutions: Institutions,
                                          tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"title": "Fuite du fichier des agents",
                                  "template": "data_breach", "people_affected": 5000}),
                      encoding="utf-8")
    done = runner.invoke(app, ["report", "--json", str(report), "--institution", "INSTB"])
    assert done.exit_code == 0, done.output
    reference = done.output.strip()
    shown = runner.invoke(app, ["show", reference, "--json"])
    assert shown.exit_code == 0, shown.output
    item = json.loads(shown.output)
    assert item["institution"] == "INSTB" and item["severity"] == "high"
    assert item["tlp"] == "amber+strict" and len(item["tasks"]) == 4
    assert any("5000 people affected" in r for r in item["severity_reasons"])
    listed = runner.invoke(app, ["list", "--status", "new", "--json"])
    assert [c["reference"] for c in json.loads(listed.output)["items"]] == [reference]
    plain = runner.invoke(app, ["show", reference])
    assert plain.exit_code == 0 and "Fuite du fichier des agents" in plain.output


def test_errors_are_one_line_and_non_zero(env: None, csirt_institutions: Institutions) -> None:
    unknown = runner.invoke(app, ["report", "--institution", "NOPE", "--title", "x"])
    assert unknown.exit_code == 2 and "does not exist" in unknown.output
    bad_tlp = runner.invoke(app, ["report", "--institution", "INSTA", "--title", "x",
                                  "--tlp", "violet"])
    assert bad_tlp.exit_code == 2 and "Unknown TLP label" in bad_tlp.output
    missing = runner.invoke(app, ["show", "INC-2000-99999"])
    assert missing.exit_code == 2
    too_long = runner.invoke(app, ["report", "--institution", "INSTA", "--title", "x" * 300])
    assert too_long.exit_code == 2 and "title" in too_long.output

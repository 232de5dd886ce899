"""``lakana compliance ...``: import, list and export catalogs and profiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from lakana.compliance.cli import app
from lakana.core.config import Settings
from tests.compliance.conftest import catalog_doc, profile_doc

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the test database and home."""
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)


def test_import_list_export(env: None, tmp_path: Path) -> None:
    # Given catalog and profile files
    catalog = tmp_path / "c.json"
    catalog.write_text(json.dumps(catalog_doc()), encoding="utf-8")
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps(profile_doc()), encoding="utf-8")
    # When they are imported
    done = runner.invoke(app, ["import-catalog", str(catalog)])
    assert done.exit_code == 0, done.output
    assert "ml-test@2026.1: imported" in done.output
    assert runner.invoke(app, ["import-profile", str(profile)]).exit_code == 0
    # Then they are listed
    listed = runner.invoke(app, ["list-catalogs", "--json"])
    assert json.loads(listed.output)["items"][0]["versions"][0]["requirements"] == 5
    reqs = runner.invoke(app, ["list-requirements", "ml-test", "2026.1",
                               "--tier", "1", "--domain", "net", "--json"])
    assert [r["id"] for r in json.loads(reqs.output)["items"]] == ["net-1"]
    # And exported as OSCAL (identical) and XLSX
    out = runner.invoke(app, ["export-catalog", "ml-test", "2026.1"])
    assert json.loads(out.output) == catalog_doc()
    xlsx = tmp_path / "c.xlsx"
    assert runner.invoke(app, ["export-catalog", "ml-test", "2026.1",
                               "--format", "xlsx", "-o", str(xlsx)]).exit_code == 0
    assert xlsx.read_bytes()[:2] == b"PK"
    spread = runner.invoke(app, ["import-spreadsheet", str(xlsx), "ml-test",
                                 "2026.2"])
    assert spread.exit_code == 0 and "ml-test@2026.2: imported" in spread.output


def test_errors_are_one_line_and_non_zero(env: None, tmp_path: Path) -> None:
    # Given an invalid catalog file
    doc = catalog_doc()
    doc["catalog"]["metadata"]["oscal-version"] = "9.9.9"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    # Then the import fails with the path and a non-zero status
    result = runner.invoke(app, ["import-catalog", str(bad)])
    assert result.exit_code != 0
    assert "$.catalog.metadata.oscal-version: Unknown OSCAL version 9.9.9" in result.output
    # And an unknown version to export is one line too
    missing = runner.invoke(app, ["export-catalog", "nope", "1"])
    assert missing.exit_code != 0 and "no version 1" in missing.output


def test_table_output(env: None, tmp_path: Path) -> None:
    # Given an imported catalog / Then the human listings print
    catalog = tmp_path / "c.json"
    catalog.write_text(json.dumps(catalog_doc()), encoding="utf-8")
    assert runner.invoke(app, ["import-catalog", str(catalog)]).exit_code == 0
    listed = runner.invoke(app, ["list-catalogs"])
    assert listed.exit_code == 0 and "ml-test" in listed.output
    reqs = runner.invoke(app, ["list-requirements", "ml-test", "2026.1"])
    assert reqs.exit_code == 0 and "gov-1" in reqs.output

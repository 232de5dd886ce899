"""``lakana compliance report``: national and institution reports as files."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from lakana.compliance import cli as compliance_cli
from lakana.core.config import Settings
from tests.compliance.reports.conftest import Reports

runner = CliRunner()


app = compliance_cli.app


@pytest.fixture
def env(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the test database and home."""
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)


def test_report_files(env: None, reports: Reports, tmp_path: Path) -> None:
    # The national PDF
    out = tmp_path / "national.pdf"
    done = runner.invoke(app, ["report", "--campaign", str(reports.c2026), "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert out.read_bytes().startswith(b"%PDF")
    # One institution's PDF and answers, by acronym
    inst = tmp_path / "ag1.pdf"
    assert runner.invoke(app, ["report", "--campaign", str(reports.c2026), "--institution",
                               "ag1", "--format", "pdf", "-o", str(inst)]).exit_code == 0
    assert inst.read_bytes().startswith(b"%PDF")
    answers = tmp_path / "ag1.csv"
    assert runner.invoke(app, ["report", "--campaign", str(reports.c2026), "--institution",
                               "AG1", "--format", "csv", "-o", str(answers)]).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(answers.read_text("utf-8-sig"))))
    assert [r["control_id"] for r in rows] == ["gov-1", "gov-2", "gov-3", "net-1"]
    # The national table as XLSX
    table = tmp_path / "scores.xlsx"
    assert runner.invoke(app, ["report", "--campaign", str(reports.c2026), "--format", "xlsx",
                               "-o", str(table)]).exit_code == 0
    assert table.read_bytes()[:2] == b"PK"


def test_report_errors(env: None, reports: Reports, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    missing = runner.invoke(app, ["report", "--campaign", "999", "-o", str(out)])
    assert missing.exit_code != 0 and "does not exist" in missing.output
    unassessed = runner.invoke(app, ["report", "--campaign", str(reports.c2025),
                                     "--institution", "AG3", "--format", "csv", "-o", str(out)])
    assert unassessed.exit_code != 0 and "did not assess" in unassessed.output

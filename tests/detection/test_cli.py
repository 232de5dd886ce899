"""``lakana detection ...``: ingest a real log file, the rule pack, the alerts list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lakana.core.config import Settings
from lakana.monitoring.detection.cli import app
from lakana.monitoring.detection.models import DetectionAlert, DetectionEvent
from tests.conftest import Factory

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
runner = CliRunner()


@pytest.fixture
def env(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the test database and home."""
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)


def test_ingest_a_real_ssh_log_then_list_alerts(
        env: None, factory: Factory, session_factory: sessionmaker[Session]) -> None:
    # Given an institution and the real OpenSSH sample (2,000 lines)
    factory.institution("DETA")
    log = SHARED / "logs" / "OpenSSH_2k.log"
    # When the file is ingested from the CLI
    done = runner.invoke(app, ["ingest", str(log), "--institution", "DETA", "--json"])
    # Then every line is stored and alerts are raised (invalid users)
    assert done.exit_code == 0, done.output
    result = json.loads(done.output)
    assert result["accepted"] == result["stored"] == 2000 and result["alerts"] > 0
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(DetectionEvent)) == 2000
        alerts = session.scalar(select(func.count()).select_from(DetectionAlert))
    # And the alerts list shows them
    listed = runner.invoke(app, ["alerts", "--institution", "DETA", "--json"])
    assert listed.exit_code == 0, listed.output
    assert len(json.loads(listed.output)) == alerts


def test_unknown_institution_is_a_one_line_error(env: None, tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("hello\n")
    done = runner.invoke(app, ["ingest", str(log), "--institution", "NOPE"])
    assert done.exit_code != 0 and "NOPE" in done.output


def test_rules_report_a_pack_and_the_shared_sigma_set(env: None) -> None:
    # The shipped pack loads whole
    done = runner.invoke(app, ["rules", "--json"])
    assert done.exit_code == 0, done.output
    shipped = json.loads(done.output)
    assert shipped["loaded"] >= 7 and shipped["unsupported"] == 0
    # And a folder of SigmaHQ rules is reported (web rules: a small part of the set)
    web = runner.invoke(app, ["rules", "--path", str(SHARED / "sigma" / "rules" / "web")])
    assert web.exit_code == 0, web.output
    assert "rules loaded" in web.output

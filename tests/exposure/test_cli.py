"""``lakana exposure ...``: scan (queued, or --wait with a summary), findings, show-scan."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lakana.core.config import Settings
from lakana.core.jobs.models import Job
from lakana.monitoring.exposure.cli import app
from tests.exposure import service_fixtures
from tests.exposure.service_fixtures import (
    ExposureWorld,
)

#: Fixtures shared by the exposure service tests.
exposure_world = service_fixtures.exposure_world
fake_checks = service_fixtures.fake_checks
scan_settings = service_fixtures.scan_settings

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the test database and home; loopback allowed, short timeouts."""
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)
    monkeypatch.setenv("LAKANA_EXPOSURE_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("LAKANA_EXPOSURE_TIMEOUT", "0.5")
    monkeypatch.setenv("LAKANA_EXPOSURE_AUTO_CASE", "false")


def test_scan_queues_a_job(env: None, exposure_world: ExposureWorld,
                           session_factory: sessionmaker[Session]) -> None:
    done = runner.invoke(app, ["scan", "--institution", "expb"])
    assert done.exit_code == 0, done.output
    scan_id = int(done.output.strip())
    with session_factory() as session:
        job = session.scalars(select(Job)).one()
        assert job.payload == {"scan_id": scan_id}


def test_scan_wait_then_findings_and_show(env: None, exposure_world: ExposureWorld) -> None:
    # Given an endpoint with a medium issue
    exposure_world.a_server.issues = {"fake.med": "/x"}
    # When scanning it and waiting
    done = runner.invoke(app, ["scan", "--institution", "EXPA", "--wait"])
    # Then a summary table is printed
    assert done.exit_code == 0, done.output
    assert "Done, 1 of 1 targets" in done.output and "1 new" in done.output
    assert "Reached" in done.output and "127.0.0.1" in done.output
    # And the findings list shows it
    listed = runner.invoke(app, ["findings", "--institution", "EXPA"])
    assert listed.exit_code == 0, listed.output
    assert "fake.med /x" in listed.output and "Medium" in listed.output
    as_json = json.loads(runner.invoke(app, ["findings", "--json"]).output)
    assert [f["issue_id"] for f in as_json] == ["fake.med"]
    shown = json.loads(runner.invoke(app, ["show-scan", "1", "--json"]).output)
    assert shown["status"] == "done" and len(shown["results"]) == 1


def test_errors_are_one_line(env: None, exposure_world: ExposureWorld) -> None:
    done = runner.invoke(app, ["scan", "--institution", "NOPE"])
    assert done.exit_code == 2 and "does not exist" in done.output
    bad = runner.invoke(app, ["findings", "--severity", "huge"])
    assert bad.exit_code == 2
    missing = runner.invoke(app, ["show-scan", "999"])
    assert missing.exit_code == 2

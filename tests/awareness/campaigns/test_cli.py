"""``lakana awareness campaigns ...``: list, add-reach, add-outcome."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from lakana.awareness.campaigns.cli import app
from lakana.core.config import Settings

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the test database and home."""
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)


def test_reach_from_the_command_line(env: None, make_campaign: Callable[..., int]) -> None:
    campaign_id = str(make_campaign())
    added = runner.invoke(app, ["add-reach", campaign_id, "--channel", "radio", "--people",
                                "250", "--date", "2026-10-04", "--source", "ORTM"])
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["add-outcome", campaign_id, "--name", "Quiz", "--value", "68",
                               "--unit", "%"]).exit_code == 0
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0 and "reached 250/1000 (25 %)" in listed.output
    rows = json.loads(runner.invoke(app, ["list", "--json"]).output)
    assert rows[0]["people_reached"] == 250 and rows[0]["channels"] == ["radio", "sms"]
    # Bad input: a clear one-line reason and exit 2, nothing recorded
    late = runner.invoke(app, ["add-reach", campaign_id, "--channel", "radio", "--people", "5",
                               "--date", "2027-01-01"])
    assert late.exit_code == 2 and "within the campaign" in late.output
    negative = runner.invoke(app, ["add-reach", campaign_id, "--channel", "radio",
                                   "--people", "-5", "--date", "2026-10-04"])
    assert negative.exit_code == 2 and "people" in negative.output
    unknown = runner.invoke(app, ["add-reach", "999999", "--channel", "radio", "--people", "5",
                                  "--date", "2026-10-04"])
    assert unknown.exit_code == 2
    assert "reached 250/1000" in runner.invoke(app, ["list"]).output

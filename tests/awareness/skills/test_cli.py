"""``lakana awareness skills ...``: profiles, add, certify, holders, gaps."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from lakana.awareness.skills.cli import app
from lakana.core.config import Settings
from tests.conftest import Factory

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the test database and home."""
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)


def test_add_certify_list_and_gaps(env: None, factory: Factory) -> None:
    factory.institution("AAA", criticality_tier=3)
    assert "penetration-tester" in runner.invoke(app, ["profiles"]).output
    added = runner.invoke(app, ["add", "--institution", "aaa", "--profile", "ciso",
                                "--name", "Awa Traoré", "--since", "2024-01-01"])
    assert added.exit_code == 0, added.output
    holder_id = added.output.strip()
    certified = runner.invoke(app, ["certify", holder_id, "--name", "CISSP",
                                    "--obtained", "2024-02-01", "--expires", "2027-02-01"])
    assert certified.exit_code == 0, certified.output
    listed = runner.invoke(app, ["holders", "--institution", "AAA"])
    assert "Awa Traoré" in listed.output and "CISSP" in listed.output
    gaps = runner.invoke(app, ["gaps", "--institution", "AAA", "--json"])
    report = json.loads(gaps.output)
    assert report["filled"] == 1 and report["missing"] == report["required"] - 1
    national = runner.invoke(app, ["gaps"])
    assert national.exit_code == 0 and "seats filled" in national.output


def test_bad_input_is_one_line_and_non_zero(env: None, factory: Factory) -> None:
    factory.institution("AAA")
    bad_profile = runner.invoke(app, ["add", "--institution", "AAA", "--profile", "wizard",
                                      "--name", "Awa Traoré", "--since", "2024-01-01"])
    assert bad_profile.exit_code == 2 and "Unknown role profile wizard" in bad_profile.output
    bad_date = runner.invoke(app, ["add", "--institution", "AAA", "--profile", "ciso",
                                   "--name", "Awa Traoré", "--since", "yesterday"])
    assert bad_date.exit_code == 2 and "since" in bad_date.output
    unknown = runner.invoke(app, ["holders", "--institution", "NOPE"])
    assert unknown.exit_code == 2
    assert runner.invoke(app, ["gaps", "--as-of", "soon"]).exit_code == 2

"""``lakana strategy import|export|show``."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from lakana.core.config import Settings
from lakana.strategy.cli import app
from lakana.strategy.demo import DRAFT_PLAN
from tests.strategy.conftest import SMALL_PLAN

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the test database and home."""
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)


def test_import_export_show(env: None, institutions: dict[str, int], tmp_path: Path) -> None:
    imported = runner.invoke(app, ["import", str(DRAFT_PLAN)])
    assert imported.exit_code == 0, imported.output
    assert "updated 0, deleted 0" in imported.output
    again = runner.invoke(app, ["import", str(DRAFT_PLAN)])
    assert "created 0, updated 0, deleted 0" in again.output
    shown = runner.invoke(app, ["show"])
    assert shown.exit_code == 0 and "A3.O3.AC3" in shown.output and "IND-10" in shown.output
    for fmt in ("yaml", "xlsx"):
        out = tmp_path / f"plan.{fmt}"
        assert runner.invoke(app, ["export", "--format", fmt, str(out)]).exit_code == 0
        back = runner.invoke(app, ["import", str(out)])
        assert "created 0, updated 0, deleted 0" in back.output, back.output
    # Bad input: each problem with its line, exit 2, nothing written
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL_PLAN.replace("lead: MEF", "lead: NOPE"), encoding="utf-8")
    refused = runner.invoke(app, ["import", str(bad)])
    assert refused.exit_code == 2
    assert "bad.yaml: line 23: Unknown institution NOPE" in refused.output

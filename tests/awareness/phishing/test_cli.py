"""``lakana awareness phishing ...``: import-targets, send --now (to a real local SMTP
server), results, import-gophish, list; bad files fail with the line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from lakana.awareness.phishing.cli import app
from lakana.core.config import Settings
from tests.awareness.phishing.conftest import Mailbox
from tests.awareness.phishing.test_gophish import CSV
from tests.conftest import Factory

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, engine: Engine, smtp: Mailbox,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the test database, home, secret and SMTP server."""
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", settings.secret_key or "")
    monkeypatch.setenv("LAKANA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LAKANA_SMTP_PORT", str(settings.smtp_port))
    monkeypatch.setenv("LAKANA_BASE_URL", "http://testserver")


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_an_exercise_from_the_command_line(env: None, factory: Factory, tmp_path: Path,
                                           smtp: Mailbox,
                                           make_exercise: Callable[..., int]) -> None:
    # Given a draft exercise without targets and two files
    exercise = str(make_exercise(factory.institution("MEF"), targets=b""))
    targets = tmp_path / "cibles.csv"
    targets.write_text("email,nom\nawa@mef.example.ml,Awa\nmoussa@mef.example.ml,Moussa\n",
                       encoding="utf-8")
    bad = tmp_path / "mauvais.csv"
    bad.write_text("email\nawa@mef.example.ml\nnon\n", encoding="utf-8")
    # When a bad list is imported, then the command fails naming the line
    refused = runner.invoke(app, ["import-targets", exercise, str(bad)])
    assert refused.exit_code != 0 and "3" in refused.output
    # When the good list is imported and the exercise sent now
    assert _ok(["import-targets", exercise, str(targets)]) == "2 targets added"
    assert _ok(["send", exercise, "--now"]) == "2 messages sent"
    # Then the local SMTP server received both messages
    assert sorted(m["To"] for m in smtp.messages) == ["awa@mef.example.ml",
                                                      "moussa@mef.example.ml"]
    # And the results show them sent
    figures = json.loads(_ok(["results", exercise, "--json"]))
    assert figures["counts"]["sent"] == 2 and figures["rows"][0]["email"]
    assert "sent" in _ok(["results", exercise])
    assert exercise in _ok(["list"])


def test_gophish_import_from_the_command_line(env: None, factory: Factory, tmp_path: Path,
                                              make_exercise: Callable[..., int]) -> None:
    exercise = str(make_exercise(factory.institution("MEF"), targets=b""))
    export = tmp_path / "gophish.csv"
    export.write_text(CSV, encoding="utf-8")
    assert _ok(["import-gophish", exercise, str(export)]).startswith("5 people, 5 new")

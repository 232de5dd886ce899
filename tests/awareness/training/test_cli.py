"""``lakana awareness training ...``: add-course, add-session, add-trainee, enrol, import,
completion, verify."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from lakana.awareness.training.cli import app
from lakana.core.config import Settings
from tests.conftest import Factory

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the test database and home."""
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_a_session_from_the_command_line(env: None, factory: Factory, tmp_path: Path) -> None:
    factory.institution("AAA")
    course = _ok(["add-course", "--title", "Gestion des incidents", "--kind", "classroom",
                  "--hours", "21"])
    session_id = _ok(["add-session", course, "--starts", "2026-10-05", "--ends",
                      "2026-10-07", "--seats", "2", "--place", "Bamako"])
    awa = _ok(["add-trainee", "--institution", "aaa", "--name", "Awa Traoré",
               "--email", "awa@example.ml"])
    _ok(["add-trainee", "--institution", "AAA", "--name", "Moussa Keïta",
         "--email", "moussa@example.ml"])
    _ok(["enrol", session_id, awa])
    assert "1/2 seats" in _ok(["courses"])
    # A bad sheet prints each problem with its row and column, and exits 2
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"email,score\nawa@example.ml,80\nghost@example.ml,1\n")
    refused = runner.invoke(app, ["import", session_id, str(bad)])
    assert refused.exit_code == 2
    assert "row 3, column email" in refused.output and "nothing was recorded" in \
        refused.output
    good = tmp_path / "good.csv"
    good.write_bytes("email,résultat,note\nawa@example.ml,réussi,90\n"
                     "moussa@example.ml,absent,\n".encode())
    assert "1 certificates issued" in _ok(["import", session_id, str(good)])
    table = json.loads(_ok(["completion", "--json"]))
    assert table["total"]["people_trained"] == 1 and table["total"]["no_show"] == 1
    assert "AAA" in _ok(["completion"])


def test_verify_and_bad_input(env: None, factory: Factory) -> None:
    unknown = runner.invoke(app, ["verify", "ABCD-EFGH-JKMN-PQRS"])
    assert unknown.exit_code != 0 and "No certificate has this code" in unknown.output
    bad_kind = runner.invoke(app, ["add-course", "--title", "Hygiène", "--kind", "video",
                                   "--hours", "2"])
    assert bad_kind.exit_code == 2 and "kind" in bad_kind.output
    bad_date = runner.invoke(app, ["add-session", "1", "--starts", "demain", "--ends",
                                   "2026-10-07", "--seats", "2"])
    assert bad_date.exit_code == 2
    assert runner.invoke(app, ["add-trainee", "--institution", "NOPE", "--name", "A B",
                               "--email", "a@example.ml"]).exit_code == 2
    assert re.search(r"no such|not found|exist", runner.invoke(
        app, ["import", "1", "/nonexistent.csv"]).output, re.I)

"""``lakana registry ...``: import, export, listing, scope, and one-line failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import Engine
from typer.testing import CliRunner

from lakana.core.auth.rbac import Role
from lakana.core.config import Settings
from lakana.registry.cli import app
from tests.conftest import Factory

GOOD = ("acronym,name,kind,parent_acronym,region,sector,criticality_tier\n"
        "MEF,Ministère de l'Économie et des Finances,ministry,,bamako,finance,1\n"
        "DGI,Direction Générale des Impôts,directorate,MEF,bamako,finance,1\n")


@pytest.fixture
def run(settings: Settings, engine: Engine) -> Callable[..., Result]:
    """Run a registry command against the test database."""
    runner = CliRunner()
    env = {"LAKANA_HOME": str(settings.home),
           "LAKANA_DATABASE_URL": settings.effective_database_url,
           "LAKANA_SECRET_KEY": "cli-tests"}

    def _run(*args: str) -> Result:
        return runner.invoke(app, list(args), env=env)

    return _run


def test_import_list_export(run: Callable[..., Result], tmp_path: Path) -> None:
    # Given a UTF-8 file of two institutions
    source = tmp_path / "inst.csv"
    source.write_text(GOOD, encoding="utf-8")
    # When imported, Then both are created
    result = run("import-institutions", str(source))
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output
    # And listed as JSON, with the hierarchy
    listed = run("list-institutions", "--json")
    data = json.loads(listed.output)
    assert data["total"] == 2
    assert {i["acronym"]: i["parent"] for i in data["items"]} == {"DGI": "MEF", "MEF": None}
    # And exported to a file with a BOM
    target = tmp_path / "out.csv"
    assert run("export-institutions", "-o", str(target)).exit_code == 0
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "Direction Générale des Impôts" in target.read_text(encoding="utf-8-sig")


def test_bad_files_fail_with_one_line(run: Callable[..., Result], tmp_path: Path) -> None:
    # Given a Latin-1 file, and a file with a bad row
    latin = tmp_path / "latin.csv"
    latin.write_bytes(GOOD.encode("cp1252"))
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD + "CANAM,Caisse,public_body,,paris,social_protection,1\n",
                   encoding="utf-8")
    # Then each import fails, non-zero, saying why
    result = run("import-institutions", str(latin))
    assert result.exit_code == 2 and "UTF-8" in result.output
    result = run("import-institutions", str(bad))
    assert result.exit_code == 2
    assert "row 4, region" in result.output
    assert "nothing was imported" in result.output
    # And with --skip-invalid the good rows go in
    result = run("import-institutions", str(bad), "--skip-invalid")
    assert result.exit_code == 0 and "2 created" in result.output
    assert run("import-institutions", str(tmp_path / "none.csv")).exit_code == 1


def test_scope_applies_as_user(run: Callable[..., Result], factory: Factory,
                               make_system: Callable[..., int]) -> None:
    # Given A's focal point, and B with a system
    a, b = factory.institution("AAA"), factory.institution("BBB")
    sys_b = make_system(b)
    user = factory.user(Role.FOCAL_POINT, institution_id=a)
    # When they ask for B through the CLI, Then it is not found
    result = run("show-institution", "BBB", "--as-user", user.email)
    assert result.exit_code == 2 and "does not exist" in result.output
    result = run("show-system", str(sys_b), "--as-user", user.email)
    assert result.exit_code == 2
    # And their own institution is shown
    result = run("show-institution", "aaa", "--as-user", user.email)
    assert result.exit_code == 0 and '"AAA"' in result.output
    listed = json.loads(run("list-institutions", "--json", "--as-user",
                            user.email).output)
    assert [i["acronym"] for i in listed["items"]] == ["AAA"]


def test_systems_import_and_demo(run: Callable[..., Result], tmp_path: Path) -> None:
    # Given the demo data
    result = run("demo")
    assert result.exit_code == 0, result.output
    # When systems are exported and re-imported, Then nothing changes
    target = tmp_path / "systems.csv"
    assert run("export-systems", "-o", str(target)).exit_code == 0
    result = run("import-systems", str(target))
    assert result.exit_code == 0, result.output
    assert "0 created, 0 updated" in result.output

"""``lakana registry ...``: CSV import and export, and listings, for scripts and operators.

Commands act as the CLI (every permission) unless ``--as-user EMAIL`` names an account, whose
role and institution scope then apply (an institution's user gets "not found" for others).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy.orm import Session

from lakana.core import i18n
from lakana.core.auth import service as auth_service
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import cli_settings, cli_transaction, echo_json, fail, friendly_errors
from lakana.core.errors import Invalid, LakanaError
from lakana.registry import csv_io, service
from lakana.registry.schemas import InstitutionQuery, label

app = typer.Typer(no_args_is_help=True, help="Institutions and information systems.")

AsUser = Annotated[str | None, typer.Option(
    "--as-user", help="Act as this account (its role and institution scope apply).")]
SkipInvalid = Annotated[bool, typer.Option(
    "--skip-invalid", help="Import the valid rows and report the invalid ones.")]
Output = Annotated[Path | None, typer.Option("-o", "--output", help="File to write (stdout).")]


def _actor(session: Session, email: str | None) -> Actor:
    if email is None:
        return system_actor("lakana cli", "cli")
    user = auth_service.get_user_by_email(session=session, email=email)
    if user is None or not user.is_active:
        fail(f"unknown or disabled account: {email}")
        raise AssertionError  # pragma: no cover
    return auth_service.actor_for(user, via="cli")


def _report_errors(exc: LakanaError) -> None:
    with i18n.use_language("en"):
        for item in exc.errors:
            message = i18n.gettext(str(item["message"]), **item.get("params", {}))
            typer.echo(f"row {item.get('row')}, {item.get('column') or '-'}: {message}",
                       err=True)


def _import(path: Path, skip_invalid: bool, as_user: str | None, systems: bool) -> None:
    if not path.is_file():
        fail(f"no such file: {path}")
    settings = cli_settings()
    content = path.read_bytes()[: settings.max_upload_bytes + 1]
    run = csv_io.import_systems if systems else csv_io.import_institutions
    try:
        with cli_transaction(settings) as session, Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("importing", total=None)
            report = run(session=session, actor=_actor(session, as_user), content=content,
                         max_bytes=settings.max_upload_bytes, skip_invalid=skip_invalid,
                         progress=lambda done, total: progress.update(task, completed=done,
                                                                      total=total))
    except Invalid as exc:
        _report_errors(exc)
        raise
    with i18n.use_language("en"):
        out = report.out()
    for error in out.errors:
        typer.echo(f"row {error.row}, {error.column or '-'}: {error.message}", err=True)
    typer.echo(f"{out.rows} rows: {out.created} created, {out.updated} updated, "
               f"{out.unchanged} unchanged, {out.skipped} skipped")


@app.command("import-institutions")
@friendly_errors
def import_institutions(file: Path, skip_invalid: SkipInvalid = False,
                        as_user: AsUser = None) -> None:
    """Create or update institutions (by acronym) from a UTF-8 CSV file."""
    _import(file, skip_invalid, as_user, systems=False)


@app.command("import-systems")
@friendly_errors
def import_systems(file: Path, skip_invalid: SkipInvalid = False,
                   as_user: AsUser = None) -> None:
    """Create or update systems (by institution acronym and name) from a UTF-8 CSV file."""
    _import(file, skip_invalid, as_user, systems=True)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text.removeprefix("\ufeff"))
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"written: {output}", err=True)


@app.command("export-institutions")
@friendly_errors
def export_institutions(output: Output = None, as_user: AsUser = None) -> None:
    """Write every visible institution as CSV (UTF-8; a BOM in files for spreadsheets)."""
    with cli_transaction() as session:
        text = csv_io.export_institutions(session=session, actor=_actor(session, as_user))
    _write(text, output)


@app.command("export-systems")
@friendly_errors
def export_systems(output: Output = None, as_user: AsUser = None) -> None:
    """Write every visible information system as CSV."""
    with cli_transaction() as session:
        text = csv_io.export_systems(session=session, actor=_actor(session, as_user))
    _write(text, output)


@app.command("list-institutions")
@friendly_errors
def list_institutions(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    q: Annotated[str | None, typer.Option(help="Search in names and acronyms.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 200,
    as_user: AsUser = None,
) -> None:
    """List institutions (sorted by acronym)."""
    with cli_transaction() as session:
        rows, total = service.list_institutions(
            session=session, actor=_actor(session, as_user),
            query=InstitutionQuery(q=q, sort="acronym", limit=limit))
        data = [{"id": i.id, "acronym": i.acronym, "name": i.name, "kind": i.kind,
                 "parent": i.parent.acronym if i.parent else None, "region": i.region,
                 "sector": i.sector, "tier": i.criticality_tier} for i in rows]
    if as_json:
        echo_json({"items": data, "total": total})
        return
    table = Table("acronym", "name", "kind", "parent", "region", "tier",
                  title=f"{total} institutions")
    for row in data:
        table.add_row(str(row["acronym"]), str(row["name"]), label(row["kind"]),
                      str(row["parent"] or ""), label(row["region"]), str(row["tier"]))
    Console().print(table)


@app.command("show-institution")
@friendly_errors
def show_institution(acronym: str, as_user: AsUser = None) -> None:
    """Show one institution as JSON (not found when out of the account's scope)."""
    from lakana.registry.schemas import InstitutionOut

    with cli_transaction() as session:
        inst = service.get_institution_by_acronym(session=session,
                                                  actor=_actor(session, as_user),
                                                  acronym=acronym)
        echo_json(InstitutionOut.model_validate(inst).model_dump(mode="json"))


@app.command("show-system")
@friendly_errors
def show_system(system_id: int, as_user: AsUser = None) -> None:
    """Show one information system as JSON (not found when out of the account's scope)."""
    from lakana.registry.schemas import SystemOut

    with cli_transaction() as session:
        system = service.get_system(session=session, actor=_actor(session, as_user),
                                    system_id=system_id)
        echo_json(SystemOut.model_validate(system).model_dump(mode="json"))


@app.command("demo")
@friendly_errors
def demo() -> None:
    """Load the registry's demo data (skipped when already loaded)."""
    from lakana.registry.demo import load_demo

    with cli_transaction() as session:
        counts = load_demo(session=session, actor=system_actor("lakana demo", "cli"))
    typer.echo(f"{counts['institutions']} institutions, {counts['systems']} systems loaded")

"""``lakana compliance ...``: import, export and list catalogs and profiles; export campaign
results as OSCAL assessment results.

Commands act as the CLI (every permission). Errors are one line on stderr with a non-zero
exit status; problems of an invalid file are listed one per line (JSON path or row/column).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lakana.compliance import service, spreadsheet
from lakana.compliance.campaigns import oscal_results
from lakana.compliance.campaigns import service as campaign_service
from lakana.compliance.reports import cli as reports_cli
from lakana.compliance.schemas import ExportFormat, RequirementQuery
from lakana.core import i18n
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import cli_settings, cli_transaction, echo_json, fail, friendly_errors
from lakana.core.errors import LakanaError

app = typer.Typer(no_args_is_help=True, help="Security baseline: catalogs and profiles (OSCAL).")

AsJson = Annotated[bool, typer.Option("--json", help="JSON output.")]
Output = Annotated[Path | None, typer.Option("-o", "--output", help="File to write (stdout).")]


def _actor() -> Actor:
    """The CLI acts with every permission (built late: domains grant theirs at start-up)."""
    return system_actor("lakana cli", "cli")


def _read(path: Path) -> bytes:
    if not path.is_file():
        fail(f"no such file: {path}")
    return path.read_bytes()[: cli_settings().max_upload_bytes + 1]


def _problems(exc: LakanaError) -> None:
    with i18n.use_language("en"):
        for item in exc.errors:
            where = item.get("path") or f"row {item.get('row')}, {item.get('column') or '-'}"
            message = i18n.gettext(str(item["message"]), **item.get("params", {}))
            typer.echo(f"{where}: {message}", err=True)


def _run_import(kind: str, path: Path, **extra: str | None) -> None:
    content = _read(path)
    try:
        with cli_transaction() as session:
            if kind == "profile":
                obj, created = service.import_profile(session=session, actor=_actor(),
                                                      content=content)
                key = obj.key
            elif kind == "spreadsheet":
                version, created = spreadsheet.import_spreadsheet(
                    session=session, actor=_actor(), content=content, filename=path.name,
                    catalog_id=str(extra["catalog_id"]), version=str(extra["version"]),
                    max_bytes=cli_settings().max_upload_bytes)
                key = version.key
            else:
                version, created = service.import_catalog(session=session, actor=_actor(),
                                                          content=content)
                key = version.key
    except LakanaError as exc:
        _problems(exc)
        raise
    typer.echo(f"{key}: {'imported' if created else 'already imported (same content)'}")


@app.command("import-catalog")
@friendly_errors
def import_catalog(file: Path) -> None:
    """Import an OSCAL catalog (JSON) as a new catalog version."""
    _run_import("catalog", file)


@app.command("import-profile")
@friendly_errors
def import_profile(file: Path) -> None:
    """Import an OSCAL profile (JSON); its catalog versions must be imported first."""
    _run_import("profile", file)


@app.command("import-spreadsheet")
@friendly_errors
def import_spreadsheet(
    file: Path,
    catalog_id: Annotated[str, typer.Argument(help="Catalog id, such as ml-baseline.")],
    version: Annotated[str, typer.Argument(help="The new version, such as 2026.2.")],
) -> None:
    """Import an XLSX or CSV file as a new catalog version."""
    _run_import("spreadsheet", file, catalog_id=catalog_id, version=version)


@app.command("export-catalog")
@friendly_errors
def export_catalog(
    catalog_id: str, version: str, output: Output = None,
    format: Annotated[ExportFormat, typer.Option("--format", help="oscal, xlsx or csv.")]  # noqa: A002
    = ExportFormat.OSCAL,
) -> None:
    """Write a catalog version as OSCAL JSON, XLSX or CSV."""
    with cli_transaction() as session:
        found = service.get_catalog_version_by_key(session=session, actor=_actor(),
                                                   catalog_id=catalog_id, version=version)
        if format is ExportFormat.XLSX:
            data = spreadsheet.export_xlsx(session=session, actor=_actor(),
                                           catalog_version_id=found.id)
        elif format is ExportFormat.CSV:
            data = spreadsheet.export_csv(session=session, actor=_actor(),
                                          catalog_version_id=found.id).encode("utf-8")
        else:
            doc = service.export_catalog(session=session, actor=_actor(),
                                         catalog_version_id=found.id)
            data = (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    if output is None:
        if format is ExportFormat.XLSX:
            fail("XLSX is binary: give a file with -o")
        sys.stdout.write(data.decode("utf-8").removeprefix("\ufeff"))
        return
    output.write_bytes(data)
    typer.echo(f"written: {output}", err=True)


@app.command("export-results")
@friendly_errors
def export_results(
    campaign: Annotated[int, typer.Option("--campaign", help="Campaign id.")],
    assessment: Annotated[int | None, typer.Option(
        "--assessment", help="Only this assessment of the campaign.")] = None,
    output: Output = None,
) -> None:
    """Write a campaign's assessments (or one of them) as OSCAL assessment results (JSON)."""
    with cli_transaction() as session:
        if assessment is None:
            doc = oscal_results.campaign_results(session=session, actor=_actor(),
                                                 campaign_id=campaign)
        else:
            found = campaign_service.get_assessment(session=session, actor=_actor(),
                                                    assessment_id=assessment)
            if found.campaign_id != campaign:
                fail(f"assessment {assessment} is not part of campaign {campaign}")
            doc = oscal_results.assessment_results(session=session, actor=_actor(),
                                                   assessment_id=assessment)
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"written: {output}", err=True)


@app.command("list-catalogs")
@friendly_errors
def list_catalogs(as_json: AsJson = False) -> None:
    """List catalogs and their versions with requirement counts."""
    with cli_transaction() as session:
        catalogs = service.list_catalogs(session=session, actor=_actor())
        counts = service.requirement_counts(
            session=session, catalog_version_ids=[v.id for c in catalogs for v in c.versions])
        data = [{"catalog_id": c.catalog_id, "title": c.title_en,
                 "versions": [{"version": v.version, "id": v.id,
                               "requirements": counts.get(v.id, 0), "sha256": v.sha256}
                              for v in c.versions]} for c in catalogs]
        lines = [(c.catalog_id, v.version, str(counts.get(v.id, 0)), c.title_en)
                 for c in catalogs for v in c.versions]
    if as_json:
        echo_json({"items": data})
        return
    table = Table("catalog", "version", "requirements", "title", title=f"{len(data)} catalogs")
    for line in lines:
        table.add_row(*line)
    Console().print(table)


@app.command("list-requirements")
@friendly_errors
def list_requirements(
    catalog_id: str, version: str, as_json: AsJson = False,
    domain: Annotated[str | None, typer.Option(help="Domain code.")] = None,
    tier: Annotated[int | None, typer.Option(min=1, max=3, help="Criticality tier.")] = None,
) -> None:
    """List the requirements of a catalog version."""
    with cli_transaction() as session:
        found = service.get_catalog_version_by_key(session=session, actor=_actor(),
                                                   catalog_id=catalog_id, version=version)
        rows, total = service.list_requirements(
            session=session, actor=_actor(), catalog_version_id=found.id,
            query=RequirementQuery(domain=domain, tier=tier, limit=500))
        data = [{"id": r.control_id, "domain": r.domain_code, "kind": r.kind,
                 "title": r.title_en, "tiers": r.tier_list, "weight": r.weight,
                 "iso27001_2022": r.iso_refs, "nist_csf_2_0": r.csf_refs} for r in rows]
    if as_json:
        echo_json({"items": data, "total": total})
        return
    table = Table("id", "domain", "kind", "tiers", "title", title=f"{total} requirements")
    for row in data:
        table.add_row(str(row["id"]), str(row["domain"]), str(row["kind"]),
                      ",".join(str(t) for t in row["tiers"]),  # type: ignore[attr-defined]
                      str(row["title"]))
    Console().print(table)


app.command("report", help="Write a campaign's national or institution report (PDF, CSV, XLSX).")(
    reports_cli.report)

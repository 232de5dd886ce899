"""``lakana exposure ...``: request or run scans, list findings, import vulnerability feeds.

Commands act as the CLI (every permission). ``scan`` queues a scan for the workers and prints
its id; with ``--wait`` it runs the scan here and prints a summary table. Errors are one line
on standard error with a non-zero exit status.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from lakana.core import i18n
from lakana.core.audit import configure_ledger
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import (
    cli_settings,
    cli_transaction,
    echo_json,
    fail,
    friendly_errors,
)
from lakana.core.db import make_engine, make_session_factory
from lakana.core.errors import Invalid
from lakana.monitoring.exposure import feeds, service
from lakana.monitoring.exposure.schemas import (
    LABELS,
    FindingOut,
    FindingQuery,
    ScanOut,
    ScanRequest,
    ScanResultOut,
)
from lakana.registry import service as registry_service

app = typer.Typer(no_args_is_help=True, help="Internet exposure monitoring: scans, findings.")

AsJson = Annotated[bool, typer.Option("--json", help="JSON output.")]
#: Largest feed file read (NVD yearly files are big).
MAX_FEED = 512 * 1024 * 1024


def _actor() -> Actor:
    """The CLI acts with every permission (built late: domains grant theirs at start-up)."""
    return system_actor("lakana cli", "cli")


def _t(message: str, **params: object) -> str:
    with i18n.use_language("en"):
        return i18n.gettext(message, **params)


def _institution_id(session: Session, acronym: str | None) -> int | None:
    if acronym is None:
        return None
    found = registry_service.get_institution_id_by_acronym(session=session, acronym=acronym)
    if found is None:
        raise Invalid("The institution %(id)s does not exist.", id=acronym[:40])
    return found


def _results_table(session: Session, scan_id: int) -> Table:
    table = Table("Target", "Status", "Grade", "Errors", "Open findings")
    open_by_target: dict[str, int] = {}
    for finding in service.list_findings(session=session, actor=_actor(), query=FindingQuery(
            status="open", limit=500)):
        open_by_target[finding.target] = open_by_target.get(finding.target, 0) + 1
    for result in service.scan_results(session=session, actor=_actor(), scan_id=scan_id):
        table.add_row(result.target, _t(LABELS.get(result.status, result.status)),
                      result.observatory_grade or "-",
                      "; ".join(f"{k}: {v}" for k, v in sorted(result.errors.items()))[:120],
                      str(open_by_target.get(result.target, 0)))
    return table


def _print_scan(session: Session, scan_id: int) -> None:
    scan = service.get_scan(session=session, actor=_actor(), scan_id=scan_id)
    console = Console(width=140)
    console.print(_t("Scan #%(id)s: %(status)s, %(done)s of %(total)s targets; findings: "
                     "%(new)s new, %(fixed)s fixed, %(reopened)s reopened.",
                     id=scan.id, status=_t(LABELS.get(scan.status, scan.status)),
                     done=scan.targets_done, total=scan.targets_total, new=scan.findings_new,
                     fixed=scan.findings_fixed, reopened=scan.findings_reopened))
    if scan.error:
        console.print(scan.error)
    console.print(_results_table(session, scan.id))


@app.command("scan")
@friendly_errors
def scan(
    institution: Annotated[str | None, typer.Option(help="Acronym of the institution.")] = None,
    system: Annotated[int | None, typer.Option(help="Id of one information system.")] = None,
    wait: Annotated[bool, typer.Option(help="Run the scan here and print a summary.")] = False,
) -> None:
    """Request a scan (every endpoint when no institution or system is given)."""
    settings = cli_settings()
    with cli_transaction(settings) as session:
        found = service.request_scan(
            session=session, actor=_actor(), trigger="cli",
            data=ScanRequest(institution_id=_institution_id(session, institution),
                             system_id=system))
        scan_id = found.id
    if not wait:
        typer.echo(str(scan_id))
        return
    engine = make_engine(settings)
    try:
        factory = make_session_factory(engine)
        configure_ledger(factory, settings)
        service.run_scan(settings=settings, session_factory=factory, scan_id=scan_id)
        with factory() as session:
            _print_scan(session, scan_id)
    finally:
        engine.dispose()


@app.command("findings")
@friendly_errors
def list_findings(
    institution: Annotated[str | None, typer.Option(help="Acronym of the institution.")] = None,
    status: Annotated[str | None, typer.Option(
        help="open, fixed, accepted or false_positive.")] = "open",
    severity: Annotated[str | None, typer.Option(
        help="critical, high, medium, low or info.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    as_json: AsJson = False,
) -> None:
    """List findings, worst first."""
    with cli_transaction() as session:
        try:
            query = FindingQuery(institution_id=_institution_id(session, institution),
                                 status=status or None, severity=severity, limit=limit)
        except ValueError:
            fail(_t("Unknown status or severity."), 2)
        rows = service.list_findings(session=session, actor=_actor(), query=query)
        if as_json:
            echo_json([FindingOut.model_validate(r).model_dump(mode="json") for r in rows])
            return
        table = Table("#", "Severity", "Status", "Target", "Issue", "Due", "Case")
        for row in rows:
            table.add_row(str(row.id), _t(LABELS[row.severity]), _t(LABELS[row.status]),
                          row.target, f"{row.issue_id} {row.subject}".strip(),
                          row.due_at.date().isoformat() if row.due_at else "-",
                          row.case_reference or "-")
        Console(width=160).print(table)


@app.command("show-scan")
@friendly_errors
def show_scan(scan_id: Annotated[int, typer.Argument(help="Scan id.")],
              as_json: AsJson = False) -> None:
    """Show a scan's progress and per-endpoint results."""
    with cli_transaction() as session:
        if as_json:
            found = service.get_scan(session=session, actor=_actor(), scan_id=scan_id)
            results = service.scan_results(session=session, actor=_actor(), scan_id=scan_id)
            echo_json({**ScanOut.model_validate(found).model_dump(mode="json"),
                       "results": [ScanResultOut.model_validate(r).model_dump(mode="json")
                                   for r in results]})
            return
        _print_scan(session, scan_id)


@app.command("import-feed")
@friendly_errors
def import_feed(
    source: Annotated[str, typer.Argument(help="kev (CISA KEV JSON) or nvd (NVD CVE JSON 2.0).")],
    file: Annotated[Path, typer.Argument(help="The feed file.", exists=True, dir_okay=False)],
) -> None:
    """Import a vulnerability feed file (offline)."""
    if file.stat().st_size > MAX_FEED:
        fail(_t("The feed file is too large."), 2)
    with cli_transaction() as session:
        done = feeds.import_feed(session=session, actor=_actor(), source=source,
                                 data=file.read_bytes(), filename=file.name)
        typer.echo(_t("Imported %(entries)s entries from %(name)s (%(source)s).",
                      entries=done.entries, name=done.filename, source=done.source))

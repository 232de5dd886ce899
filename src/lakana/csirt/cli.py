"""``lakana csirt ...``: report an incident, list cases, show one (for scripts and operators).

Commands act as the CLI (every permission). ``report`` prints the new case's reference alone
on standard output, so a script can capture it; ``--json FILE`` (``-`` for standard input)
reads a whole report in the API's format, options given on the command line override it.
Errors are one line on stderr with a non-zero exit status.

Other CSIRT modules may add their own commands to :data:`app`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from lakana.core import i18n
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import cli_transaction, echo_json, fail, friendly_errors
from lakana.core.errors import Invalid
from lakana.core.web.errors import validation_message
from lakana.csirt import service, taxonomy
from lakana.csirt.schemas import CaseQuery, CaseReport
from lakana.registry import service as registry_service

app = typer.Typer(no_args_is_help=True, help="Incident response centre: cases.")

AsJson = Annotated[bool, typer.Option("--json", help="JSON output.")]
#: Largest report read from a file or standard input (a description is at most 20 000
#: characters; the rest is small).
MAX_INPUT = 256 * 1024


def _actor() -> Actor:
    """The CLI acts with every permission (built late: domains grant theirs at start-up)."""
    return system_actor("lakana cli", "cli")


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read(MAX_INPUT + 1)[:MAX_INPUT + 1]
    path = Path(source)
    if not path.is_file():
        fail(f"no such file: {source}")
    return path.read_text(encoding="utf-8")[:MAX_INPUT + 1]


def _report_data(json_file: str | None, options: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if json_file is not None:
        try:
            loaded = json.loads(_read(json_file))
        except json.JSONDecodeError as exc:
            fail(f"not valid JSON: {exc}")
        if not isinstance(loaded, dict):
            fail("the JSON report must be an object")
        data.update(loaded)
    data.update({k: v for k, v in options.items() if v is not None})
    return data


@app.command("report")
@friendly_errors
def report(
    institution: Annotated[str | None, typer.Option(help="Acronym of the institution.")] = None,
    title: Annotated[str | None, typer.Option(help="Short title (200 characters).")] = None,
    description_file: Annotated[str | None, typer.Option(
        help="File holding the description, - for standard input.")] = None,
    klass: Annotated[str | None, typer.Option("--class", help="Taxonomy class id.")] = None,
    kind: Annotated[str | None, typer.Option("--type", help="Taxonomy type id.")] = None,
    tlp: Annotated[str | None, typer.Option(help="TLP label (CLEAR … RED).")] = None,
    template: Annotated[str | None, typer.Option(help="Case template id.")] = None,
    json_file: Annotated[str | None, typer.Option(
        "--json", help="A report in the API's JSON format (file, or - for stdin).")] = None,
) -> None:
    """Report an incident; prints the new case's reference."""
    data = _report_data(json_file, {
        "title": title, "taxonomy_class": klass, "taxonomy_type": kind, "tlp": tlp,
        "template": template,
        "description": _read(description_file) if description_file is not None else None})
    with cli_transaction() as session:
        if institution is not None:
            found = registry_service.get_institution_id_by_acronym(session=session,
                                                                   acronym=institution)
            if found is None:
                raise Invalid("The institution %(id)s does not exist.", id=institution[:40])
            data["institution_id"] = found
        try:
            body = CaseReport(**data)
        except ValidationError as exc:
            for item in exc.errors():
                where = ".".join(str(p) for p in item.get("loc", ())) or "report"
                typer.echo(f"{where}: {validation_message(dict(item))}", err=True)
            raise typer.Exit(2) from None
        case = service.report_case(session=session, actor=_actor(), data=body,
                                   source="institution" if body.institution_id else None)
        reference = case.reference
    typer.echo(reference)


@app.command("list")
@friendly_errors
def list_cases(
    status: Annotated[str | None, typer.Option(help="Only cases in this status.")] = None,
    institution: Annotated[str | None, typer.Option(help="Acronym of the institution.")]
    = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    as_json: AsJson = False,
) -> None:
    """List cases, newest first."""
    with cli_transaction() as session:
        institution_id = None
        if institution is not None:
            institution_id = registry_service.get_institution_id_by_acronym(
                session=session, acronym=institution) or -1
        try:
            query = CaseQuery(status=status, institution_id=institution_id, limit=limit)
        except ValidationError:
            raise Invalid("Unknown status %(value)s.", value=(status or "")[:20]) from None
        rows, total = service.list_cases(session=session, actor=_actor(), query=query)
        names = service.institution_names(session=session)
        items: list[dict[str, str]] = [
            {"reference": c.reference or "", "title": c.title, "status": c.status,
             "severity": c.severity, "tlp": c.tlp,
             "institution": names.get(c.institution_id or 0, ""),
             "reported_at": c.reported_at.isoformat(timespec="minutes")} for c in rows]
    if as_json:
        echo_json({"items": items, "total": total})
        return
    table = Table("Reference", "Title", "Institution", "Severity", "Status", "TLP", "Reported")
    for item in items:
        table.add_row(item["reference"], item["title"], item["institution"], item["severity"],
                      item["status"], item["tlp"].upper(), item["reported_at"])
    Console().print(table)
    typer.echo(f"{total} case(s)")


@app.command("show")
@friendly_errors
def show(reference: str, as_json: AsJson = False) -> None:
    """Show one case by its reference (INC-2026-00042)."""
    with cli_transaction() as session:
        case = service.get_by_reference(session=session, actor=_actor(), reference=reference)
        names = service.institution_names(session=session)
        with i18n.use_language("en"):
            reasons = [r.text() for r in service.assess(session, case).reasons]
        users = service.user_names(session=session, user_ids={case.assignee_id})
        item: dict[str, Any] = {
            "reference": case.reference, "title": case.title, "status": case.status,
            "severity": case.severity,
            "severity_reasons": reasons,
            "tlp": case.tlp, "institution": names.get(case.institution_id or 0, ""),
            "classification": taxonomy.label(case.taxonomy_class, case.taxonomy_type, "en"),
            "assignee": users.get(case.assignee_id or 0, ""), "source": case.source,
            "reported_at": case.reported_at.isoformat(timespec="minutes"),
            "closure_reason": case.closure_reason, "description": case.description,
            "tasks": [{"title": t.title, "status": t.status,
                       "due_date": t.due_date.isoformat() if t.due_date else None}
                      for t in case.tasks]}
    if as_json:
        echo_json(item)
        return
    for key in ("reference", "title", "institution", "status", "severity", "tlp",
                "classification", "assignee", "source", "reported_at", "closure_reason"):
        typer.echo(f"{key:<16}{item[key] or '-'}")
    for reason in item["severity_reasons"]:
        typer.echo(f"{'':<16}· {reason}")
    if item["description"]:
        typer.echo("")
        typer.echo(item["description"])
    for task in item["tasks"]:
        typer.echo(f"[{task['status']}] {task['title']} ({task['due_date'] or '-'})")

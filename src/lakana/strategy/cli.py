"""``lakana strategy``: import, export and show the national strategy's action plan (the CLI
acts with every permission; every change is ledgered)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import cli_transaction, echo_json, fail, friendly_errors
from lakana.core.errors import Invalid
from lakana.core.i18n import translate, use_language
from lakana.strategy import service, transfer

app = typer.Typer(no_args_is_help=True,
                  help="National strategy: action plan, indicators, import and export.")


def _actor() -> Actor:
    """The CLI acts with every permission (built late: domains grant theirs at start-up)."""
    return system_actor("lakana cli", "cli")


@app.command("import")
@friendly_errors
def import_plan(file: Annotated[Path, typer.Argument(help="A YAML or XLSX plan.",
                                                     exists=True, dir_okay=False)]) -> None:
    """Import a plan (all or nothing; each problem with its line, or sheet and row)."""
    content = file.read_bytes()
    with use_language("en"):
        try:
            with cli_transaction() as session:
                result = service.import_plan(session=session, actor=_actor(),
                                             content=content, filename=file.name)
        except Invalid as exc:
            for item in exc.errors:
                typer.echo(f"{file.name}: {transfer.describe(item)}: "
                           f"{translate(item['message'], **item.get('params', {}))}", err=True)
            fail(translate(exc.message, **exc.params), 2)
            return
    typer.echo(f"created {result.created}, updated {result.updated}, "
               f"deleted {result.deleted}, unchanged {result.unchanged}")


@app.command("export")
@friendly_errors
def export_plan(out: Annotated[Path, typer.Argument(help="File to write.", dir_okay=False)],
                fmt: Annotated[str, typer.Option("--format", help="yaml or xlsx.")] = "yaml",
                ) -> None:
    """Write the plan to a YAML or XLSX file (it imports back unchanged)."""
    with cli_transaction() as session, use_language("en"):
        content = service.export_plan(session=session, actor=_actor(), fmt=fmt)
    out.write_bytes(content)
    typer.echo(f"{out}: {len(content)} bytes")


@app.command("show")
@friendly_errors
def show(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The plan as a tree: axes, objectives, actions (status, lead, period) and indicators."""
    with cli_transaction() as session:
        plan = service.get_plan(session=session, actor=_actor())
    if as_json:
        echo_json(plan.model_dump(mode="json"))
        return
    for axis in plan.axes:
        typer.echo(f"{axis.code} {axis.title}")
        for objective in axis.objectives:
            typer.echo(f"  {objective.code} {objective.title}")
            for a in objective.actions:
                typer.echo(f"    {a.code} [{a.status}] {a.lead or '—'} {a.starts_on} → "
                           f"{a.ends_on} {a.budget_committed}/{a.budget_estimate} FCFA  "
                           f"{a.title}")
            for i in objective.indicators:
                targets = ", ".join(f"{y}: {v:g}" for y, v in i.targets.items())
                typer.echo(f"    {i.code} {i.name} ({i.unit}) — {targets}")

"""``lakana strategy``: import, export and show the national strategy's action plan (the CLI
acts with every permission; every change is ledgered)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import cli_transaction, echo_json, fail, friendly_errors
from lakana.core.config import load_settings
from lakana.core.errors import Invalid
from lakana.core.i18n import translate, use_language
from lakana.strategy import measures, report_cli, service, tracking, transfer
from lakana.strategy.schemas import FIRST_YEAR, LAST_YEAR

app = typer.Typer(no_args_is_help=True,
                  help="National strategy: action plan, indicators, import and export.")
app.command("report")(report_cli.report)


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


@app.command("indicators")
@friendly_errors
def indicators(year: Annotated[int, typer.Option(help="The plan year (2026–2030).")] = 0,
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Each indicator measured for the year to date against the year's target."""
    chosen = year or min(max(dt.date.today().year, FIRST_YEAR), LAST_YEAR)
    if not FIRST_YEAR <= chosen <= LAST_YEAR:
        fail(f"the plan covers {FIRST_YEAR} to {LAST_YEAR}", 2)
        return
    with cli_transaction() as session, use_language("en"):
        found = measures.evaluate(session=session, actor=_actor(), year=chosen)
        rows = [{**e.as_dict(), "reason_text": translate(e.reason, **e.reason_args)
                 if e.reason else ""} for e in found]
    if as_json:
        echo_json({"year": chosen, "indicators": rows})
        return
    for row in rows:
        value = "—" if row["value"] is None else f"{row['value']:g}"
        target = "—" if row["target"] is None else f"{row['target']:g}"
        typer.echo(f"{row['code']:8} {row['status']:5} {value:>8} / {target:<8} "
                   f"{row['unit']:10} {row['name']}"
                   + (f"  ({row['reason_text']})" if row["reason_text"] else ""))


@app.command("value")
@friendly_errors
def enter_value(code: Annotated[str, typer.Argument(help="The indicator's code (IND-01).")],
                year: Annotated[int, typer.Option(help="The plan year.")],
                value: Annotated[float, typer.Option(help="The value.")],
                evidence: Annotated[str, typer.Option(help="Where the value comes from.")],
                quarter: Annotated[int | None, typer.Option(help="1–4; none: the year.")] = None,
                ) -> None:
    """Enter a manual indicator's value for a year or quarter, with its evidence."""
    with use_language("en"):
        try:
            entry = tracking.ValueEntry(year=year, quarter=quarter, value=value,
                                        evidence=evidence)
        except ValidationError as exc:
            fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
                 2)
            return
        with cli_transaction() as session:
            row = tracking.enter_value(session=session, actor=_actor(),
                                       settings=load_settings(), code=code, data=entry)
            period = f"{row.period_start} → {row.period_end}"
    typer.echo(f"{code}: {value:g} for {period}")


@app.command("snapshot")
@friendly_errors
def snapshot(year: Annotated[int, typer.Option(help="The plan year.")],
             quarter: Annotated[int | None, typer.Option(help="1–4; none: the year.")] = None,
             ) -> None:
    """Freeze every indicator's figures for an ended quarter (or year, without --quarter)."""
    kind = "annual" if quarter is None else "quarterly"
    with cli_transaction() as session, use_language("en"):
        snap = tracking.take_snapshot(session=session, actor=_actor(), kind=kind, year=year,
                                      quarter=quarter)
        label, digest = snap.label, snap.digest
    typer.echo(f"snapshot {label}: sha256 {digest}")

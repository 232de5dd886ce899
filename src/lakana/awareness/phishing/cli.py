"""``lakana awareness phishing``: exercises, target lists, sending, results and GoPhish
imports (the CLI acts with every permission; every change is ledgered)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakana.awareness.phishing import sending, service
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import cli_settings, cli_transaction, echo_json, friendly_errors
from lakana.core.db import make_engine, make_session_factory

app = typer.Typer(no_args_is_help=True, help="Phishing exercises: targets, sending, results.")


def _actor() -> Actor:
    """The CLI acts with every permission (built late: domains grant theirs at start-up)."""
    return system_actor("lakana cli", "cli")


@app.command("list")
@friendly_errors
def list_exercises() -> None:
    """The exercises, latest first."""
    with cli_transaction() as session:
        for found in service.list_exercises(session=session, actor=_actor()):
            typer.echo(f"{found.id:5} {found.status:7} {found.name}")


@app.command("import-targets")
@friendly_errors
def import_targets(exercise_id: Annotated[int, typer.Argument(help="Exercise id.")],
                   path: Annotated[Path, typer.Argument(help="CSV (UTF-8): email, nom, "
                                                              "service.")]) -> None:
    """Add the targets of a CSV list to a draft exercise (all lines or none)."""
    data = path.read_bytes()
    with cli_transaction() as session:
        report = service.import_targets(session=session, actor=_actor(),
                                        exercise_id=exercise_id, data=data)
    typer.echo(f"{report.added} targets added")


@app.command("send")
@friendly_errors
def send(exercise_id: Annotated[int, typer.Argument(help="Exercise id.")],
         now: Annotated[bool, typer.Option("--now", help="Mail now from this process "
                                                         "instead of the workers.")] = False
         ) -> None:
    """Send an exercise: its batches are queued for the workers (or mailed now)."""
    settings = cli_settings()
    with cli_transaction(settings) as session:
        jobs = service.send_exercise(session=session, actor=_actor(), exercise_id=exercise_id)
        ids = [t.id for t in service.targets_of(session, exercise_id)]
    if not now:
        typer.echo(f"{jobs} batches queued")
        return
    engine = make_engine(settings)
    try:
        sent = sending.send_batch(settings, make_session_factory(engine), exercise_id, ids)
    finally:
        engine.dispose()
    typer.echo(f"{sent} messages sent")


@app.command("results")
@friendly_errors
def results(exercise_id: Annotated[int, typer.Argument(help="Exercise id.")],
            as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """An exercise's figures (people per event, rates, follow-up completion)."""
    with cli_transaction() as session:
        found = service.results(session=session, actor=_actor(), exercise_id=exercise_id)
    if as_json:
        echo_json(found.model_dump(mode="json"))
        return
    typer.echo(f"targets {found.targets}")
    for kind, count in found.counts.items():
        rate = found.rates.get(kind)
        typer.echo(f"{kind:10} {count:6}" + (f"  {rate} %" if rate is not None else ""))
    typer.echo(f"clickers enrolled {found.clickers_enrolled}, completed "
               f"{found.clickers_completed}")


@app.command("import-gophish")
@friendly_errors
def import_gophish(exercise_id: Annotated[int, typer.Argument(help="Exercise id.")],
                   path: Annotated[Path, typer.Argument(help="GoPhish results export "
                                                              "(CSV or JSON).")]) -> None:
    """Record the results of an exercise run with GoPhish."""
    data = path.read_bytes()
    with cli_transaction() as session:
        report = service.import_gophish(session=session, actor=_actor(),
                                        exercise_id=exercise_id, data=data)
    typer.echo(f"{report.rows} people, {report.added} new, {report.events} events")

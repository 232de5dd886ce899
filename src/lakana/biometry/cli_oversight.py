"""``lakana biometry oversight ...``: accesses by service and purpose, public statistics.

Commands act as the CLI (every permission)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lakana.biometry import oversight
from lakana.core.audit import signing
from lakana.core.auth.rbac import system_actor
from lakana.core.cli_support import cli_settings, cli_transaction, echo_json, friendly_errors

app = typer.Typer(no_args_is_help=True, help="Oversight reports and statistics.")


@app.command("report")
@friendly_errors
def report(days: Annotated[int, typer.Option(help="Period in days.", min=1,
                                             max=oversight.MAX_DAYS)] = 30,
           as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False
           ) -> None:
    """Accesses of relying services by service and purpose over the last DAYS days."""
    with cli_transaction() as session:
        rows = oversight.accesses_by_service(session=session,
                                             actor=system_actor("lakana cli", "cli"), days=days)
    if as_json:
        echo_json([{"service": r.service, "purpose": r.purpose, "total": r.total,
                    "refused": r.refused, "outcomes": r.outcomes} for r in rows])
        return
    width = max([len("service")] + [len(r.service) for r in rows])
    pwidth = max([len("purpose")] + [len(r.purpose) for r in rows])
    typer.echo(f"{'service':<{width}}  {'purpose':<{pwidth}}  {'total':>8}  {'refused':>8}")
    for r in rows:
        typer.echo(f"{r.service:<{width}}  {r.purpose:<{pwidth}}  {r.total:>8}  {r.refused:>8}")
    typer.echo(f"{len(rows)} line(s), {sum(r.total for r in rows)} access(es) in {days} day(s)")


@app.command("statistics")
@friendly_errors
def statistics(as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False
               ) -> None:
    """The public statistics (counts below 10 shown as "< 10")."""
    with cli_transaction() as session:
        stats = oversight.public_statistics(session=session)
    if as_json:
        echo_json({"persons_by_region": dict(stats.persons_by_region),
                   "enrollments_by_state": dict(stats.enrollments_by_state)})
        return
    typer.echo("Identities issued by region")
    for region, count in stats.persons_by_region:
        typer.echo(f"  {region:<14} {count:>8}")
    typer.echo("Enrollments by outcome")
    for state, count in stats.enrollments_by_state:
        typer.echo(f"  {state:<14} {count:>8}")


@app.command("ledger-export")
@friendly_errors
def ledger_export(
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the JSON.")],
    from_seq: Annotated[int | None, typer.Option("--from", min=1)] = None,
    to_seq: Annotated[int | None, typer.Option("--to", min=1)] = None,
) -> None:
    """Export the ledger with its proof, disclosing the registry's entries only (check it
    with ``lakana audit verify-export FILE``)."""
    settings = cli_settings()
    path = settings.effective_ledger_key_path
    with cli_transaction(settings) as session:
        document = oversight.ledger_export(
            session=session, actor=system_actor("lakana cli", "cli"),
            key=signing.load_private_key(path), known_keys=signing.trusted_keys(path),
            from_seq=from_seq, to_seq=to_seq)
    output.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    typer.echo(f"entries {document['first_seq']} to {document['last_seq']} written to "
               f"{output} ({document.get('redacted', 0)} of other domains redacted)")

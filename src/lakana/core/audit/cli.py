"""``lakana audit verify|export|verify-export|checkpoint|public-key``.

``verify-export`` needs no database and no settings: an auditor runs it on any machine with
the export file and the platform's published public key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lakana.core.audit import proof, signing
from lakana.core.cli_support import cli_settings, cli_transaction, echo_json, fail, friendly_errors

app = typer.Typer(no_args_is_help=True)

CLI_ACTOR = "lakana audit"
PublicKeyOption = Annotated[list[Path] | None, typer.Option(
    "--public-key", exists=True, dir_okay=False,
    help="A trusted Ed25519 public key (PEM); repeat for retired keys.")]


@app.command("verify")
@friendly_errors
def verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    public_key: PublicKeyOption = None,
) -> None:
    """Recompute the whole chain and every checkpoint; exit 1 at the first problem."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
    from sqlalchemy import select

    from lakana.core.audit import service
    from lakana.core.audit.models import LedgerHead
    from lakana.core.auth.rbac import system_actor

    settings = cli_settings()
    keys = signing.trusted_keys(settings.effective_ledger_key_path,
                                [p.read_text() for p in public_key or []])
    with cli_transaction(settings) as session:
        total = session.scalar(select(LedgerHead.seq).where(LedgerHead.id == 1)) or 0
        columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn())
        console = Console(stderr=True)  # the progress bar never mixes with the report
        with Progress(*columns, console=console, transient=True,
                      disable=as_json or not console.is_terminal) as bar:
            task = bar.add_task("verifying", total=total)
            report = service.verify_ledger(
                session=session, actor=system_actor(CLI_ACTOR, "cli"), public_keys=keys,
                progress=lambda done: bar.update(task, completed=done))
    if as_json:
        echo_json(report.as_dict())
        if not report.ok:
            raise typer.Exit(1)
        return
    if not report.ok:
        fail(report.summary())
    typer.echo(report.summary())


@app.command("export")
@friendly_errors
def export(
    from_seq: Annotated[int, typer.Option("--from", min=1, help="First entry.")],
    to_seq: Annotated[int, typer.Option("--to", min=1, help="Last entry.")],
    output: Annotated[Path, typer.Option("-o", "--output", dir_okay=False,
                                         help="File to write the export to.")],
) -> None:
    """Export entries FROM to TO with their signed proof (a JSON file)."""
    from lakana.core.audit import service
    from lakana.core.auth.rbac import system_actor

    settings = cli_settings()
    path = settings.effective_ledger_key_path
    with cli_transaction(settings) as session:
        document = service.export_range(
            session=session, actor=system_actor(CLI_ACTOR, "cli"),
            key=signing.load_private_key(path), from_seq=from_seq, to_seq=to_seq,
            known_keys=signing.trusted_keys(path))
    output.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    typer.echo(f"exported entries {from_seq} to {to_seq} to {output}")


@app.command("verify-export")
def verify_export(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                         help="The export (JSON).")],
    public_key: PublicKeyOption = None,
) -> None:
    """Check an export offline (no database, no settings); exit 0 only if it is valid."""
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
        trusted = [signing.load_public_pem(p.read_text()) for p in public_key] \
            if public_key else None
    except (OSError, ValueError) as exc:
        fail(f"cannot read the export or the key: {exc}")
        return
    check = proof.verify_document(document, trusted)
    if not check.ok:
        fail(check.reason)
    typer.echo(check.reason)
    if check.trusted_embedded_key:
        typer.echo("note: checked with the key embedded in the export; pass --public-key "
                   "with the platform's published key to check its origin", err=True)


@app.command("checkpoint")
@friendly_errors
def checkpoint() -> None:
    """Sign the current head of the chain now."""
    from lakana.core.audit.ledger import checkpoint_head

    settings = cli_settings()
    key = signing.load_private_key(settings.effective_ledger_key_path)
    with cli_transaction(settings) as session:
        info = checkpoint_head(session, key)
    if info is None:
        fail("the ledger is empty: nothing to sign")
        return
    typer.echo(f"checkpoint signed at entry {info.seq} (hash {info.hash[:16]}, "
               f"key {info.key_id})")


@app.command("public-key")
def public_key() -> None:
    """Print the platform's ledger public key (PEM), to publish for auditors."""
    settings = cli_settings()
    key = signing.load_private_key(settings.effective_ledger_key_path)
    typer.echo(f"# key id {signing.key_id(key)}")
    typer.echo(signing.public_pem(key), nl=False)

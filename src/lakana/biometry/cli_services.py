"""``lakana biometry service ...``: relying services and their keys.

``keygen OUT_PRIVATE_KEY`` writes a new Ed25519 private key (mode 600; hand it to the
service, never keep it here) and prints the public key PEM to register.
``add CODE --name N --legal-basis TEXT --purpose P [--purpose P2] --public-key FILE``
registers a service; ``list`` shows them; ``deactivate CODE`` stops one.
``token CODE --key FILE --purpose P`` mints a signed request token as the service would, to
try the API with curl::

    TOKEN=$(lakana biometry service token ceni --key ceni.pem --purpose voter_verification)
    curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
         -d '{"nin": "ML-0001", "modality": "finger", "position": 2,
              "image_base64": "..."}' https://lakana.example/api/v1/biometry/relying/verify

Each token is for one request (its ``jti`` is burnt) and lives two minutes by default.
Commands act as the CLI (every permission); errors are one line on standard error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from lakana.biometry import relying
from lakana.biometry.purposes import PURPOSES
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import cli_transaction, echo_json, fail, friendly_errors

app = typer.Typer(no_args_is_help=True)

AsJson = Annotated[bool, typer.Option("--json", help="JSON output.")]


def _actor() -> Actor:
    return system_actor("lakana cli", "cli")


def _invalid(exc: ValidationError) -> None:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "value"
    fail(f"{where}: {first.get('msg', 'invalid')}", 2)


@app.command("keygen")
@friendly_errors
def keygen(
    out: Annotated[Path, typer.Argument(help="Where to write the new private key (PEM).")],
) -> None:
    """Make an Ed25519 key pair: write the private key, print the public key to register."""
    if out.exists():
        fail(f"{out} already exists: choose another file.", 2)
    private_pem, public_pem = relying.generate_keypair()
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_pem)
    typer.echo(public_pem, nl=False)
    typer.echo(f"Private key written to {out} (keep it at the service only).", err=True)


@app.command("add")
@friendly_errors
def add(
    code: Annotated[str, typer.Argument(help="The service's code (its tokens' iss).")],
    name: Annotated[str, typer.Option("--name", help="The service's name.")],
    legal_basis: Annotated[str, typer.Option("--legal-basis", help="The law that allows it.")],
    purpose: Annotated[list[str], typer.Option(
        "--purpose", help=f"A purpose it may invoke ({', '.join(PURPOSES)}); repeat.")],
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", help="The service's Ed25519 public key (PEM file).")] = None,
    rate_per_minute: Annotated[int, typer.Option(help="Requests allowed per minute.")] = 120,
    alert_per_hour: Annotated[int, typer.Option(
        help="Requests per hour above which the CSIRT is alerted.")] = 2000,
    as_json: AsJson = False,
) -> None:
    """Register a relying service."""
    pem = public_key.read_text(encoding="utf-8") if public_key is not None else None
    try:
        data = relying.ServiceIn(code=code, name=name, legal_basis=legal_basis,
                                 purposes=purpose, public_key_pem=pem,
                                 rate_per_minute=rate_per_minute,
                                 alert_per_hour=alert_per_hour)
    except ValidationError as exc:
        _invalid(exc)
        return
    with cli_transaction() as session:
        out = relying.to_out(relying.create_service(session=session, actor=_actor(),
                                                    data=data))
    if as_json:
        echo_json(out.model_dump(mode="json"))
    else:
        typer.echo(f"Relying service {out.code} registered (#{out.id}).")


@app.command("list")
@friendly_errors
def list_services(as_json: AsJson = False) -> None:
    """List the relying services."""
    with cli_transaction() as session:
        rows = [relying.to_out(s) for s in relying.list_services(session=session,
                                                                   actor=_actor())]
    if as_json:
        echo_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("id", "code", "name", "purposes", "per minute", "active", "key")
    for r in rows:
        table.add_row(str(r.id), r.code, r.name, ", ".join(r.purposes), str(r.rate_per_minute),
                      "yes" if r.active else "no", (r.key_fingerprint or "-")[:16])
    Console().print(table)


@app.command("deactivate")
@friendly_errors
def deactivate(code: Annotated[str, typer.Argument(help="The service's code.")]) -> None:
    """Deactivate a relying service (its tokens are refused from now on)."""
    with cli_transaction() as session:
        service = relying.get_by_code(session=session, actor=_actor(), code=code)
        relying.deactivate_service(session=session, actor=_actor(), service_id=service.id)
    typer.echo(f"Relying service {code} deactivated.")


@app.command("token")
@friendly_errors
def token(
    code: Annotated[str, typer.Argument(help="The service's code (the token's iss).")],
    key: Annotated[Path, typer.Option("--key", help="The service's private key (PEM).")],
    purpose: Annotated[str, typer.Option("--purpose", help="The purpose invoked.")],
    lifetime: Annotated[int, typer.Option(help="Seconds the token lives (at most 300).")] = 120,
) -> None:
    """Mint a signed request token as the service would (for trying the API)."""
    if not 1 <= lifetime <= relying.MAX_LIFETIME:
        fail(f"--lifetime must be between 1 and {relying.MAX_LIFETIME} seconds.", 2)
    typer.echo(relying.mint_token(key.read_bytes(), code=code, purpose=purpose,
                                  lifetime=lifetime))

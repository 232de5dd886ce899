"""``lakana detection syslog ...``: run the syslog receiver, manage the senders it accepts,
read its counters.

Commands act as the CLI (every permission). Errors are one line on standard error with a
non-zero exit status.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from rich.console import Console
from rich.table import Table

from lakana.core import i18n
from lakana.core.audit import configure_ledger
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import cli_settings, cli_transaction, echo_json, fail, friendly_errors
from lakana.core.db import make_engine, make_session_factory
from lakana.core.errors import Invalid
from lakana.monitoring.detection.syslog import server, sources
from lakana.registry import service as registry_service

syslog_app = typer.Typer(no_args_is_help=True,
                         help="The syslog receiver (RFC 6587 over TCP or TLS) and its senders.")

AsJson = Annotated[bool, typer.Option("--json", help="JSON output.")]


def _actor() -> Actor:
    return system_actor("lakana cli", "cli")


def _t(message: str, **params: object) -> str:
    with i18n.use_language("en"):
        return i18n.gettext(message, **params)


def _institution_id(acronym: str) -> int:
    with cli_transaction() as session:
        found = registry_service.get_institution_id_by_acronym(session=session, acronym=acronym)
    if found is None:
        raise Invalid("The institution %(id)s does not exist.", id=acronym[:40])
    return found


def certificate_sha256(path: Path) -> str:
    """The sha256 fingerprint of a PEM or DER certificate file."""
    data = path.read_bytes()
    try:
        cert = (x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data
                else x509.load_der_x509_certificate(data))
    except ValueError as exc:
        raise Invalid("%(value)s is not a certificate.", value=path.name[:80]) from exc
    return sources.cert_fingerprint(cert.public_bytes(Encoding.DER))


@syslog_app.command("serve")
@friendly_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (LAKANA_SYSLOG_HOST).")]
    = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535,
                                             help="TCP port (LAKANA_SYSLOG_PORT).")] = None,
    max_frame: Annotated[int, typer.Option(min=1024, max=16 * 1024 * 1024,
                                           help="Largest message kept, in bytes.")] = 65536,
    idle_timeout: Annotated[float, typer.Option(min=1, help="Seconds of silence before a "
                                                "connection is closed.")] = 300.0,
    max_connections: Annotated[int, typer.Option(min=1)] = 1000,
) -> None:
    """Receive syslog over TCP (TLS when LAKANA_SYSLOG_TLS_CERT is set) until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = cli_settings()
    config = server.ReceiverConfig.from_settings(
        settings, host=host, port=port, max_frame=max_frame, idle_timeout=idle_timeout,
        max_connections=max_connections)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    configure_ledger(factory, settings)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await server.serve(factory, config, stop)

    try:
        asyncio.run(run())
    except OSError as exc:
        fail(f"cannot listen on {config.host}:{config.port}: {exc}", 1)
    finally:
        engine.dispose()


@syslog_app.command("stats")
def stats() -> None:
    """The running receiver's counters (written every minute and at shutdown)."""
    path = cli_settings().resolved_home / "syslog-receiver.json"
    if not path.exists():
        fail(_t("No counters yet: is the receiver running?"), 1)
    echo_json(json.loads(path.read_text()))


@syslog_app.command("add-source")
@friendly_errors
def add_source(
    institution: Annotated[str, typer.Option(help="Acronym of the sender's institution.")],
    system: Annotated[int | None, typer.Option(help="Id of its information system.")] = None,
    network: Annotated[str, typer.Option(help="Sender network (CIDR) or address.")] = "",
    cert_sha256: Annotated[str, typer.Option(
        "--cert-sha256", help="sha256 fingerprint of its TLS client certificate.")] = "",
    cert: Annotated[Path | None, typer.Option(
        help="Its TLS client certificate (PEM or DER): the fingerprint is computed.",
        exists=True, dir_okay=False)] = None,
    name: Annotated[str, typer.Option(help="A name for people.")] = "",
    as_json: AsJson = False,
) -> None:
    """Register a sender the receiver accepts and attributes."""
    if cert is not None:
        if cert_sha256:
            fail(_t("Give --cert or --cert-sha256, not both."), 2)
        cert_sha256 = certificate_sha256(cert)
    owner = _institution_id(institution)
    try:
        data = sources.SyslogSourceIn(institution_id=owner, system_id=system, name=name,
                                      network=network, cert_sha256=cert_sha256)
    except ValueError as exc:
        fail(str(exc).splitlines()[0], 2)
    with cli_transaction() as session:
        source = sources.add_source(session=session, actor=_actor(), data=data)
        out = sources.SyslogSourceOut.model_validate(source)
    if as_json:
        echo_json(out.model_dump(mode="json"))
        return
    typer.echo(_t("Sender #%(id)s registered.", id=out.id))


@syslog_app.command("list-sources")
@friendly_errors
def list_sources(
    institution: Annotated[str | None, typer.Option(help="Acronym of the institution.")] = None,
    as_json: AsJson = False,
) -> None:
    """The registered senders."""
    owner = _institution_id(institution) if institution else None
    with cli_transaction() as session:
        rows = [sources.SyslogSourceOut.model_validate(s) for s in sources.list_sources(
            session=session, actor=_actor(), institution_id=owner)]
        names = dict(registry_service.institution_choices(session=session))
    if as_json:
        echo_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("#", "Institution", "System", "Network", "Certificate sha256", "Name")
    for row in rows:
        table.add_row(str(row.id), names.get(row.institution_id, str(row.institution_id)),
                      str(row.system_id or "-"), row.network or "-", row.cert_sha256 or "-",
                      row.name or "-")
    Console(width=200).print(table)


@syslog_app.command("remove-source")
@friendly_errors
def remove_source(source_id: Annotated[int, typer.Argument(help="The sender's id.")]) -> None:
    """Remove a sender: its new connections are refused."""
    with cli_transaction() as session:
        sources.delete_source(session=session, actor=_actor(), source_id=source_id)
    typer.echo(_t("Sender #%(id)s removed.", id=source_id))

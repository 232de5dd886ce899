"""The ``lakana`` command: init, serve, demo, worker, and each domain's commands."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from lakana.core.cli_support import (
    cli_settings,
    cli_transaction,
    fail,
    friendly_errors,
    read_secret_from_stdin,
)

app = typer.Typer(help="Lakana: national cybersecurity governance platform.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


def _register_subcommands() -> None:
    from lakana.app import core_plugins, domains, register_all
    from lakana.core.audit.cli import app as audit_app
    from lakana.core.auth.cli import sharing_app, token_app, user_app
    from lakana.core.jobs.cli import app as jobs_app
    from lakana.core.jobs.cli import worker as worker_command

    register_all([*core_plugins(), *domains()])
    app.add_typer(user_app, name="user", help="Manage accounts.")
    app.add_typer(token_app, name="token", help="Manage API tokens.")
    app.add_typer(sharing_app, name="sharing-group",
                  help="Manage sharing groups of partner CERTs.")
    app.add_typer(audit_app, name="audit", help="Verify and export the audit ledger.")
    app.command("worker", help="Run background jobs (several workers may share PostgreSQL).")(
        worker_command)
    app.add_typer(jobs_app, name="jobs", help="Inspect and retry background jobs.")
    for plugin in domains():
        if plugin.cli is not None:
            app.add_typer(plugin.cli, name=plugin.name)
        for name, group in plugin.commands:
            app.add_typer(group, name=name)


def migrate_database() -> None:
    """Bring the database schema to the latest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    settings = cli_settings()
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", settings.effective_database_url)
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


@app.command()
@friendly_errors
def init(
    admin_email: Annotated[str | None, typer.Option(help="E-mail of the first administrator.")]
    = None,
    admin_password_stdin: Annotated[bool, typer.Option(
        "--admin-password-stdin", help="Read the administrator's password on standard input.")]
    = False,
    admin_name: Annotated[str, typer.Option(help="Full name of the first administrator.")]
    = "Administrateur",
) -> None:
    """Create the data folder, the database schema, the keys and the first administrator."""
    from lakana.core.audit.signing import create_key
    from lakana.core.auth import service
    from lakana.core.auth.rbac import Role, system_actor

    settings = cli_settings()
    home = settings.resolved_home
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret_path = home / "secret.key"
    if not settings.secret_key and not secret_path.exists():
        # Created readable by its owner only from the first byte (no window for others).
        fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    key_path = settings.effective_ledger_key_path
    if not key_path.exists():
        create_key(key_path)
        typer.echo(f"ledger key created: {key_path}")
    migrate_database()
    typer.echo(f"database ready: {settings.effective_database_url.split('@')[-1]}")
    if admin_email:
        if not admin_password_stdin:
            fail("give the administrator's password with --admin-password-stdin")
        password = read_secret_from_stdin()
        with cli_transaction(settings) as session:
            if service.get_user_by_email(session=session, email=admin_email) is not None:
                typer.echo(f"administrator already exists: {admin_email}")
                return
            service.create_user(session=session, actor=system_actor("lakana init", "cli"),
                                email=admin_email, full_name=admin_name,
                                role=Role.PLATFORM_ADMIN, password=password)
        typer.echo(f"administrator created: {admin_email}")


DEMO_PASSWORD = "Lakana-Demo-2026!"
DEMO_USERS: tuple[tuple[str, str, str, str | None], ...] = (
    ("admin@demo.lakana.ml", "Awa Traoré", "platform_admin", None),
    ("officer@demo.lakana.ml", "Moussa Keïta", "agency_officer", None),
    ("csirt@demo.lakana.ml", "Fatoumata Diarra", "csirt_analyst", None),
    ("auditor@demo.lakana.ml", "Ibrahim Coulibaly", "auditor", None),
    ("focal.mef@demo.lakana.ml", "Aminata Sangaré", "focal_point", "MEF"),
    ("viewer.mef@demo.lakana.ml", "Oumar Dembélé", "institution_viewer", "MEF"),
    # Created by the CSIRT sharing demo (with its sharing group); listed here to be found.
    ("partner.sn@demo.lakana.ml", "CERT partenaire fictif (Sénégal)", "partner", None),
    # The biometric registry's people (they see the registry only).
    ("enrolment@demo.lakana.ml", "Bakary Sissoko", "enrolment_agent", None),
    ("adjudicator@demo.lakana.ml", "Kadiatou Touré", "adjudicator", None),
    ("registry@demo.lakana.ml", "Seydou Maïga", "registry_admin", None),
    ("dpa@demo.lakana.ml", "Mariam Cissé", "protection_auditor", None),
)


@app.command()
@friendly_errors
def demo(
    serve_after: Annotated[bool, typer.Option("--serve", help="Start the server afterwards.")]
    = False,
    port: Annotated[int, typer.Option(help="Port for --serve.")] = 8000,
) -> None:
    """Initialise if needed, load realistic demo data (fictitious people) and demo accounts."""
    import pyotp

    from lakana.app import domains
    from lakana.core.auth import service
    from lakana.core.auth.rbac import MFA_REQUIRED_ROLES, Role, system_actor
    from lakana.core.plugins import lookup_institution

    init(admin_email=None, admin_password_stdin=False, admin_name="")
    actor = system_actor("lakana demo", "cli")
    steps = sorted((s for p in domains() for s in p.demo), key=lambda s: s.order)
    with cli_transaction() as session:
        for step in steps:
            counts = step.run(session=session, actor=actor)
            typer.echo(f"demo {step.name}: {counts}")
        lines = []
        for email, name, role_name, acronym in DEMO_USERS:
            role = Role(role_name)
            user = service.get_user_by_email(session=session, email=email)
            if user is None:
                institution_id = lookup_institution(session, acronym) if acronym else None
                user = service.create_user(session=session, actor=actor, email=email,
                                           full_name=name, role=role, password=DEMO_PASSWORD,
                                           institution_id=institution_id)
                if role in MFA_REQUIRED_ROLES:
                    user.mfa_secret = pyotp.random_base32()
                    user.mfa_enabled = True
            mfa = f"  TOTP secret {user.mfa_secret}" if user.mfa_enabled else ""
            lines.append(f"  {email:<28} {role_name:<19}{mfa}")
    typer.echo(f"\nDemo accounts (password: {DEMO_PASSWORD}) — fictitious people:")
    typer.echo("\n".join(lines))
    typer.echo("  Current TOTP code: uv run lakana demo-code EMAIL "
               "(demo only; or add the secret to an authenticator app)")
    if serve_after:
        typer.echo(f"\nLakana: http://127.0.0.1:{port}/")
        serve(host="127.0.0.1", port=port, workers=1)


@app.command("demo-code")
def demo_code(email: str) -> None:
    """Print the current TOTP code of a *demo* account (refused for any other account)."""
    import pyotp

    from lakana.core.auth import service

    if not email.endswith("@demo.lakana.ml"):
        fail("only demo accounts (@demo.lakana.ml) have their codes shown")
    with cli_transaction() as session:
        user = service.get_user_by_email(session=session, email=email)
        if user is None or not user.mfa_secret:
            fail(f"no demo account with MFA: {email}")
        assert user is not None and user.mfa_secret is not None
        typer.echo(pyotp.TOTP(user.mfa_secret).now())


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Web processes.")] = 1,
) -> None:
    """Serve the web UI and the API."""
    import uvicorn

    uvicorn.run("lakana.app:create_server_app", factory=True, host=host, port=port,
                workers=workers, proxy_headers=False, server_header=False)


def main() -> None:
    """Entry point of the ``lakana`` script."""
    _register_subcommands()
    app()

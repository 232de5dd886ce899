"""``lakana user ...`` and ``lakana token ...``: scriptable account administration."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from lakana.core.auth import service, sharing
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role, system_actor
from lakana.core.cli_support import (
    cli_transaction,
    echo_json,
    fail,
    friendly_errors,
    read_secret_from_stdin,
)

user_app = typer.Typer(no_args_is_help=True)
token_app = typer.Typer(no_args_is_help=True)
sharing_app = typer.Typer(no_args_is_help=True)

CLI_ACTOR_NAME = "lakana cli"


def _institution_id(session: object, acronym: str | None) -> int | None:
    if acronym is None:
        return None
    from lakana.core.plugins import lookup_institution

    found = lookup_institution(session, acronym)  # type: ignore[arg-type]
    if found is None:
        fail(f"unknown institution acronym: {acronym}")
    return found


@user_app.command("create")
@friendly_errors
def create(
    email: str,
    role: Annotated[Role, typer.Option(help="Role of the account.")],
    institution: Annotated[str | None, typer.Option(help="Acronym of the institution.")] = None,
    full_name: Annotated[str | None, typer.Option(help="Full name.")] = None,
    language: Annotated[str, typer.Option(help="fr or en.")] = "fr",
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password on standard input.")]
    = False,
    sharing_group: Annotated[list[str] | None, typer.Option(
        "--sharing-group", help="Sharing group of a partner account (repeatable).")] = None,
) -> None:
    """Create an account (the password is read on standard input)."""
    if not password_stdin:
        fail("give the password with --password-stdin")
    if sharing_group and role is not Role.PARTNER:
        fail("--sharing-group is for partner accounts (--role partner)")
    password = read_secret_from_stdin()
    actor = system_actor(CLI_ACTOR_NAME, "cli")
    with cli_transaction() as session:
        groups = [sharing.get_group_by_name(session=session, name=name)
                  for name in sharing_group or []]
        user = service.create_user(
            session=session, actor=actor, email=email,
            full_name=full_name or email.split("@")[0], role=role, password=password,
            institution_id=_institution_id(session, institution), language=language)
        for group in groups:
            sharing.add_member(session=session, actor=actor, group=group, user=user)
        joined = f" in {', '.join(g.name for g in groups)}" if groups else ""
        typer.echo(f"user created: {user.email} ({user.role}){joined}")


@user_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False) -> None:
    """List accounts."""
    with cli_transaction() as session:
        users = session.scalars(select(User).order_by(User.email)).all()
        rows = [{"id": u.id, "email": u.email, "role": u.role, "institution_id": u.institution_id,
                 "mfa": u.mfa_enabled, "active": u.is_active} for u in users]
    if as_json:
        echo_json(rows)
        return
    table = Table("id", "email", "role", "institution", "mfa", "active")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    Console().print(table)


def _user(session: object, email: str) -> User:
    user = service.get_user_by_email(session=session, email=email)  # type: ignore[arg-type]
    if user is None:
        fail(f"unknown user: {email}")
    assert user is not None
    return user


@user_app.command("reset")
@friendly_errors
def reset(
    email: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the new password on stdin.")] = False,
    reset_mfa: Annotated[bool, typer.Option("--reset-mfa", help="Also remove MFA.")] = False,
) -> None:
    """Set a temporary password (changed at next log-in), and optionally reset MFA."""
    if not password_stdin:
        fail("give the new password with --password-stdin")
    password = read_secret_from_stdin()
    with cli_transaction() as session:
        user = _user(session, email)
        service.admin_reset(session=session, actor=system_actor(CLI_ACTOR_NAME, "cli"),
                            user_id=user.id, new_password=password, reset_mfa=reset_mfa)
    typer.echo(f"password reset: {email}")


@user_app.command("disable")
@friendly_errors
def disable(email: str) -> None:
    """Disable an account and end its sessions."""
    with cli_transaction() as session:
        user = _user(session, email)
        service.set_active(session=session, actor=system_actor(CLI_ACTOR_NAME, "cli"),
                           user_id=user.id, active=False)
    typer.echo(f"user disabled: {email}")


@token_app.command("create")
@friendly_errors
def token_create(
    email: str,
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    scope: Annotated[list[str] | None, typer.Option(help="Permission to grant (repeatable).")]
    = None,
    expires_in_days: Annotated[int, typer.Option(help="Lifetime in days (1-365).")] = 90,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Create an API token for a user; the secret is printed once."""
    with cli_transaction() as session:
        user = _user(session, email)
        token, secret = service.create_token(
            session=session, actor=system_actor(CLI_ACTOR_NAME, "cli"), user=user, name=name,
            scopes=scope, expires_in_days=expires_in_days)
        info = {"id": token.id, "name": token.name, "token": secret, "scopes": token.scopes,
                "expires_at": token.expires_at.isoformat()}
    if as_json:
        echo_json(info)
    else:
        typer.echo(secret)


@token_app.command("list")
def token_list(email: str,
               as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False
               ) -> None:
    """List a user's tokens (never their secrets)."""
    with cli_transaction() as session:
        user = _user(session, email)
        tokens = service.list_tokens(session=session, actor=system_actor(CLI_ACTOR_NAME, "cli"),
                                     user_id=user.id)
        rows = [{"id": t.id, "name": t.name, "prefix": t.prefix, "expires_at": t.expires_at,
                 "revoked_at": t.revoked_at, "last_used_at": t.last_used_at} for t in tokens]
    if as_json:
        echo_json(rows)
        return
    table = Table("id", "name", "prefix", "expires", "revoked", "last used")
    for row in rows:
        table.add_row(*(str(v or "") for v in row.values()))
    Console().print(table)


@token_app.command("revoke")
@friendly_errors
def token_revoke(token_id: int) -> None:
    """Revoke a token now."""
    with cli_transaction() as session:
        service.revoke_token(session=session, actor=system_actor(CLI_ACTOR_NAME, "cli"),
                             token_id=token_id)
    typer.echo(f"token revoked: {token_id}")


@sharing_app.command("create")
@friendly_errors
def sharing_group_create(
    name: str,
    description: Annotated[str, typer.Option(help="What the group is for.")] = "",
) -> None:
    """Create a sharing group (a circle of partner CERTs)."""
    with cli_transaction() as session:
        group = sharing.create_group(session=session, actor=system_actor(CLI_ACTOR_NAME, "cli"),
                                     name=name, description=description)
        typer.echo(f"sharing group created: {group.name}")


@sharing_app.command("list")
def sharing_group_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """List sharing groups and their members."""
    with cli_transaction() as session:
        rows: list[dict[str, Any]] = [
                {"id": g.id, "name": g.name, "description": g.description,
                 "members": [u.email for u in sharing.members(session=session, group_id=g.id)]}
                for g in sharing.list_groups(session=session)]
    if as_json:
        echo_json(rows)
        return
    table = Table("id", "name", "members", "description")
    for row in rows:
        table.add_row(str(row["id"]), str(row["name"]), ", ".join(row["members"]),
                      str(row["description"]))
    Console().print(table)


@sharing_app.command("add-member")
@friendly_errors
def sharing_group_add_member(name: str, email: str) -> None:
    """Put a partner account in a sharing group."""
    with cli_transaction() as session:
        group = sharing.get_group_by_name(session=session, name=name)
        sharing.add_member(session=session, actor=system_actor(CLI_ACTOR_NAME, "cli"),
                           group=group, user=_user(session, email))
    typer.echo(f"{email} added to {name}")

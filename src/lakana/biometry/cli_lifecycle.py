"""``lakana biometry person``: show a person, decide an adjudication, record a death, delete
lawfully, run the retention now. Every command is ledgered like the web (as the CLI)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from lakana.biometry import lifecycle, runtime
from lakana.biometry.permissions import BiometryPermission as P
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import cli_settings, cli_transaction, friendly_errors

app = typer.Typer(no_args_is_help=True)


def _actor(name: str = "lakana cli") -> Actor:
    return system_actor(name, "cli")


@app.command("show")
@friendly_errors
def show_command(person_id: int,
                 demographics: Annotated[bool, typer.Option(
                     help="Also decrypt and show the demographics (a ledgered read).")] = False
                 ) -> None:
    """A person's status, lifecycle dates and captures."""
    settings = cli_settings()
    with cli_transaction(settings) as session:
        actor = _actor()
        if not demographics:
            actor = Actor(user_id=None, name=actor.name, role=None, via="cli",
                                    permissions=actor.permissions - {
                                        str(P.PERSON_READ)})
        view = lifecycle.view_person(session=session, actor=actor,
                                     store=runtime.keystore(settings), person_id=person_id)
        p = view.person
        typer.echo(f"person {p.id}: {p.status}, region {p.region}")
        for label, value in (("issued", p.issued_at), ("deceased", p.deceased_at),
                             ("delete after", p.delete_after), ("deleted", p.deleted_at)):
            if value is not None:
                typer.echo(f"  {label}: {value:%Y-%m-%d %H:%M}")
        if p.deletion_reason:
            typer.echo(f"  deletion reason: {p.deletion_reason}")
        if view.demographics is not None:
            d = view.demographics
            typer.echo(f"  {d.surname} {d.given_names}, {d.sex}, born {d.date_of_birth} in "
                       f"{d.place_of_birth}, NIN {d.nin}")
        for c in view.captures:
            where = "face" if c.modality == "face" else f"finger {c.position}"
            typer.echo(f"  capture {c.id}: {where}, quality {c.quality}, "
                       f"{'active' if c.active else 'inactive'}")


@app.command("adjudications")
@friendly_errors
def adjudications_command() -> None:
    """The open adjudications."""
    with cli_transaction() as session:
        for a, e in lifecycle.list_adjudications(session=session, actor=_actor()):
            ids = ", ".join(f"{c['person_id']} ({c['score']:.0f})"
                            for c in lifecycle.candidates_of(a))
            typer.echo(f"adjudication {a.id}: person {e.person_id} vs {ids}")


@app.command("decide")
@friendly_errors
def decide_command(
    adjudication_id: int,
    decision: Annotated[str, typer.Argument(help="duplicate or distinct")],
    reason: Annotated[str, typer.Option(help="Why (required).")],
    duplicate_of: Annotated[int | None, typer.Option(help="The candidate duplicated.")] = None,
) -> None:
    """Decide an adjudication: duplicate (rejects the enrollment) or distinct (issues)."""
    settings = cli_settings()
    with cli_transaction(settings) as session:
        done = lifecycle.decide(session=session, actor=_actor(), settings=settings,
                                adjudication_id=adjudication_id, decision=decision,
                                duplicate_of=duplicate_of, reason=reason)
        typer.echo(f"adjudication {done.id}: {done.decision}")


@app.command("death")
@friendly_errors
def death_command(
    person_id: int,
    date: Annotated[str | None, typer.Option(help="Date of death, YYYY-MM-DD.")] = None,
    reference: Annotated[str, typer.Option(help="Civil registry act.")] = "",
) -> None:
    """Record a death (the data is deleted after the deceased-retention period)."""
    settings = cli_settings()
    try:
        when = dt.date.fromisoformat(date) if date else None
    except ValueError:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint="--date") from None
    with cli_transaction(settings) as session:
        person = lifecycle.record_death(session=session, actor=_actor(), settings=settings,
                                        person_id=person_id, date_of_death=when,
                                        reference=reference)
        assert person.delete_after is not None
        typer.echo(f"person {person.id}: deceased, data deleted after "
                   f"{person.delete_after:%Y-%m-%d}")


@app.command("delete")
@friendly_errors
def delete_command(person_id: int,
                   reason: Annotated[str, typer.Option(help="Legal reason (required).")]
                   ) -> None:
    """Lawfully delete a person's images, templates and demographics now."""
    with cli_transaction() as session:
        count = lifecycle.lawful_deletion(session=session, actor=_actor(),
                                          person_id=person_id, reason=reason)
        typer.echo(f"person {person_id}: {count} sealed objects deleted")


@app.command("retention")
@friendly_errors
def retention_command() -> None:
    """Delete now the data of every person whose retention has ended."""
    with cli_transaction() as session:
        count = lifecycle.run_retention(session=session, actor=_actor("lakana retention"))
        typer.echo(f"{count} persons' data deleted")

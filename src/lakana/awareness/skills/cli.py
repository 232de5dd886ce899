"""``lakana awareness skills``: role profiles, role holders, certifications and staffing gaps
(the CLI acts with every permission; every change is ledgered)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from pydantic import ValidationError

from lakana.awareness.skills import service
from lakana.awareness.skills.profiles import framework
from lakana.awareness.skills.schemas import CertificationCreate, HolderCreate, HolderQuery
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import cli_transaction, echo_json, fail, friendly_errors
from lakana.core.i18n import use_language
from lakana.core.web.errors import validation_message
from lakana.registry import service as registry_service

app = typer.Typer(no_args_is_help=True, help="Skills register: security roles and gaps.")


def _actor() -> Actor:
    """The CLI acts with every permission (built late: domains grant theirs at start-up)."""
    return system_actor("lakana cli", "cli")


def _invalid(exc: ValidationError) -> None:
    with use_language("en"):
        fail("; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {validation_message(dict(e))}"
                       for e in exc.errors()), 2)


@app.command("profiles")
def profiles() -> None:
    """The twelve ECSF role profiles and the holders each criticality tier requires."""
    fw = framework()
    typer.echo(f"{fw.name}, {fw.version}")
    for p in fw.profiles:
        need = " ".join(f"T{tier}:{fw.required(tier).get(p.id, 0)}" for tier in (1, 2, 3))
        typer.echo(f"{p.id:22} {need}  {p.title_en}")


@app.command("add")
@friendly_errors
def add(
    institution: Annotated[str, typer.Option("--institution", help="Institution acronym.")],
    profile: Annotated[str, typer.Option("--profile", help="Role profile id (see profiles).")],
    name: Annotated[str, typer.Option("--name", help="Full name of the person.")],
    since: Annotated[str, typer.Option("--since", help="Start date, YYYY-MM-DD.")],
    email: Annotated[str | None, typer.Option("--email")] = None,
    position: Annotated[str, typer.Option("--position")] = "",
) -> None:
    """Name a person in a role of an institution; prints the new holder's id."""
    actor = _actor()
    with cli_transaction() as session:
        inst = registry_service.get_institution_by_acronym(session=session, actor=actor,
                                                           acronym=institution)
        try:
            data = HolderCreate(institution_id=inst.id, profile_id=profile, full_name=name,
                                email=email, position=position, since=since)
        except ValidationError as exc:
            _invalid(exc)
            return
        holder = service.create_holder(session=session, actor=actor, data=data)
        typer.echo(str(holder.id))


@app.command("certify")
@friendly_errors
def certify(
    holder_id: Annotated[int, typer.Argument(help="Role holder id.")],
    name: Annotated[str, typer.Option("--name", help="Certification, such as CISSP.")],
    obtained: Annotated[str, typer.Option("--obtained", help="Date obtained, YYYY-MM-DD.")],
    expires: Annotated[str | None, typer.Option("--expires", help="Expiry, YYYY-MM-DD.")]
    = None,
    issuer: Annotated[str, typer.Option("--issuer")] = "",
) -> None:
    """Record a certification of a role holder."""
    actor = _actor()
    with cli_transaction() as session:
        try:
            data = CertificationCreate(name=name, issuer=issuer, obtained_on=obtained,
                                       expires_on=expires)
        except ValidationError as exc:
            _invalid(exc)
            return
        cert = service.add_certification(session=session, actor=actor, holder_id=holder_id,
                                         data=data)
        typer.echo(str(cert.id))


@app.command("holders")
@friendly_errors
def holders(
    institution: Annotated[str | None, typer.Option("--institution")] = None,
    include_past: Annotated[bool, typer.Option("--include-past")] = False,
) -> None:
    """Role holders in post (every institution, or one), with their certifications."""
    actor = _actor()
    with cli_transaction() as session:
        inst_id = None
        if institution is not None:
            inst_id = registry_service.get_institution_by_acronym(
                session=session, actor=actor, acronym=institution).id
        rows, _total = service.list_holders(session=session, actor=actor, query=HolderQuery(
            institution_id=inst_id, include_past=include_past, limit=500))
        names = service.institution_acronyms(session=session)
        for h in rows:
            certs = ", ".join(c.name for c in h.certifications) or "-"
            typer.echo(f"{h.id:6} {names.get(h.institution_id, ''):10} {h.profile_id:22} "
                       f"{h.full_name}  [{certs}]")


@app.command("gaps")
@friendly_errors
def gaps(
    institution: Annotated[str | None, typer.Option("--institution")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Day, YYYY-MM-DD.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Staffing gaps: the nation's (per profile and institution) or one institution's."""
    actor = _actor()
    try:
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        fail(f"--as-of: not a date (YYYY-MM-DD): {as_of}", 2)
        return
    with cli_transaction() as session, use_language("en"):
        if institution is not None:
            inst_id = registry_service.get_institution_by_acronym(
                session=session, actor=actor, acronym=institution).id
            report = service.institution_staffing(session=session, actor=actor,
                                                  institution_id=inst_id, day=day)
            if as_json:
                echo_json(report.model_dump(mode="json"))
                return
            typer.echo(f"{report.acronym} (tier {report.tier}): {report.filled}/"
                       f"{report.required} seats filled, {report.missing} missing")
            parts = report.profiles
        else:
            national = service.national_staffing(session=session, actor=actor, day=day)
            if as_json:
                echo_json(national.model_dump(mode="json"))
                return
            typer.echo(f"nation: {national.filled}/{national.required} seats filled, "
                       f"{national.missing} missing, {national.institutions_short} "
                       f"institutions short")
            parts = national.profiles
        for p in parts:
            typer.echo(f"  {p.profile_id:22} required {p.required:4} held {p.held:4} "
                       f"missing {p.missing:4} expiring {p.expiring:3} expired {p.expired:3}")

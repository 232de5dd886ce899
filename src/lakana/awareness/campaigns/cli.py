"""``lakana awareness campaigns``: list campaigns with their reach, and record reach and
outcomes (the CLI acts with every permission; every change is ledgered)."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from lakana.awareness.campaigns import service
from lakana.awareness.campaigns.schemas import OutcomeCreate, ReachCreate
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import cli_transaction, echo_json, fail, friendly_errors
from lakana.core.i18n import use_language
from lakana.core.web.errors import validation_message

app = typer.Typer(no_args_is_help=True, help="Awareness campaigns, their reach and outcomes.")


def _actor() -> Actor:
    """The CLI acts with every permission (built late: domains grant theirs at start-up)."""
    return system_actor("lakana cli", "cli")


def _invalid(exc: ValidationError) -> None:
    with use_language("en"):
        fail("; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: "
                       f"{validation_message(dict(e))}" for e in exc.errors()), 2)


@app.command("list")
@friendly_errors
def list_campaigns(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every campaign with its period, status and people reached against the target."""
    actor = _actor()
    with cli_transaction() as session:
        found = service.list_campaigns(session=session, actor=actor)
        summaries = [service.reach_summary(session=session, actor=actor, campaign_id=c.id)
                     for c in found]
        rows = [{"id": c.id, "title": c.title, "audience": c.audience, "status": c.status,
                 "starts_on": c.starts_on.isoformat(), "ends_on": c.ends_on.isoformat(),
                 "channels": c.channels, "target_reach": c.target_reach,
                 "people_reached": s.people_reached, "progress": s.progress}
                for c, s in zip(found, summaries, strict=True)]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        progress = "" if row["progress"] is None else f" ({row['progress']} %)"
        typer.echo(f"{row['id']:5} {row['status']:9} {row['starts_on']} → {row['ends_on']}  "
                   f"reached {row['people_reached']}/{row['target_reach']}{progress}  "
                   f"{row['title']}")


@app.command("add-reach")
@friendly_errors
def add_reach(
    campaign_id: Annotated[int, typer.Argument(help="Campaign id.")],
    channel: Annotated[str, typer.Option("--channel", help="email, sms, radio, television, "
                                                           "social_media, poster, workshop.")],
    people: Annotated[int, typer.Option("--people", help="People reached.")],
    date: Annotated[str, typer.Option("--date", help="YYYY-MM-DD, within the campaign.")],
    impressions: Annotated[int | None, typer.Option("--impressions",
                                                    help="Impressions or participants.")]
    = None,
    source: Annotated[str, typer.Option("--source", help="Where the figure comes from.")] = "",
    note: Annotated[str, typer.Option("--note")] = "",
) -> None:
    """Record people reached on a channel of a campaign; prints the record's id."""
    try:
        data = ReachCreate(reached_on=date, channel=channel, people=people,
                           impressions=impressions, source=source, note=note)
    except ValidationError as exc:
        _invalid(exc)
        return
    with cli_transaction() as session, use_language("en"):
        record = service.add_reach(session=session, actor=_actor(), campaign_id=campaign_id,
                                   data=data)
        typer.echo(str(record.id))


@app.command("add-outcome")
@friendly_errors
def add_outcome(
    campaign_id: Annotated[int, typer.Argument(help="Campaign id.")],
    name: Annotated[str, typer.Option("--name", help="Indicator, e.g. quiz pass rate.")],
    value: Annotated[float, typer.Option("--value")],
    unit: Annotated[str, typer.Option("--unit")] = "",
    evidence: Annotated[str, typer.Option("--evidence")] = "",
) -> None:
    """Record an outcome indicator of a campaign; prints its id."""
    try:
        data = OutcomeCreate(name=name, value=value, unit=unit, evidence=evidence)
    except ValidationError as exc:
        _invalid(exc)
        return
    with cli_transaction() as session:
        record = service.add_outcome(session=session, actor=_actor(), campaign_id=campaign_id,
                                     data=data)
        typer.echo(str(record.id))

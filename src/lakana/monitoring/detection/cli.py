"""``lakana detection ...``: ingest a log file, see the rule pack, list alerts.

Commands act as the CLI (every permission). Errors are one line on standard error with a
non-zero exit status.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lakana.core import i18n
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import cli_transaction, echo_json, fail, friendly_errors
from lakana.core.errors import Invalid
from lakana.monitoring.detection import flows, rules, service
from lakana.monitoring.detection.cli_policies import policies_app
from lakana.monitoring.detection.cli_syslog import syslog_app
from lakana.monitoring.detection.schemas import (
    LABELS,
    MAX_BYTES,
    AlertOut,
    AlertQuery,
    IngestResult,
)
from lakana.monitoring.detection.sigma import load_rules
from lakana.registry import service as registry_service

app = typer.Typer(no_args_is_help=True, help="Log collection and detection: ingest, rules, alerts.")
app.add_typer(syslog_app, name="syslog", help="The syslog receiver and its senders.")
app.add_typer(policies_app, name="policy", help="Retention and escalation policies.")

AsJson = Annotated[bool, typer.Option("--json", help="JSON output.")]


def _actor() -> Actor:
    """The CLI acts with every permission (built late: domains grant theirs at start-up)."""
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


@app.command("ingest")
@friendly_errors
def ingest(
    file: Annotated[Path, typer.Argument(help="A log file (one line per event).", exists=True,
                                         dir_okay=False)],
    institution: Annotated[str, typer.Option(help="Acronym of the institution it belongs to.")],
    system: Annotated[int | None, typer.Option(help="Id of its information system.")] = None,
    as_json: AsJson = False,
) -> None:
    """Store and examine the lines of a log file (in batches, each in its own transaction)."""
    if file.stat().st_size > 50 * MAX_BYTES:
        fail(_t("The log file is too large."), 2)
    owner = _institution_id(institution)
    total = IngestResult(accepted=0, stored=0, alerts=0)
    batch: list[str] = []
    size = 0

    def flush() -> None:
        nonlocal total, batch, size
        if not batch:
            return
        with cli_transaction() as session:
            done = flows.ingest(session=session, actor=_actor(), lines=batch,
                                system_id=system, channel="cli", institution_id=owner)
        # An alert added to by several batches counts once.
        alert_ids = sorted(set(total.alert_ids) | set(done.alert_ids))
        total = IngestResult(accepted=total.accepted + done.accepted,
                             stored=total.stored + done.stored, alerts=len(alert_ids),
                             alert_ids=alert_ids)
        batch, size = [], 0

    with file.open("rb") as stream:
        for raw in stream:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line.strip():
                continue
            if len(batch) >= 5000 or size + len(raw) > MAX_BYTES // 2:
                flush()
            batch.append(line)
            size += len(raw)
    flush()
    if as_json:
        echo_json(total.model_dump(mode="json"))
        return
    typer.echo(_t("%(stored)s events stored from %(accepted)s lines; %(alerts)s alerts raised "
                  "or added to.", stored=total.stored, accepted=total.accepted,
                  alerts=total.alerts))


@app.command("rules")
@friendly_errors
def show_rules(
    path: Annotated[Path | None, typer.Option(
        help="Load this folder of Sigma rules instead and report what loads.")] = None,
    as_json: AsJson = False,
) -> None:
    """The rule pack: rules loaded, and the unsupported ones with their reason."""
    summary = (rules.summarize(load_rules([path])) if path is not None
               else rules.pack_summary())
    if as_json:
        echo_json(summary.model_dump(mode="json", exclude={"rules"}))
        return
    typer.echo(_t("%(loaded)s rules loaded, %(unsupported)s unsupported.",
                  loaded=summary.loaded, unsupported=summary.unsupported))
    if summary.unsupported_by_reason:
        table = Table("Reason", "Rules")
        for reason, count in sorted(summary.unsupported_by_reason.items(),
                                    key=lambda item: -item[1]):
            table.add_row(reason, str(count))
        Console(width=140).print(table)


@app.command("alerts")
@friendly_errors
def list_alerts(
    institution: Annotated[str | None, typer.Option(help="Acronym of the institution.")] = None,
    status: Annotated[str | None, typer.Option(
        help="open, true_positive, false_positive, suppressed or escalated.")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    as_json: AsJson = False,
) -> None:
    """List alerts, open and worst first."""
    owner = _institution_id(institution) if institution else None
    try:
        query = AlertQuery(institution_id=owner, status=status or None, limit=limit)
    except ValueError:
        fail(_t("Unknown status."), 2)
    with cli_transaction() as session:
        rows = service.list_alerts(session=session, actor=_actor(), query=query)
        if as_json:
            echo_json([AlertOut.model_validate(r).model_dump(mode="json") for r in rows])
            return
        table = Table("#", "Level", "Status", "Rule", "Subject", "Events", "Last seen", "Case")
        for row in rows:
            table.add_row(str(row.id), _t(LABELS.get(row.level, row.level)),
                          _t(LABELS.get(row.status, row.status)), row.rule_title,
                          row.subject or "-", str(row.event_count),
                          row.last_seen.strftime("%Y-%m-%d %H:%M"), row.case_reference or "-")
        Console(width=160).print(table)

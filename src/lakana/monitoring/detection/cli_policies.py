"""``lakana detection policy ...``: retention per institution and escalation rules.

``retention set ACR DAYS``, ``retention list``, ``retention apply`` (purge now);
``escalation add [--rule ID] [--min-level L] [--institution ACR] --reason TEXT``,
``escalation list``, ``escalation disable ID``. Commands act as the CLI (every
permission); errors are one line on standard error with a non-zero exit status.
"""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from lakana.core import i18n
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import (
    cli_settings,
    cli_transaction,
    echo_json,
    fail,
    friendly_errors,
)
from lakana.core.errors import Invalid
from lakana.monitoring.detection import policies
from lakana.monitoring.detection.policies import EscalationRuleIn, EscalationRuleOut, RetentionIn
from lakana.monitoring.detection.schemas import LABELS
from lakana.registry import service as registry_service

policies_app = typer.Typer(no_args_is_help=True, help="Retention and escalation policies.")
retention_app = typer.Typer(no_args_is_help=True, help="How long each institution's events "
                            "are kept.")
escalation_app = typer.Typer(no_args_is_help=True, help="Alerts that open a CSIRT case by "
                             "themselves.")
policies_app.add_typer(retention_app, name="retention")
policies_app.add_typer(escalation_app, name="escalation")

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


def _invalid(exc: ValidationError) -> None:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "value"
    fail(f"{where}: {first.get('msg', 'invalid')}", 2)


@retention_app.command("set")
@friendly_errors
def retention_set(
    institution: Annotated[str, typer.Argument(help="Acronym of the institution.")],
    days: Annotated[int, typer.Argument(help="Days its events are kept (1 to 3650).")],
) -> None:
    """Set how many days an institution's events are kept."""
    try:
        data = RetentionIn(days=days)
    except ValidationError as exc:
        _invalid(exc)
        return
    owner = _institution_id(institution)
    settings = cli_settings()
    with cli_transaction(settings) as session:
        policies.set_retention(session=session, actor=_actor(), institution_id=owner,
                               data=data, default_days=settings.detection_retention_days)
    typer.echo(_t("Events of %(institution)s are kept %(days)s days.",
                  institution=institution.upper(), days=days))


@retention_app.command("list")
@friendly_errors
def retention_list(as_json: AsJson = False) -> None:
    """The retention in force for every institution."""
    settings = cli_settings()
    with cli_transaction(settings) as session:
        rows = policies.list_retention(session=session, actor=_actor(),
                                       default_days=settings.detection_retention_days)
    if as_json:
        echo_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("Institution", "Days", "Policy", "Updated by")
    for row in rows:
        table.add_row(row.institution, str(row.days),
                      _t("default") if row.default else _t("own"), row.updated_by or "-")
    Console(width=140).print(table)


@retention_app.command("apply")
@friendly_errors
def retention_apply(as_json: AsJson = False) -> None:
    """Delete now every institution's events older than its retention."""
    settings = cli_settings()
    with cli_transaction(settings) as session:
        deleted = policies.apply_retention(session=session, actor=_actor(),
                                           default_days=settings.detection_retention_days)
    if as_json:
        echo_json({"deleted": {str(k): v for k, v in deleted.items()},
                   "total": sum(deleted.values())})
        return
    typer.echo(_t("%(count)s events deleted.", count=sum(deleted.values())))


@escalation_app.command("add")
@friendly_errors
def escalation_add(
    reason: Annotated[str, typer.Option(help="Why these alerts go to the CSIRT.")],
    rule: Annotated[str, typer.Option("--rule", help="Sigma rule id (any rule when left "
                                      "out).")] = "",
    min_level: Annotated[str, typer.Option(help="Lowest level that escalates: "
                                           "informational, low, medium, high, critical.")
                         ] = "critical",
    institution: Annotated[str | None, typer.Option(help="Acronym of the institution (every "
                                                    "institution when left out).")] = None,
    as_json: AsJson = False,
) -> None:
    """Add a rule: matching alerts open a CSIRT case by themselves."""
    owner = _institution_id(institution) if institution else None
    try:
        data = EscalationRuleIn.model_validate({
            "rule_id": rule, "min_level": min_level.strip().lower(), "institution_id": owner,
            "reason": reason})
    except ValidationError as exc:
        _invalid(exc)
        return
    with cli_transaction() as session:
        created = policies.create_escalation_rule(session=session, actor=_actor(), data=data)
        out = EscalationRuleOut.model_validate(created)
    if as_json:
        echo_json(out.model_dump(mode="json"))
        return
    typer.echo(_t("Escalation rule #%(id)s added.", id=out.id))


@escalation_app.command("list")
@friendly_errors
def escalation_list(as_json: AsJson = False) -> None:
    """The escalation rules, enabled first."""
    with cli_transaction() as session:
        rows = [EscalationRuleOut.model_validate(r)
                for r in policies.list_escalation_rules(session=session, actor=_actor())]
        names = dict(registry_service.institution_choices(session=session))
    if as_json:
        echo_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("#", "Rule", "Lowest level", "Institution", "Enabled", "Reason")
    for row in rows:
        table.add_row(str(row.id), row.rule_id or "*", _t(LABELS.get(row.min_level,
                                                                      row.min_level)),
                      names.get(row.institution_id, "*") if row.institution_id else "*",
                      "yes" if row.enabled else "no", row.reason)
    Console(width=160).print(table)


@escalation_app.command("disable")
@friendly_errors
def escalation_disable(
    escalation_id: Annotated[int, typer.Argument(help="Id of the escalation rule.")],
) -> None:
    """Disable an escalation rule (kept for the record)."""
    with cli_transaction() as session:
        policies.disable_escalation_rule(session=session, actor=_actor(),
                                         escalation_id=escalation_id)
    typer.echo(_t("Escalation rule #%(id)s disabled.", id=escalation_id))


__all__ = ["policies_app"]

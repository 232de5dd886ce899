"""``lakana compliance report``: a campaign's national report or one institution's, as PDF,
CSV or XLSX (the CLI acts with every permission; the file is ledgered like a download)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from lakana.compliance.reports import exports, pdf, service
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import cli_transaction, fail, friendly_errors
from lakana.registry import service as registry_service

app = typer.Typer(no_args_is_help=True, help="Compliance reports: PDF, CSV and XLSX.")


class ReportFormat(StrEnum):
    """The file formats of a report."""

    PDF = "pdf"
    CSV = "csv"
    XLSX = "xlsx"


def _actor() -> Actor:
    """The CLI acts with every permission (built late: domains grant theirs at start-up)."""
    return system_actor("lakana cli", "cli")


@app.command("report")
@friendly_errors
def report(
    campaign: Annotated[int, typer.Option("--campaign", help="Campaign id.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")],
    institution: Annotated[str | None, typer.Option(
        "--institution", help="Acronym of the institution (else the national report).")]
    = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="pdf, csv or xlsx.")]
    = ReportFormat.PDF,
    language: Annotated[str, typer.Option("--language", help="fr or en.")] = "fr",
) -> None:
    """Write a campaign's national report, or one institution's (``--institution``): PDF,
    or its scores (national) or answers (institution) as CSV or XLSX."""
    actor = _actor()
    with cli_transaction() as session:
        inst_id = None
        if institution is not None:
            inst_id = registry_service.get_institution_by_acronym(
                session=session, actor=actor, acronym=institution).id
        if fmt is ReportFormat.PDF:
            env = pdf.environment()
            data, _name = (pdf.institution_pdf(session=session, actor=actor, env=env,
                                               campaign_id=campaign, institution_id=inst_id,
                                               language=language)
                           if inst_id is not None else
                           pdf.national_pdf(session=session, actor=actor, env=env,
                                            campaign_id=campaign, language=language))
        elif inst_id is not None:
            found = [a.id for a in service.assessments_of(
                session=session, actor=actor, institution_id=inst_id, campaign_id=campaign)]
            if not found:
                fail(f"campaign {campaign} did not assess {institution}")
            data, _name = exports.export(session=session, actor=actor, fmt=fmt.value,
                                         assessment_id=found[0])
        else:
            data, _name = exports.export(session=session, actor=actor, fmt=fmt.value,
                                         campaign_id=campaign)
    output.write_bytes(data)
    typer.echo(f"{output}: {len(data)} bytes")

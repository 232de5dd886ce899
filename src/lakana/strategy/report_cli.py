"""``lakana strategy report LABEL --out FILE``: a snapshot's follow-up report as PDF or HTML
(the CLI acts with every permission; the file is ledgered like a download).

The command is a plain function, added to the strategy CLI by
``app.command("report")(report_cli.report)`` in ``cli.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakana.core.auth.rbac import system_actor
from lakana.core.cli_support import cli_transaction, fail, friendly_errors
from lakana.strategy import report as reports


@friendly_errors
def report(
    label: Annotated[str, typer.Argument(help="The snapshot: 2026-T3 (a quarter) or 2026.")],
    out_path: Annotated[Path, typer.Option("-o", "--out", help="File to write.",
                                           dir_okay=False)],
    fmt: Annotated[str | None, typer.Option(
        "--format", help="pdf or html (by default, from the file's extension).")] = None,
    language: Annotated[str, typer.Option("--language", help="fr or en.")] = "fr",
) -> None:
    """Write the report of a snapshot: every figure comes from the snapshot, whose digest
    the report states (and flags when the content no longer matches it)."""
    chosen = fmt or ("html" if out_path.suffix.lower() in (".html", ".htm") else "pdf")
    if chosen not in reports.FORMATS:
        fail(f"unknown format {chosen!r}: pdf or html", 2)
        return
    with cli_transaction() as session:
        data, _name = reports.report(session=session, actor=system_actor("lakana cli", "cli"),
                                     env=reports.environment(), label=label, fmt=chosen,
                                     language=language)
    out_path.write_bytes(data)
    typer.echo(f"{out_path}: {len(data)} bytes")

"""``lakana biometry``: the registry's commands, one group per part."""

from __future__ import annotations

import typer

from lakana.biometry import (
    cli_enrollment,
    cli_keys,
    cli_lifecycle,
    cli_matching,
    cli_oversight,
    cli_services,
)

app = typer.Typer(no_args_is_help=True, help="Biometric identity registry.")
app.add_typer(cli_enrollment.app, name="enrollment", help="Enrollment packets and templates.")
app.add_typer(cli_lifecycle.app, name="person", help="Persons: adjudication, death, deletion.")
app.add_typer(cli_services.app, name="service", help="Relying services and their keys.")
app.add_typer(cli_oversight.app, name="oversight", help="Oversight reports and statistics.")
app.add_typer(cli_keys.app, name="keys", help="Master keys and their rotation.")
app.add_typer(cli_matching.app, name="matching",
              help="Matching accuracy (ISO/IEC 19795-1) and thresholds.")

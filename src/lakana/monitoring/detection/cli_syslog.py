"""Placeholder: filled in by its owner."""

import typer

syslog_app = typer.Typer(no_args_is_help=True)

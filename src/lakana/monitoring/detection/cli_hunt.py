"""Placeholder: filled in by its owner."""

import typer

detect_app = typer.Typer(no_args_is_help=True)

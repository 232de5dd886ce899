"""What every CLI command shares: settings, a database transaction, clean one-line failures."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import typer
from sqlalchemy.orm import Session

from lakana.core import i18n
from lakana.core.audit import configure_ledger
from lakana.core.config import Settings, load_settings
from lakana.core.db import make_engine, make_session_factory, transaction
from lakana.core.errors import LakanaError

P = ParamSpec("P")
R = TypeVar("R")


def cli_settings() -> Settings:
    """Settings for a CLI command (environment and ``.env``)."""
    return load_settings()


@contextmanager
def cli_transaction(settings: Settings | None = None) -> Iterator[Session]:
    """A committed-on-success session for one CLI command."""
    settings = settings or cli_settings()
    engine = make_engine(settings)
    try:
        factory = make_session_factory(engine)
        configure_ledger(factory, settings)
        with transaction(factory) as session:
            yield session
    finally:
        engine.dispose()


def fail(message: str, code: int = 1) -> None:
    """Print a one-line reason on stderr and exit non-zero."""
    typer.echo(f"lakana: {message}", err=True)
    raise typer.Exit(code)


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn domain errors into a one-line message and a non-zero exit status."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except LakanaError as exc:
            with i18n.use_language("en"):
                fail(i18n.gettext(exc.message, **exc.params), 2 if exc.status >= 400 else 1)
            raise  # pragma: no cover  (fail always exits)

    return wrapper


def read_secret_from_stdin() -> str:
    """A secret piped on standard input (first line, without its newline)."""
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        fail("expected a value on standard input")
    return value


def echo_json(value: Any) -> None:
    """Print a JSON document for scripts."""
    import json

    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))

"""Optimistic concurrency shared by every domain: a stale edit is a 409, never an overwrite."""

from __future__ import annotations

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from lakana.core.errors import Conflict, Invalid


def check_version(current: int, sent: int | None) -> None:
    """Refuse an edit made without, or against an older, version of the record."""
    if sent is None:
        raise Invalid("Send the version you read (field version, or the If-Match header) "
                      "so that concurrent changes are detected.")
    if sent != current:
        raise Conflict("This record was changed by someone else meanwhile (version %(current)s, "
                       "yours is %(sent)s): reload it and apply your change again.",
                       current=current, sent=sent)


def flush_or_conflict(session: Session) -> None:
    """Flush, turning a concurrent update caught by the version column into a 409."""
    try:
        session.flush()
    except StaleDataError:
        raise Conflict("This record was changed by someone else meanwhile: reload it and "
                       "apply your change again.") from None


def parse_if_match(value: str | None) -> int | None:
    """The version in an ``If-Match`` header (``"3"``, ``W/"3"`` or ``3``)."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise Invalid("The If-Match header must hold the version you read, such as \"3\".")
    return int(text)

"""Domain errors raised by services; one handler maps them to HTTP, pages and CLI messages.

Each error carries an English message id (translated through gettext when shown) and
keyword parameters, so the same error reads well in French and in English.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LakanaError(Exception):
    """Base of every error a person may see; ``message`` is an English gettext message id."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Invalid request"
    type_slug: ClassVar[str] = "invalid"

    def __init__(self, message: str, /, *, errors: list[dict[str, Any]] | None = None,
                 **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params
        self.errors = errors or []


class Invalid(LakanaError):
    """The input breaks a rule (type, size, format, business constraint)."""

    status = 422
    title = "Invalid input"
    type_slug = "invalid"


class NotFound(LakanaError):
    """The object does not exist, or the actor may not know it exists."""

    status = 404
    title = "Not found"
    type_slug = "not-found"


class Forbidden(LakanaError):
    """The actor is known but lacks the permission."""

    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class Unauthenticated(LakanaError):
    """No valid credentials were presented."""

    status = 401
    title = "Authentication required"
    type_slug = "unauthenticated"


class Conflict(LakanaError):
    """The change conflicts with the current state (duplicate, stale version, cycle)."""

    status = 409
    title = "Conflict"
    type_slug = "conflict"


class TooLarge(LakanaError):
    """An upload or request body is over the configured limit."""

    status = 413
    title = "Too large"
    type_slug = "too-large"


class TooManyRequests(LakanaError):
    """Too many attempts (for example a locked account); retry later."""

    status = 429
    title = "Too many attempts"
    type_slug = "too-many-requests"

"""What every HTML form handler shares: the parsed form as a dependency, a trimmed text
field, and the message and status of a refused submission."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import ValidationError
from starlette.datastructures import FormData

from lakana.core.errors import LakanaError
from lakana.core.i18n import gettext as _
from lakana.core.web.errors import validation_message


async def form_data(request: Request) -> FormData:
    """The submitted form (already parsed, and cached, by the CSRF check)."""
    return await request.form()


#: A handler's parameter for the submitted form.
Form = Annotated[FormData, Depends(form_data)]


def text_field(form: FormData, name: str, limit: int | None = None) -> str:
    """The trimmed text of field ``name`` ("" when absent or a file), cut at ``limit``."""
    value = form.get(name, "")
    text = value.strip() if isinstance(value, str) else ""
    return text if limit is None else text[:limit]


def problem_of(exc: LakanaError | ValidationError) -> tuple[str, int]:
    """The translated message and HTTP status to show again with the refused form."""
    if isinstance(exc, ValidationError):
        return "; ".join(validation_message(dict(e)) for e in exc.errors()), 422
    return _(exc.message, **exc.params), exc.status

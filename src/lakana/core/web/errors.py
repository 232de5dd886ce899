"""Mapping of errors to responses: RFC 9457 problem JSON for the API, a page for people.

Nothing here ever shows a stack trace: unexpected errors are logged and answered with a
plain 500 message.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from lakana.core import i18n
from lakana.core.errors import LakanaError, TooManyRequests, Unauthenticated
from lakana.core.i18n import N_

log = logging.getLogger("lakana.web")
PROBLEM_TYPE_BASE = "https://lakana.ml/problems/"
SESSION_COOKIE = "lakana_session"


class PageRedirect(Exception):
    """Raised by page dependencies to send a person elsewhere (MFA step, password change)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def redirect(request: Request, location: str) -> Response:
    """A 303 redirect, or an ``HX-Redirect`` for htmx so the whole page changes."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def login_location(request: Request, *, expired: bool) -> str:
    """The log-in page, coming back to this page afterwards (safe relative path only)."""
    target = request.url.path
    if request.url.query and request.method == "GET":
        target += "?" + request.url.query
    location = "/login?next=" + quote(target, safe="/")
    return location + "&expired=1" if expired else location


def wants_json(path: str, accept: str | None) -> bool:
    """The API answers JSON; pages answer HTML unless the client asks only for JSON."""
    return path.startswith("/api/") or (accept or "").startswith("application/json")


def problem(status: int, title: str, detail: str, *, type_slug: str, instance: str | None = None,
            errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None
            ) -> JSONResponse:
    """An RFC 9457 problem document."""
    body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + type_slug, "title": title,
                            "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type="application/problem+json",
                        headers=headers)


def _language(request: Request) -> str:
    lang = getattr(request.state, "language", None)
    return lang or i18n.negotiate(request.headers.get("accept-language"))


def _error_page(request: Request, status: int, title: str, detail: str) -> Response:
    env = getattr(request.app.state, "jinja", None)
    if env is None:
        return HTMLResponse(f"<h1>{status}</h1>", status_code=status)
    try:
        from lakana.core.web.templating import base_context

        ctx = base_context(request)
        ctx.update({"status": status, "title": title, "detail": detail})
        with i18n.use_language(_language(request)):
            body = env.get_template("error.html").render(ctx)
    except Exception:  # the error page itself must never fail
        log.exception("error page failed to render")
        body = f"<!doctype html><title>{status}</title><h1>{status}</h1>"
    return HTMLResponse(body, status_code=status)


def _respond(request: Request, status: int, title: str, detail: str, type_slug: str,
             errors: list[dict[str, Any]] | None = None,
             headers: dict[str, str] | None = None) -> Response:
    if wants_json(request.url.path, request.headers.get("accept")):
        return problem(status, title, detail, type_slug=type_slug, instance=request.url.path,
                       errors=errors, headers=headers)
    if status == 401:
        expired = SESSION_COOKIE in request.cookies
        response = redirect(request, login_location(request, expired=expired))
        if expired:
            response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    page = _error_page(request, status, title, detail)
    if headers:
        page.headers.update(headers)
    return page


async def handle_lakana_error(request: Request, exc: Exception) -> Response:
    """Domain errors: translated title and message, proper status."""
    assert isinstance(exc, LakanaError)
    with i18n.use_language(_language(request)):
        title = i18n.gettext(exc.title)
        detail = i18n.gettext(exc.message, **exc.params)
        errors = [_translate_item(e) for e in exc.errors]
    headers = error_headers(exc)
    return _respond(request, exc.status, title, detail, exc.type_slug, errors, headers)


def error_headers(exc: LakanaError) -> dict[str, str] | None:
    """Headers an error implies: ``WWW-Authenticate`` for 401, ``Retry-After`` for 429."""
    if isinstance(exc, Unauthenticated):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, TooManyRequests) and "seconds" in exc.params:
        return {"Retry-After": str(exc.params["seconds"])}
    return None


async def handle_redirect(request: Request, exc: Exception) -> Response:
    """Follow a :class:`PageRedirect`."""
    assert isinstance(exc, PageRedirect)
    return redirect(request, exc.location)


def _translate_item(item: dict[str, Any]) -> dict[str, Any]:
    out = dict(item)
    if "message" in out:
        out["message"] = i18n.gettext(str(out["message"]), **out.get("params", {}))
        out.pop("params", None)
    return out


#: Pydantic's error types as message ids, so that field problems are translated too.
VALIDATION_MESSAGES: dict[str, str] = {
    "missing": N_("This value is required."),
    "json_invalid": N_("The body is not valid JSON."),
    "model_attributes_type": N_("Expected a JSON object."),
    "dict_type": N_("Expected a JSON object."),
    "list_type": N_("Expected a list."),
    "string_type": N_("Expected a text."),
    "string_too_short": N_("Too short (at least %(min)s characters)."),
    "string_too_long": N_("Too long (at most %(max)s characters)."),
    "string_pattern_mismatch": N_("This value does not have the expected form."),
    "int_parsing": N_("Expected a whole number."),
    "int_type": N_("Expected a whole number."),
    "int_from_float": N_("Expected a whole number."),
    "bool_parsing": N_("Expected yes or no."),
    "bool_type": N_("Expected yes or no."),
    "date_from_datetime_parsing": N_("Expected a date (YYYY-MM-DD)."),
    "date_parsing": N_("Expected a date (YYYY-MM-DD)."),
    "enum": N_("Unknown value %(value)s; allowed: %(allowed)s."),
    "literal_error": N_("Unknown value %(value)s; allowed: %(allowed)s."),
    "greater_than_equal": N_("Must be at least %(min)s."),
    "greater_than": N_("Must be more than %(min)s."),
    "less_than_equal": N_("Must be at most %(max)s."),
    "too_long": N_("Too many items (at most %(max)s)."),
    "too_short": N_("Too few items (at least %(min)s)."),
    "value_error": N_("Not a valid value: %(value)s."),
    "extra_forbidden": N_("Unknown field."),
}


def validation_message(error: dict[str, Any]) -> str:
    """One pydantic error as a sentence in the current language.

    Errors raised by Lakana's own validators carry their message id and parameters in their
    context (``type == "lakana"``); pydantic's own errors are looked up by type.
    """
    ctx = dict(error.get("ctx") or {})
    if error.get("type") == "lakana" and "msgid" in ctx:
        msgid = str(ctx.pop("msgid"))
        return i18n.gettext(msgid, **{k: str(v) for k, v in ctx.items()})
    msgid = VALIDATION_MESSAGES.get(str(error.get("type")), N_("Not a valid value: %(value)s."))
    params = {"value": str(error.get("input", ""))[:100],
              "allowed": str(ctx.get("expected", "")),
              "min": str(ctx.get("min_length", ctx.get("ge", ctx.get("gt", "")))),
              "max": str(ctx.get("max_length", ctx.get("le", ctx.get("lt", ""))))}
    return i18n.gettext(msgid, **params)


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    """Request validation: 422 with each field's problem."""
    assert isinstance(exc, RequestValidationError)
    with i18n.use_language(_language(request)):
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                   "message": validation_message(e)} for e in exc.errors()]
        title = i18n.gettext("Invalid input")
        detail = i18n.gettext("Some fields are missing or invalid: %(fields)s.",
                              fields=", ".join(e["field"] or "?" for e in errors))
    return _respond(request, 422, title, detail, "invalid", errors)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    """Framework errors (unknown route, wrong method)."""
    assert isinstance(exc, StarletteHTTPException)
    messages = {404: (N_("Not found"), N_("This page does not exist.")),
                405: (N_("Method not allowed"), N_("This method is not allowed here.")),
                401: (N_("Authentication required"), N_("Please log in.")),
                400: (N_("Invalid request"), N_("The request could not be understood."))}
    title_id, detail_id = messages.get(exc.status_code, (N_("Error"), str(exc.detail)))
    with i18n.use_language(_language(request)):
        title, detail = i18n.gettext(title_id), i18n.gettext(detail_id)
    return _respond(request, exc.status_code, title, detail, f"http-{exc.status_code}",
                    headers=getattr(exc, "headers", None))


def _fixed(request: Request, status: int, title: str, detail: str, type_slug: str
           ) -> Response:
    with i18n.use_language(_language(request)):
        return _respond(request, status, i18n.gettext(title), i18n.gettext(detail), type_slug)


async def handle_database_value(request: Request, exc: Exception) -> Response:
    """A value the database cannot hold (a number too large, a NUL character): 422.

    Raised while binding parameters (SQLite's ``OverflowError``) or by the server
    (PostgreSQL's ``DataError``); the request's transaction was already rolled back.
    """
    log.info("database refused a value on %s %s: %s", request.method, request.url.path,
             type(exc).__name__)
    return _fixed(request, 422, N_("Invalid input"),
                  N_("A value is not accepted (a number too large, or a forbidden character "
                     "such as NUL)."), "invalid")


async def handle_integrity(request: Request, exc: Exception) -> Response:
    """A constraint refused the change, typically a concurrent duplicate: 409."""
    log.info("integrity error on %s %s", request.method, request.url.path)
    return _fixed(request, 409, N_("Conflict"),
                  N_("This change conflicts with existing data (a duplicate, or a record "
                     "changed or deleted meanwhile): reload and try again."), "conflict")


#: PostgreSQL: serialization failure, deadlock, lock timeout; SQLite: "database is locked".
_BUSY_PGCODES = frozenset({"40001", "40P01", "55P03"})


async def handle_operational(request: Request, exc: Exception) -> Response:
    """The database is momentarily busy (a lock held by another writer): 503, retry soon.

    Anything else the driver calls operational (a lost connection) stays a logged 500.
    """
    assert isinstance(exc, OperationalError)
    original = exc.orig
    busy = "database is locked" in str(original) or \
        getattr(original, "sqlstate", None) in _BUSY_PGCODES
    if not busy:
        return await handle_unexpected(request, exc)
    log.warning("database busy on %s %s", request.method, request.url.path)
    response = _fixed(request, 503, N_("Database busy"),
                      N_("The database is busy with other changes: nothing was saved, please "
                         "retry in a moment."), "busy")
    response.headers["Retry-After"] = "1"
    return response


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """Anything else: logged, answered without details."""
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return _fixed(request, 500, N_("Internal error"),
                  N_("Something went wrong on our side; the error was logged."), "internal")


def too_large_response(scope: Scope, max_bytes: int) -> Response:
    """413 for a body over the limit (used by the body-size middleware)."""
    headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
    with i18n.use_language(i18n.negotiate(headers.get("accept-language"))):
        title = i18n.gettext("Too large")
        detail = i18n.gettext("The request body is larger than %(size)s bytes.", size=max_bytes)
    return problem(413, title, detail, type_slug="too-large", instance=scope.get("path"))


def install(app: FastAPI) -> None:
    """Register every handler on the application."""
    app.add_exception_handler(PageRedirect, handle_redirect)
    app.add_exception_handler(LakanaError, handle_lakana_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(OverflowError, handle_database_value)
    app.add_exception_handler(DataError, handle_database_value)
    app.add_exception_handler(IntegrityError, handle_integrity)
    app.add_exception_handler(OperationalError, handle_operational)
    app.add_exception_handler(Exception, handle_unexpected)

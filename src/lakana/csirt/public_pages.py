"""Public pages: report an incident without an account, then follow it with the code.

No route here asks who is logged in (no ``CurrentActor``), so anyone reaches them; forms
still carry a CSRF token, bound to the browser's pre-session cookie as on the log-in form.
When a limit or a check refuses a report, the form comes back **with the person's text**
and a message (when to retry, what to fix), so that nothing typed is lost.

``analyst_router`` holds the one authenticated route of this module: an analyst writing to
the reporter of a public case (the message shows on the status page).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from lakana.core.auth.deps import CurrentActor, DbSession, client_ip, get_settings
from lakana.core.errors import LakanaError, TooManyRequests
from lakana.core.i18n import gettext as _
from lakana.core.i18n import translate
from lakana.core.web.errors import error_headers, redirect, validation_message
from lakana.core.web.forms import Form
from lakana.core.web.templating import render
from lakana.csirt import public_service as service

router = APIRouter(prefix="/public")
analyst_router = APIRouter(prefix="/csirt")

FIELDS = ("category", "title", "description", "reporter_name", "reporter_email",
          "reporter_phone")



def _values(form: FormData) -> dict[str, str]:
    return {name: str(form.get(name, "") or "") for name in FIELDS}


def _field_errors(exc: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in exc.errors():
        key = str(item["loc"][0]) if item.get("loc") else "form"
        found[key] = validation_message(dict(item))
    return found


def _form_page(request: Request, values: dict[str, str], *, errors: dict[str, str] | None = None,
               error: str | None = None, status_code: int = 200,
               headers: dict[str, str] | None = None) -> Response:
    settings = get_settings(request)
    return render(request, "csirt/public/report.html", {
        "values": values, "errors": errors or {}, "error": error,
        "categories": list(service.CATEGORY_LABELS.items()),
        "extensions": ", ".join(sorted(service.ATTACHMENT_TYPES)),
        "limit_mb": f"{service.attachment_limit(settings) / 1048576:.0f}"},
        status_code=status_code, headers=headers)


@router.get("/report")
def report_form(request: Request) -> Response:
    """The public incident report form (no account needed)."""
    return _form_page(request, {name: "" for name in FIELDS})


def _attachment(form: FormData) -> service.Attachment | None:
    upload = form.get("attachment")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    if upload.size == 0:
        return None  # an empty file input sends an empty part: no file was chosen
    return service.Attachment(name=upload.filename, data=upload.file,
                              declared_type=upload.content_type)


@router.post("/report")
def report_submit(request: Request, session: DbSession, form: Form) -> Response:
    """Record the report and show its tracking code once; on refusal, show the form again
    with what was typed."""
    values = _values(form)
    try:
        service.check_report_rate(request.app.state.session_factory, client_ip(request))
    except TooManyRequests as exc:
        message = _("Too many reports were sent from your connection. Your text is kept "
                    "below: send it again in %(seconds)s seconds.", **exc.params)
        return _form_page(request, values, error=message, status_code=429,
                          headers=error_headers(exc))
    try:
        data = service.PublicReportIn.model_validate(values)
    except ValidationError as exc:
        return _form_page(request, values, errors=_field_errors(exc), status_code=422,
                          error=_("Please correct the fields marked below."))
    try:
        case, code = service.submit_public_report(
            session=session, settings=get_settings(request), data=data,
            attachment=_attachment(form), source_ip=client_ip(request))
    except LakanaError as exc:
        session.rollback()  # nothing of a refused report is kept (the file row neither)
        errors = {str(e["field"]): translate(str(e["message"])) for e in exc.errors
                  if "field" in e}
        return _form_page(request, values, errors=errors, error=_(exc.message, **exc.params),
                          status_code=exc.status, headers=error_headers(exc))
    return render(request, "csirt/public/receipt.html",
                  {"code": code, "reference": case.reference})


@router.get("/status")
def status_form(request: Request) -> Response:
    """Ask for the tracking code."""
    return render(request, "csirt/public/status_form.html", {"error": None})


@router.post("/status")
def status_lookup(request: Request, session: DbSession, form: Form) -> Response:
    """The status of the report of a tracking code (the code travels in the body, never in
    an address that proxies would log)."""
    code = str(form.get("code", "") or "")[:40]
    try:
        service.check_status_rate(request.app.state.session_factory, client_ip(request))
        status = service.status_by_code(session=session, code=code)
    except LakanaError as exc:
        return render(request, "csirt/public/status_form.html",
                      {"error": _(exc.message, **exc.params)}, status_code=exc.status,
                      headers=error_headers(exc))
    return render(request, "csirt/public/status.html", {"status": status})


@analyst_router.post("/cases/{case_id}/public-messages")
def write_to_reporter(request: Request, case_id: int, session: DbSession, actor: CurrentActor,
                      form: Form) -> Response:
    """An analyst writes to the reporter of a public case; back to the case page."""
    service.add_public_message(session=session, actor=actor, case_id=case_id,
                               text=str(form.get("text", "") or ""))
    return redirect(request, f"/csirt/cases/{case_id}")

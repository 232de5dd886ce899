"""The public certificate checker: anyone, without an account, enters a code and sees
whether it is a valid certificate (name, course, date). Rate limited per address.

No route here asks who is logged in; the form carries a CSRF token bound to the browser's
pre-session cookie, and the code travels in the body, never in an address proxies log.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lakana.awareness.training import certificates
from lakana.core.auth.deps import DbSession, client_ip
from lakana.core.errors import LakanaError
from lakana.core.i18n import gettext as _
from lakana.core.web.errors import error_headers
from lakana.core.web.forms import Form
from lakana.core.web.templating import render

router = APIRouter(prefix="/certificats")


@router.get("/verifier")
def verify_form(request: Request) -> Response:
    """The checker's form."""
    return render(request, "awareness/training/verify.html",
                  {"result": None, "error": None, "code": ""})


@router.post("/verifier")
def verify(request: Request, session: DbSession, form: Form) -> Response:
    """What a code certifies, or a clear "not found"."""
    code = str(form.get("code", "") or "")[:40]
    try:
        certificates.check_rate(request.app.state.session_factory, client_ip(request))
        result = certificates.verify(session=session, code=code)
    except LakanaError as exc:
        return render(request, "awareness/training/verify.html",
                      {"result": None, "error": _(exc.message, **exc.params), "code": code},
                      status_code=exc.status, headers=error_headers(exc))
    return render(request, "awareness/training/verify.html",
                  {"result": result, "error": None, "code": code})

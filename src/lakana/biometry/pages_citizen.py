"""Public pages of the registry for citizens (no account), under ``/registre``.

``/registre``: what the registry keeps and the form asking for a code (national
identification number); ``/registre/code``: the one-time code; ``/registre/moi``: who looked
the person up and why, modality locks, a complaint to the data protection authority, log out.

No route here asks who is logged in (no ``CurrentActor``): the citizen's session is its own
cookie, HttpOnly, ``SameSite=Strict``, Secure when the site is served over HTTPS, limited to
``/registre`` and to 15 minutes. Forms carry the CSRF token bound to the browser's
pre-session cookie, as the public incident report form does. The number travels only in
form bodies, never in an address. The code is texted by a background task once the page has
answered (:func:`lakana.biometry.citizen.deliver_code`), so the answer, and its timing, is the
same for every number.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from lakana.biometry import citizen, runtime
from lakana.biometry.models import Person
from lakana.biometry.sms import gateway_from_settings
from lakana.core.auth.deps import DbSession, client_ip, get_settings
from lakana.core.errors import LakanaError, TooManyRequests
from lakana.core.i18n import gettext as _
from lakana.core.web.errors import error_headers, redirect
from lakana.core.web.forms import Form, text_field
from lakana.core.web.templating import render

router = APIRouter(prefix="/registre")

COOKIE = "lakana_registre"
COOKIE_PATH = "/registre"




def _start_page(request: Request, *, error: str | None = None, notice: str | None = None,
                nin: str = "", status_code: int = 200,
                headers: dict[str, str] | None = None) -> Response:
    return render(request, "biometry/citizen.html",
                  {"error": error, "notice": notice, "nin": nin}, status_code=status_code,
                  headers=headers)


def _code_page(request: Request, *, nin: str, error: str | None = None,
               sent: bool = False, status_code: int = 200,
               headers: dict[str, str] | None = None) -> Response:
    return render(request, "biometry/citizen_code.html",
                  {"nin": nin, "error": error, "sent": sent,
                   "minutes": int(citizen.CODE_TTL.total_seconds() // 60)},
                  status_code=status_code, headers=headers)


@router.get("")
def start_form(request: Request, expired: str | None = None) -> Response:
    """What the registry is, and the form asking for a code."""
    notice = _("Your session has ended: ask for a new code.") if expired else None
    return _start_page(request, notice=notice)


@router.post("")
def start_submit(request: Request, session: DbSession, form: Form) -> Response:
    """Send a code when the number is a person's with a phone; answer the same way always."""
    nin = text_field(form, "nin", 40)
    settings = get_settings(request)
    ip = client_ip(request)
    store = runtime.keystore(settings)
    try:
        citizen.check_request_rate(request.app.state.session_factory, settings, nin, ip)
        delivery = citizen.start_challenge(session=session, store=store, settings=settings,
                                           nin=nin, source_ip=ip)
    except TooManyRequests as exc:
        message = _("Too many code requests. Try again in %(seconds)s seconds.", **exc.params)
        return _start_page(request, error=message, nin=nin, status_code=429,
                           headers=error_headers(exc))
    except LakanaError as exc:
        session.rollback()
        return _start_page(request, error=_(exc.message, **exc.params), nin=nin,
                           status_code=exc.status, headers=error_headers(exc))
    response = _code_page(request, nin=nin, sent=True)
    if delivery is not None:
        # after the answer, and after the request's commit (the dependency ends first)
        response.background = BackgroundTask(
            citizen.deliver_code, session_factory=request.app.state.session_factory,
            store=store, gateway=gateway_from_settings(settings), delivery=delivery)
    return response


@router.get("/code")
def code_form(request: Request) -> Response:
    """Enter the code received (and the number, when the page was reloaded)."""
    return _code_page(request, nin="")


@router.post("/code")
def code_submit(request: Request, session: DbSession, form: Form) -> Response:
    """Check the code; open the citizen's session when right."""
    nin = text_field(form, "nin", 40)
    settings = get_settings(request)
    ip = client_ip(request)
    try:
        citizen.check_verify_rate(request.app.state.session_factory, ip)
    except TooManyRequests as exc:
        message = _("Too many attempts. Try again in %(seconds)s seconds.", **exc.params)
        return _code_page(request, nin=nin, error=message, status_code=429,
                          headers=error_headers(exc))
    result = citizen.verify_code(session=session, store=runtime.keystore(settings),
                                 settings=settings, nin=nin, code=text_field(form, "code", 20),
                                 session_factory=request.app.state.session_factory,
                                 source_ip=ip)
    if not result.ok:
        if result.attempts_left:
            error = _("This code is not right. Tries left: %(left)s.",
                      left=result.attempts_left)
        else:
            error = _("This code is not right or no longer valid. Ask for a new code.")
        return _code_page(request, nin=nin, error=error, status_code=422)
    response = redirect(request, "/registre/moi")
    response.set_cookie(COOKIE, result.secret or "", httponly=True, samesite="strict",
                        secure=settings.https, path=COOKIE_PATH,
                        max_age=int(citizen.SESSION_TTL.total_seconds()))
    return response


def _person(request: Request, session: Session) -> Person | None:
    return citizen.person_of_session(session=session, settings=get_settings(request),
                                     secret=request.cookies.get(COOKIE))


def _me_page(request: Request, session: Session, person: Person, *,
             notice: str | None = None, error: str | None = None,
             status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return render(request, "biometry/citizen_me.html", {
        "history": citizen.access_history(session=session, person_id=person.id),
        "locked": citizen.locked(person), "modalities": citizen.MODALITIES,
        "services": citizen.services_of(session=session, person_id=person.id),
        "notice": notice, "error": error, "complaint_max": citizen.COMPLAINT_MAX,
        "deceased": person.status == "deceased"}, status_code=status_code, headers=headers)


def _ended(request: Request) -> Response:
    response = redirect(request, "/registre?expired=1")
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


@router.get("/moi")
def me(request: Request, session: DbSession, saved: str | None = None) -> Response:
    """The citizen's page: accesses, locks, complaint, log out."""
    person = _person(request, session)
    if person is None:
        return _ended(request)
    notice = _("Your choices are saved.") if saved == "locks" else None
    return _me_page(request, session, person, notice=notice)


@router.post("/moi/locks")
def save_locks(request: Request, session: DbSession, form: Form) -> Response:
    """Lock the modalities ticked, unlock the others."""
    person = _person(request, session)
    if person is None:
        return _ended(request)
    chosen = [v for v in form.getlist("lock") if isinstance(v, str)][:5]
    try:
        citizen.set_locks(session=session, person=person, modalities=chosen,
                          source_ip=client_ip(request))
    except LakanaError as exc:
        session.rollback()
        return _me_page(request, session, person, error=_(exc.message, **exc.params),
                        status_code=exc.status)
    return redirect(request, "/registre/moi?saved=locks")


@router.post("/moi/complaint")
def complaint(request: Request, session: DbSession, form: Form) -> Response:
    """File a complaint with the data protection authority; show its reference."""
    person = _person(request, session)
    if person is None:
        return _ended(request)
    service = text_field(form, "service_id", 12)
    try:
        citizen.check_complaint_rate(request.app.state.session_factory, person.id)
    except TooManyRequests as exc:
        message = _("Too many complaints. Try again in %(seconds)s seconds.", **exc.params)
        return _me_page(request, session, person, error=message, status_code=429,
                        headers=error_headers(exc))
    try:
        filed = citizen.file_complaint(
            session=session, person=person,
            body=text_field(form, "body", citizen.COMPLAINT_MAX + 1),
            # isdigit() alone takes "²" (int() refuses it)
            service_id=int(service) if service.isascii() and service.isdigit() else None,
            source_ip=client_ip(request))
    except LakanaError as exc:
        session.rollback()
        return _me_page(request, session, person, error=_(exc.message, **exc.params),
                        status_code=exc.status)
    return _me_page(request, session, person, notice=_(
        "Your complaint is filed under the reference %(reference)s. The data protection "
        "authority will answer it.", reference=filed.reference))


@router.post("/logout")
def logout(request: Request, session: DbSession) -> Response:
    """Close the citizen's session."""
    citizen.end_session(session=session, settings=get_settings(request),
                        secret=request.cookies.get(COOKIE))
    response = redirect(request, "/registre")
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response

"""Log-in, second factor, MFA enrolment, log-out, language switch and the account page."""

from __future__ import annotations

import io
from typing import Annotated
from urllib.parse import quote

import segno
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from lakana.core.auth import service
from lakana.core.auth.deps import (
    LANGUAGE_COOKIE,
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    CurrentIdentity,
    DbSession,
    Identity,
    client_ip,
    get_settings,
    optional_identity,
    pending_identity,
)
from lakana.core.errors import Invalid, LakanaError
from lakana.core.i18n import N_, normalize_language
from lakana.core.i18n import gettext as _
from lakana.core.web.errors import error_headers
from lakana.core.web.templating import render

router = APIRouter()


def safe_next(value: str | None) -> str:
    """Only same-site relative paths are followed after log-in (no open redirect)."""
    if (value and value.startswith("/") and not value.startswith("//") and "\\" not in value
            and value.isprintable() and " " not in value):
        return value
    return "/"


def _next_query(value: str | None) -> str:
    return quote(safe_next(value), safe="/")


def _set_session_cookie(request: Request, response: Response, secret: str) -> None:
    settings = get_settings(request)
    response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="lax",
                        secure=settings.https, max_age=settings.session_max_hours * 3600,
                        path="/")
    response.delete_cookie(PRESESSION_COOKIE, path="/")


@router.get("/login", name="login")
def login_form(request: Request, identity: Annotated[Identity | None,
               Depends(optional_identity)], next: str | None = None,
               expired: str | None = None) -> Response:
    """The log-in form (telling the person when their session has expired)."""
    if identity is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    notice = _("Your session has expired: please log in again.") if expired else None
    return render(request, "auth/login.html",
                  {"next": safe_next(next), "error": None, "notice": notice})


@router.post("/login")
def login_submit(request: Request, session: DbSession,
                 email: Annotated[str, Form(max_length=254)],
                 password: Annotated[str, Form(max_length=256)],
                 next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    """Check the password; then go to the second factor, MFA enrolment, or the next page."""
    settings = get_settings(request)
    try:
        result = service.authenticate(session=session, email=email, password=password,
                                      source_ip=client_ip(request),
                                      max_failures=settings.login_max_failures)
    except LakanaError as exc:
        session.commit()  # keep the failure count and lockout even though we answer an error
        return render(
            request, "auth/login.html",
            {"next": safe_next(next), "error": _(exc.message, **exc.params), "email": email,
             "notice": None}, status_code=exc.status, headers=error_headers(exc))
    secret = service.create_session(
        session=session, user=result.user, mfa_passed=not result.mfa_required,
        source_ip=client_ip(request), user_agent=request.headers.get("user-agent"),
        max_hours=settings.session_max_hours)
    if result.mfa_enrollment_required:
        target = f"/login/mfa/enroll?next={_next_query(next)}"
    elif result.mfa_required:
        target = f"/login/mfa?next={_next_query(next)}"
    else:
        target = safe_next(next)
    response = RedirectResponse(target, status_code=303)
    _set_session_cookie(request, response, secret)
    response.set_cookie(LANGUAGE_COOKIE, result.user.language, samesite="lax", path="/",
                        secure=settings.https)
    return response


@router.get("/login/mfa")
def mfa_form(request: Request, identity: Annotated[Identity, Depends(pending_identity)],
             next: str | None = None) -> Response:
    """Ask for the TOTP code or a recovery code."""
    if identity.user_session is not None and identity.user_session.mfa_passed:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "auth/mfa.html", {"next": safe_next(next), "error": None})


@router.post("/login/mfa")
def mfa_submit(request: Request, session: DbSession,
               identity: Annotated[Identity, Depends(pending_identity)],
               code: Annotated[str, Form(max_length=32)],
               next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    """Check the second factor; on success the session becomes a full session."""
    assert identity.user_session is not None
    try:
        service.verify_second_factor(session=session, user=identity.user, code=code,
                                     max_failures=get_settings(request).login_max_failures)
    except LakanaError as exc:
        session.commit()
        return render(request, "auth/mfa.html", {"next": safe_next(next),
                      "error": _(exc.message, **exc.params)}, status_code=exc.status,
                      headers=error_headers(exc))
    service.mark_mfa_passed(session=session, user_session=identity.user_session,
                            user=identity.user, source_ip=client_ip(request))
    return RedirectResponse(safe_next(next), status_code=303)


def _qr_svg(uri: str) -> str:
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False,
                                    svgns=True, title="QR code")
    return buffer.getvalue().decode()


@router.get("/login/mfa/enroll")
def enroll_form(request: Request, session: DbSession,
                identity: Annotated[Identity, Depends(pending_identity)],
                next: str | None = None) -> Response:
    """Show the QR code and secret of a new TOTP enrolment."""
    if identity.user.mfa_enabled:
        return RedirectResponse(f"/login/mfa?next={_next_query(next)}", status_code=303)
    uri = service.start_mfa_enrollment(session=session, user=identity.user)
    return render(request, "auth/enroll.html", {
        "next": safe_next(next), "qr_svg": _qr_svg(uri), "secret": identity.user.mfa_secret,
        "error": None})


@router.post("/login/mfa/enroll")
def enroll_submit(request: Request, session: DbSession,
                  identity: Annotated[Identity, Depends(pending_identity)],
                  code: Annotated[str, Form(max_length=32)],
                  next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    """Confirm the enrolment with a first code; show the recovery codes once."""
    assert identity.user_session is not None
    if identity.user.mfa_enabled:  # enrolment is not a second way through the MFA step
        return RedirectResponse(f"/login/mfa?next={_next_query(next)}", status_code=303)
    try:
        codes = service.confirm_mfa_enrollment(session=session, actor=identity.actor,
                                               user=identity.user, code=code)
    except LakanaError as exc:
        uri = service.start_mfa_enrollment(session=session, user=identity.user)
        return render(request, "auth/enroll.html", {
            "next": safe_next(next), "qr_svg": _qr_svg(uri), "secret": identity.user.mfa_secret,
            "error": _(exc.message, **exc.params)}, status_code=422)
    service.mark_mfa_passed(session=session, user_session=identity.user_session,
                            user=identity.user, source_ip=client_ip(request))
    return render(request, "auth/recovery_codes.html", {"codes": codes,
                                                        "next": safe_next(next)})


@router.post("/logout")
def logout(request: Request, session: DbSession) -> Response:
    """End the session."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        service.end_session(session=session, secret=secret)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/language")
def switch_language(request: Request, session: DbSession,
                    identity: Annotated[Identity | None, Depends(optional_identity)],
                    language: Annotated[str, Form(max_length=5)],
                    next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    """Switch the interface language (remembered on the account when logged in)."""
    chosen = normalize_language(language)
    if identity is not None:
        service.set_language(session=session, user=identity.user, language=chosen)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, chosen, samesite="lax", path="/",
                        secure=get_settings(request).https, max_age=365 * 86400)
    return response


_NOTICES = {
    "password": N_("Your password was changed."),
    "mfa-disabled": N_("Two-factor authentication is now off."),
    "token-revoked": N_("The token was revoked."),
}


def _account_page(request: Request, session: DbSession, identity: Identity, *,
                  error: LakanaError | None = None, notice: str | None = None,
                  form: dict[str, object] | None = None) -> Response:
    user = identity.user
    return render(request, "auth/account.html", {
        "user": user,
        "recovery_left": service.remaining_recovery_codes(session=session, user=user),
        "mfa_optional": service.mfa_optional(user),
        "tokens": service.list_tokens(session=session, actor=identity.actor, user_id=user.id),
        "scopes": sorted(identity.actor.permissions),
        "form": form or {},
        "error": _(error.message, **error.params) if error else None,
        "notice": _(_NOTICES[notice]) if notice in _NOTICES else None,
    }, status_code=error.status if error else 200,
        headers=error_headers(error) if error else None)


@router.get("/account")
def account(request: Request, session: DbSession, identity: CurrentIdentity,
            notice: str | None = None) -> Response:
    """The person's own account: password, MFA, recovery codes, API tokens."""
    return _account_page(request, session, identity, notice=notice)


@router.get("/account/password")
def password_form(request: Request, identity: CurrentIdentity) -> Response:
    """The form to change one's password (forced after an administrator's reset)."""
    return render(request, "auth/password.html", {
        "error": None, "forced": identity.user.must_change_password})


@router.post("/account/password")
def password_submit(request: Request, session: DbSession, identity: CurrentIdentity,
                    current: Annotated[str, Form(max_length=256)],
                    new: Annotated[str, Form(max_length=256)],
                    confirm: Annotated[str, Form(max_length=256)]) -> Response:
    """Change one's password; other sessions of the account end."""
    try:
        if new != confirm:
            raise Invalid("The two new passwords differ.")
        service.change_password(
            session=session, actor=identity.actor, user=identity.user, current=current, new=new,
            keep_session_id=identity.user_session.id if identity.user_session else None)
    except LakanaError as exc:
        return render(request, "auth/password.html", {
            "error": _(exc.message, **exc.params),
            "forced": identity.user.must_change_password}, status_code=422)
    return RedirectResponse("/account?notice=password", status_code=303)


@router.post("/account/recovery-codes")
def recovery_codes_submit(request: Request, session: DbSession, identity: CurrentIdentity,
                          code: Annotated[str, Form(max_length=32)]) -> Response:
    """Replace the recovery codes (a current TOTP code is required); show them once."""
    try:
        codes = service.renew_recovery_codes(
            session=session, actor=identity.actor, user=identity.user, code=code,
            max_failures=get_settings(request).login_max_failures)
    except LakanaError as exc:
        return _account_page(request, session, identity, error=exc)
    return render(request, "auth/recovery_codes.html", {"codes": codes, "next": "/account"})


@router.post("/account/mfa/disable")
def mfa_disable_submit(request: Request, session: DbSession, identity: CurrentIdentity,
                       code: Annotated[str, Form(max_length=32)]) -> Response:
    """Turn off two-factor authentication where the role allows it."""
    try:
        service.disable_mfa(session=session, actor=identity.actor, user=identity.user,
                            code=code, max_failures=get_settings(request).login_max_failures)
    except LakanaError as exc:
        return _account_page(request, session, identity, error=exc)
    return RedirectResponse("/account?notice=mfa-disabled", status_code=303)


@router.post("/account/tokens")
def token_create_submit(request: Request, session: DbSession, identity: CurrentIdentity,
                        name: Annotated[str, Form(min_length=1, max_length=100)],
                        expires_in_days: Annotated[int, Form()] = 90,
                        scopes: Annotated[list[str] | None, Form()] = None) -> Response:
    """Create an API token; its secret is shown on this page only."""
    try:
        if not scopes:
            raise Invalid("Choose at least one permission for the token.")
        token, secret = service.create_token(
            session=session, actor=identity.actor, user=identity.user, name=name,
            scopes=scopes, expires_in_days=expires_in_days)
    except LakanaError as exc:
        return _account_page(request, session, identity, error=exc, form={
            "name": name, "scopes": scopes or [], "expires_in_days": expires_in_days})
    return render(request, "auth/token_created.html", {"token": token, "secret": secret})


@router.post("/account/tokens/{token_id}/revoke")
def token_revoke_submit(request: Request, session: DbSession, identity: CurrentIdentity,
                        token_id: int) -> Response:
    """Revoke one of one's tokens at once."""
    service.revoke_token(session=session, actor=identity.actor, token_id=token_id)
    return RedirectResponse("/account?notice=token-revoked", status_code=303)

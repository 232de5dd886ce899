"""Request dependencies: the transaction, who is asking, CSRF, and the request's language.

Routers get :func:`csrf_protect` as a router-wide dependency from the application factory,
so every unsafe request made with a session cookie is checked, including new routes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from lakana.core import i18n
from lakana.core.auth import service
from lakana.core.auth.models import User, UserSession
from lakana.core.auth.rbac import Actor
from lakana.core.config import Settings
from lakana.core.errors import Forbidden, Unauthenticated
from lakana.core.web.errors import PageRedirect, wants_json

SESSION_COOKIE = "lakana_session"
PRESESSION_COOKIE = "lakana_pre"
LANGUAGE_COOKIE = "lakana_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings(request: Request) -> Settings:
    """The application's settings."""
    settings: Settings = request.app.state.settings
    return settings


def db_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed if the handler succeeds, else rolled back."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        # Detach first: the error page still reads who is logged in, and a rollback would
        # expire those objects (a detached, expired object cannot load its attributes).
        session.expunge_all()
        session.rollback()
        raise
    finally:
        session.close()


DbSession = Annotated[Session, Depends(db_session, scope="function")]


def client_ip(request: Request) -> str | None:
    """The caller's address (``X-Forwarded-For`` only when the proxy is trusted)."""
    settings = get_settings(request)
    if settings.trust_proxy_headers:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return request.client.host if request.client else None


@dataclass
class Identity:
    """Who the request belongs to, however they authenticated."""

    actor: Actor
    user: User
    user_session: UserSession | None = None
    session_secret: str | None = None


def _identify(request: Request, session: Session) -> Identity | None:
    if hasattr(request.state, "identity"):
        cached: Identity | None = request.state.identity
        return cached
    identity: Identity | None = None
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        token, user = service.resolve_token(session=session, presented=authorization[7:])
        actor = service.actor_for(user, source_ip=client_ip(request), via="token",
                                  scopes=token.scopes, token_id=token.id)
        identity = Identity(actor=actor, user=user)
    else:
        secret = request.cookies.get(SESSION_COOKIE)
        if secret:
            found = service.resolve_session(
                session=session, secret=secret,
                idle_minutes=get_settings(request).session_idle_minutes)
            if found is not None:
                user_session, user = found
                actor = service.actor_for(user, source_ip=client_ip(request))
                identity = Identity(actor=actor, user=user, user_session=user_session,
                                    session_secret=secret)
    request.state.identity = identity
    # a browser speaks its account's language; a machine gets what Accept-Language asks
    if identity is not None and identity.user_session is not None \
            and identity.user_session.mfa_passed:
        request.state.language = identity.user.language
    return identity


def optional_identity(request: Request, session: DbSession) -> Identity | None:
    """The identity if a valid session (MFA passed) or token is presented, else ``None``."""
    identity = _identify(request, session)
    if identity is not None and identity.user_session is not None \
            and not identity.user_session.mfa_passed:
        return None
    return identity


def pending_identity(request: Request, session: DbSession) -> Identity:
    """A session that passed the password step but may still owe its second factor."""
    identity = _identify(request, session)
    if identity is None or identity.user_session is None:
        raise Unauthenticated("Your session has expired: please log in again.")
    return identity


#: Pages a person who must change their password may still open.
PASSWORD_CHANGE_PATHS = ("/account/password", "/logout", "/language", "/static")


def _is_page(request: Request) -> bool:
    return not wants_json(request.url.path, request.headers.get("accept"))


def _here(request: Request) -> str:
    target = request.url.path
    if request.url.query and request.method == "GET":
        target += "?" + request.url.query
    return quote(target, safe="/")


def require_identity(request: Request, session: DbSession) -> Identity:
    """A full identity, else 401 (the API) or a redirect to the log-in page (pages).

    A session still owing its second factor is sent back to the MFA step, and a person
    who must change their password is sent to the password form (the API answers 403).
    """
    identity = _identify(request, session)
    if identity is None:
        if request.headers.get("authorization") or request.cookies.get(SESSION_COOKIE):
            raise Unauthenticated("Your session has expired: please log in again.")
        raise Unauthenticated("Please log in.")
    if identity.user_session is not None and not identity.user_session.mfa_passed:
        if _is_page(request):
            step = "/login/mfa" if identity.user.mfa_enabled else "/login/mfa/enroll"
            raise PageRedirect(f"{step}?next={_here(request)}")
        raise Unauthenticated("Two-factor authentication is not finished: please log in again.")
    if identity.user.must_change_password and identity.user_session is not None and \
            not request.url.path.startswith(PASSWORD_CHANGE_PATHS):
        if _is_page(request):
            raise PageRedirect("/account/password")
        raise Forbidden("You must change your password before going on.")
    return identity


def current_actor(identity: Annotated[Identity, Depends(require_identity)]) -> Actor:
    """The authenticated actor."""
    return identity.actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
CurrentIdentity = Annotated[Identity, Depends(require_identity)]


# --- CSRF ------------------------------------------------------------------------------

def _csrf_basis(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRESESSION_COOKIE) \
        or getattr(request.state, "new_presession", None)


def csrf_token(request: Request) -> str:
    """The CSRF token for forms of this browser: an HMAC of its session (or pre-session) id."""
    basis = _csrf_basis(request)
    if basis is None:
        basis = secrets.token_urlsafe(24)
        request.state.new_presession = basis
    key = get_settings(request).effective_secret_key()
    return hmac.new(key, b"csrf:" + basis.encode(), hashlib.sha256).hexdigest()


def csrf_token_for_session(request: Request, session_secret: str) -> str:
    """The CSRF token that will be valid once the browser holds ``session_secret``."""
    key = get_settings(request).effective_secret_key()
    return hmac.new(key, b"csrf:" + session_secret.encode(), hashlib.sha256).hexdigest()


async def csrf_protect(request: Request) -> None:
    """Refuse unsafe requests from browsers that lack a matching CSRF token.

    Requests with a bearer token carry no ambient credentials, so they are exempt.
    """
    if request.method in SAFE_METHODS:
        return
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return
    if request.url.path.startswith("/api/") and SESSION_COOKIE not in request.cookies:
        return  # no ambient credential to abuse: authentication answers 401 instead
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            presented = value if isinstance(value, str) else None
    basis = _csrf_basis(request)
    if basis is None or presented is None:
        raise Forbidden("The form has expired or was forged (CSRF): reload the page and retry.")
    key = get_settings(request).effective_secret_key()
    expected = hmac.new(key, b"csrf:" + basis.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, presented):
        raise Forbidden("The form has expired or was forged (CSRF): reload the page and retry.")


async def negotiate_language(request: Request) -> None:
    """Choose the language before anything renders: cookie, then ``Accept-Language``."""
    cookie = request.cookies.get(LANGUAGE_COOKIE)
    language = i18n.normalize_language(cookie) if cookie else i18n.negotiate(
        request.headers.get("accept-language"))
    request.state.language = language
    i18n.set_language(language)

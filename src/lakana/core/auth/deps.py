"""Request dependencies: the transaction, who is asking, CSRF, and the request's language.

Routers get :func:`csrf_protect` as a router-wide dependency from the application factory,
so every unsafe request made with a session cookie is checked, including new routes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from lakana.core import i18n
from lakana.core.audit.ledger import pending_count
from lakana.core.auth import service
from lakana.core.auth.models import User, UserSession
from lakana.core.auth.passwords import token_digest
from lakana.core.auth.rbac import Actor
from lakana.core.cache import EpochCache, EpochReader, current_epoch
from lakana.core.config import Settings
from lakana.core.db import WROTE_KEY, as_utc, utcnow
from lakana.core.errors import Forbidden, Unauthenticated
from lakana.core.web.errors import PageRedirect, wants_json

log = logging.getLogger("lakana.auth")
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


async def db_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: committed if the handler succeeds, else rolled back.

    This dependency is ``async`` on purpose: a synchronous generator costs two hops to the
    thread pool per request (bench/bench_api.py). It does no database work on the event
    loop except ending a read-only transaction; every query runs in the thread pool (the
    identity dependencies and endpoints are sync), and so does a commit that writes, so
    the event loop never waits for a connection or a lock.
    """
    session: Session = request.app.state.session_factory()
    request.state.db_session = session
    try:
        yield session
        if session.new or session.dirty or session.deleted or pending_count(session) \
                or session.info.get(WROTE_KEY):
            await run_in_threadpool(session.commit)
        else:
            session.commit()  # a read-only transaction: ending it never waits on a lock
        touches = getattr(request.state, "touches", None)
        if touches:
            await run_in_threadpool(_apply_touches, request, touches)
    except BaseException:
        # Detach first: the error page still reads who is logged in, and a rollback would
        # expire those objects (a detached, expired object cannot load its attributes).
        session.expunge_all()
        session.rollback()
        raise
    finally:
        session.close()


def _apply_touches(request: Request, touches: list[Callable[[Session], None]]) -> None:
    # "Last seen/used" stamps go in their own short transaction after the request's: a
    # read transaction upgraded to a write fails at once on SQLite when another writer
    # committed meanwhile, and a usage stamp must never fail a request.
    try:
        with request.app.state.session_factory.begin() as session:
            for touch in touches:
                touch(session)
    except OperationalError:
        log.warning("could not record last-seen stamps (database busy)", exc_info=True)


DbSession = Annotated[Session, Depends(db_session, scope="function")]


def client_ip(request: Request) -> str | None:
    """The caller's address (``X-Forwarded-For`` only when the proxy is trusted).

    The *last* entry is the one the trusted reverse proxy appended; earlier entries are
    whatever the client wrote and must never reach the ledger as its address.
    """
    settings = get_settings(request)
    if settings.trust_proxy_headers:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[-1].strip()[:64]
    return request.client.host if request.client else None


class Identity:
    """Who the request belongs to, however they authenticated.

    A token identity served from the cache loads its ``user`` only when an endpoint asks.
    """

    def __init__(self, actor: Actor, user: User | None = None, *,
                 user_session: UserSession | None = None, session_secret: str | None = None,
                 db: Session | None = None) -> None:
        self.actor = actor
        self.user_session = user_session
        self.session_secret = session_secret
        self._user = user
        self._db = db

    @property
    def user(self) -> User:
        """The account (loaded from the request's session on first use)."""
        if self._user is None:
            assert self._db is not None and self.actor.user_id is not None
            found = self._db.get(User, self.actor.user_id)
            if found is None:
                raise Unauthenticated("The API token's account is disabled.")
            self._user = found
        return self._user


@dataclass(frozen=True)
class _CachedToken:
    actor: Actor
    token_id: int
    expires_at: dt.datetime
    last_used_at: dt.datetime | None


def _identify(request: Request, session: Session) -> Identity | None:
    if hasattr(request.state, "identity"):
        cached: Identity | None = request.state.identity
        return cached
    # Runs on the event loop: read only. The throttled "last used" stamps it sets are
    # flushed later, by the endpoint or the commit, in the thread pool.
    with session.no_autoflush:
        identity = _resolve_identity(request, session)
    request.state.identity = identity
    # a browser speaks its account's language; a machine gets what Accept-Language asks
    if identity is not None and identity.user_session is not None \
            and identity.user_session.mfa_passed:
        request.state.language = identity.user.language
    return identity


def _touch_later(request: Request, touch: Callable[[Session], None]) -> None:
    if not hasattr(request.state, "touches"):
        request.state.touches = []
    request.state.touches.append(touch)


def _touch_token(token_id: int, session: Session) -> None:
    service.touch_token(session=session, token_id=token_id)


def _touch_session(session_id: int, session: Session) -> None:
    service.touch_session(session=session, session_id=session_id)


def _cached_token_identity(request: Request) -> Identity | None:
    authorization = request.headers.get("authorization", "")
    if not authorization.lower().startswith("bearer ") or hasattr(request.state, "identity"):
        return None
    reader: EpochReader = request.app.state.epoch_reader
    try:
        epoch = reader.read()
    except DBAPIError:
        log.warning("ledger head unreadable on the fast path", exc_info=True)
        return None
    cache: EpochCache[_CachedToken] = request.app.state.token_cache
    key = token_digest(authorization[7:].strip())
    hit = cache.get(key, epoch)
    if hit is None or hit.expires_at <= utcnow():
        return None
    request.state.epoch = epoch
    if service.needs_touch(hit.last_used_at):
        _touch_later(request, partial(_touch_token, hit.token_id))
        cache.put(key, epoch, replace(hit, last_used_at=utcnow()))
    identity = Identity(replace(hit.actor, source_ip=client_ip(request)),
                        db=request.state.db_session)
    request.state.identity = identity
    return identity


def _token_identity(request: Request, session: Session, presented: str) -> Identity:
    # Checked on every API call: the validated token is cached until the ledger head
    # moves (revocation, disabling, role changes are all ledgered, see core.cache), and
    # the epoch is read *before* the token so a cached entry is never older than it.
    cache: EpochCache[_CachedToken] = request.app.state.token_cache
    epoch = current_epoch(session)
    request.state.epoch = epoch
    key = token_digest(presented.strip())
    hit = cache.get(key, epoch)
    if hit is not None and hit.expires_at > utcnow():
        if service.needs_touch(hit.last_used_at):
            _touch_later(request, partial(_touch_token, hit.token_id))
            cache.put(key, epoch, replace(hit, last_used_at=utcnow()))
        return Identity(replace(hit.actor, source_ip=client_ip(request)), db=session)
    token, user = service.resolve_token(session=session, presented=presented)
    if service.needs_touch(token.last_used_at):
        _touch_later(request, partial(_touch_token, token.id))
    actor = service.actor_for(user, source_ip=client_ip(request), via="token",
                              scopes=token.scopes, token_id=token.id)
    cache.put(key, epoch, _CachedToken(replace(actor, source_ip=None), token.id,
                                       as_utc(token.expires_at), utcnow()))
    return Identity(actor, user)


def _resolve_identity(request: Request, session: Session) -> Identity | None:
    identity: Identity | None = None
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        identity = _token_identity(request, session, authorization[7:])
    else:
        secret = request.cookies.get(SESSION_COOKIE)
        if secret:
            found = service.resolve_session(
                session=session, secret=secret,
                idle_minutes=get_settings(request).session_idle_minutes)
            if found is not None:
                user_session, user = found
                if service.needs_touch(user_session.last_seen_at):
                    _touch_later(request, partial(_touch_session, user_session.id))
                actor = service.actor_for(user, source_ip=client_ip(request))
                identity = Identity(actor, user, user_session=user_session,
                                    session_secret=secret)
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


async def require_identity(request: Request, session: DbSession) -> Identity:
    """A full identity, else 401 (the API) or a redirect to the log-in page (pages).

    A session still owing its second factor is sent back to the MFA step, and a person
    who must change their password is sent to the password form (the API answers 403).
    A token already validated since the ledger head last moved is recognised on the event
    loop (no thread hop); everything else is resolved in the thread pool.
    """
    identity = _cached_token_identity(request)
    if identity is None:
        identity = await run_in_threadpool(_identify, request, session)
    if identity is None:
        if request.headers.get("authorization") or request.cookies.get(SESSION_COOKIE):
            raise Unauthenticated("Your session has expired: please log in again.")
        raise Unauthenticated("Please log in.")
    if identity.user_session is not None and not identity.user_session.mfa_passed:
        if _is_page(request):
            step = "/login/mfa" if identity.user.mfa_enabled else "/login/mfa/enroll"
            raise PageRedirect(f"{step}?next={_here(request)}")
        raise Unauthenticated("Two-factor authentication is not finished: please log in again.")
    if identity.user_session is not None and identity.user.must_change_password and \
            not request.url.path.startswith(PASSWORD_CHANGE_PATHS):
        if _is_page(request):
            raise PageRedirect("/account/password")
        raise Forbidden("You must change your password before going on.")
    return identity


async def current_actor(identity: Annotated[Identity, Depends(require_identity)]) -> Actor:
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

"""A read-only TAXII 2.1 server (OASIS TAXII 2.1) so partner CERTs' standard clients can pull
what the centre shares with their sharing groups.

* ``/taxii2/`` discovery, ``/taxii2/api/`` the one API root, one collection per sharing group
  the caller may pull (a partner: its groups; the centre: every group);
* objects, one object, its versions, and the manifest, paged by ``limit``/``next`` with
  ``added_after`` and ``match[id|type|version|spec_version]`` filters;
* authentication: HTTP Basic with the account's e-mail and password (the scheme TAXII
  requires; the core's lockout applies and failures are ledgered), or ``Authorization:
  Bearer`` with an API token; a browser session also works, for a person looking;
* every error is a TAXII error message (``title``, ``description``, ``http_status``) in the
  TAXII media type, never the HTML error page or problem JSON: the routes use their own
  route class, which turns every exception (authentication and CSRF dependencies included)
  into one.

Reads are not ledgered (a pull changes nothing, and a ledger write per pull would move the
ledger head and empty the token cache on every request); each pull and each refusal is
logged, and failed passwords are ledgered by the core's log-in service.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from lakana.core import i18n
from lakana.core.auth import service as auth_service
from lakana.core.auth.deps import DbSession, client_ip, get_settings, optional_identity
from lakana.core.auth.models import SharingGroup
from lakana.core.auth.rbac import Actor
from lakana.core.errors import (
    Forbidden,
    Invalid,
    LakanaError,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from lakana.core.i18n import N_, Msg
from lakana.csirt import sharing_feed, sharing_service
from lakana.csirt.permissions import CsirtPermission
from lakana.csirt.sharing_feed import FeedPage, FeedQuery

log = logging.getLogger("lakana.csirt.taxii")
MEDIA_TYPE = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
REALM = 'Basic realm="Lakana TAXII"'
API_ROOT = "/taxii2/api/"
#: The largest request body the API root would accept (it accepts no writes).
MAX_CONTENT_LENGTH = 10 * 1024 * 1024
_TITLES = {400: N_("Invalid request"), 401: N_("Authentication required"),
           403: N_("Forbidden"), 404: N_("Not found"), 405: N_("Method not allowed"),
           406: N_("Not acceptable"), 422: N_("Invalid request"), 429: N_("Too many requests")}


# --- errors -----------------------------------------------------------------------------

def taxii_error(request: Request, status: int, title: str, description: str,
                headers: dict[str, str] | None = None) -> JSONResponse:
    """A TAXII 2.1 error message (translated into the request's language)."""
    language = getattr(request.state, "language", None) or i18n.negotiate(
        request.headers.get("accept-language"))
    # a malformed request (bad parameter) is a 400 in TAXII, not the core's 422
    status = 400 if status == 422 else status
    with i18n.use_language(language):
        body = {"title": i18n.gettext(title), "description": description,
                "http_status": str(status)}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _lakana_error(request: Request, exc: LakanaError) -> JSONResponse:
    language = getattr(request.state, "language", None) or i18n.negotiate(
        request.headers.get("accept-language"))
    with i18n.use_language(language):
        description = i18n.gettext(exc.message, **exc.params)
    headers: dict[str, str] | None = None
    if isinstance(exc, Unauthenticated):
        headers = {"WWW-Authenticate": REALM}
    elif isinstance(exc, TooManyRequests) and "seconds" in exc.params:
        headers = {"Retry-After": str(exc.params["seconds"])}
    return taxii_error(request, exc.status, _TITLES.get(exc.status, exc.title), description,
                       headers)


class TaxiiRoute(APIRoute):
    """A route whose every failure (dependencies included) answers a TAXII error."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler so no HTML page or problem JSON ever leaves a TAXII URL."""
        handler = super().get_route_handler()

        async def taxii_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LakanaError as exc:
                if exc.status in (401, 403, 404, 429):
                    log.warning("taxii refused %s %s: %s (%s)", request.method,
                                request.url.path, exc.status, client_ip(request))
                return _lakana_error(request, exc)
            except RequestValidationError:
                return taxii_error(request, 400, N_("Invalid request"),
                                   _desc(request, N_("The request could not be understood.")))
            except StarletteHTTPException as exc:
                return taxii_error(request, exc.status_code, _TITLES.get(
                    exc.status_code, N_("Invalid request")), str(exc.detail))
            except Exception:
                log.exception("taxii error on %s %s", request.method, request.url.path)
                return taxii_error(request, 500, N_("Internal error"), _desc(
                    request, N_("Something went wrong on our side; the error was logged.")))

        return taxii_handler


def _desc(request: Request, message: str) -> str:
    with i18n.use_language(getattr(request.state, "language", i18n.DEFAULT_LANGUAGE)):
        return i18n.gettext(message)


# --- authentication and content negotiation ---------------------------------------------

def _basic_actor(request: Request, session: Session, credentials: str) -> Actor:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("Wrong e-mail address or password.") from None
    email, colon, password = decoded.partition(":")
    if not colon or not email or len(email) > 254 or len(password) > 256:
        raise Unauthenticated("Wrong e-mail address or password.")
    try:
        result = auth_service.authenticate(
            session=session, email=email, password=password, source_ip=client_ip(request),
            max_failures=get_settings(request).login_max_failures)
    except LakanaError:
        session.commit()  # keep the failure count and the lockout although we answer an error
        raise
    if result.mfa_required:
        # a password alone must not bypass an account's second factor: tokens are made
        # after a full log-in
        raise Unauthenticated("This account uses two-factor authentication: pull with an API "
                              "token (Authorization: Bearer) instead of the password.")
    if result.user.must_change_password:
        raise Forbidden("You must change your password before going on.")
    return auth_service.actor_for(result.user, source_ip=client_ip(request), via="taxii")


def _token_actor(request: Request, session: Session, presented: str) -> Actor:
    """``Authorization: Token <api token>``, as the OASIS taxii2-client's ``TokenAuth`` sends
    it (``Bearer`` goes through the core's cached path)."""
    token, user = auth_service.resolve_token(session=session, presented=presented)
    if auth_service.needs_touch(token.last_used_at):
        auth_service.touch_token(session=session, token_id=token.id)
    return auth_service.actor_for(user, source_ip=client_ip(request), via="token",
                                  scopes=token.scopes, token_id=token.id)


def _acceptable(accept: str | None) -> bool:
    """Whether ``Accept`` allows the TAXII 2.1 media type (absent means anything)."""
    if accept is None or not accept.strip():
        return True
    for item in accept.split(","):
        parts = [p.strip().lower() for p in item.split(";")]
        media, params = parts[0], dict(p.partition("=")[::2] for p in parts[1:] if p)
        if params.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        if media in ("*/*", "application/*"):
            return True
        if media == "application/taxii+json" and params.get("version", "2.1") == "2.1":
            return True
    return False


def taxii_actor(request: Request, session: DbSession) -> Actor:
    """Who pulls (HTTP Basic, a bearer token, or a browser session), once the media type is
    known to be acceptable."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        actor = _basic_actor(request, session, credentials.strip())
    elif scheme.lower() == "token":
        actor = _token_actor(request, session, credentials.strip())
    else:
        identity = optional_identity(request, session)
        if identity is None:
            raise Unauthenticated("Please log in.")
        if identity.user_session is not None and identity.user.must_change_password:
            raise Forbidden("You must change your password before going on.")
        actor = identity.actor
    if not _acceptable(request.headers.get("accept")):
        raise _NotAcceptable()
    return actor


class _NotAcceptable(LakanaError):
    status = 406
    title = N_("Not acceptable")
    type_slug = "not-acceptable"

    def __init__(self) -> None:
        super().__init__("This server answers only %(media)s.", media=MEDIA_TYPE)


TaxiiActor = Annotated[Actor, Depends(taxii_actor)]
router = APIRouter(prefix="/taxii2", route_class=TaxiiRoute, tags=["taxii"])


def _respond(body: dict[str, Any], page: FeedPage | None = None) -> JSONResponse:
    headers: dict[str, str] = {}
    if page is not None and page.first_added is not None and page.last_added is not None:
        headers["X-TAXII-Date-Added-First"] = sharing_service.stamp_micro(page.first_added)
        headers["X-TAXII-Date-Added-Last"] = sharing_service.stamp_micro(page.last_added)
    return JSONResponse(body, media_type=MEDIA_TYPE, headers=headers)


def _params(request: Request) -> dict[str, str | None]:
    """The query string: single-valued parameters once; repeated ``match[...]`` joined."""
    out: dict[str, str | None] = {}
    for name in ("added_after", "limit", "next"):
        values = request.query_params.getlist(name)
        if len(values) > 1:
            raise Invalid("The %(name)s parameter is given more than once.", name=name)
        if values:
            out[name] = values[0]
    for name in ("match[id]", "match[type]", "match[version]", "match[spec_version]"):
        values = request.query_params.getlist(name)
        if values:
            out[name] = ",".join(values)
    return out


def _collection(session: Session, actor: Actor, collection_id: str) -> SharingGroup:
    if len(collection_id) > 64:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("collection"))
    return sharing_service.group_for_collection(session=session, actor=actor,
                                                collection=collection_id)


def _collection_resource(group: SharingGroup) -> dict[str, Any]:
    return {"id": sharing_service.collection_id(group.id), "title": group.name,
            "description": group.description or f"Lakana sharing group {group.name}",
            "can_read": True, "can_write": False, "media_types": [STIX_MEDIA_TYPE]}


def _log_pull(actor: Actor, group: SharingGroup, what: str, count: int) -> None:
    log.info("taxii pull by %s (%s): %s of %s, %d item(s)", actor.name, actor.via, what,
             group.name, count)


# --- endpoints --------------------------------------------------------------------------

@router.get("/")
def discovery(request: Request, actor: TaxiiActor) -> Response:
    """Server discovery: the one API root."""
    actor.require(CsirtPermission.SHARING_PULL)
    root = str(request.base_url).rstrip("/") + API_ROOT
    return _respond({"title": "Lakana TAXII",
                     "description": "Intelligence the national CSIRT shares with partner "
                                    "CERTs (TLP:CLEAR, GREEN and AMBER only).",
                     "default": root, "api_roots": [root]})


@router.get("/api/")
def api_root(actor: TaxiiActor) -> Response:
    """The API root's information."""
    actor.require(CsirtPermission.SHARING_PULL)
    return _respond({"title": "Lakana — partner sharing",
                     "description": "One read-only collection per sharing group.",
                     "versions": [MEDIA_TYPE], "max_content_length": MAX_CONTENT_LENGTH})


@router.get("/api/collections/")
def collections(session: DbSession, actor: TaxiiActor) -> Response:
    """The collections the caller may read (one per sharing group)."""
    groups = sharing_service.pullable_groups(session=session, actor=actor)
    if not groups:
        return _respond({})
    return _respond({"collections": [_collection_resource(g) for g in groups]})


@router.get("/api/collections/{collection_id}/")
def collection(collection_id: str, session: DbSession, actor: TaxiiActor) -> Response:
    """One collection."""
    return _respond(_collection_resource(_collection(session, actor, collection_id)))


@router.get("/api/collections/{collection_id}/objects/")
def get_objects(collection_id: str, request: Request, session: DbSession,
                actor: TaxiiActor) -> Response:
    """A page of the collection's objects, oldest addition first."""
    group = _collection(session, actor, collection_id)
    query = sharing_feed.parse_query(_params(request))
    page = sharing_feed.objects(session, group_id=group.id, query=query)
    _log_pull(actor, group, "objects", len(page.rows))
    return _respond(_envelope(page, [row.payload for row in page.rows]), page)


@router.post("/api/collections/{collection_id}/objects/")
def add_objects(collection_id: str, session: DbSession, actor: TaxiiActor) -> Response:
    """Collections are read-only: partners pull, they do not push."""
    _collection(session, actor, collection_id)
    raise Forbidden("This collection is read-only (can_write is false).")


@router.get("/api/collections/{collection_id}/objects/{object_id}/")
def get_object(collection_id: str, object_id: str, request: Request, session: DbSession,
               actor: TaxiiActor) -> Response:
    """The versions of one object that the filters select (the last one by default)."""
    group = _collection(session, actor, collection_id)
    _known(session, group, object_id)
    params = _params(request)
    params["match[id]"] = object_id
    query = sharing_feed.parse_query(params)
    page = sharing_feed.objects(session, group_id=group.id, query=FeedQuery(
        limit=query.limit, added_after=query.added_after, cursor=query.cursor,
        ids=(object_id,), keywords=query.keywords, versions=query.versions,
        spec_versions=query.spec_versions))
    _log_pull(actor, group, "object", len(page.rows))
    return _respond(_envelope(page, [row.payload for row in page.rows]), page)


@router.get("/api/collections/{collection_id}/objects/{object_id}/versions/")
def object_versions(collection_id: str, object_id: str, request: Request, session: DbSession,
                    actor: TaxiiActor) -> Response:
    """The versions of one object, oldest addition first."""
    group = _collection(session, actor, collection_id)
    _known(session, group, object_id)
    query = sharing_feed.parse_query(_params(request), allow_version=False)
    page = sharing_feed.versions(session, group_id=group.id, stix_id=object_id, query=query)
    body: dict[str, Any] = {"more": page.more, "versions": [row.version for row in page.rows]}
    if page.next:
        body["next"] = page.next
    return _respond(body, page)


@router.get("/api/collections/{collection_id}/manifest/")
def manifest(collection_id: str, request: Request, session: DbSession,
             actor: TaxiiActor) -> Response:
    """A page of the collection's manifest (what it holds, without the objects)."""
    group = _collection(session, actor, collection_id)
    query = sharing_feed.parse_query(_params(request))
    page = sharing_feed.objects(session, group_id=group.id, query=query)
    entries = [sharing_feed.manifest_entry(row, sharing_service.stamp_micro(row.date_added))
               for row in page.rows]
    _log_pull(actor, group, "manifest", len(page.rows))
    return _respond(_envelope(page, entries), page)


def _known(session: Session, group: SharingGroup, object_id: str) -> None:
    if len(object_id) > 150 or not sharing_feed.object_known(session, group_id=group.id,
                                                             stix_id=object_id):
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("object"))


def _envelope(page: FeedPage, items: list[dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {"more": page.more}
    if page.next:
        body["next"] = page.next
    body["objects"] = items
    return body

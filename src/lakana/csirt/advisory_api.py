"""JSON API of advisories (under ``/api/v1/csirt``), and the public CSAF distribution
(``/.well-known/csaf/...``, no account).

Staff API: ``GET/POST /advisories``, ``GET/PATCH /advisories/{id}`` (drafts only; ``ETag``
and ``If-Match`` as elsewhere), ``POST .../publish``, ``POST .../revise`` (a published
advisory: changes + ``revision_summary``, republished at once), ``GET .../csaf`` (the
signed document, or a draft's unsigned preview).

Public distribution (CSAF 2.0 section 7, directory-based): ``provider-metadata.json``, the
TLP:WHITE (TLP 2.0 CLEAR) directory with ``index.txt``, ``changes.csv``, listings, and each
document with its ``.sha256``, ``.sha512`` and ``.asc``; the OpenPGP public key. Only
published TLP:CLEAR advisories are there. Advisories for institutions under TLP:GREEN or
AMBER are served to logged-in staff only (``/csirt/advisories/{id}/csaf/<file>``, see
``advisory_pages``): CSAF makes an access-controlled distribution of those optional, and
partners' aggregators would need accounts here, so none is announced.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from sqlalchemy.orm import Session

from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.db import as_utc
from lakana.core.errors import Invalid, NotFound
from lakana.core.web.pagination import Page
from lakana.csirt import advisories as service
from lakana.csirt import csaf
from lakana.csirt.advisories import (
    AdvisoryCreate,
    AdvisoryOut,
    AdvisoryQuery,
    AdvisoryRevise,
    AdvisoryUpdate,
    PublishIn,
)
from lakana.csirt.advisory_models import Advisory
from lakana.csirt.permissions import CsirtPermission as P

router = APIRouter(prefix="/csirt", tags=["csirt: advisories"])
#: Mounted at the site's root by the pages side (no ``/api/v1`` prefix): CSAF fixes the paths.
well_known = APIRouter(prefix=csaf.WELL_KNOWN, tags=["csaf"], include_in_schema=False)

IfMatch = Annotated[str | None, Header(max_length=40)]
JSON_TYPE = "application/json"


def _version(sent: int | None, if_match: str | None) -> int | None:
    if sent is not None or if_match is None:
        return sent
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise Invalid("The If-Match header must hold the version you read, such as \"3\".")
    return int(text)


def advisory_out(advisory: Advisory, actor_can_coordinate: bool) -> AdvisoryOut:
    """The API view; the linked case only for the centre."""
    out = AdvisoryOut.model_validate(advisory)
    if not actor_can_coordinate:
        out.case_id = None
    return out


def _etag(response: Response, advisory: Advisory) -> None:
    response.headers["ETag"] = f'"{advisory.version}"'


@router.get("/advisories", response_model=Page[AdvisoryOut])
def list_advisories(session: DbSession, actor: CurrentActor,
                    query: Annotated[AdvisoryQuery, Query()]) -> Page[AdvisoryOut]:
    """Advisories the caller reads (drafts: the centre only); ``status, audience, q``."""
    rows, total = service.list_advisories(session=session, actor=actor, query=query)
    coordinate = actor.can(P.COORDINATE)
    return Page[AdvisoryOut](items=[advisory_out(a, coordinate) for a in rows], total=total,
                             limit=query.limit, offset=query.offset)


@router.post("/advisories", response_model=AdvisoryOut, status_code=201)
def create_advisory(body: AdvisoryCreate, session: DbSession, actor: CurrentActor,
                    response: Response) -> AdvisoryOut:
    """Write a draft advisory (the centre)."""
    advisory = service.create_advisory(session=session, actor=actor, data=body)
    _etag(response, advisory)
    response.headers["Location"] = f"/api/v1/csirt/advisories/{advisory.id}"
    return advisory_out(advisory, True)


@router.get("/advisories/{advisory_id}", response_model=AdvisoryOut)
def get_advisory(advisory_id: int, session: DbSession, actor: CurrentActor,
                 response: Response) -> AdvisoryOut:
    """One advisory."""
    advisory = service.get_advisory(session=session, actor=actor, advisory_id=advisory_id)
    _etag(response, advisory)
    return advisory_out(advisory, actor.can(P.COORDINATE))


@router.patch("/advisories/{advisory_id}", response_model=AdvisoryOut)
def update_advisory(advisory_id: int, body: AdvisoryUpdate, session: DbSession,
                    actor: CurrentActor, response: Response,
                    if_match: IfMatch = None) -> AdvisoryOut:
    """Change a draft (``version`` or ``If-Match``); a published one answers 409."""
    body.version = _version(body.version, if_match)
    advisory = service.update_advisory(session=session, actor=actor, advisory_id=advisory_id,
                                       data=body)
    _etag(response, advisory)
    return advisory_out(advisory, True)


@router.post("/advisories/{advisory_id}/publish", response_model=AdvisoryOut)
def publish_advisory(advisory_id: int, body: PublishIn, request: Request, session: DbSession,
                     actor: CurrentActor, response: Response,
                     if_match: IfMatch = None) -> AdvisoryOut:
    """Publish a draft: checked against the CSAF schema (422 with the JSON paths), signed."""
    advisory = service.publish(session=session, actor=actor, settings=get_settings(request),
                               advisory_id=advisory_id,
                               version=_version(body.version, if_match))
    _etag(response, advisory)
    return advisory_out(advisory, True)


@router.post("/advisories/{advisory_id}/revise", response_model=AdvisoryOut)
def revise_advisory(advisory_id: int, body: AdvisoryRevise, request: Request,
                    session: DbSession, actor: CurrentActor, response: Response,
                    if_match: IfMatch = None) -> AdvisoryOut:
    """Change a published advisory and publish the new revision."""
    body.version = _version(body.version, if_match)
    advisory = service.revise(session=session, actor=actor, settings=get_settings(request),
                              advisory_id=advisory_id, data=body)
    _etag(response, advisory)
    return advisory_out(advisory, True)


@router.get("/advisories/{advisory_id}/csaf")
def advisory_csaf(advisory_id: int, request: Request, session: DbSession,
                  actor: CurrentActor) -> Response:
    """The CSAF document (signed bytes as published; a draft's preview is unsigned)."""
    advisory, data, published = service.csaf_bytes(
        session=session, actor=actor, settings=get_settings(request), advisory_id=advisory_id)
    headers = {"X-CSAF-Status": "published" if published else "draft-preview"}
    if published and advisory.csaf_sha256:
        headers["Digest"] = f"sha-256={advisory.csaf_sha256}"
    return Response(data, media_type=JSON_TYPE, headers=headers)


# --- public distribution -------------------------------------------------------------------

@well_known.get("/provider-metadata.json")
def provider_metadata(request: Request, session: DbSession) -> Response:
    """The CSAF provider metadata: where the documents are and which key signs them."""
    settings = get_settings(request)
    last = service.last_change(session=session) or dt.datetime.now(dt.UTC)
    doc = csaf.provider_metadata(base_url=settings.base_url,
                                 key_fingerprint=csaf.fingerprint(settings), last_updated=last)
    return Response(csaf.serialize(doc), media_type=JSON_TYPE)


@well_known.get("/openpgp/{key_fingerprint}.asc")
def openpgp_key(key_fingerprint: str, request: Request) -> Response:
    """The public OpenPGP key that signs the documents."""
    settings = get_settings(request)
    if key_fingerprint.upper() != csaf.fingerprint(settings):
        raise NotFound("No such key.")
    return PlainTextResponse(csaf.public_key(settings), media_type="application/pgp-keys")


def _listing(title: str, names: list[str]) -> HTMLResponse:
    items = "".join(f'<li><a href="{html.escape(n)}">{html.escape(n)}</a></li>' for n in names)
    return HTMLResponse(f"<!doctype html><html><head><meta charset=\"utf-8\"><title>"
                        f"{html.escape(title)}</title></head><body><h1>{html.escape(title)}"
                        f"</h1><ul>{items}</ul></body></html>")


def _white_paths(session: Session) -> list[tuple[str, dt.datetime]]:
    return [(service.public_path(a), as_utc(a.current_release_date or a.created_at))
            for a in service.public_documents(session=session)]


@well_known.get("/white/")
def white_listing(session: DbSession) -> HTMLResponse:
    """Directory listing of the TLP:WHITE folder (one sub-folder per year)."""
    years = sorted({path.split("/")[0] for path, _ in _white_paths(session)})
    return _listing(f"{csaf.WHITE_DIR}/", ["index.txt", "changes.csv", *(f"{y}/" for y in years)])


@well_known.get("/white/index.txt")
def white_index(session: DbSession) -> PlainTextResponse:
    """Every public document's path, one per line."""
    return PlainTextResponse(csaf.index_txt(p for p, _ in _white_paths(session)))


@well_known.get("/white/changes.csv")
def white_changes(session: DbSession) -> Response:
    """Each public document's path and last change, newest first."""
    return Response(csaf.changes_csv(_white_paths(session)), media_type="text/csv")


@well_known.get("/white/{csaf_year}/")
def white_year_listing(csaf_year: str, session: DbSession) -> HTMLResponse:
    """Directory listing of one year: each document and its hash and signature files."""
    names = [path.split("/", 1)[1] for path, _ in _white_paths(session)
             if path.startswith(f"{csaf_year}/")]
    if not names:
        raise NotFound("No such folder.")
    files = [f"{n}{suffix}" for n in sorted(names) for suffix in ("", ".asc", ".sha256",
                                                                   ".sha512")]
    return _listing(f"{csaf.WHITE_DIR}/{csaf_year}/", files)


def artefact_response(advisory: Advisory, suffix: str, name: str) -> Response:
    """One published file: the document, or its ``.asc`` / ``.sha256`` / ``.sha512``."""
    if advisory.csaf_document is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what="CSAF")
    if suffix == "":
        return Response(advisory.csaf_document.encode("utf-8"), media_type=JSON_TYPE)
    if suffix == ".asc":
        return PlainTextResponse(advisory.csaf_signature or "",
                                 media_type="application/pgp-signature")
    digest = advisory.csaf_sha256 if suffix == ".sha256" else advisory.csaf_sha512
    return PlainTextResponse(csaf.hash_file(digest or "", name))


@well_known.get("/white/{csaf_year}/{csaf_file}")
def white_document(csaf_year: str, csaf_file: str, session: DbSession) -> Response:
    """A public CSAF document (``.json``) or its ``.asc``, ``.sha256``, ``.sha512``."""
    for suffix in (".asc", ".sha256", ".sha512", ""):
        if csaf_file.endswith(suffix) and (suffix or csaf_file.endswith(".json")):
            name = csaf_file.removesuffix(suffix) if suffix else csaf_file
            break
    else:
        raise NotFound("No such file.")
    advisory = service.get_public_document(session=session, year=csaf_year[:4], name=name[:80])
    return artefact_response(advisory, suffix, name)

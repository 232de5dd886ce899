"""JSON API of detection (under ``/api/v1/detection``).

Collection: ``POST /ingest`` takes what log shippers send with a focal point's API token:
``application/x-ndjson`` (one JSON object per line: Windows events, or records with a
``message`` such as Fluent Bit and Vector forward), ``application/json`` (the same, or one
JSON array of records, as rsyslog's omhttp batches them) or ``text/plain`` (one raw log line
per line); ``Content-Encoding: gzip`` is accepted. Every event is stored before the 202
answer. Over 10 000 lines or 10 MiB: 413; another type: 415; bytes that are not UTF-8: 422
with the line number.

Alerts: ``GET /alerts``, ``GET /alerts/{id}`` (with its events), ``POST /alerts/{id}/triage``,
``POST /alerts/{id}/case``. Events: ``GET /events`` (search). Rules: ``GET /rules``.
Suppressions: ``GET/POST /suppressions``.

Scope and permissions are the service's: a focal point reading another institution's alert
gets 404, as for any unknown one.
"""

from __future__ import annotations

import json
import zlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Invalid, LakanaError, TooLarge
from lakana.core.web.pagination import Page
from lakana.monitoring.detection import flows, service
from lakana.monitoring.detection.permissions import DetectionPermission as P
from lakana.monitoring.detection.schemas import (
    MAX_BYTES,
    MAX_LINES,
    AlertOut,
    AlertQuery,
    AlertTriage,
    EventOut,
    EventQuery,
    IngestResult,
    PackSummary,
    SuppressionIn,
    SuppressionOut,
)

router = APIRouter(prefix="/detection", tags=["detection"])  # mounted under /api/v1

#: Media types read as one JSON object per line (what shippers call NDJSON or JSON lines).
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl",
                          "application/x-jsonlines", "application/json-lines",
                          "application/jsonlines"})
TEXT_TYPES = frozenset({"text/plain"})
JSON_TYPE = "application/json"
CHARSETS = frozenset({"", "utf-8", "utf8", "us-ascii"})


class UnsupportedMediaType(LakanaError):
    """The request body is of a type the route does not read."""

    status = 415
    title = "Unsupported media type"
    type_slug = "unsupported-media-type"


class AlertDetail(BaseModel):
    """An alert with its matching events (newest first, at most 50)."""

    alert: AlertOut
    events: list[EventOut]


class CaseOpened(BaseModel):
    """The CSIRT case an alert now points to."""

    case_reference: str
    alert: AlertOut


# --- reading what shippers send ---------------------------------------------------------------

def media_type(content_type: str) -> tuple[str, str]:
    """The media type and charset of a ``Content-Type`` header, lower case."""
    kind, _, rest = content_type.partition(";")
    charset = ""
    for param in rest.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return kind.strip().lower(), charset


def check_media_type(content_type: str) -> str:
    """``ndjson``, ``json`` or ``text`` for a supported body type; 415 otherwise."""
    kind, charset = media_type(content_type)
    if charset not in CHARSETS:
        raise UnsupportedMediaType("Logs must be sent as UTF-8, not %(charset)s.",
                                   charset=charset[:40])
    if kind in NDJSON_TYPES:
        return "ndjson"
    if kind == JSON_TYPE:
        return "json"
    if kind in TEXT_TYPES:
        return "text"
    raise UnsupportedMediaType(
        "Send logs as application/x-ndjson, application/json or text/plain, not %(type)s.",
        type=(kind or "nothing")[:80])


async def read_body(request: Request, limit: int = MAX_BYTES) -> bytes:
    """The request body (gunzipped when sent with ``Content-Encoding: gzip``), refused with
    413 as soon as it grows over ``limit`` bytes, compressed or not."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip", ""):
        raise UnsupportedMediaType("Send logs uncompressed or gzip-compressed, not %(type)s.",
                                   type=encoding[:40])
    too_large = TooLarge("The request body is larger than %(size)s bytes.", size=limit)
    # wbits 47: gzip or zlib header, detected; a gzip bomb stops at the limit, not in memory.
    inflater = zlib.decompressobj(47) if encoding in ("gzip", "x-gzip") else None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        if inflater is not None:
            try:
                chunk = inflater.decompress(chunk, limit + 1 - size)
            except zlib.error as exc:
                raise Invalid("The gzip-compressed body is corrupt.") from exc
            if inflater.unconsumed_tail:
                raise too_large
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    if inflater is not None and not inflater.eof and size:
        raise Invalid("The gzip-compressed body is corrupt.")
    return b"".join(chunks)


def split_lines(body: bytes, max_lines: int = MAX_LINES) -> list[str]:
    """The body's non-blank lines, decoded strictly as UTF-8 (422 naming the first line that
    is not; 413 over ``max_lines``). ``\\r\\n`` endings are accepted."""
    raw = body.split(b"\n")
    count = sum(1 for line in raw if line.strip())
    if count > max_lines:
        raise TooLarge("At most %(max)s lines may be sent at once; this request has "
                       "%(count)s.", max=max_lines, count=count)
    lines: list[str] = []
    for number, line in enumerate(raw, start=1):
        if not line.strip():
            continue
        try:
            lines.append(line.rstrip(b"\r").decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise Invalid("Line %(line)s is not valid UTF-8 (byte %(byte)s).",
                          line=number, byte=exc.start + 1) from exc
    return lines


def parse_json_array(body: bytes, max_lines: int = MAX_LINES) -> list[dict[str, Any]]:
    """A JSON array of records (omhttp's ``jsonarray`` batches); every item must be an
    object."""
    try:
        items = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise Invalid("The body is not valid UTF-8 (byte %(byte)s).",
                      byte=exc.start + 1) from exc
    except (ValueError, RecursionError) as exc:
        raise Invalid("The body is not a valid JSON array.") from exc
    if not isinstance(items, list):
        raise Invalid("The body is not a valid JSON array.")
    if len(items) > max_lines:
        raise TooLarge("At most %(max)s lines may be sent at once; this request has "
                       "%(count)s.", max=max_lines, count=len(items))
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise Invalid("Item %(item)s of the array is not a JSON object.", item=number)
    return items


async def read_logs(request: Request, actor: Actor
                    ) -> tuple[list[str] | None, list[dict[str, Any]] | None]:
    """What an ingest request carries: text lines (NDJSON lines too: each is parsed as the
    JSON record it holds, and a malformed one is kept raw rather than losing the batch), or
    the records of a JSON array. Refused before anything is read without the permission."""
    actor.require(P.INGEST)
    kind = check_media_type(request.headers.get("content-type", ""))
    body = await read_body(request)
    if kind == "json" and body.lstrip()[:1] == b"[":
        return None, parse_json_array(body)
    return split_lines(body), None


# --- collection -------------------------------------------------------------------------------

@router.post("/ingest", response_model=IngestResult, status_code=202)
async def ingest(request: Request, session: DbSession, actor: CurrentActor,
                 system_id: Annotated[int | None, Query(ge=1)] = None,
                 institution_id: Annotated[int | None, Query(ge=1)] = None) -> IngestResult:
    """Store and analyse log lines of the token's institution (the centre names
    ``institution_id``); ``system_id`` attributes them to one of its information systems.
    The events are stored when the answer comes."""
    lines, records = await read_logs(request, actor)
    result: IngestResult = await run_in_threadpool(
        service.ingest, session=session, actor=actor, lines=lines, records=records,
        system_id=system_id, institution_id=institution_id, channel="http")
    # The session dependency has function scope: it commits before the 202 is sent, so an
    # acknowledged event is durable.
    return result


# --- alerts -----------------------------------------------------------------------------------

@router.get("/alerts", response_model=Page[AlertOut])
def list_alerts(session: DbSession, actor: CurrentActor,
                query: Annotated[AlertQuery, Query()]) -> Page[AlertOut]:
    """Alerts the caller reads, open first and worst first: ``institution_id, status, level,
    q``, paged by ``limit`` and ``offset``; suppressed ones only when asked for."""
    rows = service.list_alerts(session=session, actor=actor, query=query)
    total = service.count_alerts(session=session, actor=actor, query=query)
    return Page[AlertOut](items=[AlertOut.model_validate(a) for a in rows], total=total,
                          limit=query.limit, offset=query.offset)


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
def get_alert(alert_id: int, session: DbSession, actor: CurrentActor) -> AlertDetail:
    """One alert, its rule's attribution and its matching events."""
    alert = service.get_alert(session=session, actor=actor, alert_id=alert_id)
    events = service.alert_events(session=session, actor=actor, alert_id=alert_id)
    return AlertDetail(alert=AlertOut.model_validate(alert),
                       events=[EventOut.model_validate(e) for e in events])


@router.post("/alerts/{alert_id}/triage", response_model=AlertOut)
def triage_alert(alert_id: int, body: AlertTriage, session: DbSession,
                 actor: CurrentActor) -> AlertOut:
    """Mark an alert a true or false positive (with a reason) or reopen it; ``version`` is
    the one read (409 when stale)."""
    service.get_alert(session=session, actor=actor, alert_id=alert_id)  # 404 first
    alert = service.triage_alert(session=session, actor=actor, alert_id=alert_id, data=body)
    return AlertOut.model_validate(alert)


@router.post("/alerts/{alert_id}/case", response_model=CaseOpened)
def open_case(alert_id: int, session: DbSession, actor: CurrentActor) -> CaseOpened:
    """Open a CSIRT case for an alert, with its source addresses and accounts as
    observables (409 when it already has one)."""
    service.get_alert(session=session, actor=actor, alert_id=alert_id)  # 404 first
    reference = flows.open_case(session=session, actor=actor, alert_id=alert_id)
    alert = service.get_alert(session=session, actor=actor, alert_id=alert_id)
    return CaseOpened(case_reference=reference, alert=AlertOut.model_validate(alert))


# --- events, rules, suppressions --------------------------------------------------------------

@router.get("/events", response_model=list[EventOut])
def search_events(session: DbSession, actor: CurrentActor,
                  query: Annotated[EventQuery, Query()]) -> list[EventOut]:
    """Stored events the caller reads, newest first: ``q`` in the message, ``dataset``,
    ``institution_id``, ``limit``."""
    return [EventOut.model_validate(e)
            for e in service.search_events(session=session, actor=actor, query=query)]


@router.get("/rules", response_model=PackSummary)
def rule_summary(actor: CurrentActor) -> PackSummary:
    """The loaded rules and the unsupported ones with their reasons."""
    return service.rules_summary(actor=actor)


@router.post("/suppressions", response_model=SuppressionOut, status_code=201)
def suppress(body: SuppressionIn, session: DbSession, actor: CurrentActor,
             response: Response) -> SuppressionOut:
    """Suppress a rule's alerts (one subject or all, one institution or all) for some days."""
    rule = service.suppress(session=session, actor=actor, data=body)
    response.headers["Location"] = "/api/v1/detection/suppressions"
    return SuppressionOut.model_validate(rule)


@router.get("/suppressions", response_model=list[SuppressionOut])
def list_suppressions(session: DbSession, actor: CurrentActor) -> list[SuppressionOut]:
    """The suppression rules the caller reads, unexpired first."""
    return [SuppressionOut.model_validate(s)
            for s in service.list_suppressions(session=session, actor=actor)]

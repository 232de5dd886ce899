"""JSON API of detection (under ``/api/v1/detection``).

Collection: ``POST /ingest`` takes what log shippers send with a focal point's API token:
``application/x-ndjson`` (one JSON object per line: Windows events, or records with a
``message`` such as Fluent Bit and Vector forward), ``application/json`` (the same, or one
JSON array of records, as rsyslog's omhttp batches them) or ``text/plain`` (one raw log line
per line); ``Content-Encoding: gzip`` is accepted. Every event is stored before the 202
answer. Over 10 000 lines or 10 MiB: 413; another type: 415; bytes that are not UTF-8: 422
with the line number; more than ``Settings.detection_ingest_concurrency`` requests of one
institution in progress at once (per process): 429 with ``Retry-After``.

Alerts: ``GET /alerts``, ``GET /alerts/{id}`` (with its events), ``POST /alerts/{id}/triage``,
``POST /alerts/{id}/case``. Events: ``GET /events`` (search). Rules: ``GET /rules``.
Suppressions: ``GET/POST /suppressions``.

Scope and permissions are the service's: a focal point reading another institution's alert
gets 404, as for any unknown one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
import zlib
from collections import OrderedDict, deque
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.concurrency import run_in_threadpool

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Invalid, LakanaError, TooLarge, TooManyRequests
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


class RequestTimeout(LakanaError):
    """The client did not send its whole request in time."""

    status = 408
    title = "Request timeout"
    type_slug = "request-timeout"


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

class IngestSlots:
    """How many ingest requests each institution has in progress in this process: over
    ``Settings.detection_ingest_concurrency`` the next one is refused (429, retry later), so
    that one institution's flood holds at most that many workers and database writes while
    the others' batches go on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: dict[int | None, int] = {}

    def acquire(self, key: int | None, limit: int) -> bool:
        """Take a slot for ``key`` unless ``limit`` are taken; whether it was taken."""
        with self._lock:
            if self._busy.get(key, 0) >= limit:
                return False
            self._busy[key] = self._busy.get(key, 0) + 1
            return True

    def release(self, key: int | None) -> None:
        """Give back a slot taken by :meth:`acquire`."""
        with self._lock:
            left = self._busy.get(key, 0) - 1
            if left > 0:
                self._busy[key] = left
            else:
                self._busy.pop(key, None)

    def in_progress(self, key: int | None) -> int:
        """Slots taken for ``key`` now."""
        with self._lock:
            return self._busy.get(key, 0)


class FairWriteGate:
    """One ingest transaction at a time in this process, institutions served in turn.

    SQLite has a single writer, and its busy handler retries at random: a batch of
    institution B could wait behind A's batches until the busy timeout (503). Through the
    gate, a waiting institution goes before one that was just served (round robin, first
    come first served within an institution), so B waits for at most the batch in progress.
    PostgreSQL writes concurrently and does not use it.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: OrderedDict[int | None, deque[object]] = OrderedDict()
        self._busy = False

    def _first(self) -> object | None:
        for tickets in self._waiting.values():
            return tickets[0]
        return None

    @contextmanager
    def hold(self, key: int | None) -> Iterator[None]:
        """Wait for this institution's turn, then hold the gate for the block."""
        ticket = object()
        with self._cond:
            self._waiting.setdefault(key, deque()).append(ticket)
            while self._busy or self._first() is not ticket:
                self._cond.wait()
            self._busy = True
            tickets = self._waiting[key]
            tickets.popleft()
            if tickets:
                self._waiting.move_to_end(key)  # its next batch waits for the others
            else:
                del self._waiting[key]
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()


log = logging.getLogger("lakana.detection")
#: Times a batch is run again after losing a race on an alert's version.
STALE_RETRIES = 6

#: Per process: each worker process bounds its own share.
INGEST_SLOTS = IngestSlots()
WRITE_GATE = FairWriteGate()
#: Seconds a refused shipper is told to wait (a batch takes about that long).
RETRY_AFTER = 2


@router.post("/ingest", response_model=IngestResult, status_code=202)
async def ingest(request: Request, session: DbSession, actor: CurrentActor,
                 system_id: Annotated[int | None, Query(ge=1)] = None,
                 institution_id: Annotated[int | None, Query(ge=1)] = None) -> IngestResult:
    """Store and analyse log lines of the token's institution (the centre names
    ``institution_id``); ``system_id`` attributes them to one of its information systems.
    The events are committed when the answer comes. An institution with too many requests
    in progress gets 429 with ``Retry-After``; alerts an escalation rule matches become
    CSIRT cases."""
    actor.require(P.INGEST)
    key = actor.institution_id if not actor.is_national else institution_id
    limit = request.app.state.settings.detection_ingest_concurrency
    if not INGEST_SLOTS.acquire(key, limit):
        raise TooManyRequests("Too many log batches of this institution are being processed: "
                              "retry in %(seconds)s seconds.", seconds=RETRY_AFTER)
    try:
        deadline = request.app.state.settings.detection_body_timeout
        try:
            lines, records = await asyncio.wait_for(read_logs(request, actor), deadline)
        except TimeoutError as exc:
            # A client that never finishes its request must not hold the slot forever.
            raise RequestTimeout("The request body did not arrive within %(seconds)s seconds.",
                                 seconds=f"{deadline:g}") from exc
        result: IngestResult = await run_in_threadpool(
            _store, session, actor, key, lines=lines, records=records, system_id=system_id,
            institution_id=institution_id)
    finally:
        INGEST_SLOTS.release(key)
    return result


def _store(session: Session, actor: Actor, key: int | None, *, lines: list[str] | None,
           records: list[dict[str, Any]] | None, system_id: int | None,
           institution_id: int | None) -> IngestResult:
    """Ingest and commit (through the fair gate on SQLite). Committed here, while the
    institution's slot is held: the commit is part of the batch's cost, and an acknowledged
    event is durable (the request's dependency then has nothing left to commit).

    Two batches of one institution adding to the same alert at once: the later one finds
    the alert's version changed (PostgreSQL writes concurrently); the whole batch is
    rolled back and run again, so the shipper gets its 202 rather than an error.
    """
    for attempt in range(1, STALE_RETRIES + 1):
        gate = WRITE_GATE.hold(key) if session.get_bind().dialect.name == "sqlite" \
            else nullcontext()
        try:
            with gate:
                result = flows.ingest(session=session, actor=actor, lines=lines,
                                      records=records, system_id=system_id,
                                      institution_id=institution_id, channel="http")
                session.commit()
            return result
        except StaleDataError:
            session.rollback()
            if attempt == STALE_RETRIES:
                raise
            log.info("ingest batch met a concurrent alert update; retrying (%s)", attempt)
            time.sleep(random.uniform(0.01, 0.04) * 2 ** attempt)
    raise AssertionError("unreachable")  # pragma: no cover


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
    ``host``, ``user``, ``source_ip``, ``outcome`` (success, failure, unknown), the event's time
    from ``start`` to ``end`` (ISO 8601; UTC when no zone is given), ``institution_id``,
    ``limit``."""
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

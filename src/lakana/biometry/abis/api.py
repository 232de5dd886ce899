"""The MOSIP ABIS API over HTTP (under ``/api/v1/abis``), for an API token holding
``biometry:abis:operate``.

``POST /requests`` takes one ABIS request message. Ping, PendingJobs and ReferenceCount
are answered at once (200, the response message); Insert, Identify and Delete are queued
as durable jobs and answered 202 with ``{"id", "requestId", "lakanaState": "queued"}``.
A malformed request is answered 200 with the specification's failure message
(``returnValue`` "2" and its ``failureReason``): the transport worked, the ABIS refused.
The same requestId replayed gets the same answer (the job is not queued again); the same
requestId with other content is refused with 409.

``GET /responses/{abis_request_id}`` gives the response message once done (200), the
pending marker while queued (202), 404 for an unknown requestId.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from lakana.biometry import runtime
from lakana.biometry.abis import service
from lakana.biometry.permissions import BiometryPermission as P
from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.errors import TooLarge

router = APIRouter(prefix="/abis", tags=["abis"])  # mounted under /api/v1

#: The largest request body: an inline CBEFF (Lakana extension) with ten finger images.
MAX_REQUEST_BYTES = 16 * 1024 * 1024

_EXAMPLE = {"id": "mosip.abis.insert", "version": "1.1",
            "requestId": "91234567-89AB-CDEF-0123-456789ABCDEF",
            "requesttime": "2020-03-29T07:01:24.692Z",
            "referenceId": "01234567-89AB-CDEF-0123-456789ABCDEF",
            "referenceURL": "https://mosip.example/v1/datashare/get/abis/1"}


async def _body(request: Request) -> bytes:
    too_large = TooLarge("The ABIS request is larger than %(size)s bytes.",
                         size=MAX_REQUEST_BYTES)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/requests", status_code=202, openapi_extra={"requestBody": {
    "required": True, "content": {"application/json": {"schema": {"type": "object"},
                                                       "example": _EXAMPLE}}}})
async def submit_request(request: Request, session: DbSession,
                         actor: CurrentActor) -> JSONResponse:
    """Take one ABIS request message (MOSIP ABIS API v0.9)."""
    actor.require(P.ABIS)
    raw = await _body(request)
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = None
    store = runtime.keystore(get_settings(request))
    answer = await run_in_threadpool(
        lambda: service.submit(session=session, actor=actor, store=store, body=body))
    return JSONResponse(answer.body, status_code=answer.status)


@router.get("/responses/{abis_request_id}")
def get_response(abis_request_id: str, session: DbSession,
                 actor: CurrentActor) -> JSONResponse:
    """The response message of a request (200), or its pending marker (202)."""
    answer = service.get_response(session=session, actor=actor, request_id=abis_request_id)
    return JSONResponse(answer.body, status_code=answer.status)

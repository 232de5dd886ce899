"""Public JSON API (mounted under ``/api/v1``): report an incident without an account and
read its status with the tracking code. Both are rate limited per address (429 with
``Retry-After``).

``analyst_router`` holds the authenticated route for writing to a public case's reporter.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from lakana.core.auth.deps import CurrentActor, DbSession, client_ip, get_settings
from lakana.core.errors import Invalid
from lakana.csirt import public_service as service

router = APIRouter(prefix="/public", tags=["csirt: public reports"])
analyst_router = APIRouter(prefix="/csirt", tags=["csirt: public reports"])

_FIELDS = ("category", "title", "description", "reporter_name", "reporter_email",
           "reporter_phone")
_REPORT_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": service.PublicReportIn.model_json_schema()},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        **{name: {"type": "string"} for name in _FIELDS},
        "attachment": {"type": "string", "format": "binary"}},
        "required": ["category", "title", "description"]}}}}}


class ReceiptOut(BaseModel):
    """What the reporter keeps: the reference and the tracking code (given once)."""

    reference: str
    tracking_code: str
    status_url: str


class MessageOut(BaseModel):
    """A message of the centre to the reporter."""

    at: dt.datetime
    text: str


class PublicStatusOut(BaseModel):
    """The public status of a report."""

    reference: str
    title: str
    category: str
    category_label: str
    status: str
    status_label: str
    reported_at: dt.datetime
    acknowledged_at: dt.datetime | None
    closed_at: dt.datetime | None
    updated_at: dt.datetime
    messages: list[MessageOut]


class PublicMessageIn(BaseModel):
    """A message to the reporter of a public case."""

    text: str = Field(min_length=1, max_length=2000)


class PublicMessageOut(BaseModel):
    """The message as recorded on the case's timeline."""

    id: int
    case_id: int
    at: dt.datetime
    text: str


async def _read_report(request: Request) -> tuple[dict[str, Any], service.Attachment | None]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            raise Invalid("The body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise Invalid("Expected a JSON object.")
        return body, None
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise Invalid("Send the report as JSON or as multipart/form-data.")
    form = await request.form()
    values = {name: str(form[name]) for name in _FIELDS if isinstance(form.get(name), str)}
    upload = form.get("attachment")
    attachment = None
    if isinstance(upload, UploadFile) and upload.filename and upload.size != 0:
        attachment = service.Attachment(name=upload.filename, data=upload.file,
                                        declared_type=upload.content_type)
    return values, attachment


@router.post("/reports", response_model=ReceiptOut, status_code=201,
             openapi_extra=_REPORT_BODY)
async def submit_report(request: Request, session: DbSession) -> ReceiptOut:
    """Report an incident without an account (JSON, or multipart with one optional file
    ``attachment``: .eml, .png, .jpg, .pdf or .txt, at most 5 MB). The tracking code in
    the answer is given only once."""
    settings = get_settings(request)
    address = client_ip(request)
    await run_in_threadpool(service.check_report_rate, request.app.state.session_factory,
                            address)
    values, attachment = await _read_report(request)
    try:
        data = service.PublicReportIn.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    case, code = await run_in_threadpool(
        lambda: service.submit_public_report(session=session, settings=settings, data=data,
                                             attachment=attachment, source_ip=address))
    return ReceiptOut(reference=case.reference or "", tracking_code=code,
                      status_url=f"{settings.base_url.rstrip('/')}/public/status")


@router.get("/reports/status", response_model=PublicStatusOut)
def report_status(request: Request, session: DbSession,
                  code: Annotated[str, Query(max_length=40)]) -> PublicStatusOut:
    """The public status of the report of a tracking code (the same 404 for any wrong
    code; lookups are rate limited per address)."""
    service.check_status_rate(request.app.state.session_factory, client_ip(request))
    status = service.status_by_code(session=session, code=code)
    return PublicStatusOut(
        reference=status.reference, title=status.title, category=status.category,
        category_label=status.category_label, status=status.status,
        status_label=status.status_label, reported_at=status.reported_at,
        acknowledged_at=status.acknowledged_at, closed_at=status.closed_at,
        updated_at=status.updated_at,
        messages=[MessageOut(at=m.at, text=m.text) for m in status.messages])


@analyst_router.post("/cases/{case_id}/public-messages", response_model=PublicMessageOut,
                     status_code=201)
def write_to_reporter(case_id: int, body: PublicMessageIn, session: DbSession,
                      actor: CurrentActor) -> PublicMessageOut:
    """Write to the reporter of a public case (shown on the public status page)."""
    event = service.add_public_message(session=session, actor=actor, case_id=case_id,
                                       text=body.text)
    return PublicMessageOut(id=event.id, case_id=case_id, at=event.at,
                            text=str(event.params.get("text", "")))

"""JSON API of notices and webhooks (mounted under ``/api/v1``).

A webhook's secret is answered once, by ``POST /csirt/webhooks``; it is never listed again.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.db import as_utc
from lakana.core.web.pagination import Page
from lakana.csirt import coordination, webhooks
from lakana.csirt.coordination_models import CaseNotice

router = APIRouter(prefix="/csirt", tags=["csirt: notices and webhooks"])
#: A time read back from the database, answered in UTC whatever the dialect kept.
Utc = Annotated[dt.datetime, AfterValidator(as_utc)]


class NoticeIn(BaseModel):
    """A notice to institutions about a case."""

    model_config = ConfigDict(extra="forbid")

    institution_ids: list[int] = Field(min_length=1, max_length=coordination.MAX_INSTITUTIONS)
    message: str = Field(min_length=1, max_length=coordination.MAX_MESSAGE)
    tlp: str = Field(default="amber", max_length=20)


class NoticeOut(BaseModel):
    """A notice, as its institution (or the centre) reads it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    case_reference: str = ""
    institution_id: int
    message: str
    tlp: str
    sent_by: str
    sent_at: Utc
    acknowledged_at: Utc | None
    acknowledged_by: str | None


class WebhookIn(BaseModel):
    """A webhook to register (``institution_id`` empty: one's own institution, or
    centre-wide for the centre)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=webhooks.MAX_URL)
    events: list[str] = Field(min_length=1, max_length=len(webhooks.EVENTS))
    institution_id: int | None = None
    description: str = Field(default="", max_length=200)


class WebhookOut(BaseModel):
    """A webhook (without its secret)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_id: int | None
    url: str
    description: str
    events: list[str]
    active: bool
    created_by: str
    created_at: Utc
    failure_count: int
    last_success_at: Utc | None
    last_failure_at: Utc | None
    disabled_reason: str


class WebhookCreatedOut(WebhookOut):
    """A new webhook, with its signing secret: shown this once."""

    secret: str


class ActiveIn(BaseModel):
    """Enable or disable a webhook."""

    model_config = ConfigDict(extra="forbid")

    active: bool


class DeliveryOut(BaseModel):
    """One delivery of an event to a webhook."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    webhook_id: int
    event: str
    payload: dict[str, Any]
    status: str
    attempts: int
    response_status: int | None
    last_error: str | None
    next_attempt_at: Utc | None
    delivered_at: Utc | None
    created_at: Utc


def _notices_out(session: Session, notices: list[CaseNotice]) -> list[NoticeOut]:
    refs = coordination.case_references(session=session, notices=notices)
    out = []
    for notice in notices:
        item = NoticeOut.model_validate(notice)
        item.case_reference = refs.get(notice.case_id, "")
        out.append(item)
    return out


@router.post("/cases/{case_id}/notices", response_model=list[NoticeOut], status_code=201)
def send_notices(case_id: int, body: NoticeIn, session: DbSession,
                 actor: CurrentActor) -> list[NoticeOut]:
    """Notify institutions about a case (the centre); TLP:RED is refused."""
    notices = coordination.notify_institutions(
        session=session, actor=actor, case_id=case_id, institution_ids=body.institution_ids,
        message=body.message, tlp=body.tlp)
    return _notices_out(session, notices)


@router.get("/cases/{case_id}/notices", response_model=list[NoticeOut])
def case_notices(case_id: int, session: DbSession, actor: CurrentActor) -> list[NoticeOut]:
    """The notices sent about a case, with their acknowledgements (the centre)."""
    return _notices_out(session, coordination.list_for_case(session=session, actor=actor,
                                                            case_id=case_id))


@router.get("/notices", response_model=Page[NoticeOut])
def my_notices(session: DbSession, actor: CurrentActor,
               limit: Annotated[int, Query(ge=1, le=200)] = 50,
               offset: Annotated[int, Query(ge=0)] = 0,
               pending: bool = False) -> Page[NoticeOut]:
    """Notices addressed to the caller's institution (the centre: every notice)."""
    rows, total = coordination.list_notices(session=session, actor=actor, limit=limit,
                                            offset=offset, pending_only=pending)
    return Page[NoticeOut](items=_notices_out(session, rows), total=total, limit=limit,
                           offset=offset)


@router.post("/notices/{notice_id}/acknowledge", response_model=NoticeOut)
def acknowledge(notice_id: int, session: DbSession, actor: CurrentActor) -> NoticeOut:
    """Acknowledge a notice for one's institution (focal points)."""
    notice = coordination.acknowledge(session=session, actor=actor, notice_id=notice_id)
    return _notices_out(session, [notice])[0]


@router.get("/webhooks", response_model=list[WebhookOut])
def list_webhooks(session: DbSession, actor: CurrentActor) -> Any:
    """The webhooks the caller manages."""
    return webhooks.list_webhooks(session=session, actor=actor)


@router.post("/webhooks", response_model=WebhookCreatedOut, status_code=201)
def create_webhook(request: Request, body: WebhookIn, session: DbSession,
                   actor: CurrentActor) -> WebhookCreatedOut:
    """Register a webhook; the answer holds its signing secret, shown only this once."""
    hook, secret = webhooks.create_webhook(
        session=session, actor=actor, settings=get_settings(request), url=body.url,
        events=body.events, institution_id=body.institution_id, description=body.description)
    return WebhookCreatedOut(**WebhookOut.model_validate(hook).model_dump(), secret=secret)


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: int, session: DbSession, actor: CurrentActor) -> None:
    """Delete a webhook and its delivery log."""
    webhooks.delete_webhook(session=session, actor=actor, webhook_id=webhook_id)


@router.post("/webhooks/{webhook_id}/active", response_model=WebhookOut)
def set_active(webhook_id: int, body: ActiveIn, session: DbSession,
               actor: CurrentActor) -> Any:
    """Enable or disable a webhook (enabling clears its failure count)."""
    return webhooks.set_active(session=session, actor=actor, webhook_id=webhook_id,
                               active=body.active)


@router.post("/webhooks/{webhook_id}/ping", response_model=DeliveryOut, status_code=202)
def ping(webhook_id: int, session: DbSession, actor: CurrentActor) -> Any:
    """Queue a ``test`` event to the webhook."""
    return webhooks.ping(session=session, actor=actor, webhook_id=webhook_id)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut])
def deliveries(webhook_id: int, session: DbSession, actor: CurrentActor,
               limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Any:
    """The latest deliveries of a webhook, newest first."""
    return webhooks.list_deliveries(session=session, actor=actor, webhook_id=webhook_id,
                                    limit=limit)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
             response_model=DeliveryOut, status_code=202)
def retry(webhook_id: int, delivery_id: int, session: DbSession, actor: CurrentActor) -> Any:
    """Send a failed delivery again."""
    return webhooks.retry_delivery(session=session, actor=actor, webhook_id=webhook_id,
                                   delivery_id=delivery_id)

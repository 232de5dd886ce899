"""JSON API of the caller's own notifications."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Request

from lakana.core import i18n
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.notifications import service
from lakana.core.notifications.models import Notification
from lakana.core.notifications.schemas import MarkedRead, NotificationOut, UnreadCount
from lakana.core.web.pagination import Page

router = APIRouter(prefix="/notifications", tags=["notifications"])


def _out(request: Request, item: Notification) -> NotificationOut:
    with i18n.use_language(getattr(request.state, "language", i18n.DEFAULT_LANGUAGE)):
        return NotificationOut(**asdict(service.to_view(item)))


@router.get("", response_model=Page[NotificationOut])
def list_notifications(request: Request, session: DbSession, actor: CurrentActor,
                       limit: Annotated[int, Query(ge=1, le=200)] = 50,
                       offset: Annotated[int, Query(ge=0)] = 0,
                       unread: Annotated[bool, Query(description="Only unread ones.")] = False
                       ) -> Page[NotificationOut]:
    """The caller's notifications, newest first."""
    rows, total = service.list_notifications(session=session, actor=actor, limit=limit,
                                             offset=offset, unread_only=unread)
    return Page[NotificationOut](items=[_out(request, n) for n in rows], total=total,
                                 limit=limit, offset=offset)


@router.get("/unread-count", response_model=UnreadCount)
def unread_count(session: DbSession, actor: CurrentActor) -> UnreadCount:
    """How many of the caller's notifications are unread."""
    return UnreadCount(unread=service.unread_count(session=session, actor=actor))


@router.post("/read-all", response_model=MarkedRead)
def mark_all_read(session: DbSession, actor: CurrentActor) -> MarkedRead:
    """Mark every notification of the caller read."""
    return MarkedRead(updated=service.mark_all_read(session=session, actor=actor))


@router.post("/{notification_id}/read", response_model=NotificationOut)
def mark_read(notification_id: int, request: Request, session: DbSession,
              actor: CurrentActor) -> NotificationOut:
    """Mark one of the caller's notifications read."""
    return _out(request, service.mark_read(session=session, actor=actor,
                                           notification_id=notification_id))

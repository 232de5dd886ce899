"""The inbox page: list, mark read, mark all read (htmx swaps only the list)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from lakana.core import i18n
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.notifications import service
from lakana.core.web.templating import is_htmx, render

router = APIRouter()
PAGE_SIZE = 25


def _context(request: Request, session: Session, actor: Actor, *, unread: bool,
             offset: int) -> dict[str, Any]:
    rows, total = service.list_notifications(session=session, actor=actor, limit=PAGE_SIZE,
                                             offset=offset, unread_only=unread)
    with i18n.use_language(getattr(request.state, "language", i18n.DEFAULT_LANGUAGE)):
        items = [service.to_view(n) for n in rows]
    return {"items": items, "total": total, "unread": unread, "offset": offset,
            "limit": PAGE_SIZE, "unread_total": service.unread_count(session=session,
                                                                      actor=actor)}


def _list_response(request: Request, session: Session, actor: Actor, *, unread: bool,
                   offset: int) -> Response:
    if not is_htmx(request):
        query = f"?unread=1&offset={offset}" if unread else f"?offset={offset}"
        return RedirectResponse(f"/notifications{query}", status_code=303)
    return render(request, "notifications/index.html",
                  _context(request, session, actor, unread=unread, offset=offset),
                  fragment="notifications/_list.html")


@router.get("/notifications", name="notifications")
def inbox(request: Request, session: DbSession, actor: CurrentActor,
          unread: Annotated[bool, Query()] = False,
          offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    """The actor's inbox, newest first."""
    return render(request, "notifications/index.html",
                  _context(request, session, actor, unread=unread, offset=offset),
                  fragment="notifications/_list.html")


@router.post("/notifications/read-all")
def read_all(request: Request, session: DbSession, actor: CurrentActor,
             unread: Annotated[bool, Form()] = False) -> Response:
    """Mark every notification read."""
    service.mark_all_read(session=session, actor=actor)
    return _list_response(request, session, actor, unread=unread, offset=0)


@router.post("/notifications/{notification_id}/read")
def read_one(notification_id: int, request: Request, session: DbSession, actor: CurrentActor,
             unread: Annotated[bool, Form()] = False,
             offset: Annotated[int, Form(ge=0)] = 0) -> Response:
    """Mark one notification read."""
    service.mark_read(session=session, actor=actor, notification_id=notification_id)
    return _list_response(request, session, actor, unread=unread, offset=offset)


@router.post("/notifications/{notification_id}/open")
def open_one(notification_id: int, session: DbSession, actor: CurrentActor) -> Response:
    """Mark a notification read and follow its link (always a path on this site)."""
    item = service.mark_read(session=session, actor=actor, notification_id=notification_id)
    return RedirectResponse(item.link or "/notifications", status_code=303)

"""Tracking routes without an account, reached from the exercise's messages: the open
pixel, the click (a French page explaining that it was an exercise, with a harmless form),
the form's submission (only the fact is recorded, never what was typed) and the report.

The signed token is the only credential: a forged or altered one gets a neutral 404 and
nothing is recorded. Replays record nothing new.
"""

from __future__ import annotations

import base64

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lakana.awareness.phishing import service
from lakana.awareness.phishing.schemas import EventKind
from lakana.core.auth.deps import DbSession, get_settings
from lakana.core.web.templating import render

router = APIRouter(prefix="/p")

#: A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex"}


def _landing(request: Request, session: DbSession, tracking_token: str,
             kind: EventKind) -> Response:
    target = service.record_event(session=session, settings=get_settings(request),
                                  token=tracking_token, kind=kind)
    template = target.exercise.template
    return render(request, "awareness/phishing/landing.html",
                  {"token": tracking_token, "landing_text": template.landing_text,
                   "kind": kind.value}, headers=NO_STORE)


@router.get("/o/{tracking_token}")
def opened(tracking_token: str, request: Request, session: DbSession) -> Response:
    """The open pixel."""
    service.record_event(session=session, settings=get_settings(request),
                         token=tracking_token, kind=EventKind.OPENED)
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get("/c/{tracking_token}")
def clicked(tracking_token: str, request: Request, session: DbSession) -> Response:
    """The link of the message: the landing page of the exercise."""
    return _landing(request, session, tracking_token, EventKind.CLICKED)


@router.post("/s/{tracking_token}")
def submitted(tracking_token: str, request: Request, session: DbSession) -> Response:
    """The landing page's form: record that it was submitted; its fields are never read."""
    return _landing(request, session, tracking_token, EventKind.SUBMITTED)


@router.get("/r/{tracking_token}")
def reported(tracking_token: str, request: Request, session: DbSession) -> Response:
    """The person reported the message: thank them."""
    return _landing(request, session, tracking_token, EventKind.REPORTED)

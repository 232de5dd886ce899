"""The public portal's pages, for anyone without an account: a home linking to security
advice, the CSIRT's public advisories, the public incident and scam report form with its
status page, and the training certificate checker; and the advice itself, in the visitor's
language (the language switch of every page).

Light on a slow mobile connection: server-rendered, no external asset, no image.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lakana.awareness.portal import service
from lakana.core.auth.deps import DbSession
from lakana.core.i18n import DEFAULT_LANGUAGE
from lakana.core.web.templating import render

router = APIRouter(prefix="/portail")


def _language(request: Request) -> str:
    return str(getattr(request.state, "language", DEFAULT_LANGUAGE))


@router.get("")
def portal_home(request: Request, session: DbSession) -> Response:
    """The portal's home: the public services and the advice topics."""
    language = _language(request)
    return render(request, "awareness/portal/home.html", {
        "topics": service.advice(language),
        "advisories": service.latest_advisories(session=session, language=language)})


@router.get("/conseils")
def portal_advice(request: Request) -> Response:
    """Every security advice topic, in the visitor's language."""
    return render(request, "awareness/portal/advice.html",
                  {"topics": service.advice(_language(request))})

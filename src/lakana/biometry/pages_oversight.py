"""Oversight pages of the registry (``biometry:oversight:read``): the dashboard, citizens'
complaints and their handling (``biometry:complaint:handle``); and the public statistics
page ``/registre/statistiques`` (no account, small counts suppressed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from lakana.biometry import oversight
from lakana.biometry.permissions import BiometryPermission as P
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import CorePermission
from lakana.core.errors import LakanaError
from lakana.core.i18n import gettext as _
from lakana.core.web.errors import redirect
from lakana.core.web.forms import Form
from lakana.core.web.templating import render

router = APIRouter()



@router.get("/biometry/oversight")
def dashboard(request: Request, session: DbSession, actor: CurrentActor,
              days: Annotated[int, Query(ge=1, le=oversight.MAX_DAYS)] = 30) -> Response:
    """Accesses, refusals and anomalies, deletions, key rotations, complaints."""
    board = oversight.dashboard(session=session, actor=actor, days=days)
    return render(request, "biometry/oversight.html", {
        "board": board, "can_audit": actor.can(CorePermission.AUDIT_READ),
        "ledger_head": oversight.ledger_head(session=session)})


@router.get("/biometry/oversight/complaints")
def complaints(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """Citizens' complaints, open first."""
    return render(request, "biometry/oversight_complaints.html",
                  {"rows": oversight.list_complaints(session=session, actor=actor)})


def _complaint_page(request: Request, row: oversight.ComplaintRow, can_handle: bool, *,
                    error: str | None = None, notice: str | None = None,
                    status_code: int = 200) -> Response:
    return render(request, "biometry/oversight_complaint.html",
                  {"row": row, "can_handle": can_handle, "error": error, "notice": notice},
                  status_code=status_code)


@router.get("/biometry/oversight/complaints/{complaint_id}")
def complaint(complaint_id: int, request: Request, session: DbSession,
              actor: CurrentActor, saved: str | None = None) -> Response:
    """One complaint and, for the authority, the handling form."""
    row = oversight.get_complaint(session=session, actor=actor, complaint_id=complaint_id)
    return _complaint_page(request, row, actor.can(P.COMPLAINT_HANDLE),
                           notice=_("The complaint is updated.") if saved else None)


@router.post("/biometry/oversight/complaints/{complaint_id}")
def handle(complaint_id: int, request: Request, session: DbSession, actor: CurrentActor,
           form: Form) -> Response:
    """Set the complaint in review or closed, with the response."""
    state = form.get("state", "")
    response = form.get("response", "")
    try:
        oversight.handle_complaint(session=session, actor=actor, complaint_id=complaint_id,
                                   state=state if isinstance(state, str) else "",
                                   response=response if isinstance(response, str) else "")
    except LakanaError as exc:
        if exc.status in (403, 404):
            raise
        session.rollback()
        row = oversight.get_complaint(session=session, actor=actor, complaint_id=complaint_id)
        return _complaint_page(request, row, True, error=_(exc.message, **exc.params),
                               status_code=exc.status)
    return redirect(request, f"/biometry/oversight/complaints/{complaint_id}?saved=1")


@router.get("/registre/statistiques")
def statistics(request: Request, session: DbSession) -> Response:
    """Public statistics of the registry (counts below 10 are not published)."""
    return render(request, "biometry/oversight_statistics.html",
                  {"stats": oversight.public_statistics(session=session),
                   "threshold": oversight.SUPPRESS_BELOW})


@router.get("/biometry/oversight/ledger-export")
def ledger_export_download(request: Request, session: DbSession, actor: CurrentActor,
                           from_seq: Annotated[int | None, Query(ge=1)] = None,
                           to_seq: Annotated[int | None, Query(ge=1)] = None) -> Response:
    """The registry's ledger with its proof, as a download (same as the API's)."""
    from lakana.biometry.api_oversight import ledger_export

    return ledger_export(request, session, actor, from_seq, to_seq)

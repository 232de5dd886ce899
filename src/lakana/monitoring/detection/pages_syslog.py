"""HTML pages of the syslog receiver's senders (under ``/detection``).

``/detection/syslog-sources``: the registered senders (an institution's staff see their
own), and for the CSIRT the form to register one and a button to remove each. Forms carry
the CSRF token like every other form; a refused form comes back with the reason and what
was typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.errors import Conflict, Invalid
from lakana.core.i18n import N_
from lakana.core.web.errors import redirect
from lakana.core.web.forms import Form, problem_of, text_field
from lakana.core.web.templating import render
from lakana.monitoring.detection.permissions import DetectionPermission as P
from lakana.monitoring.detection.syslog import sources
from lakana.registry import service as registry_service

router = APIRouter(prefix="/detection")

NOTICES = {"added": N_("The sender is registered."),
           "removed": N_("The sender was removed.")}





def _page(request: Request, session: Session, actor: Actor, *, notice: str | None = None,
          problem: str | None = None, values: dict[str, str] | None = None,
          status_code: int = 200) -> Response:
    rows = sources.list_sources(session=session, actor=actor)
    names = dict(registry_service.institution_choices(session=session))
    can_manage = actor.can(P.SOURCES_MANAGE)
    systems: list[Any] = []
    if can_manage:
        # Every system, for the form's choice (managers are national: they see them all).
        systems = registry_service.all_systems(session=session,
                                               actor=system_actor("detection", "system"))
    system_names = {s.id: s.name for s in systems}
    return render(request, "detection/syslog_sources.html", {
        "sources": rows, "names": names, "systems": systems, "system_names": system_names,
        "can_manage": can_manage, "notice": notice, "problem": problem,
        "values": values or {}}, status_code=status_code)


@router.get("/syslog-sources")
def sources_page(request: Request, session: DbSession, actor: CurrentActor,
                 done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """The registered syslog senders, and the form to register one."""
    actor.require(P.READ)
    return _page(request, session, actor, notice=NOTICES.get(done or ""))


@router.post("/syslog-sources")
def add_source(request: Request, session: DbSession, actor: CurrentActor,
               form: Form) -> Response:
    """Register a sender; a refused one comes back with the reason."""
    actor.require(P.SOURCES_MANAGE)
    values = {name: text_field(form, name) for name in
              ("institution_id", "system_id", "name", "network", "cert_sha256")}
    try:
        data = sources.SyslogSourceIn.model_validate(
            {**values, "institution_id": values["institution_id"] or None})
        sources.add_source(session=session, actor=actor, data=data)
    except (ValidationError, Invalid, Conflict) as exc:
        session.rollback()
        problem, status = problem_of(exc)
        return _page(request, session, actor, problem=problem, values=values,
                     status_code=status)
    return redirect(request, "/detection/syslog-sources?done=added")


@router.post("/syslog-sources/{source_id}/delete")
def delete_source(source_id: int, request: Request, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Remove a sender."""
    sources.delete_source(session=session, actor=actor, source_id=source_id)
    return redirect(request, "/detection/syslog-sources?done=removed")

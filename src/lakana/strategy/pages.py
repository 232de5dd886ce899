"""HTML pages of the national strategy's action plan: the plan as a tree (axes → objectives →
actions with status, lead, period and budget; indicators with baseline and targets), the
import form and export links, and an action's page with its edit form.

Forms carry the CSRF token and the action's version; problems show the page again with the
person's input, and a refused import lists each problem with its line, or sheet and row.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Forbidden, Invalid, LakanaError
from lakana.core.i18n import current_language, translate
from lakana.core.i18n import gettext as _
from lakana.core.web.errors import validation_message
from lakana.core.web.forms import Form
from lakana.core.web.templating import render
from lakana.strategy import service, transfer
from lakana.strategy.api import MEDIA_TYPES
from lakana.strategy.permissions import StrategyPermission as P
from lakana.strategy.schemas import (
    DIRECTION_LABELS,
    FIRST_YEAR,
    FREQUENCY_LABELS,
    LAST_YEAR,
    SOURCE_LABELS,
    STATUS_LABELS,
    ActionUpdate,
)

router = APIRouter(prefix="/strategy")

ACTION_FIELDS = ("status", "starts_on", "ends_on", "budget_committed")


def _label(labels: dict[Any, str], value: str | None) -> str:
    for key, label in labels.items():
        if key.value == value:
            return _(label)
    return value or "—"


def _number(value: float | int | None) -> str:
    """A number with thousands separated (a narrow space in French, a comma in English)."""
    if value is None:
        return "—"
    grouped = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return grouped if current_language() == "en" else grouped.replace(",", "\u202f")


def _labels() -> dict[str, Any]:
    return {
        "number": _number, "years": list(range(FIRST_YEAR, LAST_YEAR + 1)),
        "statuses": [(k.value, _(v)) for k, v in STATUS_LABELS.items()],
        "status_label": lambda v: _label(STATUS_LABELS, v),
        "frequency_label": lambda v: _label(FREQUENCY_LABELS, v),
        "source_label": lambda v: _label(SOURCE_LABELS, v),
        "direction_label": lambda v: _label(DIRECTION_LABELS, v),
    }


def _where(item: dict[str, Any]) -> str:
    if "line" in item:
        return _("line %(line)s", line=item["line"])
    if "sheet" in item:
        return _("sheet %(sheet)s, row %(row)s", sheet=item["sheet"], row=item["row"])
    return ""


# --- the plan -------------------------------------------------------------------------------

def _plan_page(request: Request, session: Session, actor: Actor, *, error: str | None = None,
               problems: list[dict[str, Any]] | None = None, notice: str | None = None,
               status_code: int = 200) -> Response:
    return render(request, "strategy/plan.html", {
        "plan": service.get_plan(session=session, actor=actor),
        "can_manage": actor.can(P.PLAN_MANAGE), "error": error, "notice": notice,
        "problems": [{"where": _where(p),
                      "message": translate(str(p["message"]), **p.get("params", {}))}
                     for p in problems or []], **_labels()}, status_code=status_code)


@router.get("")
def plan(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The action plan as a tree, with the import form and export links for the agency."""
    return _plan_page(request, session, actor)


@router.post("/import")
def import_plan(request: Request, session: DbSession, actor: CurrentActor,
                form: Form) -> Response:
    """Import an uploaded plan, or show the plan again with each problem and its place."""
    actor.require(P.PLAN_MANAGE)
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile):
            raise Invalid("Choose a file to import.")
        result = service.import_plan(session=session, actor=actor,
                                     content=upload.file.read(transfer.MAX_BYTES + 1),
                                     filename=upload.filename or "")
    except LakanaError as exc:
        if isinstance(exc, Forbidden):
            raise
        session.rollback()
        return _plan_page(request, session, actor, error=_(exc.message, **exc.params),
                          problems=exc.errors, status_code=exc.status)
    return _plan_page(request, session, actor, notice=_(
        "Plan imported: %(created)s created, %(updated)s updated, %(deleted)s removed, "
        "%(unchanged)s unchanged.", created=result.created, updated=result.updated,
        deleted=result.deleted, unchanged=result.unchanged))


@router.get("/export")
def export_plan(session: DbSession, actor: CurrentActor,
                format: Annotated[Literal["yaml", "xlsx"], Query()] = "yaml") -> Response:
    """Download the plan as YAML or XLSX."""
    content = service.export_plan(session=session, actor=actor, fmt=format)
    return Response(content, media_type=MEDIA_TYPES[format], headers={
        "Content-Disposition": f'attachment; filename="plan-strategie.{format}"'})


# --- one action -----------------------------------------------------------------------------

def _action_page(request: Request, session: Session, actor: Actor, action_id: int, *,
                 values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                 error: str | None = None, status_code: int = 200) -> Response:
    found = service.action_out(session=session, actor=actor, action_id=action_id)
    shown = values or {**{name: getattr(found, name) for name in ACTION_FIELDS},
                       "milestones_done": [m.code for m in found.milestones if m.done_on]}
    shown.setdefault("version", found.version)
    return render(request, "strategy/action.html", {
        "action": found, "can_manage": actor.can(P.PLAN_MANAGE), "values": shown,
        "errors": errors or {}, "error": error, **_labels()}, status_code=status_code)


@router.get("/actions/{strategy_action_id}")
def action_detail(request: Request, strategy_action_id: int, session: DbSession,
                  actor: CurrentActor) -> Response:
    """An action: lead, partners, budget, period, milestones, and the edit form."""
    return _action_page(request, session, actor, strategy_action_id)


@router.post("/actions/{strategy_action_id}")
def action_update(request: Request, strategy_action_id: int, session: DbSession,
                  actor: CurrentActor, form: Form) -> Response:
    """Save an action, or show it again (409 when someone saved it meanwhile)."""
    actor.require(P.PLAN_MANAGE)
    values: dict[str, Any] = {name: str(form.get(name, "")).strip()
                              for name in ACTION_FIELDS if name in form}
    values["milestones_done"] = [str(v) for v in form.getlist("milestones_done")]
    version = str(form.get("version", "")).strip()
    shown = {**values, "version": version}
    try:
        service.update_action(session=session, actor=actor, action_id=strategy_action_id,
                              data=ActionUpdate(**values, version=version or None))
    except ValidationError as exc:
        errors = {str(e["loc"][0]) if e.get("loc") else "version": validation_message(dict(e))
                  for e in exc.errors()}
        return _action_page(request, session, actor, strategy_action_id, values=shown,
                            errors=errors, status_code=422)
    except LakanaError as exc:
        session.rollback()
        if exc.status == 404:
            raise
        return _action_page(request, session, actor, strategy_action_id, values=shown,
                            errors={str(e["field"]): translate(str(e["message"]))
                                    for e in exc.errors if "field" in e},
                            error=_(exc.message, **exc.params), status_code=exc.status)
    return RedirectResponse(f"/strategy/actions/{strategy_action_id}", status_code=303)

"""HTML pages of remediation actions: the list (filters, overdue badge) and the forms.

Forms carry the CSRF token and the action's version; problems show the form again with the
person's input and inline messages. Scope comes from the services, never from here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from lakana.compliance.remediation import service
from lakana.compliance.remediation.models import Action
from lakana.compliance.remediation.permissions import ActionPermission as P
from lakana.compliance.remediation.schemas import (
    LABELS,
    ActionCreate,
    ActionPriority,
    ActionQuery,
    ActionStatus,
    ActionUpdate,
)
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Conflict, Invalid, LakanaError
from lakana.core.i18n import gettext as _
from lakana.core.i18n import translate
from lakana.core.web.errors import validation_message
from lakana.core.web.forms import Form
from lakana.core.web.templating import render

router = APIRouter(prefix="/compliance")

FIELDS = ("institution_id", "title", "description", "owner", "due_date", "priority", "status",
          "control_id")
OPTIONAL = ("due_date", "control_id", "institution_id")


def label(value: str) -> str:
    """The message id naming a priority or a status."""
    return LABELS.get(str(value), str(value))


HELPERS: dict[str, Any] = {"label": label, "priorities": list(ActionPriority),
                           "statuses": list(ActionStatus)}



def _values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {name: str(form.get(name, "")).strip()
                              for name in FIELDS if name in form}
    for name in OPTIONAL:
        if values.get(name) == "":
            values[name] = None
    return values


def _validation_errors(exc: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in exc.errors():
        key = str(item["loc"][0]) if item.get("loc") else "form"
        message = validation_message(dict(item))
        found[key] = f"{found[key]} {message}" if key in found else message
    return found


def _domain_errors(exc: LakanaError) -> dict[str, str]:
    return {str(e["field"]): translate(str(e["message"])) for e in exc.errors if "field" in e}


@router.get("/actions")
def actions(request: Request, session: DbSession, actor: CurrentActor,
            query: Annotated[ActionQuery, Query()]) -> Response:
    """Remediation actions the person may see, with filters and overdue badges."""
    rows, total = service.list_actions(session=session, actor=actor, query=query)
    return render(request, "compliance/remediation/list.html", {
        "rows": rows, "total": total, "query": query, "today": service.today(),
        "names": service.institution_names(session=session), "national": actor.is_national,
        "can_write": actor.can(P.ACTION_WRITE), **HELPERS})


def _form(request: Request, session: Session, actor: Actor, *, action: Action | None,
          values: dict[str, Any], errors: dict[str, str], status_code: int = 200,
          error: str | None = None) -> Response:
    names = service.institution_names(session=session)
    owners = {k: v for k, v in names.items() if actor.is_national or k == actor.institution_id}
    return render(request, "compliance/remediation/form.html", {
        "action": action, "values": values, "errors": errors, "error": error,
        "owners": sorted(owners.items(), key=lambda item: item[1]), **HELPERS},
        status_code=status_code)


@router.get("/actions/new")
def action_new(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The form to add a free action."""
    actor.require(P.ACTION_WRITE)
    return _form(request, session, actor, action=None, errors={}, values={
        "institution_id": None if actor.is_national else actor.institution_id,
        "priority": "medium"})


@router.post("/actions/new")
def action_create(request: Request, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Add an action, or show the form again with the problems."""
    actor.require(P.ACTION_WRITE)
    values = _values(form)
    values.pop("status", None)
    try:
        service.create_action(session=session, actor=actor, data=ActionCreate(**values))
    except ValidationError as exc:
        return _form(request, session, actor, action=None, values=values,
                     errors=_validation_errors(exc), status_code=422)
    except (Invalid, Conflict) as exc:
        session.rollback()
        return _form(request, session, actor, action=None, values=values,
                     errors=_domain_errors(exc), status_code=exc.status,
                     error=_(exc.message, **exc.params))
    return RedirectResponse("/compliance/actions", status_code=303)


@router.get("/actions/{action_id}/edit")
def action_edit(request: Request, action_id: int, session: DbSession,
                actor: CurrentActor) -> Response:
    """The form to change an action."""
    action = service.get_action(session=session, actor=actor, action_id=action_id,
                                permission=P.ACTION_WRITE)
    values = {name: getattr(action, name) for name in FIELDS}
    values["version"] = action.version
    return _form(request, session, actor, action=action, values=values, errors={})


@router.post("/actions/{action_id}/edit")
def action_update(request: Request, action_id: int, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Save an action, or show the form again (409 when someone saved it meanwhile)."""
    action = service.get_action(session=session, actor=actor, action_id=action_id,
                                permission=P.ACTION_WRITE)
    values = _values(form)
    values.pop("institution_id", None)
    version = str(form.get("version", "")).strip()
    shown = {**values, "institution_id": action.institution_id, "version": version}
    try:
        data = ActionUpdate(**values, version=version or None)
        service.update_action(session=session, actor=actor, action_id=action.id, data=data)
    except ValidationError as exc:
        return _form(request, session, actor, action=action, values=shown,
                     errors=_validation_errors(exc), status_code=422)
    except (Invalid, Conflict) as exc:
        session.rollback()
        return _form(request, session, actor, action=action, values=shown,
                     errors=_domain_errors(exc), status_code=exc.status,
                     error=_(exc.message, **exc.params))
    return RedirectResponse("/compliance/actions", status_code=303)

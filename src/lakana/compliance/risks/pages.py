"""HTML pages of the risk register: an institution's register, forms, a risk's detail with
its 5×5 matrix, the national view of top risks (turned into priorities by the agency), and
the national priorities.

Forms carry the CSRF token and the record's version; problems show the form again with the
person's input and inline messages. Scope comes from the services, never from here.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from lakana.compliance.risks import service
from lakana.compliance.risks.models import Risk
from lakana.compliance.risks.permissions import RiskPermission as P
from lakana.compliance.risks.schemas import (
    IMPACT_LABELS,
    LEVEL_CLASSES,
    LIKELIHOOD_LABELS,
    AttachRisks,
    PriorityCreate,
    RiskCreate,
    RiskLevel,
    RiskQuery,
    RiskStatus,
    RiskUpdate,
    Treatment,
    label,
    level_of,
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

FIELDS = ("institution_id", "system_id", "title", "asset", "threat", "vulnerability",
          "likelihood", "impact", "treatment", "treatment_plan", "acceptance_justification",
          "owner", "due_date", "residual_likelihood", "residual_impact", "status", "control_id")
HELPERS: dict[str, Any] = {
    "label": label, "level_of": level_of, "level_classes": LEVEL_CLASSES,
    "likelihood_labels": LIKELIHOOD_LABELS, "impact_labels": IMPACT_LABELS,
    "treatments": list(Treatment), "statuses": list(RiskStatus), "levels": list(RiskLevel),
}



def _values(form: FormData) -> dict[str, Any]:
    return {name: str(form.get(name, "")).strip() for name in FIELDS if name in form}


def _validation_errors(exc: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in exc.errors():
        key = str(item["loc"][0]) if item.get("loc") else "form"
        message = validation_message(dict(item))
        found[key] = f"{found[key]} {message}" if key in found else message
    return found


def _domain_errors(exc: LakanaError) -> dict[str, str]:
    return {str(e["field"]): translate(str(e["message"])) for e in exc.errors if "field" in e}


def _qs(query: RiskQuery) -> Any:
    params = query.model_dump(exclude={"limit"} if query.limit == 50 else set())

    def qs(**overrides: Any) -> str:
        merged = {**params, **overrides}
        return "?" + urlencode({k: v for k, v in merged.items() if v not in (None, "", 0)})
    return qs


@router.get("/risks")
def risks(request: Request, session: DbSession, actor: CurrentActor,
          query: Annotated[RiskQuery, Query()]) -> Response:
    """An institution's risk register (the agency filters by institution); htmx asks for
    the table alone."""
    rows, total = service.list_risks(session=session, actor=actor, query=query)
    scope = query.institution_id if actor.is_national else actor.institution_id
    matrix = service.heat_matrix(session=session, actor=actor, institution_id=scope)
    return render(request, "compliance/risks/list.html", {
        "rows": rows, "total": total, "query": query, "qs": _qs(query),
        "names": service.institution_names(session=session),
        "cells": matrix, "scope": scope, "national": actor.is_national,
        "can_write": actor.can(P.RISK_WRITE),
        "next_offset": query.offset + query.limit if query.offset + query.limit < total
        else None, "prev_offset": max(query.offset - query.limit, 0) if query.offset else None,
        **HELPERS}, fragment="compliance/risks/_risk_table.html")


def _form(request: Request, session: Session, actor: Actor, *, risk: Risk | None,
          values: dict[str, Any], errors: dict[str, str], status_code: int = 200,
          error: str | None = None) -> Response:
    names = service.institution_names(session=session)
    owners = {k: v for k, v in names.items() if actor.is_national or k == actor.institution_id}
    return render(request, "compliance/risks/form.html", {
        "risk": risk, "values": values, "errors": errors, "error": error,
        "owners": sorted(owners.items(), key=lambda item: item[1]), **HELPERS},
        status_code=status_code)


@router.get("/risks/new")
def risk_new(request: Request, session: DbSession, actor: CurrentActor,
             institution_id: int | None = None) -> Response:
    """The form to add a risk."""
    actor.require(P.RISK_WRITE)
    owner = institution_id if actor.is_national else actor.institution_id
    return _form(request, session, actor, risk=None, errors={}, values={
        "institution_id": owner, "likelihood": "3", "impact": "3", "treatment": "mitigate",
        "status": "open"})


@router.post("/risks/new")
def risk_create(request: Request, session: DbSession, actor: CurrentActor,
                form: Form) -> Response:
    """Add a risk, or show the form again with the problems."""
    actor.require(P.RISK_WRITE)
    values = _values(form)
    try:
        risk = service.create_risk(session=session, actor=actor, data=RiskCreate(**values))
    except ValidationError as exc:
        return _form(request, session, actor, risk=None, values=values,
                     errors=_validation_errors(exc), status_code=422)
    except (Invalid, Conflict) as exc:
        session.rollback()
        return _form(request, session, actor, risk=None, values=values,
                     errors=_domain_errors(exc), status_code=exc.status,
                     error=_(exc.message, **exc.params))
    return RedirectResponse(f"/compliance/risks/{risk.id}", status_code=303)


@router.get("/risks/national")
def national(request: Request, session: DbSession, actor: CurrentActor,
             limit: Annotated[int, Query(ge=1, le=200)] = 20) -> Response:
    """The top risks across institutions and the national matrices; the agency selects
    risks and turns them into a national priority."""
    top = service.top_risks(session=session, actor=actor, limit=limit)
    return render(request, "compliance/risks/national.html", {
        "top": top, "names": service.institution_names(session=session),
        "inherent": service.heat_matrix(session=session, actor=actor),
        "residual": service.heat_matrix(session=session, actor=actor, residual=True),
        "priorities": service.list_priorities(session=session, actor=actor),
        "can_manage": actor.can(P.PRIORITY_MANAGE), "errors": {}, "error": None,
        "values": {}, "selected": set(), **HELPERS})


@router.get("/risks/export")
def export(session: DbSession, actor: CurrentActor,
           institution_id: int | None = None) -> Response:
    """A register as CSV (UTF-8 with BOM)."""
    text = service.export_csv(session=session, actor=actor, institution_id=institution_id)
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="risks-{institution_id or "all"}.csv"'})


@router.get("/risks/{risk_id}")
def risk_detail(request: Request, risk_id: int, session: DbSession,
                actor: CurrentActor) -> Response:
    """One risk: inherent against residual on a 5×5 matrix, treatment, priorities it feeds."""
    risk = service.get_risk(session=session, actor=actor, risk_id=risk_id)
    inherent, residual = (risk.likelihood, risk.impact), (risk.residual_likelihood,
                                                           risk.residual_impact)
    marks = {inherent: _("I"), residual: _("R")}
    if inherent == residual:
        marks[inherent] = f'{_("I")} {_("R")}'
    return render(request, "compliance/risks/detail.html", {
        "risk": risk, "names": service.institution_names(session=session), "marks": marks,
        "can_write": actor.can(P.RISK_WRITE), **HELPERS})


@router.get("/risks/{risk_id}/edit")
def risk_edit(request: Request, risk_id: int, session: DbSession,
              actor: CurrentActor) -> Response:
    """The form to change a risk."""
    risk = service.get_risk(session=session, actor=actor, risk_id=risk_id,
                            permission=P.RISK_WRITE)
    values = {name: getattr(risk, name) for name in FIELDS}
    values["version"] = risk.version
    return _form(request, session, actor, risk=risk, values=values, errors={})


@router.post("/risks/{risk_id}/edit")
def risk_update(request: Request, risk_id: int, session: DbSession, actor: CurrentActor,
                form: Form) -> Response:
    """Save a risk, or show the form again (409 when someone saved it meanwhile)."""
    risk = service.get_risk(session=session, actor=actor, risk_id=risk_id,
                            permission=P.RISK_WRITE)
    values = _values(form)
    values.pop("institution_id", None)
    version = str(form.get("version", "")).strip()
    shown = {**values, "institution_id": risk.institution_id, "version": version}
    try:
        data = RiskUpdate(**values, version=version or None)
        service.update_risk(session=session, actor=actor, risk_id=risk.id, data=data)
    except ValidationError as exc:
        return _form(request, session, actor, risk=risk, values=shown,
                     errors=_validation_errors(exc), status_code=422)
    except (Invalid, Conflict) as exc:
        session.rollback()
        return _form(request, session, actor, risk=risk, values=shown,
                     errors=_domain_errors(exc), status_code=exc.status,
                     error=_(exc.message, **exc.params))
    return RedirectResponse(f"/compliance/risks/{risk.id}", status_code=303)


@router.post("/risks/{risk_id}/delete")
def risk_delete(request: Request, risk_id: int, session: DbSession, actor: CurrentActor,
                form: Form) -> Response:
    """Remove a risk from its register."""
    version = str(form.get("version", "")).strip()
    risk = service.get_risk(session=session, actor=actor, risk_id=risk_id)
    owner = risk.institution_id
    service.delete_risk(session=session, actor=actor, risk_id=risk_id,
                        version=int(version) if version.isdigit() else None)
    return RedirectResponse(f"/compliance/risks?institution_id={owner}", status_code=303)


@router.get("/priorities")
def priorities(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The national priorities."""
    return render(request, "compliance/risks/priorities.html", {
        "priorities": service.list_priorities(session=session, actor=actor),
        "can_manage": actor.can(P.PRIORITY_MANAGE)})


@router.post("/priorities/new")
def priority_create(request: Request, session: DbSession, actor: CurrentActor,
                    form: Form) -> Response:
    """Turn the selected risks into a new national priority, or attach them to an existing
    one (``priority_id``); problems show the national view again."""
    actor.require(P.PRIORITY_MANAGE)
    risk_ids = [int(str(v)) for v in form.getlist("risk_ids") if str(v).isdigit()]
    target = str(form.get("priority_id", "")).strip()
    values = {"title": str(form.get("title", "")).strip(),
              "description": str(form.get("description", "")).strip(), "priority_id": target}
    errors: dict[str, str] = {}
    try:
        if not risk_ids:
            raise Invalid("Select at least one risk.")
        if target.isdigit():
            priority = service.attach_risks(session=session, actor=actor,
                                            priority_id=int(target),
                                            data=AttachRisks(risk_ids=risk_ids))
        else:
            priority = service.create_priority(session=session, actor=actor, data=PriorityCreate(
                title=values["title"], description=values["description"], risk_ids=risk_ids))
    except ValidationError as exc:
        errors = _validation_errors(exc)
        error = _("Please correct the fields marked below.")
        status = 422
    except LakanaError as exc:
        session.rollback()
        error, status = _(exc.message, **exc.params), exc.status
    else:
        return RedirectResponse(f"/compliance/priorities/{priority.id}", status_code=303)
    top = service.top_risks(session=session, actor=actor, limit=20)
    return render(request, "compliance/risks/national.html", {
        "top": top, "names": service.institution_names(session=session),
        "inherent": service.heat_matrix(session=session, actor=actor),
        "residual": service.heat_matrix(session=session, actor=actor, residual=True),
        "priorities": service.list_priorities(session=session, actor=actor),
        "can_manage": True, "errors": errors, "error": error, "values": values,
        "selected": set(risk_ids), **HELPERS}, status_code=status)


@router.get("/priorities/{priority_id}")
def priority_detail(request: Request, priority_id: int, session: DbSession,
                    actor: CurrentActor) -> Response:
    """One national priority with the risks (visible to the person) that feed it."""
    priority = service.get_priority(session=session, actor=actor, priority_id=priority_id)
    return render(request, "compliance/risks/priority.html", {
        "priority": priority, "risks": service.visible_risks(actor=actor, priority=priority),
        "hidden": len(priority.risks) - len(service.visible_risks(actor=actor,
                                                                   priority=priority)),
        "names": service.institution_names(session=session), **HELPERS})

"""HTML page of detection policies (``/detection/policies``).

The retention in force for each institution (an institution's staff see their own), with a
form to change it, and the escalation rules (alerts that open a CSIRT case by themselves)
with a form to add one and a button to disable each. Forms carry the CSRF token; a refused
form comes back with the reason (422, 409) and what was typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Conflict, Invalid, LakanaError
from lakana.core.i18n import N_
from lakana.core.i18n import gettext as _
from lakana.core.web.errors import redirect, validation_message
from lakana.core.web.templating import render
from lakana.monitoring.detection import policies
from lakana.monitoring.detection.permissions import DetectionPermission as P
from lakana.monitoring.detection.policies import EscalationRuleIn, RetentionIn
from lakana.monitoring.detection.schemas import LABELS, Level

router = APIRouter(prefix="/detection")

PAGE = "/detection/policies"
NOTICES = {"retention": N_("The retention was saved; the next daily purge applies it."),
           "escalation": N_("The escalation rule was added."),
           "disabled": N_("The escalation rule was disabled.")}


async def form_data(request: Request) -> FormData:
    """The submitted form (already parsed, and cached, by the CSRF check)."""
    return await request.form()


Form = Annotated[FormData, Depends(form_data)]


def _text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _problem(exc: LakanaError | ValidationError) -> tuple[str, int]:
    if isinstance(exc, ValidationError):
        return "; ".join(validation_message(dict(e)) for e in exc.errors()), 422
    return _(exc.message, **exc.params), exc.status


def _default_days(request: Request) -> int:
    days: int = request.app.state.settings.detection_retention_days
    return days


def _page(request: Request, session: Session, actor: Actor, *, notice: str | None = None,
          problem: str | None = None, values: dict[str, str] | None = None,
          status_code: int = 200) -> Response:
    retention = policies.list_retention(session=session, actor=actor,
                                        default_days=_default_days(request))
    rules = policies.list_escalation_rules(session=session, actor=actor)
    names = {r.institution_id: r.institution for r in retention}
    context: dict[str, Any] = {
        "retention": retention, "rules": rules, "names": names, "notice": notice,
        "problem": problem, "values": values or {"min_level": "critical"},
        "default_days": _default_days(request), "can_manage": actor.can(P.POLICY_MANAGE),
        "labels": LABELS, "levels": [str(v) for v in reversed(Level)],
        "min_days": policies.MIN_DAYS, "max_days": policies.MAX_DAYS}
    return render(request, "detection/policies.html", context, status_code=status_code)


@router.get("/policies")
def policies_page(request: Request, session: DbSession, actor: CurrentActor,
                  done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """Retention per institution and escalation rules."""
    actor.require(P.READ)
    return _page(request, session, actor, notice=NOTICES.get(done or ""))


@router.post("/policies/retention")
def set_retention(request: Request, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Set an institution's retention."""
    actor.require(P.POLICY_MANAGE)
    values = {"retention_institution": _text(form, "institution_id"),
              "days": _text(form, "days"), "min_level": "critical"}
    try:
        data = RetentionIn.model_validate({"days": values["days"] or None})
        if not values["retention_institution"].isdigit():
            raise Invalid("Choose an institution.")
        policies.set_retention(session=session, actor=actor,
                               institution_id=int(values["retention_institution"]), data=data,
                               default_days=_default_days(request))
    except (ValidationError, Invalid, Conflict) as exc:
        session.rollback()
        problem, status = _problem(exc)
        return _page(request, session, actor, problem=problem, values=values,
                     status_code=status)
    return redirect(request, f"{PAGE}?done=retention")


@router.post("/policies/escalation")
def add_escalation_rule(request: Request, session: DbSession, actor: CurrentActor,
                        form: Form) -> Response:
    """Add an escalation rule."""
    actor.require(P.POLICY_MANAGE)
    values = {"rule_id": _text(form, "rule_id"), "min_level": _text(form, "min_level"),
              "institution_id": _text(form, "institution_id"),
              "reason": _text(form, "reason")}
    try:
        data = EscalationRuleIn.model_validate({
            "rule_id": values["rule_id"], "min_level": values["min_level"] or "critical",
            "institution_id": values["institution_id"] or None, "reason": values["reason"]})
        policies.create_escalation_rule(session=session, actor=actor, data=data)
    except (ValidationError, Invalid, Conflict) as exc:
        session.rollback()
        problem, status = _problem(exc)
        return _page(request, session, actor, problem=problem, values=values,
                     status_code=status)
    return redirect(request, f"{PAGE}?done=escalation")


@router.post("/policies/escalation/{escalation_id}/disable")
def disable_escalation_rule(escalation_id: int, request: Request, session: DbSession,
                            actor: CurrentActor, form: Form) -> Response:
    """Disable an escalation rule."""
    policies.disable_escalation_rule(session=session, actor=actor,
                                     escalation_id=escalation_id)
    return redirect(request, f"{PAGE}?done=disabled")

"""HTML page of detection policies (``/detection/policies``).

The retention in force for each institution (an institution's staff see their own), with a
form to change it, and the escalation rules (alerts that open a CSIRT case by themselves)
with a form to add one and a button to disable each. Forms carry the CSRF token; a refused
form comes back with the reason (422, 409) and what was typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Conflict, Invalid
from lakana.core.i18n import N_
from lakana.core.web.errors import redirect
from lakana.core.web.forms import Form, problem_of, text_field
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
    values = {"retention_institution": text_field(form, "institution_id"),
              "days": text_field(form, "days"), "min_level": "critical"}
    try:
        data = RetentionIn.model_validate({"days": values["days"] or None})
        if not values["retention_institution"].isdigit():
            raise Invalid("Choose an institution.")
        policies.set_retention(session=session, actor=actor,
                               institution_id=int(values["retention_institution"]), data=data,
                               default_days=_default_days(request))
    except (ValidationError, Invalid, Conflict) as exc:
        session.rollback()
        problem, status = problem_of(exc)
        return _page(request, session, actor, problem=problem, values=values,
                     status_code=status)
    return redirect(request, f"{PAGE}?done=retention")


@router.post("/policies/escalation")
def add_escalation_rule(request: Request, session: DbSession, actor: CurrentActor,
                        form: Form) -> Response:
    """Add an escalation rule."""
    actor.require(P.POLICY_MANAGE)
    values = {"rule_id": text_field(form, "rule_id"), "min_level": text_field(form, "min_level"),
              "institution_id": text_field(form, "institution_id"),
              "reason": text_field(form, "reason")}
    try:
        data = EscalationRuleIn.model_validate({
            "rule_id": values["rule_id"], "min_level": values["min_level"] or "critical",
            "institution_id": values["institution_id"] or None, "reason": values["reason"]})
        policies.create_escalation_rule(session=session, actor=actor, data=data)
    except (ValidationError, Invalid, Conflict) as exc:
        session.rollback()
        problem, status = problem_of(exc)
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

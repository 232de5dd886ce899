"""JSON API of detection policies (under ``/api/v1/detection``).

Retention: ``GET /retention`` (every institution the caller sees, with the days in force),
``GET /retention/{institution_id}``, ``PUT /retention/{institution_id}`` (``{"days": N}``).
Escalation rules: ``GET /escalation-rules``, ``POST /escalation-rules``,
``POST /escalation-rules/{escalation_id}/disable``.

Reading needs ``detection:alert:read`` (an institution's staff: their own institution);
changing, ``detection:policy:manage``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.monitoring.detection import policies
from lakana.monitoring.detection.policies import (
    EscalationRuleIn,
    EscalationRuleOut,
    RetentionIn,
    RetentionOut,
)

router = APIRouter(prefix="/detection", tags=["detection"])  # mounted under /api/v1


def _default_days(request: Request) -> int:
    days: int = request.app.state.settings.detection_retention_days
    return days


@router.get("/retention", response_model=list[RetentionOut])
def list_retention(request: Request, session: DbSession,
                   actor: CurrentActor) -> list[RetentionOut]:
    """The retention in force for every institution the caller sees."""
    return policies.list_retention(session=session, actor=actor,
                                   default_days=_default_days(request))


@router.get("/retention/{institution_id}", response_model=RetentionOut)
def get_retention(institution_id: int, request: Request, session: DbSession,
                  actor: CurrentActor) -> RetentionOut:
    """The retention in force for one institution."""
    return policies.get_retention(session=session, actor=actor, institution_id=institution_id,
                                  default_days=_default_days(request))


@router.put("/retention/{institution_id}", response_model=RetentionOut)
def set_retention(institution_id: int, body: RetentionIn, request: Request,
                  session: DbSession, actor: CurrentActor) -> RetentionOut:
    """Set how many days an institution's events are kept (1 to 3650)."""
    return policies.set_retention(session=session, actor=actor, institution_id=institution_id,
                                  data=body, default_days=_default_days(request))


@router.get("/escalation-rules", response_model=list[EscalationRuleOut])
def list_escalation_rules(session: DbSession, actor: CurrentActor) -> list[EscalationRuleOut]:
    """The escalation rules the caller sees, enabled first."""
    return [EscalationRuleOut.model_validate(r)
            for r in policies.list_escalation_rules(session=session, actor=actor)]


@router.post("/escalation-rules", response_model=EscalationRuleOut, status_code=201)
def create_escalation_rule(body: EscalationRuleIn, session: DbSession, actor: CurrentActor,
                           response: Response) -> EscalationRuleOut:
    """Add a rule: alerts of a Sigma rule (or any), at or above a level, of an institution
    (or any) open a CSIRT case by themselves."""
    rule = policies.create_escalation_rule(session=session, actor=actor, data=body)
    response.headers["Location"] = "/api/v1/detection/escalation-rules"
    return EscalationRuleOut.model_validate(rule)


@router.post("/escalation-rules/{escalation_id}/disable", response_model=EscalationRuleOut)
def disable_escalation_rule(escalation_id: int, session: DbSession,
                            actor: CurrentActor) -> EscalationRuleOut:
    """Disable an escalation rule (it is kept, disabled, for the record)."""
    rule = policies.disable_escalation_rule(session=session, actor=actor,
                                            escalation_id=escalation_id)
    return EscalationRuleOut.model_validate(rule)

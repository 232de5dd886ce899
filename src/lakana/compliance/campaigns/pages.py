"""HTML pages of assessment campaigns: list, new, detail with progress, "my assessments",
and the assessment page (answers by domain, inline htmx answer forms, evidence, workflow
buttons and the auditor's override form).
"""

from __future__ import annotations

import datetime as dt
from itertools import groupby
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from lakana.compliance import service as catalog_service
from lakana.compliance.campaigns import answers as answer_service
from lakana.compliance.campaigns import service
from lakana.compliance.campaigns.models import Answer, Assessment
from lakana.compliance.campaigns.permissions import CampaignPermission as P
from lakana.compliance.campaigns.schemas import (
    AnswerIn,
    AnswerStatus,
    CampaignCreate,
    OverrideIn,
)
from lakana.compliance.remediation import service as remediation_service
from lakana.compliance.remediation.permissions import ActionPermission
from lakana.compliance.remediation.schemas import LABELS
from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Conflict, Forbidden, Invalid, LakanaError, NotFound
from lakana.core.files import service as files
from lakana.core.i18n import gettext as _
from lakana.core.web.forms import Form
from lakana.core.web.templating import is_htmx, render
from lakana.registry import service as registry_service

router = APIRouter(prefix="/compliance")
STATUSES = [s.value for s in AnswerStatus]



def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _names(session: Session, actor: Actor) -> dict[int, str]:
    return {i.id: f"{i.acronym} — {i.name}"
            for i in registry_service.all_institutions(session=session, actor=actor)}


def _rows(session: Session, actor: Actor, assessments: list[Assessment]
          ) -> list[dict[str, Any]]:
    counts = service.progress(session=session, assessment_ids=[a.id for a in assessments])
    systems = service.system_names(session=session, actor=actor, assessments=assessments)
    return [{"assessment": a, "answered": counts.get(a.id, (0, 0))[0],
             "total": counts.get(a.id, (0, 0))[1],
             "system": systems.get(a.system_id) if a.system_id is not None else None,
             "days": service.days_remaining(a.campaign)} for a in assessments]


@router.get("/campaigns")
def campaigns(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """Every campaign the actor may see."""
    return render(request, "compliance/campaigns/list.html", {
        "campaigns": service.list_campaigns(session=session, actor=actor),
        "can_manage": actor.can(P.CAMPAIGN_MANAGE)})


def _new_page(request: Request, session: Session, actor: Actor, values: dict[str, Any],
              error: str | None = None, status_code: int = 200) -> Response:
    return render(request, "compliance/campaigns/new.html", {
        "values": values, "error": error,
        "profiles": catalog_service.list_profiles(session=session, actor=actor),
        "institutions": registry_service.all_institutions(session=session, actor=actor)},
        status_code=status_code)


@router.get("/campaigns/new")
def new_campaign(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The form of a new campaign."""
    actor.require(P.CAMPAIGN_MANAGE)
    year = dt.date.today().year
    return _new_page(request, session, actor, {"year": year, "deadline": f"{year}-12-31"})


@router.post("/campaigns/new")
def create_campaign(request: Request, session: DbSession, actor: CurrentActor,
                    form: Form) -> Response:
    """Create a draft campaign, or show the form again with the problem."""
    actor.require(P.CAMPAIGN_MANAGE)
    values = {k: form.get(k) for k in ("name", "year", "profile_id", "deadline")}
    try:
        data = CampaignCreate(
            name=str(values["name"] or ""), year=_int(values["year"]) or 0,
            profile_id=_int(values["profile_id"]) or 0, deadline=values["deadline"],
            institution_ids=[i for v in form.getlist("institution_ids") if (i := _int(v))],
            subtree_ids=[i for v in form.getlist("subtree_ids") if (i := _int(v))])
        campaign = service.create_campaign(session=session, actor=actor, data=data)
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
        return _new_page(request, session, actor, values, status_code=422,
                         error=_("Please correct these fields: %(fields)s.", fields=fields))
    except (Invalid, NotFound) as exc:
        session.rollback()
        return _new_page(request, session, actor, values, status_code=exc.status,
                         error=_(exc.message, **exc.params))
    return RedirectResponse(f"/compliance/campaigns/{campaign.id}", status_code=303)


def _detail_page(request: Request, session: Session, actor: Actor, campaign_id: int,
                 error: str | None = None, status_code: int = 200) -> Response:
    campaign = service.get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    found = service.list_assessments(session=session, actor=actor, campaign_id=campaign.id)
    return render(request, "compliance/campaigns/detail.html", {
        "campaign": campaign, "rows": _rows(session, actor, found),
        "names": _names(session, actor), "days": service.days_remaining(campaign),
        "can_manage": actor.can(P.CAMPAIGN_MANAGE), "error": error,
        "systems": service.assessable_systems(session=session, actor=actor,
                                              campaign=campaign)},
        status_code=status_code)


@router.get("/campaigns/{campaign_id}")
def campaign_detail(request: Request, campaign_id: int, session: DbSession,
                    actor: CurrentActor) -> Response:
    """A campaign and, per institution (and information system), the progress and state of
    its assessment; the form to assess one more information system while it is open."""
    return _detail_page(request, session, actor, campaign_id)


@router.post("/campaigns/{campaign_id}/assessments")
def create_system_assessment(request: Request, campaign_id: int, session: DbSession,
                             actor: CurrentActor, form: Form) -> Response:
    """Assess one information system in an open campaign, then open its assessment (the
    campaign page explains a refusal)."""
    campaign = service.get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    if not service.can_add_system_assessment(actor):
        actor.require(P.CAMPAIGN_MANAGE)
    try:
        system_id = _int(form.get("system_id"))
        if system_id is None:
            raise Invalid("Choose an information system.")
        system = registry_service.get_system(session=session, actor=actor, system_id=system_id)
        created = service.create_system_assessment(
            session=session, actor=actor, campaign_id=campaign.id,
            institution_id=system.institution_id, system_id=system.id)
    except (Invalid, Conflict) as exc:
        session.rollback()
        return _detail_page(request, session, actor, campaign_id,
                            error=_(exc.message, **exc.params), status_code=exc.status)
    return RedirectResponse(f"/compliance/assessments/{created.id}", status_code=303)


def _campaign_move(action: str) -> None:
    """Register ``POST /compliance/campaigns/{campaign_id}/<action>`` (launch, close)."""
    moves = {"launch": service.launch_campaign, "close": service.close_campaign}

    def move(campaign_id: int, session: DbSession, actor: CurrentActor, form: Form) -> Response:
        moves[action](session=session, actor=actor, campaign_id=campaign_id,
                      version=_int(form.get("version")))
        return RedirectResponse(f"/compliance/campaigns/{campaign_id}", status_code=303)

    move.__doc__ = f"{action.capitalize()} a campaign."
    router.add_api_route(f"/campaigns/{{campaign_id}}/{action}", move, methods=["POST"],
                         name=f"{action}_campaign_page")


for _action in ("launch", "close"):
    _campaign_move(_action)


@router.get("/my-assessments")
def my_assessments(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The assessments of the actor's institution (every one, for the agency); a focal point
    may add one of its information systems to each open campaign."""
    found = service.list_assessments(session=session, actor=actor)
    open_campaigns = []
    if not actor.is_national and service.can_add_system_assessment(actor):
        open_campaigns = [(c, service.assessable_systems(session=session, actor=actor,
                                                         campaign=c))
                          for c in service.list_campaigns(session=session, actor=actor)
                          if c.status == "open"]
    return render(request, "compliance/campaigns/mine.html", {
        "rows": _rows(session, actor, found), "names": _names(session, actor),
        "open_campaigns": [(c, systems) for c, systems in open_campaigns if systems]})


def _answer_context(actor: Actor, assessment: Assessment, answer: Answer,
                    error: str | None = None,
                    actions: dict[int, answer_service.GapAction] | None = None
                    ) -> dict[str, Any]:
    editable = (assessment.status == "draft" and assessment.campaign.status == "open"
                and actor.can(P.ANSWER_WRITE))
    gap = answer.effective_status in answer_service.GAP_STATUSES
    action = (actions or {}).get(answer.id)
    return {"a": answer, "assessment": assessment, "editable": editable, "statuses": STATUSES,
            "can_override": actor.can(P.ASSESSMENT_REVIEW)
            and assessment.status in ("submitted", "reviewed"), "error": error,
            "action": action,
            "action_status": LABELS.get(action.status, action.status) if action else None,
            "can_act": gap and action is None
            and actor.can(ActionPermission.ACTION_WRITE)}


@router.get("/assessments/{assessment_id}")
def assessment_page(request: Request, assessment_id: int, session: DbSession,
                    actor: CurrentActor) -> Response:
    """An assessment: answers grouped by domain (each gap with its remediation action, or
    the button that opens one), its progress, score and workflow."""
    assessment = service.get_assessment(session=session, actor=actor,
                                        assessment_id=assessment_id)
    rows = answer_service.list_answers(session=session, actor=actor,
                                       assessment_id=assessment.id)
    actions = answer_service.gap_actions(session=session, actor=actor,
                                         answer_ids=[a.id for a in rows])
    groups = [(domain, [_answer_context(actor, assessment, a, actions=actions) for a in items])
              for domain, items in groupby(rows, key=lambda a: a.requirement.domain)]
    moves = [name for name, (_target, perm) in
             answer_service.TRANSITIONS.get(assessment.status, {}).items() if actor.can(perm)]
    inst = registry_service.get_institution(session=session, actor=actor,
                                            institution_id=assessment.institution_id)
    system = service.system_names(session=session, actor=actor, assessments=[assessment])
    return render(request, "compliance/campaigns/assessment.html", {
        "assessment": assessment, "groups": groups, "institution": inst, "moves": moves,
        "system": system.get(assessment.system_id) if assessment.system_id else None,
        "answered": sum(1 for a in rows if a.status), "total": len(rows),
        "days": service.days_remaining(assessment.campaign),
        "score": answer_service.score(rows),
        "scored": answer_service.scored_answers(rows)})


def _assessment_move(action: str) -> None:
    """Register ``POST /compliance/assessments/{assessment_id}/<action>``."""

    def move(assessment_id: int, session: DbSession, actor: CurrentActor,
             form: Form) -> Response:
        answer_service.transition(session=session, actor=actor, assessment_id=assessment_id,
                                  action=action, version=_int(form.get("version")),
                                  reason=str(form.get("reason") or "") or None)
        return RedirectResponse(f"/compliance/assessments/{assessment_id}", status_code=303)

    move.__doc__ = answer_service.TRANSITION_DOCS[action]
    router.add_api_route(f"/assessments/{{assessment_id}}/{action}", move, methods=["POST"],
                         name=f"{action}_assessment_page")


def _answer_fragment(request: Request, session: Session, actor: Actor, answer_id: int,
                     error: str | None = None, status_code: int = 200) -> Response:
    answer, assessment = answer_service.get_answer(session=session, actor=actor,
                                                   answer_id=answer_id)
    if not is_htmx(request) and error is None:
        return RedirectResponse(f"/compliance/assessments/{assessment.id}#answer-{answer.id}",
                                status_code=303)
    actions = answer_service.gap_actions(session=session, actor=actor, answer_ids=[answer.id])
    return render(request, "compliance/campaigns/_answer.html",
                  _answer_context(actor, assessment, answer, error, actions),
                  status_code=status_code)


def _apply(request: Request, session: Session, actor: Actor, answer_id: int,
           change: Any) -> Response:
    try:
        change()
    except (ValidationError, Invalid, LakanaError) as exc:
        if isinstance(exc, Forbidden | NotFound):
            raise
        session.rollback()
        message = (_("Please check the status and maturity (0 to 5).")
                   if isinstance(exc, ValidationError) else _(exc.message, **exc.params))
        status = 422 if isinstance(exc, ValidationError) else exc.status
        return _answer_fragment(request, session, actor, answer_id, message, status)
    return _answer_fragment(request, session, actor, answer_id)


@router.post("/answers/{answer_id}")
def save_answer(request: Request, answer_id: int, session: DbSession, actor: CurrentActor,
                form: Form) -> Response:
    """Save an answer (htmx: only the answer's fragment comes back)."""
    answer_service.get_answer(session=session, actor=actor, answer_id=answer_id,
                              permission=P.ANSWER_WRITE)

    def change() -> None:
        maturity = _int(form.get("maturity"))
        data = AnswerIn(status=str(form.get("status") or ""), maturity=maturity,
                        comment=str(form.get("comment") or ""),
                        justification=str(form.get("justification") or ""),
                        version=_int(form.get("version")))
        answer_service.update_answer(session=session, actor=actor, answer_id=answer_id, data=data)
    return _apply(request, session, actor, answer_id, change)


@router.post("/answers/{answer_id}/override")
def override_answer(request: Request, answer_id: int, session: DbSession,
                    actor: CurrentActor, form: Form) -> Response:
    """Record an auditor's rating beside the institution's."""
    answer_service.get_answer(session=session, actor=actor, answer_id=answer_id,
                              permission=P.ASSESSMENT_REVIEW)

    def change() -> None:
        data = OverrideIn(status=str(form.get("status") or ""),
                          maturity=_int(form.get("maturity")),
                          reason=str(form.get("reason") or ""), version=_int(form.get("version")))
        answer_service.override_answer(session=session, actor=actor, answer_id=answer_id,
                                       data=data)
    return _apply(request, session, actor, answer_id, change)


@router.post("/answers/{answer_id}/evidence")
def upload_evidence(request: Request, answer_id: int, session: DbSession, actor: CurrentActor,
                    form: Form) -> Response:
    """Attach an evidence file to an answer."""
    answer_service.get_answer(session=session, actor=actor, answer_id=answer_id,
                              permission=P.ANSWER_WRITE)

    def change() -> None:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Invalid("Choose a file to import.")
        answer_service.add_evidence(session=session, actor=actor,
                                    settings=get_settings(request), answer_id=answer_id,
                                    data=upload.file, name=upload.filename or "evidence",
                                    declared_type=upload.content_type)
    return _apply(request, session, actor, answer_id, change)


@router.post("/answers/{answer_id}/action")
def create_gap_action(request: Request, answer_id: int, session: DbSession,
                      actor: CurrentActor) -> Response:
    """Open a remediation action for a gap answer (title from the requirement, priority from
    its weight and the institution's criticality), then show the action's form."""
    answer, assessment = answer_service.get_answer(session=session, actor=actor,
                                                   answer_id=answer_id)
    actor.require(ActionPermission.ACTION_WRITE)
    try:
        # The service derives the priority from the gap's weight and the institution's tier.
        action = remediation_service.create_from_gap(session=session, actor=actor,
                                                     answer_id=answer.id)
    except (Invalid, Conflict) as exc:
        session.rollback()
        return _answer_fragment(request, session, actor, answer_id,
                                _(exc.message, **exc.params), exc.status)
    return RedirectResponse(f"/compliance/actions/{action.id}/edit?notice=created",
                            status_code=303)


@router.get("/evidence/{evidence_id}")
def download_evidence(request: Request, evidence_id: int, session: DbSession,
                      actor: CurrentActor) -> Response:
    """Download an evidence file."""
    found = answer_service.get_evidence(session=session, actor=actor, evidence_id=evidence_id)
    with files.open_file(settings=get_settings(request), sha256=found.sha256) as handle:
        content = handle.read()
    return Response(content, media_type=found.media_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.name)}"})


for _move in answer_service.TRANSITION_DOCS:
    _assessment_move(_move)

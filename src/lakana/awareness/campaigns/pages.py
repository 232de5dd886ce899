"""HTML pages of awareness campaigns: the list with the form to plan one, and a campaign's
page with its reach against the target (a progress bar and tables, no chart), per-channel
totals, outcome indicators and the forms to record them.

Forms carry the CSRF token and the campaign's version; problems show the page again with the
person's input and inline messages.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from lakana.awareness.campaigns import service
from lakana.awareness.campaigns.permissions import CampaignPermission as P
from lakana.awareness.campaigns.schemas import (
    AUDIENCE_LABELS,
    CHANNEL_LABELS,
    LANGUAGE_LABELS,
    STATUS_LABELS,
    CampaignCreate,
    CampaignUpdate,
    OutcomeCreate,
    ReachCreate,
)
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import LakanaError
from lakana.core.i18n import current_language, translate
from lakana.core.i18n import gettext as _
from lakana.core.web.errors import validation_message
from lakana.core.web.forms import Form
from lakana.core.web.templating import render
from lakana.registry import service as registry

router = APIRouter(prefix="/awareness/campaigns")

CAMPAIGN_FIELDS = ("title", "message", "audience", "starts_on", "ends_on",
                   "lead_institution_id", "target_reach", "status")
LIST_FIELDS = ("channels", "languages")
REACH_FIELDS = ("reached_on", "channel", "people", "impressions", "note", "source")
OUTCOME_FIELDS = ("name", "value", "unit", "evidence")


def _values(form: FormData, names: tuple[str, ...],
            lists: tuple[str, ...] = ()) -> dict[str, Any]:
    values: dict[str, Any] = {name: str(form.get(name, "")).strip()
                              for name in names if name in form}
    for name in lists:
        values[name] = [str(v) for v in form.getlist(name)]
    return values


def _validation_errors(exc: ValidationError, whole: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in exc.errors():
        key = str(item["loc"][0]) if item.get("loc") else whole
        message = validation_message(dict(item))
        found[key] = f"{found[key]} {message}" if key in found else message
    return found


def _domain_errors(exc: LakanaError) -> dict[str, str]:
    return {str(e["field"]): translate(str(e["message"])) for e in exc.errors if "field" in e}


def _label(labels: dict[Any, str], value: str | None) -> str:
    for key, label in labels.items():
        if key.value == value:
            return _(label)
    return value or "—"


def _number(value: int | None) -> str:
    """A count with thousands separated (a narrow space in French, a comma in English)."""
    if value is None:
        return "—"
    grouped = f"{value:,}"
    return grouped if current_language() == "en" else grouped.replace(",", "\u202f")


def _labels(session: Session) -> dict[str, Any]:
    return {
        "number": _number,
        "audiences": [(k.value, _(v)) for k, v in AUDIENCE_LABELS.items()],
        "channels": [(k.value, _(v)) for k, v in CHANNEL_LABELS.items()],
        "languages": [(k.value, _(v)) for k, v in LANGUAGE_LABELS.items()],
        "statuses": [(k.value, _(v)) for k, v in STATUS_LABELS.items()],
        "audience_label": lambda v: _label(AUDIENCE_LABELS, v),
        "channel_label": lambda v: _label(CHANNEL_LABELS, v),
        "language_label": lambda v: _label(LANGUAGE_LABELS, v),
        "status_label": lambda v: _label(STATUS_LABELS, v),
        "institutions": registry.institution_choices(session=session),
    }


# --- list -------------------------------------------------------------------------------

def _list_page(request: Request, session: Session, actor: Actor, *,
               values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
               error: str | None = None, status_code: int = 200) -> Response:
    campaigns = service.list_campaigns(session=session, actor=actor)
    return render(request, "awareness/campaigns/list.html", {
        "campaigns": campaigns,
        "reached": service.people_reached(session, [c.id for c in campaigns]),
        "can_manage": actor.can(P.CAMPAIGNS_MANAGE),
        "values": values or {"audience": "general_public", "status": "planned",
                             "channels": [], "languages": ["fr"]},
        "errors": errors or {}, "error": error, **_labels(session)}, status_code=status_code)


@router.get("")
def campaign_list(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """Every campaign with its reach against the target, and the form to plan one."""
    return _list_page(request, session, actor)


@router.post("")
def campaign_create(request: Request, session: DbSession, actor: CurrentActor,
                    form: Form) -> Response:
    """Plan a campaign, or show the list again with the problems."""
    actor.require(P.CAMPAIGNS_MANAGE)
    values = _values(form, CAMPAIGN_FIELDS, LIST_FIELDS)
    try:
        found = service.create_campaign(session=session, actor=actor,
                                        data=CampaignCreate(**values))
    except ValidationError as exc:
        return _list_page(request, session, actor, values=values,
                          errors=_validation_errors(exc, "ends_on"), status_code=422)
    except LakanaError as exc:
        session.rollback()
        return _list_page(request, session, actor, values=values, errors=_domain_errors(exc),
                          error=_(exc.message, **exc.params), status_code=exc.status)
    return RedirectResponse(f"/awareness/campaigns/{found.id}", status_code=303)


# --- one campaign -----------------------------------------------------------------------

def _detail_page(request: Request, session: Session, actor: Actor, campaign_id: int, *,
                 values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                 reach_values: dict[str, Any] | None = None,
                 reach_errors: dict[str, str] | None = None,
                 outcome_values: dict[str, Any] | None = None,
                 outcome_errors: dict[str, str] | None = None, error: str | None = None,
                 status_code: int = 200) -> Response:
    found = service.get_campaign(session=session, actor=actor, campaign_id=campaign_id)
    shown = values or {name: getattr(found, name) for name in (*CAMPAIGN_FIELDS, *LIST_FIELDS)}
    shown.setdefault("version", found.version)
    lead = dict(registry.institution_choices(session=session)).get(
        found.lead_institution_id or -1)
    return render(request, "awareness/campaigns/detail.html", {
        "campaign": found, "lead": lead,
        "summary": service.reach_summary(session=session, actor=actor, campaign_id=found.id),
        "reach": service.list_reach(session=session, actor=actor, campaign_id=found.id),
        "outcomes": service.list_outcomes(session=session, actor=actor, campaign_id=found.id),
        "can_manage": actor.can(P.CAMPAIGNS_MANAGE), "values": shown, "errors": errors or {},
        "reach_values": reach_values or {"channel": (found.channels or [""])[0]},
        "reach_errors": reach_errors or {}, "outcome_values": outcome_values or {},
        "outcome_errors": outcome_errors or {}, "error": error, **_labels(session)},
        status_code=status_code)


@router.get("/{awareness_campaign_id}")
def campaign_detail(request: Request, awareness_campaign_id: int, session: DbSession,
                    actor: CurrentActor) -> Response:
    """A campaign: its reach against the target, per channel, its outcomes, and the forms."""
    return _detail_page(request, session, actor, awareness_campaign_id)


def _failed(request: Request, session: Session, actor: Actor, campaign_id: int,
            exc: LakanaError, **shown: Any) -> Response:
    session.rollback()
    if exc.status == 404:
        raise exc
    return _detail_page(request, session, actor, campaign_id, error=_(exc.message, **exc.params),
                        status_code=exc.status, **shown)


@router.post("/{awareness_campaign_id}")
def campaign_update(request: Request, awareness_campaign_id: int, session: DbSession,
                    actor: CurrentActor, form: Form) -> Response:
    """Save a campaign, or show it again (409 when someone saved it meanwhile)."""
    actor.require(P.CAMPAIGNS_MANAGE)
    values = _values(form, CAMPAIGN_FIELDS, LIST_FIELDS)
    version = str(form.get("version", "")).strip()
    shown = {**values, "version": version}
    try:
        service.update_campaign(session=session, actor=actor,
                                campaign_id=awareness_campaign_id,
                                data=CampaignUpdate(**values, version=version or None))
    except ValidationError as exc:
        return _detail_page(request, session, actor, awareness_campaign_id, values=shown,
                            errors=_validation_errors(exc, "ends_on"), status_code=422)
    except LakanaError as exc:
        return _failed(request, session, actor, awareness_campaign_id, exc, values=shown,
                       errors=_domain_errors(exc))
    return RedirectResponse(f"/awareness/campaigns/{awareness_campaign_id}", status_code=303)


@router.post("/{awareness_campaign_id}/reach")
def reach_create(request: Request, awareness_campaign_id: int, session: DbSession,
                 actor: CurrentActor, form: Form) -> Response:
    """Record reach, or show the campaign again with the problems."""
    actor.require(P.CAMPAIGNS_MANAGE)
    values = _values(form, REACH_FIELDS)
    try:
        service.add_reach(session=session, actor=actor, campaign_id=awareness_campaign_id,
                          data=ReachCreate(**values))
    except ValidationError as exc:
        return _detail_page(request, session, actor, awareness_campaign_id,
                            reach_values=values, reach_errors=_validation_errors(exc, "people"),
                            status_code=422)
    except LakanaError as exc:
        return _failed(request, session, actor, awareness_campaign_id, exc,
                       reach_values=values, reach_errors=_domain_errors(exc))
    return RedirectResponse(f"/awareness/campaigns/{awareness_campaign_id}#reach",
                            status_code=303)


@router.post("/{awareness_campaign_id}/outcomes")
def outcome_create(request: Request, awareness_campaign_id: int, session: DbSession,
                   actor: CurrentActor, form: Form) -> Response:
    """Record an outcome indicator, or show the campaign again with the problems."""
    actor.require(P.CAMPAIGNS_MANAGE)
    values = _values(form, OUTCOME_FIELDS)
    try:
        service.add_outcome(session=session, actor=actor, campaign_id=awareness_campaign_id,
                            data=OutcomeCreate(**values))
    except ValidationError as exc:
        return _detail_page(request, session, actor, awareness_campaign_id,
                            outcome_values=values,
                            outcome_errors=_validation_errors(exc, "value"), status_code=422)
    except LakanaError as exc:
        return _failed(request, session, actor, awareness_campaign_id, exc,
                       outcome_values=values, outcome_errors=_domain_errors(exc))
    return RedirectResponse(f"/awareness/campaigns/{awareness_campaign_id}#outcomes",
                            status_code=303)


@router.post("/reach/{reach_id}/delete")
def reach_delete(reach_id: int, session: DbSession, actor: CurrentActor,
                 form: Form) -> Response:
    """Remove a reach record entered by mistake."""
    actor.require(P.CAMPAIGNS_MANAGE)
    campaign_id = service.delete_reach(session=session, actor=actor, reach_id=reach_id)
    return RedirectResponse(f"/awareness/campaigns/{campaign_id}#reach", status_code=303)


@router.post("/outcomes/{outcome_id}/delete")
def outcome_delete(outcome_id: int, session: DbSession, actor: CurrentActor,
                   form: Form) -> Response:
    """Remove an outcome indicator entered by mistake."""
    actor.require(P.CAMPAIGNS_MANAGE)
    campaign_id = service.delete_outcome(session=session, actor=actor, outcome_id=outcome_id)
    return RedirectResponse(f"/awareness/campaigns/{campaign_id}#outcomes", status_code=303)

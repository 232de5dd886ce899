"""HTML pages of relying services (under ``/biometry/services``), for registry
administrators (``biometry:service:manage``).

The list of services with the registration form (purposes as check boxes, the Ed25519
public key pasted as PEM), and one service's page: its legal basis, each purpose with what
it allows and releases, its key's fingerprint, limits, latest accesses, and the button that
deactivates (or reactivates) it. Forms carry the CSRF token; a refused form comes back with
the reason and what was typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from lakana.biometry import relying
from lakana.biometry.permissions import BiometryPermission as P
from lakana.biometry.purposes import PURPOSES
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import LakanaError
from lakana.core.i18n import N_
from lakana.core.web.errors import redirect
from lakana.core.web.forms import Form, problem_of, text_field
from lakana.core.web.templating import render

router = APIRouter(prefix="/biometry")

PAGE = "/biometry/services"
NOTICES = {"created": N_("The relying service was registered."),
           "deactivated": N_("The relying service was deactivated: its tokens are refused."),
           "activated": N_("The relying service was reactivated.")}
OPERATION_LABELS = {"verify": N_("Verification (1:1)"), "identify": N_("Identification (1:N)"),
                    "attributes": N_("Attributes")}
OUTCOME_LABELS = {"match": N_("Match"), "no_match": N_("No match"),
                  "released": N_("Released"), "candidates": N_("Candidates"),
                  "refused": N_("Refused")}
ATTRIBUTE_LABELS = {"surname": N_("Surname"), "given_names": N_("Given names"),
                    "sex": N_("Sex"), "date_of_birth": N_("Date of birth"),
                    "place_of_birth": N_("Place of birth"), "region": N_("Region")}
HELPERS: dict[str, Any] = {"purposes": PURPOSES, "operation_labels": OPERATION_LABELS,
                           "outcome_labels": OUTCOME_LABELS,
                           "attribute_labels": ATTRIBUTE_LABELS}





def _list_page(request: Request, session: Session, actor: Actor, *,
               notice: str | None = None, problem: str | None = None,
               values: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    services = relying.list_services(session=session, actor=actor)
    return render(request, "biometry/services.html", {
        "services": services, "purposes_of": relying.purposes_of, "notice": notice,
        "problem": problem, "values": values or {"purposes": [], "rate_per_minute": "120",
                                                 "alert_per_hour": "2000"},
        **HELPERS}, status_code=status_code)


@router.get("/services")
def services_page(request: Request, session: DbSession, actor: CurrentActor,
                  done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """Relying services and the registration form."""
    return _list_page(request, session, actor, notice=NOTICES.get(done or ""))


@router.post("/services")
def create_service(request: Request, session: DbSession, actor: CurrentActor,
                   form: Form) -> Response:
    """Register a relying service."""
    actor.require(P.SERVICE_MANAGE)
    values: dict[str, Any] = {
        name: text_field(form, name) for name in ("code", "name", "legal_basis", "public_key_pem",
                                             "rate_per_minute", "alert_per_hour")}
    values["purposes"] = [p for p in form.getlist("purposes") if isinstance(p, str)]
    try:
        data = relying.ServiceIn.model_validate({
            **values, "public_key_pem": values["public_key_pem"] or None,
            "rate_per_minute": values["rate_per_minute"] or 120,
            "alert_per_hour": values["alert_per_hour"] or 2000})
        service = relying.create_service(session=session, actor=actor, data=data)
    except (ValidationError, LakanaError) as exc:
        session.rollback()
        problem, status = problem_of(exc)
        return _list_page(request, session, actor, problem=problem, values=values,
                          status_code=status)
    return redirect(request, f"{PAGE}/{service.id}?done=created")


@router.get("/services/{service_id}")
def service_page(service_id: int, request: Request, session: DbSession, actor: CurrentActor,
                 done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """One relying service: purposes and what they release, key, limits, accesses."""
    service = relying.get_service(session=session, actor=actor, service_id=service_id)
    accesses = relying.recent_accesses(session=session, actor=actor, service_id=service_id)
    return render(request, "biometry/service.html", {
        "service": service, "held": relying.purposes_of(service),
        "fingerprint": relying.key_fingerprint(service.public_key_pem),
        "accesses": accesses, "notice": NOTICES.get(done or ""), **HELPERS})


@router.post("/services/{service_id}/deactivate")
def deactivate_service(service_id: int, request: Request, session: DbSession,
                       actor: CurrentActor, form: Form) -> Response:
    """Deactivate a relying service (its tokens are refused from now on)."""
    relying.update_service(session=session, actor=actor, service_id=service_id,
                           data=relying.ServiceUpdate(active=False))
    return redirect(request, f"{PAGE}/{service_id}?done=deactivated")


@router.post("/services/{service_id}/activate")
def activate_service(service_id: int, request: Request, session: DbSession,
                     actor: CurrentActor, form: Form) -> Response:
    """Reactivate a relying service."""
    relying.update_service(session=session, actor=actor, service_id=service_id,
                           data=relying.ServiceUpdate(active=True))
    return redirect(request, f"{PAGE}/{service_id}?done=activated")

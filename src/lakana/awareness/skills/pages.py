"""HTML pages of the skills register: the national talent gap, an institution's staffing and
role holders (with the form to name someone), and a role holder's page with their
certifications.

Forms carry the CSRF token and the record's version; problems show the page again with the
person's input and inline messages. Scope comes from the services, never from here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from lakana.awareness.skills import service
from lakana.awareness.skills.models import RoleHolder
from lakana.awareness.skills.permissions import SkillsPermission as P
from lakana.awareness.skills.profiles import framework
from lakana.awareness.skills.schemas import (
    EXPIRY_WARNING_DAYS,
    CertificationCreate,
    HolderCreate,
    HolderQuery,
    HolderUpdate,
)
from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import LakanaError
from lakana.core.i18n import current_language, translate
from lakana.core.i18n import gettext as _
from lakana.core.web.errors import validation_message
from lakana.core.web.forms import Form
from lakana.core.web.templating import render

router = APIRouter(prefix="/awareness/skills")

HOLDER_FIELDS = ("profile_id", "full_name", "email", "position", "since", "until")
CERT_FIELDS = ("name", "issuer", "credential_id", "obtained_on", "expires_on")


def _values(form: FormData, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: str(form.get(name, "")).strip() for name in names if name in form}


def _validation_errors(exc: ValidationError, whole: str) -> dict[str, str]:
    """Each field's problems; a problem of the whole form (a period, an expiry) is shown at
    the field ``whole``, where the person must change something."""
    found: dict[str, str] = {}
    for item in exc.errors():
        key = str(item["loc"][0]) if item.get("loc") else whole
        message = validation_message(dict(item))
        found[key] = f"{found[key]} {message}" if key in found else message
    return found


def _domain_errors(exc: LakanaError) -> dict[str, str]:
    return {str(e["field"]): translate(str(e["message"])) for e in exc.errors if "field" in e}


def _profiles() -> list[tuple[str, str]]:
    language = current_language()
    return [(p.id, p.title(language)) for p in framework().profiles]


@router.get("")
def national(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The national talent gap: per profile and per institution (an institution's people
    are sent to their own institution's page)."""
    if not actor.is_national and actor.institution_id is not None:
        return RedirectResponse(f"/awareness/skills/institutions/{actor.institution_id}",
                                status_code=303)
    report = service.national_staffing(session=session, actor=actor)
    return render(request, "awareness/skills/national.html", {
        "report": report, "warning_days": EXPIRY_WARNING_DAYS})


def _institution_page(request: Request, session: Session, actor: Actor, institution_id: int,
                      *, values: dict[str, Any] | None = None,
                      errors: dict[str, str] | None = None, error: str | None = None,
                      status_code: int = 200, include_past: bool = False) -> Response:
    report = service.institution_staffing(session=session, actor=actor,
                                          institution_id=institution_id)
    holders, _total = service.list_holders(session=session, actor=actor, query=HolderQuery(
        institution_id=institution_id, include_past=include_past, limit=500))
    return render(request, "awareness/skills/institution.html", {
        "report": report, "holders": holders, "include_past": include_past,
        "can_write": actor.can(P.SKILLS_WRITE), "profiles": _profiles(),
        "title_of": service.profile_title, "is_active": service.is_active,
        "cert_state": service.certification_state, "day": service.today(),
        "values": values or {"since": service.today().isoformat()}, "errors": errors or {},
        "error": error, "warning_days": EXPIRY_WARNING_DAYS}, status_code=status_code)


@router.get("/institutions/{institution_id}")
def institution(request: Request, institution_id: int, session: DbSession,
                actor: CurrentActor, include_past: bool = False) -> Response:
    """An institution's staffing against its tier, its role holders, and the form to name
    someone."""
    return _institution_page(request, session, actor, institution_id,
                             include_past=include_past)


@router.post("/institutions/{institution_id}/holders")
def holder_create(request: Request, institution_id: int, session: DbSession,
                  actor: CurrentActor, form: Form) -> Response:
    """Name someone in a role, or show the page again with the problems."""
    actor.require(P.SKILLS_WRITE)
    values = _values(form, HOLDER_FIELDS)
    try:
        holder = service.create_holder(session=session, actor=actor, data=HolderCreate(
            institution_id=institution_id, **values))
    except ValidationError as exc:
        return _institution_page(request, session, actor, institution_id, values=values,
                                 errors=_validation_errors(exc, "until"), status_code=422)
    except LakanaError as exc:
        session.rollback()
        if exc.status == 404:
            raise
        return _institution_page(request, session, actor, institution_id, values=values,
                                 errors=_domain_errors(exc), status_code=exc.status,
                                 error=_(exc.message, **exc.params))
    return RedirectResponse(f"/awareness/skills/holders/{holder.id}", status_code=303)


def _holder_page(request: Request, session: Session, actor: Actor, holder: RoleHolder, *,
                 values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                 cert_values: dict[str, Any] | None = None,
                 cert_errors: dict[str, str] | None = None, error: str | None = None,
                 status_code: int = 200) -> Response:
    shown = values or {name: getattr(holder, name) for name in HOLDER_FIELDS}
    shown.setdefault("version", holder.version)
    return render(request, "awareness/skills/holder.html", {
        "holder": holder, "values": shown, "errors": errors or {},
        "cert_values": cert_values or {}, "cert_errors": cert_errors or {}, "error": error,
        "acronym": service.institution_acronyms(session=session).get(holder.institution_id,
                                                                     ""),
        "profiles": _profiles(), "title_of": service.profile_title,
        "active": service.is_active(holder, service.today()),
        "cert_state": service.certification_state, "day": service.today(),
        "can_write": actor.can(P.SKILLS_WRITE)}, status_code=status_code)


@router.get("/holders/{holder_id}")
def holder_detail(request: Request, holder_id: int, session: DbSession,
                  actor: CurrentActor) -> Response:
    """A role holder: their role, period and certifications, with the forms to change them."""
    holder = service.get_holder(session=session, actor=actor, holder_id=holder_id)
    return _holder_page(request, session, actor, holder)


@router.post("/holders/{holder_id}")
def holder_update(request: Request, holder_id: int, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Save a role holder, or show the page again (409 when someone saved it meanwhile)."""
    holder = service.get_holder(session=session, actor=actor, holder_id=holder_id,
                                permission=P.SKILLS_WRITE)
    values = _values(form, HOLDER_FIELDS)
    version = str(form.get("version", "")).strip()
    shown = {**values, "version": version}
    try:
        data = HolderUpdate(**values, version=version or None)
        service.update_holder(session=session, actor=actor, holder_id=holder.id, data=data)
    except ValidationError as exc:
        return _holder_page(request, session, actor, holder, values=shown,
                            errors=_validation_errors(exc, "until"), status_code=422)
    except LakanaError as exc:
        session.rollback()
        holder = service.get_holder(session=session, actor=actor, holder_id=holder_id)
        return _holder_page(request, session, actor, holder, values=shown,
                            errors=_domain_errors(exc), status_code=exc.status,
                            error=_(exc.message, **exc.params))
    return RedirectResponse(f"/awareness/skills/holders/{holder.id}", status_code=303)


@router.post("/holders/{holder_id}/delete")
def holder_delete(holder_id: int, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Remove a role holder entered by mistake."""
    version = str(form.get("version", "")).strip()
    holder = service.get_holder(session=session, actor=actor, holder_id=holder_id,
                                permission=P.SKILLS_WRITE)
    owner = holder.institution_id
    service.delete_holder(session=session, actor=actor, holder_id=holder_id,
                          version=int(version) if version.isdigit() else None)
    return RedirectResponse(f"/awareness/skills/institutions/{owner}", status_code=303)


@router.post("/holders/{holder_id}/certifications")
def certification_add(request: Request, holder_id: int, session: DbSession,
                      actor: CurrentActor, form: Form) -> Response:
    """Record a certification, or show the holder's page again with the problems."""
    holder = service.get_holder(session=session, actor=actor, holder_id=holder_id,
                                permission=P.SKILLS_WRITE)
    values = _values(form, CERT_FIELDS)
    try:
        service.add_certification(session=session, actor=actor, holder_id=holder.id,
                                  data=CertificationCreate(**values))
    except ValidationError as exc:
        return _holder_page(request, session, actor, holder, cert_values=values,
                            cert_errors=_validation_errors(exc, "expires_on"),
                            status_code=422)
    return RedirectResponse(f"/awareness/skills/holders/{holder.id}", status_code=303)


@router.post("/certifications/{certification_id}/delete")
def certification_delete(certification_id: int, session: DbSession, actor: CurrentActor,
                         form: Form) -> Response:
    """Remove a certification."""
    holder_id = service.delete_certification(session=session, actor=actor,
                                             certification_id=certification_id)
    return RedirectResponse(f"/awareness/skills/holders/{holder_id}", status_code=303)


@router.get("/export")
def export(session: DbSession, actor: CurrentActor,
           institution_id: int | None = None) -> Response:
    """The register as CSV (UTF-8 with BOM)."""
    text = service.export_csv(session=session, actor=actor, institution_id=institution_id)
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="skills-{institution_id or "all"}.csv"'})

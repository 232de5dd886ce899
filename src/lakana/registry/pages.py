"""HTML pages of the registry: lists (live search, filters, sort, pages), details, forms, CSV.

Forms carry the CSRF token and the record's version; a stale version shows the form again
with the person's input and a 409 message. Scope comes from the services, never from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Conflict, Forbidden, Invalid, LakanaError
from lakana.core.i18n import gettext as _
from lakana.core.i18n import translate
from lakana.core.web.forms import Form
from lakana.core.web.templating import render
from lakana.registry import csv_io, service
from lakana.registry.models import InformationSystem, Institution
from lakana.registry.permissions import RegistryPermission as P
from lakana.registry.schemas import (
    TIER_LABELS,
    Criticality,
    DataClassification,
    Hosting,
    InstitutionCreate,
    InstitutionKind,
    InstitutionQuery,
    InstitutionUpdate,
    Region,
    Sector,
    SystemCreate,
    SystemQuery,
    SystemUpdate,
    describe_errors,
    guess_endpoint_kind,
    label,
)

router = APIRouter(prefix="/registry")

INSTITUTION_FIELDS = ("name", "acronym", "kind", "parent_id", "region", "sector",
                      "criticality_tier", "website", "description")
SYSTEM_FIELDS = ("name", "institution_id", "purpose", "criticality", "data_classification",
                 "hosting")
CONTACT_FIELDS = ("full_name", "position", "email", "phone")
CHOICES: dict[str, Any] = {
    "kinds": list(InstitutionKind), "regions": list(Region), "sectors": list(Sector),
    "tiers": list(TIER_LABELS), "criticalities": list(Criticality),
    "classifications": list(DataClassification), "hostings": list(Hosting),
}



def _query_string(params: dict[str, Any]) -> Callable[..., str]:
    def qs(**overrides: Any) -> str:
        merged = {k: (str(v).lower() if isinstance(v, bool) else v)
                  for k, v in {**params, **overrides}.items()}
        return "?" + urlencode({k: v for k, v in merged.items() if v not in (None, "", 0)})
    return qs


def _list_context(query: InstitutionQuery | SystemQuery, rows: list[Any], total: int
                  ) -> dict[str, Any]:
    params = query.model_dump(exclude={"limit"} if query.limit == 50 else set())
    return {"rows": rows, "total": total, "query": query, "qs": _query_string(params),
            "label": label, "next_offset": query.offset + query.limit
            if query.offset + query.limit < total else None,
            "prev_offset": max(query.offset - query.limit, 0) if query.offset else None,
            **CHOICES}


def _errors(exc: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in describe_errors(exc):
        message = translate(item["message"], **item["params"])
        key = item["field"] or "form"
        found[key] = f"{found[key]} {message}" if key in found else message
    return found


def _contacts(form: FormData) -> list[dict[str, str]]:
    columns = [form.getlist(f"contact_{name}") for name in CONTACT_FIELDS]
    rows = []
    for values in zip(*columns, strict=False):
        texts = [str(v).strip() for v in values]
        if any(texts):
            rows.append(dict(zip(CONTACT_FIELDS, texts, strict=True)))
    return rows


def _endpoint_lines(text: str) -> list[dict[str, str]]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return [{"kind": guess_endpoint_kind(line), "value": line} for line in lines]


def _values(form: FormData, fields: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in fields:
        if name in form:
            raw = str(form.get(name, "")).strip()
            values[name] = None if raw == "" and name.endswith("_id") else raw
    return values


# --- institutions -----------------------------------------------------------------------

@router.get("/institutions")
def institutions(request: Request, session: DbSession, actor: CurrentActor,
                 query: Annotated[InstitutionQuery, Query()]) -> Response:
    """The institutions list; htmx asks for the table alone."""
    rows, total = service.list_institutions(session=session, actor=actor, query=query)
    return render(request, "registry/institutions.html", _list_context(query, rows, total),
                  fragment="registry/_institution_table.html")


def _institution_form(request: Request, session: Session, actor: Actor, *,
                      inst: Institution | None, values: dict[str, Any],
                      contacts: list[dict[str, str]], errors: dict[str, str],
                      status_code: int = 200, error: str | None = None) -> Response:
    parents = [i for i in service.all_institutions(session=session, actor=actor)
               if inst is None or i.id != inst.id]
    return render(request, "registry/institution_form.html", {
        "inst": inst, "values": values, "contacts": contacts + [dict.fromkeys(CONTACT_FIELDS,
                                                                              "")],
        "errors": errors, "error": error, "parents": parents, "label": label,
        "agency": actor.can(P.INSTITUTION_CREATE), **CHOICES}, status_code=status_code)



@router.get("/institutions/new")
def institution_new(request: Request, session: DbSession, actor: CurrentActor,
                    parent_id: int | None = None) -> Response:
    """The form to register an institution."""
    actor.require(P.INSTITUTION_CREATE)
    return _institution_form(request, session, actor, inst=None,
                             values={"parent_id": parent_id, "criticality_tier": "2"},
                             contacts=[], errors={})


@router.post("/institutions/new")
def institution_create(request: Request, session: DbSession, actor: CurrentActor,
                       form: Form) -> Response:
    """Register an institution, or show the form again with the problems."""
    actor.require(P.INSTITUTION_CREATE)
    values, contacts = _values(form, INSTITUTION_FIELDS), _contacts(form)
    try:
        data = InstitutionCreate(**values, contacts=contacts)
        inst = service.create_institution(session=session, actor=actor, data=data)
    except ValidationError as exc:
        return _institution_form(request, session, actor, inst=None, values=values,
                                 contacts=contacts, errors=_errors(exc), status_code=422)
    except (Invalid, Conflict) as exc:
        return _institution_form(request, session, actor, inst=None, values=values,
                                 contacts=contacts, errors={}, status_code=exc.status,
                                 error=_(exc.message, **exc.params))
    return RedirectResponse(f"/registry/institutions/{inst.id}", status_code=303)


@router.get("/institutions/{institution_id}")
def institution_detail(request: Request, institution_id: int, session: DbSession,
                       actor: CurrentActor) -> Response:
    """One institution: its place in the hierarchy, contacts and systems."""
    inst = service.get_institution(session=session, actor=actor, institution_id=institution_id)
    systems, total = service.list_systems(session=session, actor=actor, query=SystemQuery(
        institution_id=inst.id, limit=200))
    return render(request, "registry/institution.html", {
        "inst": inst, "label": label, "systems": systems, "systems_total": total,
        "ancestors": service.ancestors(session=session, actor=actor, institution_id=inst.id),
        "children": service.children(session=session, actor=actor, institution_id=inst.id),
        "can_edit": actor.can(P.INSTITUTION_WRITE), "agency": actor.can(P.INSTITUTION_CREATE),
        "can_add_system": actor.can(P.SYSTEM_WRITE)})


def _institution_values(inst: Institution) -> dict[str, Any]:
    return {name: getattr(inst, name) for name in INSTITUTION_FIELDS}


@router.get("/institutions/{institution_id}/edit")
def institution_edit(request: Request, institution_id: int, session: DbSession,
                     actor: CurrentActor) -> Response:
    """The form to change an institution."""
    inst = service.get_institution(session=session, actor=actor, institution_id=institution_id,
                                   permission=P.INSTITUTION_WRITE)
    contacts = [{f: getattr(c, f) or "" for f in CONTACT_FIELDS} for c in inst.contacts]
    return _institution_form(request, session, actor, inst=inst,
                             values={**_institution_values(inst), "version": inst.version},
                             contacts=contacts, errors={})


@router.post("/institutions/{institution_id}/edit")
def institution_update(request: Request, institution_id: int, session: DbSession,
                       actor: CurrentActor, form: Form) -> Response:
    """Save an institution, or show the form again (409 when someone saved it meanwhile)."""
    inst = service.get_institution(session=session, actor=actor, institution_id=institution_id,
                                   permission=P.INSTITUTION_WRITE)
    values, contacts = _values(form, INSTITUTION_FIELDS), _contacts(form)
    version = str(form.get("version", "")).strip()
    try:
        data = InstitutionUpdate(**values, contacts=contacts, version=version or None)
        service.update_institution(session=session, actor=actor, institution_id=inst.id,
                                   data=data)
    except ValidationError as exc:
        return _institution_form(request, session, actor, inst=inst,
                                 values={**values, "version": version}, contacts=contacts,
                                 errors=_errors(exc), status_code=422)
    except (Invalid, Conflict, Forbidden) as exc:
        session.rollback()
        return _institution_form(request, session, actor, inst=inst,
                                 values={**values, "version": version}, contacts=contacts,
                                 errors={}, status_code=exc.status,
                                 error=_(exc.message, **exc.params))
    return RedirectResponse(f"/registry/institutions/{inst.id}", status_code=303)


@router.post("/institutions/{institution_id}/delete")
def institution_delete(request: Request, institution_id: int, session: DbSession,
                       actor: CurrentActor, form: Form) -> Response:
    """Delete an institution (refused while it has sub-institutions, systems or accounts)."""
    version = str(form.get("version", "")).strip()
    service.delete_institution(session=session, actor=actor, institution_id=institution_id,
                               version=int(version) if version.isdigit() else None)
    return RedirectResponse("/registry/institutions", status_code=303)


# --- systems ----------------------------------------------------------------------------

@router.get("/systems")
def systems(request: Request, session: DbSession, actor: CurrentActor,
            query: Annotated[SystemQuery, Query()]) -> Response:
    """The information systems list; htmx asks for the table alone."""
    rows, total = service.list_systems(session=session, actor=actor, query=query)
    context = _list_context(query, rows, total)
    context["institutions"] = service.all_institutions(session=session, actor=actor)
    return render(request, "registry/systems.html", context,
                  fragment="registry/_system_table.html")


def _system_form(request: Request, session: Session, actor: Actor, *,
                 system: InformationSystem | None, values: dict[str, Any],
                 errors: dict[str, str], status_code: int = 200,
                 error: str | None = None) -> Response:
    owners = service.all_institutions(session=session, actor=actor)
    return render(request, "registry/system_form.html", {
        "system": system, "values": values, "errors": errors, "error": error,
        "owners": owners, "label": label, **CHOICES}, status_code=status_code)


def _system_input(form: FormData) -> dict[str, Any]:
    values = _values(form, SYSTEM_FIELDS)
    values["personal_data"] = "personal_data" in form
    values["biometric_data"] = "biometric_data" in form
    values["endpoints_text"] = str(form.get("endpoints", ""))
    return values


def _system_payload(values: dict[str, Any]) -> dict[str, Any]:
    payload = {k: v for k, v in values.items() if k != "endpoints_text"}
    payload["endpoints"] = _endpoint_lines(values["endpoints_text"])
    return payload


@router.get("/systems/new")
def system_new(request: Request, session: DbSession, actor: CurrentActor,
               institution_id: int | None = None) -> Response:
    """The form to register an information system."""
    actor.require(P.SYSTEM_WRITE)
    owner = institution_id if institution_id is not None else actor.institution_id
    return _system_form(request, session, actor, system=None, errors={}, values={
        "institution_id": owner, "criticality": "medium", "data_classification": "internal",
        "hosting": "own_premises", "endpoints_text": ""})


@router.post("/systems/new")
def system_create(request: Request, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Register a system, or show the form again with the problems."""
    actor.require(P.SYSTEM_WRITE)
    values = _system_input(form)
    try:
        system = service.create_system(session=session, actor=actor,
                                       data=SystemCreate(**_system_payload(values)))
    except ValidationError as exc:
        return _system_form(request, session, actor, system=None, values=values,
                            errors=_errors(exc), status_code=422)
    except (Invalid, Conflict) as exc:
        return _system_form(request, session, actor, system=None, values=values, errors={},
                            status_code=exc.status, error=_(exc.message, **exc.params))
    return RedirectResponse(f"/registry/systems/{system.id}", status_code=303)


@router.get("/systems/{system_id}")
def system_detail(request: Request, system_id: int, session: DbSession,
                  actor: CurrentActor) -> Response:
    """One information system with its endpoints."""
    system = service.get_system(session=session, actor=actor, system_id=system_id)
    return render(request, "registry/system.html", {
        "system": system, "label": label, "can_edit": actor.can(P.SYSTEM_WRITE)})


@router.get("/systems/{system_id}/edit")
def system_edit(request: Request, system_id: int, session: DbSession,
                actor: CurrentActor) -> Response:
    """The form to change a system."""
    system = service.get_system(session=session, actor=actor, system_id=system_id,
                                permission=P.SYSTEM_WRITE)
    values = {name: getattr(system, name) for name in SYSTEM_FIELDS}
    values.update(personal_data=system.personal_data, biometric_data=system.biometric_data,
                  version=system.version,
                  endpoints_text="\n".join(e.value for e in system.endpoints))
    return _system_form(request, session, actor, system=system, values=values, errors={})


@router.post("/systems/{system_id}/edit")
def system_update(request: Request, system_id: int, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Save a system, or show the form again (409 when someone saved it meanwhile)."""
    system = service.get_system(session=session, actor=actor, system_id=system_id,
                                permission=P.SYSTEM_WRITE)
    values = _system_input(form)
    version = str(form.get("version", "")).strip()
    values["version"] = version
    try:
        data = SystemUpdate(**_system_payload(values) | {"version": version or None})
        service.update_system(session=session, actor=actor, system_id=system.id, data=data)
    except ValidationError as exc:
        return _system_form(request, session, actor, system=system, values=values,
                            errors=_errors(exc), status_code=422)
    except (Invalid, Conflict) as exc:
        session.rollback()
        return _system_form(request, session, actor, system=system, values=values, errors={},
                            status_code=exc.status, error=_(exc.message, **exc.params))
    return RedirectResponse(f"/registry/systems/{system.id}", status_code=303)


@router.post("/systems/{system_id}/delete")
def system_delete(request: Request, system_id: int, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Delete an information system."""
    version = str(form.get("version", "")).strip()
    system = service.get_system(session=session, actor=actor, system_id=system_id)
    owner = system.institution_id
    service.delete_system(session=session, actor=actor, system_id=system_id,
                          version=int(version) if version.isdigit() else None)
    return RedirectResponse(f"/registry/institutions/{owner}", status_code=303)


# --- CSV --------------------------------------------------------------------------------

@router.get("/import")
def import_form(request: Request, actor: CurrentActor) -> Response:
    """Upload a CSV file of institutions or systems."""
    actor.require(P.SYSTEM_WRITE)
    return render(request, "registry/import.html", {"report": None, "error": None,
                                                    "what": "institutions", "skip": False})


@router.post("/import")
def import_submit(request: Request, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Import the uploaded file and show the row-level report."""
    what = "systems" if form.get("what") == "systems" else "institutions"
    skip = "skip_invalid" in form
    upload = form.get("file")
    limit = get_settings(request).max_upload_bytes
    context: dict[str, Any] = {"report": None, "error": None, "what": what, "skip": skip}
    status = 200
    try:
        if not isinstance(upload, UploadFile):
            raise Invalid("Choose a CSV file to import.")
        content = upload.file.read(limit + 1)
        run = csv_io.import_systems if what == "systems" else csv_io.import_institutions
        context["report"] = run(session=session, actor=actor, content=content,
                                max_bytes=limit, skip_invalid=skip).out()
    except LakanaError as exc:
        if isinstance(exc, Forbidden):
            raise
        session.rollback()
        status = exc.status
        context["error"] = _(exc.message, **exc.params)
        context["errors"] = [{"row": e.get("row"), "column": e.get("column"),
                              "message": translate(e["message"], **e.get("params", {}))}
                             for e in exc.errors]
    return render(request, "registry/import.html", context, status_code=status)

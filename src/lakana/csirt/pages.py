"""HTML pages of incident cases: the analyst queue, the case list, the report form and the
case page (triage, lifecycle, assignment, tasks, notes, attachments, timeline, clocks,
observables).

Forms carry the CSRF token and, where two analysts may clash, the case's version. A refused
action shows the case page again with the message (422, 409); a done one redirects to the
case page with a short notice. Scope comes from the services, never from here.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.errors import Conflict, Forbidden, Invalid, LakanaError, NotFound, TooLarge
from lakana.core.files import service as files
from lakana.core.i18n import N_, current_language, translate
from lakana.core.i18n import gettext as _
from lakana.core.web.errors import validation_message
from lakana.core.web.forms import Form, text_field
from lakana.core.web.templating import render
from lakana.csirt import (
    case_templates,
    clocks,
    observable_service,
    service,
    severity,
    tasks_service,
    taxonomy,
)
from lakana.csirt.access import get_case
from lakana.csirt.models import Case
from lakana.csirt.permissions import CsirtPermission as P
from lakana.csirt.schemas import (
    CaseAssign,
    CaseQuery,
    CaseReport,
    CaseTransition,
    CaseTriage,
    ClosureReason,
    EventCreate,
    NoteCreate,
    NoteUpdate,
    Source,
    Status,
    TaskCreate,
    TaskStatus,
    TaskUpdate,
    label,
)
from lakana.csirt.tlp import ORDER as TLP_ORDER
from lakana.registry import service as registry_service

router = APIRouter(prefix="/csirt")

REPORT_FIELDS = ("institution_id", "title", "description", "taxonomy_class", "taxonomy_type",
                 "tlp", "system_id", "occurred_at", "detected_at", "template", "service_impact",
                 "people_affected", "institutions_affected")
REPORT_FLAGS = ("personal_data", "biometric_data")
TRIAGE_FIELDS = ("taxonomy_class", "taxonomy_type", "tlp", "institution_id", "system_id",
                 "template", "service_impact", "people_affected", "institutions_affected")
TRIAGE_FLAGS = ("personal_data", "biometric_data", "dpa_notice_required")
#: Notices shown after a redirect (``?done=...``): fixed texts, never the query's own text.
NOTICES: dict[str, str] = {
    "reported": N_("The incident was reported."), "triaged": N_("The triage was saved."),
    "moved": N_("The status was changed."), "assigned": N_("The assignment was saved."),
    "task": N_("The task was saved."), "note": N_("The note was saved."),
    "attachment": N_("The file was attached."), "event": N_("The timeline entry was added."),
}
SEVERITY_CLASSES: dict[str, str] = {"low": "ok", "medium": "medium", "high": "high",
                                    "critical": "bad"}
#: TLP 2.0 colours (FIRST): coloured text on a black background.
TLP_COLOURS: dict[str, str] = {"clear": "#FFFFFF", "green": "#33FF00", "amber": "#FFC000",
                               "amber+strict": "#FFC000", "red": "#FF2B2B"}
HELPERS: dict[str, Any] = {
    "label": label, "severity_labels": severity.LABELS, "impact_labels": severity.IMPACT_LABELS,
    "severity_classes": SEVERITY_CLASSES, "tlp_colours": TLP_COLOURS,
    "tlps": [t.value for t in TLP_ORDER], "statuses": list(Status),
    "severities": list(severity.Severity), "sources": list(Source),
    "closure_reasons": list(ClosureReason), "impacts": list(severity.ServiceImpact),
    "task_statuses": list(TaskStatus),
}




def _values(form: FormData, fields: tuple[str, ...], flags: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {name: text_field(form, name) for name in fields if name in form}
    values.update({name: name in form for name in flags})
    kind = values.get("taxonomy_type")
    if kind and not values.get("taxonomy_class"):
        # The type list is grouped by class: a type alone names its class.
        values["taxonomy_class"] = next((c.id for c in taxonomy.classes()
                                         if kind in {t.id for t in c.types}), "")
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


def _summary(errors: dict[str, str]) -> str:
    return " ".join(errors.values())


def _language() -> str:
    return current_language()


def _taxonomy(language: str) -> list[dict[str, Any]]:
    return [{"id": c.id, "title": c.title(language),
             "types": [{"id": t.id, "title": t.title(language)} for t in c.types]}
            for c in taxonomy.classes()]


def _templates(language: str) -> list[tuple[str, str]]:
    return [(t.id, t.title(language)) for t in case_templates.templates()]


# --- queue and list ---------------------------------------------------------------------

@router.get("/queue")
def queue_page(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The analyst's queue: unassigned new cases and one's own, most severe and oldest
    first."""
    actor.require(P.CASE_MANAGE)
    rows = service.queue(session=session, actor=actor)
    return render(request, "csirt/cases/queue.html", {
        "rows": rows, "names": service.institution_names(session=session),
        "users": service.user_names(session=session, user_ids={c.assignee_id for c in rows}),
        **HELPERS})


def _qs(query: CaseQuery) -> Any:
    params = query.model_dump(exclude={"limit"} if query.limit == 50 else set(), mode="json")

    def qs(**overrides: Any) -> str:
        merged = {**params, **overrides}
        return "?" + urlencode({k: v for k, v in merged.items() if v not in (None, "", 0)})
    return qs


@router.get("/cases")
def cases_page(request: Request, session: DbSession, actor: CurrentActor,
               query: Annotated[CaseQuery, Query()]) -> Response:
    """Cases the person sees, with filters; htmx asks for the table alone."""
    rows, total = service.list_cases(session=session, actor=actor, query=query)
    language = _language()
    return render(request, "csirt/cases/list.html", {
        "rows": rows, "total": total, "query": query, "qs": _qs(query),
        "names": service.institution_names(session=session),
        "users": service.user_names(session=session, user_ids={c.assignee_id for c in rows}),
        "classes": _taxonomy(language), "national": actor.is_national,
        "can_report": actor.can(P.CASE_REPORT), "can_manage": actor.can(P.CASE_MANAGE),
        "next_offset": query.offset + query.limit if query.offset + query.limit < total
        else None, "prev_offset": max(query.offset - query.limit, 0) if query.offset else None,
        **HELPERS}, fragment="csirt/cases/_case_table.html")


# --- reporting --------------------------------------------------------------------------

def _report_form(request: Request, session: Session, actor: Actor, *, values: dict[str, Any],
                 errors: dict[str, str], status_code: int = 200,
                 error: str | None = None) -> Response:
    language = _language()
    names = service.institution_names(session=session)
    owners = {k: v for k, v in names.items() if actor.is_national or k == actor.institution_id}
    chosen = values.get("institution_id") or (None if actor.is_national
                                              else actor.institution_id)
    systems: list[tuple[int, str]] = []
    if chosen and str(chosen).isdigit() and int(str(chosen)) in owners:
        systems = _systems_of(session, int(str(chosen)))
    return render(request, "csirt/cases/new.html", {
        "values": values, "errors": errors, "problem": error,
        "owners": sorted(owners.items(), key=lambda item: item[1]), "systems": systems,
        "national": actor.is_national, "classes": _taxonomy(language),
        "templates": _templates(language), **HELPERS}, status_code=status_code)


def _systems_of(session: Session, institution_id: int) -> list[tuple[int, str]]:
    # The caller may report for this institution (checked by the caller): list its systems.
    from lakana.registry.schemas import SystemQuery

    rows, _total = registry_service.list_systems(
        session=session, actor=system_actor("csirt", "system"),
        query=SystemQuery(institution_id=institution_id, limit=200))
    return [(s.id, s.name) for s in rows]


@router.get("/cases/new")
def report_form(request: Request, session: DbSession, actor: CurrentActor,
                institution_id: int | None = None, template: str | None = None) -> Response:
    """The form to report an incident (a focal point: for its institution; the centre:
    for the institution chosen)."""
    actor.require(P.CASE_REPORT)
    owner = institution_id if actor.is_national else actor.institution_id
    return _report_form(request, session, actor, errors={}, values={
        "institution_id": owner, "tlp": "amber", "service_impact": "none",
        "institutions_affected": "1", "template": template or ""})


@router.post("/cases/new")
def report_submit(request: Request, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Report the incident, or show the form again with the problems."""
    actor.require(P.CASE_REPORT)
    values = _values(form, REPORT_FIELDS, REPORT_FLAGS)
    if not actor.is_national:
        values["institution_id"] = actor.institution_id
    try:
        case = service.report_case(session=session, actor=actor, data=CaseReport(**values))
    except ValidationError as exc:
        errors = _validation_errors(exc)
        return _report_form(request, session, actor, values=values, errors=errors,
                            status_code=422, error=_summary(errors))
    except (Invalid, Conflict, NotFound) as exc:
        session.rollback()
        return _report_form(request, session, actor, values=values,
                            errors=_domain_errors(exc), status_code=exc.status,
                            error=_(exc.message, **exc.params))
    return RedirectResponse(f"/csirt/cases/{case.id}?done=reported", status_code=303)


# --- the case page ----------------------------------------------------------------------

def _observables(session: Session, actor: Actor, case: Case) -> dict[str, Any]:
    """The observables panel: the case's indicators and the cases related to it."""
    return {"items": observable_service.for_case(session=session, actor=actor, case=case),
            "related": observable_service.related_cases(session=session, actor=actor,
                                                        case=case)}


def _system_name(session: Session, case: Case) -> str:
    if case.system_id is None:
        return ""
    try:
        return registry_service.get_system(session=session, actor=system_actor("csirt"),
                                           system_id=case.system_id).name
    except NotFound:
        return ""


def _template_title(template_id: str | None, language: str) -> str:
    found = case_templates.get(template_id)
    return found.title(language) if found else ""


def _case_context(session: Session, actor: Actor, case: Case) -> dict[str, Any]:
    language = _language()
    tasks = list(case.tasks)
    notes = tasks_service.list_notes(session=session, actor=actor, case_id=case.id)
    events = tasks_service.timeline(session=session, actor=actor, case_id=case.id)
    can_manage = actor.can(P.CASE_MANAGE)
    ids = {case.assignee_id, case.reporter_user_id, *(t.owner_id for t in tasks),
           *(n.author_id for n in notes)}
    return {
        "case": case, "names": service.institution_names(session=session),
        "system_name": _system_name(session, case),
        "classification": taxonomy.label(case.taxonomy_class, case.taxonomy_type, language),
        "assessment": service.assess(session, case),
        "users": service.user_names(session=session, user_ids=ids),
        "tasks": tasks, "notes": notes,
        "attachments": tasks_service.list_attachments(session=session, actor=actor,
                                                      case_id=case.id),
        "events": [(e, tasks_service.event_text(e)) for e in events],
        "clocks": clocks.views_for_case(session, case, language),
        "observables": _observables(session, actor, case),
        "can_manage": can_manage, "can_contribute": actor.can(P.CASE_CONTRIBUTE),
        "actor_id": actor.user_id,
        "moves": service.allowed_moves(case) if can_manage else [],
        "assignable": service.assignable_users(session=session) if can_manage else [],
        "owners": tasks_service.task_owners(session=session, case_=case) if can_manage else [],
        "systems": _systems_of(session, case.institution_id)
        if can_manage and case.institution_id else [],
        "owner_institutions": sorted(service.institution_names(session=session).items(),
                                     key=lambda item: item[1]) if can_manage else [],
        "classes": _taxonomy(language), "templates": _templates(language),
        "template_title": _template_title(case.template, language),
        **HELPERS}


def _case_page(request: Request, session: Session, actor: Actor, case: Case, *,
               status_code: int = 200, error: str | None = None,
               errors: dict[str, str] | None = None, form: str | None = None,
               values: dict[str, Any] | None = None) -> Response:
    done = request.query_params.get("done")
    context = _case_context(session, actor, case)
    context.update({"problem": error, "errors": errors or {}, "form": form,
                    "values": values or {}, "notice": NOTICES.get(done or "")})
    return render(request, "csirt/cases/detail.html", context, status_code=status_code)


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: int, session: DbSession,
              actor: CurrentActor) -> Response:
    """One case: header, severity with its reasons, actions, tasks, notes, attachments,
    timeline, statutory clocks and observables."""
    case = get_case(session, actor, case_id)
    return _case_page(request, session, actor, case)


def _refused(request: Request, session: Session, actor: Actor, case_id: int,
             exc: LakanaError | ValidationError, form: str,
             values: dict[str, Any] | None = None) -> Response:
    """The case page again, with what went wrong (nothing of the failed change kept)."""
    session.rollback()
    case = get_case(session, actor, case_id)
    if isinstance(exc, ValidationError):
        errors = _validation_errors(exc)
        return _case_page(request, session, actor, case, status_code=422,
                          error=_summary(errors), errors=errors, form=form, values=values)
    return _case_page(request, session, actor, case, status_code=exc.status,
                      error=_(exc.message, **exc.params), errors=_domain_errors(exc),
                      form=form, values=values)


def _done(case_id: int, what: str, anchor: str = "") -> Response:
    return RedirectResponse(f"/csirt/cases/{case_id}?done={what}{anchor}", status_code=303)


def _version(form: FormData) -> int | None:
    text = text_field(form, "version")
    return int(text) if text.isdigit() else None


@router.post("/cases/{case_id}/triage")
def triage_submit(request: Request, case_id: int, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Save an analyst's triage."""
    get_case(session, actor, case_id, P.CASE_MANAGE)
    values = _values(form, TRIAGE_FIELDS, TRIAGE_FLAGS)
    try:
        data = CaseTriage(**values, version=_version(form))
        service.triage_case(session=session, actor=actor, case_id=case_id, data=data)
    except (ValidationError, Invalid, Conflict) as exc:
        return _refused(request, session, actor, case_id, exc, "triage", values)
    return _done(case_id, "triaged")


@router.post("/cases/{case_id}/transition")
def transition_submit(request: Request, case_id: int, session: DbSession,
                      actor: CurrentActor, form: Form) -> Response:
    """Move the case in its lifecycle, close it or reopen it."""
    get_case(session, actor, case_id, P.CASE_MANAGE)
    values = {k: text_field(form, k) for k in ("to", "reason", "comment", "duplicate_of")}
    try:
        data = CaseTransition(**values, version=_version(form))
        service.transition(session=session, actor=actor, case_id=case_id, data=data)
    except (ValidationError, Invalid, Conflict) as exc:
        return _refused(request, session, actor, case_id, exc, "transition", values)
    return _done(case_id, "moved")


@router.post("/cases/{case_id}/assign")
def assign_submit(request: Request, case_id: int, session: DbSession, actor: CurrentActor,
                  form: Form) -> Response:
    """Assign the case (``me`` assigns it to oneself)."""
    get_case(session, actor, case_id, P.CASE_MANAGE)
    chosen = text_field(form, "assignee_id")
    if chosen == "me":
        chosen = str(actor.user_id or "")
    try:
        data = CaseAssign(assignee_id=chosen or None, version=_version(form))
        service.assign(session=session, actor=actor, case_id=case_id, data=data)
    except (ValidationError, Invalid, Conflict) as exc:
        return _refused(request, session, actor, case_id, exc, "assign")
    return _done(case_id, "assigned")


@router.post("/cases/{case_id}/tasks")
def task_submit(request: Request, case_id: int, session: DbSession, actor: CurrentActor,
                form: Form) -> Response:
    """Add a task."""
    get_case(session, actor, case_id, P.CASE_MANAGE)
    values = {k: text_field(form, k) for k in ("title", "description", "owner_id", "due_date")}
    try:
        tasks_service.create_task(session=session, actor=actor, case_id=case_id,
                                  data=TaskCreate(**values))
    except (ValidationError, Invalid, Conflict) as exc:
        return _refused(request, session, actor, case_id, exc, "task", values)
    return _done(case_id, "task", "#tasks")


@router.post("/tasks/{task_id}")
def task_update(request: Request, task_id: int, session: DbSession, actor: CurrentActor,
                form: Form) -> Response:
    """Change a task's status (analysts, or the task's owner)."""
    task, case = tasks_service.get_task(session=session, actor=actor, task_id=task_id)
    try:
        data = TaskUpdate(status=text_field(form, "status") or None, version=_version(form))
        tasks_service.update_task(session=session, actor=actor, task_id=task_id, data=data)
    except (ValidationError, Invalid, Conflict) as exc:
        return _refused(request, session, actor, case.id, exc, "task")
    return _done(case.id, "task", "#tasks")


@router.post("/cases/{case_id}/notes")
def note_submit(request: Request, case_id: int, session: DbSession, actor: CurrentActor,
                form: Form) -> Response:
    """Add a note with its TLP."""
    get_case(session, actor, case_id, P.CASE_CONTRIBUTE)
    values = {k: text_field(form, k) for k in ("body", "tlp")}
    try:
        tasks_service.add_note(session=session, actor=actor, case_id=case_id,
                               data=NoteCreate(body=values["body"], tlp=values["tlp"] or None))
    except (ValidationError, Invalid) as exc:
        return _refused(request, session, actor, case_id, exc, "note", values)
    return _done(case_id, "note", "#notes")


@router.get("/notes/{note_id}/edit")
def note_edit(request: Request, note_id: int, session: DbSession,
              actor: CurrentActor) -> Response:
    """The form to edit one's own note."""
    note, case = tasks_service.get_note(session=session, actor=actor, note_id=note_id)
    return render(request, "csirt/cases/note_edit.html", {
        "note": note, "case": case, "values": {"body": note.body, "tlp": note.tlp},
        "errors": {}, "problem": None, **HELPERS})


@router.post("/notes/{note_id}/edit")
def note_save(request: Request, note_id: int, session: DbSession, actor: CurrentActor,
              form: Form) -> Response:
    """Save one's own note (409 when it changed meanwhile)."""
    note, case = tasks_service.get_note(session=session, actor=actor, note_id=note_id)
    values = {k: text_field(form, k) for k in ("body", "tlp")}
    try:
        data = NoteUpdate(body=values["body"] or None, tlp=values["tlp"] or None,
                          version=_version(form))
        tasks_service.update_note(session=session, actor=actor, note_id=note_id, data=data)
    except (ValidationError, Invalid, Conflict, Forbidden) as exc:
        session.rollback()
        if isinstance(exc, ValidationError):
            errors, status, error = _validation_errors(exc), 422, None
        else:
            errors, status, error = _domain_errors(exc), exc.status, _(exc.message,
                                                                        **exc.params)
        note, case = tasks_service.get_note(session=session, actor=actor, note_id=note_id)
        return render(request, "csirt/cases/note_edit.html", {
            "note": note, "case": case, "values": values, "errors": errors,
            "problem": error or _summary(errors), **HELPERS}, status_code=status)
    return _done(case.id, "note", "#notes")


@router.post("/cases/{case_id}/attachments")
async def attachment_submit(request: Request, case_id: int, session: DbSession,
                            actor: CurrentActor, form: Form) -> Response:
    """Attach a file with its TLP (too large: 413; refused type: 422)."""
    upload = form.get("file")
    label_ = form.get("tlp")
    if not isinstance(upload, UploadFile):
        await run_in_threadpool(get_case, session, actor, case_id, P.CASE_CONTRIBUTE)
        exc = Invalid("Choose a file to attach.")
        return await run_in_threadpool(_refused, request, session, actor, case_id, exc,
                                       "attachment")
    try:
        await run_in_threadpool(
            tasks_service.add_attachment, session=session, actor=actor,
            settings=get_settings(request), case_id=case_id, data=upload.file,
            name=upload.filename or "attachment", declared_type=upload.content_type,
            label=label_ if isinstance(label_, str) and label_ else None)
    except (Invalid, TooLarge) as exc:
        return await run_in_threadpool(_refused, request, session, actor, case_id, exc,
                                       "attachment")
    return _done(case_id, "attachment", "#attachments")


@router.get("/attachments/{attachment_id}")
def attachment_download(request: Request, attachment_id: int, session: DbSession,
                        actor: CurrentActor) -> Response:
    """Download an attachment (the read is ledgered)."""
    item = tasks_service.get_attachment(session=session, actor=actor,
                                        attachment_id=attachment_id)
    with files.open_file(settings=get_settings(request), sha256=item.sha256) as handle:
        content = handle.read()
    return Response(content, media_type=item.media_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(item.name)}",
        "X-Content-Type-Options": "nosniff"})


@router.post("/cases/{case_id}/events")
def event_submit(request: Request, case_id: int, session: DbSession, actor: CurrentActor,
                 form: Form) -> Response:
    """Add what happened in the incident, at the time it happened."""
    get_case(session, actor, case_id, P.CASE_CONTRIBUTE)
    values = {k: text_field(form, k) for k in ("at", "message", "tlp")}
    try:
        data = EventCreate(at=values["at"] or None,
                           message=values["message"], tlp=values["tlp"] or None)
        service.add_incident_event(session=session, actor=actor, case_id=case_id, data=data)
    except (ValidationError, Invalid) as exc:
        return _refused(request, session, actor, case_id, exc, "event", values)
    return _done(case_id, "event", "#timeline")

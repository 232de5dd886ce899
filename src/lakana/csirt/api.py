"""JSON API of incident cases (mounted under ``/api/v1``).

Optimistic concurrency as elsewhere: ``GET /cases/{id}`` answers an ``ETag`` with the case's
version; triage, transition and assignment need it back in ``version`` or ``If-Match``; a
stale one gets 409. Attachments are downloaded with ``Content-Disposition: attachment`` and
``nosniff``, and each download is ledgered.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Header, Query, Request, Response, UploadFile
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from lakana.core.auth.deps import CurrentActor, DbSession, get_settings
from lakana.core.errors import Invalid
from lakana.core.files import service as files
from lakana.core.i18n import current_language
from lakana.core.web.pagination import Page
from lakana.csirt import case_templates, service, tasks_service, taxonomy
from lakana.csirt.access import get_case
from lakana.csirt.models import Case
from lakana.csirt.permissions import CsirtPermission
from lakana.csirt.schemas import (
    AttachmentOut,
    CaseAssign,
    CaseOut,
    CaseQuery,
    CaseReport,
    CaseTransition,
    CaseTriage,
    EventCreate,
    EventOut,
    NoteCreate,
    NoteOut,
    NoteUpdate,
    ReasonOut,
    TaskCreate,
    TaskOut,
    TaskUpdate,
    TaxonomyClassOut,
    TaxonomyTypeOut,
    TemplateOut,
    TemplateTaskOut,
)

router = APIRouter(prefix="/csirt", tags=["csirt: cases"])

IfMatch = Annotated[str | None, Header(max_length=40)]


def parse_if_match(value: str | None) -> int | None:
    """The version in an ``If-Match`` header (``"3"``, ``W/"3"`` or ``3``)."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise Invalid("The If-Match header must hold the version you read, such as \"3\".")
    return int(text)


def case_out(session: Session, case: Case, names: dict[int, str] | None = None,
             *, reasons: bool = False) -> CaseOut:
    """A case with its institution's acronym (and its severity's reasons when asked)."""
    names = names if names is not None else service.institution_names(session=session)
    out = CaseOut.model_validate(case)
    out.institution_acronym = names.get(case.institution_id or 0, "")
    if reasons:
        out.severity_reasons = [ReasonOut(level=r.level, text=r.text())
                                for r in service.assess(session, case).reasons]
    return out


def _etag(response: Response, case: Case) -> None:
    response.headers["ETag"] = f'"{case.version}"'


def _with_version(body: CaseTriage | CaseTransition | CaseAssign | TaskUpdate | NoteUpdate,
                  if_match: str | None) -> None:
    if body.version is None and if_match is not None:
        body.version = parse_if_match(if_match)


@router.post("/cases", response_model=CaseOut, status_code=201)
def report_case(body: CaseReport, session: DbSession, actor: CurrentActor,
                response: Response) -> CaseOut:
    """Report an incident (a focal point for its institution; the centre for any)."""
    case = service.report_case(session=session, actor=actor, data=body)
    _etag(response, case)
    response.headers["Location"] = f"/api/v1/csirt/cases/{case.id}"
    return case_out(session, case, reasons=True)


@router.get("/cases", response_model=Page[CaseOut])
def list_cases(session: DbSession, actor: CurrentActor,
               query: Annotated[CaseQuery, Query()]) -> Page[CaseOut]:
    """Cases the caller sees: filters ``status, open, severity, taxonomy_class,
    institution_id, assignee`` (``me``, ``none`` or an id), ``source, q``; newest first."""
    rows, total = service.list_cases(session=session, actor=actor, query=query)
    names = service.institution_names(session=session)
    return Page[CaseOut](items=[case_out(session, c, names) for c in rows], total=total,
                         limit=query.limit, offset=query.offset)


@router.get("/cases/{case_id}", response_model=CaseOut)
def get_case_api(case_id: int, session: DbSession, actor: CurrentActor,
                 response: Response) -> CaseOut:
    """One case, with the reasons of its severity."""
    case = get_case(session, actor, case_id)
    _etag(response, case)
    return case_out(session, case, reasons=True)


@router.patch("/cases/{case_id}/triage", response_model=CaseOut)
def triage_case(case_id: int, body: CaseTriage, session: DbSession, actor: CurrentActor,
                response: Response, if_match: IfMatch = None) -> CaseOut:
    """Triage a case (analysts): classification, facts, TLP, institution, template."""
    _with_version(body, if_match)
    case = service.triage_case(session=session, actor=actor, case_id=case_id, data=body)
    _etag(response, case)
    return case_out(session, case, reasons=True)


@router.post("/cases/{case_id}/transition", response_model=CaseOut)
def transition(case_id: int, body: CaseTransition, session: DbSession, actor: CurrentActor,
               response: Response, if_match: IfMatch = None) -> CaseOut:
    """Move a case in its lifecycle (``to``), close it (``reason``, ``comment``) or reopen
    it (``to: investigation`` with a ``comment``)."""
    _with_version(body, if_match)
    case = service.transition(session=session, actor=actor, case_id=case_id, data=body)
    _etag(response, case)
    return case_out(session, case)


@router.post("/cases/{case_id}/assign", response_model=CaseOut)
def assign(case_id: int, body: CaseAssign, session: DbSession, actor: CurrentActor,
           response: Response, if_match: IfMatch = None) -> CaseOut:
    """Assign a case to an analyst (``assignee_id``; null to unassign)."""
    _with_version(body, if_match)
    case = service.assign(session=session, actor=actor, case_id=case_id, data=body)
    _etag(response, case)
    return case_out(session, case)


@router.get("/cases/{case_id}/tasks", response_model=list[TaskOut])
def list_tasks(case_id: int, session: DbSession, actor: CurrentActor) -> list[TaskOut]:
    """The tasks of a case, in order."""
    return [TaskOut.model_validate(t)
            for t in tasks_service.list_tasks(session=session, actor=actor, case_id=case_id)]


@router.post("/cases/{case_id}/tasks", response_model=TaskOut, status_code=201)
def create_task(case_id: int, body: TaskCreate, session: DbSession,
                actor: CurrentActor) -> TaskOut:
    """Add a task to a case (analysts)."""
    return TaskOut.model_validate(tasks_service.create_task(
        session=session, actor=actor, case_id=case_id, data=body))


@router.patch("/tasks/{task_id}", response_model=TaskOut)
def update_task(task_id: int, body: TaskUpdate, session: DbSession, actor: CurrentActor,
                if_match: IfMatch = None) -> TaskOut:
    """Change a task (analysts; its owner may change its status)."""
    _with_version(body, if_match)
    return TaskOut.model_validate(tasks_service.update_task(
        session=session, actor=actor, task_id=task_id, data=body))


@router.get("/cases/{case_id}/notes", response_model=list[NoteOut])
def list_notes(case_id: int, session: DbSession, actor: CurrentActor) -> list[NoteOut]:
    """The notes of a case the caller may see (TLP:RED notes: named people only)."""
    return [NoteOut.model_validate(n)
            for n in tasks_service.list_notes(session=session, actor=actor, case_id=case_id)]


@router.post("/cases/{case_id}/notes", response_model=NoteOut, status_code=201)
def add_note(case_id: int, body: NoteCreate, session: DbSession,
             actor: CurrentActor) -> NoteOut:
    """Add a note with its own TLP."""
    return NoteOut.model_validate(tasks_service.add_note(
        session=session, actor=actor, case_id=case_id, data=body))


@router.patch("/notes/{note_id}", response_model=NoteOut)
def update_note(note_id: int, body: NoteUpdate, session: DbSession, actor: CurrentActor,
                if_match: IfMatch = None) -> NoteOut:
    """Edit one's own note (send the version read)."""
    _with_version(body, if_match)
    return NoteOut.model_validate(tasks_service.update_note(
        session=session, actor=actor, note_id=note_id, data=body))


@router.post("/cases/{case_id}/attachments", response_model=AttachmentOut, status_code=201)
async def add_attachment(request: Request, case_id: int, session: DbSession,
                         actor: CurrentActor, file: Annotated[UploadFile, File()],
                         tlp: Annotated[str | None, Form(max_length=30)] = None
                         ) -> AttachmentOut:
    """Attach a file (multipart ``file``, optional ``tlp``): 413 over the size limit, 422
    for a refused type."""
    item = await run_in_threadpool(
        tasks_service.add_attachment, session=session, actor=actor,
        settings=get_settings(request), case_id=case_id, data=file.file,
        name=file.filename or "attachment", declared_type=file.content_type, label=tlp)
    return AttachmentOut.model_validate(item)


@router.get("/attachments/{attachment_id}")
def download_attachment(request: Request, attachment_id: int, session: DbSession,
                        actor: CurrentActor) -> Response:
    """Download an attachment (the read is ledgered)."""
    item = tasks_service.get_attachment(session=session, actor=actor,
                                        attachment_id=attachment_id)
    with files.open_file(settings=get_settings(request), sha256=item.sha256) as handle:
        content = handle.read()
    return Response(content, media_type=item.media_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(item.name)}",
        "X-Content-Type-Options": "nosniff"})


@router.get("/cases/{case_id}/timeline", response_model=list[EventOut])
def get_timeline(case_id: int, session: DbSession, actor: CurrentActor) -> list[EventOut]:
    """The case's timeline the caller may see, in the order things happened."""
    return [EventOut(id=e.id, at=e.at, recorded_at=e.recorded_at, kind=e.kind,
                     text=tasks_service.event_text(e), tlp=e.tlp, actor=e.actor)
            for e in tasks_service.timeline(session=session, actor=actor, case_id=case_id)]


@router.post("/cases/{case_id}/events", response_model=EventOut, status_code=201)
def add_event(case_id: int, body: EventCreate, session: DbSession,
              actor: CurrentActor) -> EventOut:
    """Add what happened in the incident, at the time it happened."""
    event = service.add_incident_event(session=session, actor=actor, case_id=case_id,
                                       data=body)
    return EventOut(id=event.id, at=event.at, recorded_at=event.recorded_at, kind=event.kind,
                    text=tasks_service.event_text(event), tlp=event.tlp, actor=event.actor)


@router.get("/taxonomy", response_model=list[TaxonomyClassOut])
def get_taxonomy(actor: CurrentActor) -> list[TaxonomyClassOut]:
    """The incident taxonomy (ENISA RSIT) in the caller's language."""
    actor.require(CsirtPermission.CASE_READ)
    language = current_language()
    return [TaxonomyClassOut(id=c.id, title=c.title(language),
                             types=[TaxonomyTypeOut(id=t.id, title=t.title(language))
                                    for t in c.types])
            for c in taxonomy.classes()]


@router.get("/case-templates", response_model=list[TemplateOut])
def list_templates(actor: CurrentActor) -> list[TemplateOut]:
    """The case templates in the caller's language."""
    actor.require(CsirtPermission.CASE_READ)
    language = current_language()
    return [TemplateOut(id=t.id, title=t.title(language), taxonomy_class=t.taxonomy_class,
                        taxonomy_type=t.taxonomy_type, tlp=t.tlp.value,
                        severity_floor=t.severity_floor, service_impact=t.service_impact,
                        personal_data=t.personal_data,
                        dpa_notice_required=t.dpa_notice_required,
                        tasks=[TemplateTaskOut(title=k.title(language), due_days=k.due_days)
                               for k in t.tasks])
            for t in case_templates.templates()]

"""What hangs on a case: tasks, notes, attachments, and the timeline as a reader sees it.

* **Tasks** are managed by analysts (``CASE_MANAGE``); a task's owner is an analyst or a
  person of the case's institution, who may mark their own task done.
* **Notes** carry their own TLP; a TLP:RED note is seen only by its author, the case's
  assignee and its reporter (:func:`lakana.csirt.tlp.can_see`). One edits only one's own
  notes, against the version read.
* **Attachments** go to the core file store (type checked by content, size limited); each
  has a TLP, and each download is ledgered as a read.
* The **timeline** lists the case's events the reader may see, oldest first.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core import audit
from lakana.core.auth import service as auth_service
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.concurrency import check_version, flush_or_conflict
from lakana.core.config import Settings
from lakana.core.db import utcnow
from lakana.core.errors import Forbidden, Invalid, NotFound
from lakana.core.files import service as files
from lakana.core.i18n import N_, Msg, current_language, gettext
from lakana.csirt import tlp
from lakana.csirt.access import get_case
from lakana.csirt.models import Case, CaseAttachment, CaseEvent, CaseNote, CaseTask
from lakana.csirt.permissions import CsirtPermission as P
from lakana.csirt.schemas import NoteCreate, NoteUpdate, TaskCreate, TaskStatus, TaskUpdate
from lakana.csirt.service import ASSIGNABLE_ROLES
from lakana.csirt.timeline import add_event

#: Types of file a case accepts (checked from the content, never from the client's claim).
ATTACHMENT_TYPES: frozenset[str] = files.ALLOWED_MEDIA_TYPES
#: The largest attachment (the platform's upload limit applies when lower).
ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024


def _not_found(what: str) -> NotFound:
    return NotFound("This %(what)s does not exist or is not visible to you.", what=Msg(what))


def _named(case_: Case, *user_ids: int | None) -> set[int | None]:
    """Who a TLP:RED item of ``case_`` is shown to besides the system: the given people
    (the item's author), the case's assignee and its reporter."""
    return {*user_ids, case_.assignee_id, case_.reporter_user_id} - {None}


def _ledger(session: Session, actor: Actor, case_: Case, action: str, **details: Any) -> None:
    audit.record(session=session, actor=actor, action=f"csirt.case.{action}",
                 object_type="csirt.case", object_id=case_.id,
                 object_repr=f"{case_.reference} {case_.title}"[:300],
                 institution_id=case_.institution_id, details=details or None)


# --- tasks ------------------------------------------------------------------------------

def _check_owner(session: Session, case_: Case, owner_id: int | None) -> None:
    if owner_id is None:
        return
    try:
        user = auth_service.get_user(session=session, actor=system_actor("csirt", "system"),
                                     user_id=owner_id)
    except NotFound:
        user = None
    if user is None or not user.is_active or not (
            user.role in ASSIGNABLE_ROLES
            or (case_.institution_id is not None
                and user.institution_id == case_.institution_id)):
        raise Invalid("A task's owner must be an analyst or a person of the case's "
                      "institution.", errors=[{"field": "owner_id",
                                               "message": "Choose another owner."}])


def list_tasks(*, session: Session, actor: Actor, case_id: int) -> list[CaseTask]:
    """The tasks of a case the actor sees, in order."""
    return list(get_case(session, actor, case_id).tasks)


def create_task(*, session: Session, actor: Actor, case_id: int, data: TaskCreate) -> CaseTask:
    """Add a task to a case (analysts)."""
    case_ = get_case(session, actor, case_id, P.CASE_MANAGE)
    _check_owner(session, case_, data.owner_id)
    task = CaseTask(title=data.title, description=data.description, owner_id=data.owner_id,
                    due_date=data.due_date, status=TaskStatus.OPEN.value,
                    position=max((t.position for t in case_.tasks), default=0) + 1,
                    created_by=actor.name[:254], created_at=utcnow())
    case_.tasks.append(task)
    flush_or_conflict(session)
    add_event(session, case_, kind="task", actor=actor, message=N_("Task added: %(title)s"),
              params={"title": task.title})
    _ledger(session, actor, case_, "task.create", task_id=task.id)
    return task


def get_task(*, session: Session, actor: Actor, task_id: int) -> tuple[CaseTask, Case]:
    """A task and its case, if the actor sees the case."""
    task = session.get(CaseTask, task_id)
    if task is None:
        actor.require(P.CASE_READ)
        raise _not_found("task")
    return task, get_case(session, actor, task.case_id)


def update_task(*, session: Session, actor: Actor, task_id: int, data: TaskUpdate) -> CaseTask:
    """Change a task (analysts); its owner may only change its status."""
    task, case_ = get_task(session=session, actor=actor, task_id=task_id)
    sent = data.model_fields_set - {"version"}
    owner_only = actor.user_id is not None and actor.user_id == task.owner_id \
        and sent <= {"status"}
    if not owner_only:
        actor.require(P.CASE_MANAGE)
    check_version(task.version, data.version)
    for name in ("title", "status"):
        if name in sent and getattr(data, name) is None:
            raise Invalid("The field %(field)s cannot be empty.", field=name)
    if "owner_id" in sent:
        _check_owner(session, case_, data.owner_id)
    before = task.status
    for name in sent:
        value = getattr(data, name)
        setattr(task, name, value.value if name == "status" else
                ("" if name == "description" and value is None else value))
    if task.status == TaskStatus.DONE and before != TaskStatus.DONE:
        task.done_at = utcnow()
    elif task.status != TaskStatus.DONE:
        task.done_at = None
    flush_or_conflict(session)
    if task.status != before:
        add_event(session, case_, kind="task", actor=actor,
                  message=N_("Task %(title)s is now %(status)s."),
                  params={"title": task.title, "status": Msg(_task_label(task.status))})
    _ledger(session, actor, case_, "task.update", task_id=task.id, fields=sorted(sent))
    return task


def _task_label(status: str) -> str:
    return {"open": N_("Open"), "done": N_("Done"), "cancelled": N_("Cancelled")}.get(
        status, status)


# --- notes ------------------------------------------------------------------------------

def note_visible(actor: Actor, case_: Case, note: CaseNote) -> bool:
    """Whether ``actor`` (who sees the case) may see ``note`` (TLP:RED: named people)."""
    return tlp.can_see(actor, note.tlp, named_user_ids=_named(case_, note.author_id))


def list_notes(*, session: Session, actor: Actor, case_id: int) -> list[CaseNote]:
    """The notes of a case the actor may see, oldest first."""
    case_ = get_case(session, actor, case_id)
    notes = session.scalars(select(CaseNote).where(CaseNote.case_id == case_.id)
                            .order_by(CaseNote.created_at, CaseNote.id))
    return [n for n in notes if note_visible(actor, case_, n)]


def add_note(*, session: Session, actor: Actor, case_id: int, data: NoteCreate) -> CaseNote:
    """Add a note (the case's TLP unless another is given)."""
    case_ = get_case(session, actor, case_id, P.CASE_CONTRIBUTE)
    label = tlp.parse(data.tlp).value if data.tlp else case_.tlp
    note = CaseNote(case_id=case_.id, body=data.body, tlp=label, author_id=actor.user_id,
                    author=actor.name[:254], created_at=utcnow())
    session.add(note)
    flush_or_conflict(session)
    add_event(session, case_, kind="note", actor=actor, message=N_("Note added (%(tlp)s)."),
              params={"tlp": f"TLP:{label.upper()}"}, tlp=label)
    _ledger(session, actor, case_, "note.create", note_id=note.id, tlp=label)
    return note


def get_note(*, session: Session, actor: Actor, note_id: int) -> tuple[CaseNote, Case]:
    """A note and its case, if the actor may see both."""
    note = session.get(CaseNote, note_id)
    if note is None:
        actor.require(P.CASE_READ)
        raise _not_found("note")
    case_ = get_case(session, actor, note.case_id)
    if not note_visible(actor, case_, note):
        raise _not_found("note")
    return note, case_


def update_note(*, session: Session, actor: Actor, note_id: int, data: NoteUpdate) -> CaseNote:
    """Edit one's own note, against the version read (409 when stale)."""
    note, case_ = get_note(session=session, actor=actor, note_id=note_id)
    actor.require(P.CASE_CONTRIBUTE)
    if actor.user_id is None or note.author_id != actor.user_id:
        raise Forbidden("Only the author of a note may edit it.")
    check_version(note.version, data.version)
    if data.body is not None:
        note.body = data.body
    if data.tlp is not None:
        note.tlp = tlp.parse(data.tlp).value
    note.edited_at = utcnow()
    flush_or_conflict(session)
    _ledger(session, actor, case_, "note.update", note_id=note.id, tlp=note.tlp)
    return note


# --- attachments ------------------------------------------------------------------------

def attachment_visible(actor: Actor, case_: Case, item: CaseAttachment) -> bool:
    """Whether ``actor`` (who sees the case) may see an attachment (TLP:RED: named people,
    the person who added it included)."""
    if actor.name == item.added_by:
        return True
    return tlp.can_see(actor, item.tlp, named_user_ids=_named(case_))


def list_attachments(*, session: Session, actor: Actor, case_id: int) -> list[CaseAttachment]:
    """The attachments of a case the actor may see."""
    case_ = get_case(session, actor, case_id)
    rows = session.scalars(select(CaseAttachment).where(CaseAttachment.case_id == case_.id)
                           .order_by(CaseAttachment.added_at, CaseAttachment.id))
    return [a for a in rows if attachment_visible(actor, case_, a)]


def add_attachment(*, session: Session, actor: Actor, settings: Settings, case_id: int,
                   data: bytes | BinaryIO, name: str, declared_type: str | None = None,
                   label: str | None = None,
                   allowed: Collection[str] = ATTACHMENT_TYPES) -> CaseAttachment:
    """Store a file (413 over the size limit, 422 for a refused type) and attach it."""
    case_ = get_case(session, actor, case_id, P.CASE_CONTRIBUTE)
    marking = tlp.parse(label).value if label else case_.tlp
    stored = files.store(session=session, actor=actor, settings=settings, data=data,
                         name=name, declared_type=declared_type, allowed=allowed,
                         max_bytes=min(settings.max_upload_bytes, ATTACHMENT_MAX_BYTES))
    existing = session.scalar(select(CaseAttachment).where(
        CaseAttachment.case_id == case_.id, CaseAttachment.sha256 == stored.sha256))
    if existing is not None:
        return existing
    item = CaseAttachment(case_id=case_.id, file_id=stored.id, sha256=stored.sha256,
                          name=files.clean_name(name), media_type=stored.media_type,
                          size=stored.size, tlp=marking, added_by=actor.name[:254],
                          added_at=utcnow())
    session.add(item)
    flush_or_conflict(session)
    add_event(session, case_, kind="attachment", actor=actor,
              message=N_("File attached: %(name)s"), params={"name": item.name}, tlp=marking)
    _ledger(session, actor, case_, "attachment.create", attachment_id=item.id,
            sha256=item.sha256, size=item.size, tlp=marking)
    return item


def get_attachment(*, session: Session, actor: Actor, attachment_id: int) -> CaseAttachment:
    """An attachment the actor may download; the read is ledgered."""
    item = session.get(CaseAttachment, attachment_id)
    if item is None:
        actor.require(P.CASE_READ)
        raise _not_found("file")
    case_ = get_case(session, actor, item.case_id)
    if not attachment_visible(actor, case_, item):
        raise _not_found("file")
    audit.record_read(session=session, actor=actor, object_type="csirt.attachment",
                      object_id=item.id, object_repr=f"{case_.reference} {item.name}"[:300],
                      institution_id=case_.institution_id)
    return item


# --- timeline ---------------------------------------------------------------------------

def event_visible(actor: Actor, case_: Case, event: CaseEvent) -> bool:
    """Whether ``actor`` (who sees the case) may see a timeline event."""
    if actor.name == event.actor:
        return True
    return tlp.can_see(actor, event.tlp, named_user_ids=_named(case_))


def event_text(event: CaseEvent) -> str:
    """An event's message in the current language (label parameters translated too)."""
    raw = dict(event.params or {})
    if current_language() == "en":
        # Some writers keep an English variant of a parameter beside it (``clock_en``).
        raw.update({k[:-3]: v for k, v in raw.items() if k.endswith("_en")})
    params = {k: gettext(v) if isinstance(v, str) else v for k, v in raw.items()}
    try:
        return gettext(event.message, **params)
    except (KeyError, ValueError, TypeError):
        # An event written with parameters that no longer match its message: show it raw
        # rather than fail the whole case page.
        return event.message


def timeline(*, session: Session, actor: Actor, case_id: int) -> list[CaseEvent]:
    """The events of a case the actor may see, in the order they happened."""
    case_ = get_case(session, actor, case_id)
    rows = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_.id)
                           .order_by(CaseEvent.at, CaseEvent.id))
    return [e for e in rows if event_visible(actor, case_, e)]


def task_owners(*, session: Session, case_: Case) -> list[User]:
    """People who may own a task of ``case_``: analysts and the institution's people."""
    stmt = select(User).where(User.is_active.is_(True))
    if case_.institution_id is not None:
        stmt = stmt.where(User.role.in_(ASSIGNABLE_ROLES)
                          | (User.institution_id == case_.institution_id))
    else:
        stmt = stmt.where(User.role.in_(ASSIGNABLE_ROLES))
    return list(session.scalars(stmt.order_by(User.full_name, User.id)))

"""Incident cases: reporting, triage, lifecycle, assignment, templates, lists and queue.

Who does what:

* a **focal point** reports incidents of its own institution (``source="institution"``) and
  follows them; an **analyst** (or the platform administrator) reports for any institution
  (``source="analyst"``), triages, assigns, moves cases through the lifecycle and closes them;
* every read of a case goes through :mod:`lakana.csirt.access`, so scope and TLP:RED are
  decided in one place.

Lifecycle: ``new → triage → investigation → containment → eradication → recovery → closed``.
A case moves forward (skipping stages is allowed: a false positive closes from triage), never
back, except a closed case that is reopened to ``investigation`` with a reason. Closing needs
a reason (``resolved``, ``false_positive``, ``duplicate`` with the case it duplicates,
``out_of_scope``, ``no_action``) and a comment. ``acknowledged_at`` is set when a case leaves
``new``, ``contained_at`` when it reaches containment (or passes it), ``closed_at`` on close.

Every write checks the case's ``version`` when two analysts may clash (triage, transition,
assignment: 409 when stale), is ledgered, and adds an event to the case's timeline. Services
never commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from lakana.core import audit
from lakana.core.auth import service as auth_service
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Actor, Role, ensure_in_scope, system_actor
from lakana.core.concurrency import check_version, flush_or_conflict
from lakana.core.db import as_utc, count_rows, utcnow
from lakana.core.errors import Conflict, Invalid, NotFound
from lakana.core.i18n import N_, Msg
from lakana.core.notifications.service import notify
from lakana.csirt import case_templates, clocks, severity, taxonomy, tlp, webhooks
from lakana.csirt.access import get_case, restrict_cases
from lakana.csirt.models import Case, CaseEvent, CaseTask
from lakana.csirt.permissions import CsirtPermission as P
from lakana.csirt.references import assign_reference
from lakana.csirt.schemas import (
    CaseAssign,
    CaseQuery,
    CaseReport,
    CaseTransition,
    CaseTriage,
    ClosureReason,
    EventCreate,
    Source,
    Status,
    label,
)
from lakana.csirt.timeline import add_event
from lakana.registry import service as registry_service

#: The lifecycle, in order.
LIFECYCLE: tuple[Status, ...] = (Status.NEW, Status.TRIAGE, Status.INVESTIGATION,
                                 Status.CONTAINMENT, Status.ERADICATION, Status.RECOVERY,
                                 Status.CLOSED)
OPEN_STATUSES: tuple[str, ...] = tuple(s.value for s in LIFECYCLE if s is not Status.CLOSED)
#: Roles a case may be assigned to.
ASSIGNABLE_ROLES: frozenset[str] = frozenset({Role.CSIRT_ANALYST.value,
                                              Role.PLATFORM_ADMIN.value})
#: Clock skew tolerated on dates said to be in the past (a reporter's clock may run ahead).
CLOCK_SKEW = dt.timedelta(minutes=5)
_SEVERITY_RANK = case({"critical": 4, "high": 3, "medium": 2, "low": 1},
                      value=Case.severity, else_=0)
CASE = Msg("case")


# --- helpers ----------------------------------------------------------------------------

def _lookup_actor() -> Actor:
    # Internal registry look-ups (a system's owner, an institution's tier) are checks, not
    # reads on the caller's behalf: the caller's own scope was checked on the case already.
    return system_actor("csirt", "system")


def case_state(case_: Case) -> dict[str, Any]:
    """The ledgered state of a case."""
    return {name: getattr(case_, name) for name in (
        "title", "description", "source", "institution_id", "system_id", "status",
        "closure_reason", "closure_comment", "duplicate_of_id", "taxonomy_class",
        "taxonomy_type", "severity", "service_impact", "people_affected", "personal_data",
        "biometric_data", "institutions_affected", "tlp", "template", "assignee_id",
        "dpa_notice_required")}


def _record(session: Session, actor: Actor, case_: Case, action: str,
            before: dict[str, Any] | None = None, **details: Any) -> None:
    audit.record(session=session, actor=actor, action=f"csirt.case.{action}",
                 object_type="csirt.case", object_id=case_.id,
                 object_repr=f"{case_.reference} {case_.title}"[:300], before=before,
                 after=case_state(case_), institution_id=case_.institution_id,
                 details=details or None)


def institution_tier(session: Session, institution_id: int | None) -> int | None:
    """The criticality tier (1–3) of an institution, None when unknown."""
    if institution_id is None:
        return None
    try:
        return registry_service.get_institution(session=session, actor=_lookup_actor(),
                                                institution_id=institution_id).criticality_tier
    except NotFound:
        return None


def assess(session: Session, case_: Case) -> severity.Assessment:
    """The severity of a case from its facts, its institution's tier and its template."""
    template = case_templates.get(case_.template)
    return severity.assess(
        service_impact=case_.service_impact or "none", people_affected=case_.people_affected,
        personal_data=bool(case_.personal_data), biometric_data=bool(case_.biometric_data),
        institutions_affected=case_.institutions_affected or 1,
        tier=institution_tier(session, case_.institution_id),
        floor=template.severity_floor.value if template else None)


def _check_institution(session: Session, institution_id: int) -> None:
    try:
        registry_service.get_institution(session=session, actor=_lookup_actor(),
                                         institution_id=institution_id)
    except NotFound:
        raise Invalid("The institution %(id)s does not exist.", id=institution_id) from None


def _check_system(session: Session, system_id: int | None, institution_id: int | None) -> None:
    if system_id is None:
        return
    try:
        system = registry_service.get_system(session=session, actor=_lookup_actor(),
                                             system_id=system_id)
        owner: int | None = system.institution_id
    except NotFound:
        owner = None
    # One message whether the system is missing or another institution's: nothing leaks.
    if owner is None or owner != institution_id:
        raise Invalid("The information system %(id)s does not belong to this institution.",
                      id=system_id, errors=[{"field": "system_id", "message":
                                             "The information system does not belong to "
                                             "this institution."}])


def _past(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is None:
        return None
    value = as_utc(value)
    if value > utcnow() + CLOCK_SKEW:
        raise Invalid("The date %(field)s is in the future.", field=field,
                      errors=[{"field": field, "message": "The date is in the future."}])
    return value


def _label(value: str | None) -> str:
    return tlp.parse(value).value


def _refresh_severity(session: Session, case_: Case) -> None:
    case_.severity = assess(session, case_).level.value


def _sync_clocks(session: Session, actor: Actor, case_: Case) -> None:
    """Start (or withdraw) the statutory deadlines that apply to the case as it now is
    (idempotent: called after every change of the facts or the status)."""
    clocks.start_for_case(session, case_, actor=actor)


# --- templates --------------------------------------------------------------------------

def _next_position(case_: Case) -> int:
    return max((t.position for t in case_.tasks), default=0) + 1


def _template_tasks(case_: Case, template: case_templates.CaseTemplate, actor: Actor
                    ) -> list[CaseTask]:
    existing = {t.title for t in case_.tasks}
    today = utcnow().date()
    added = []
    for item in template.tasks:
        title = item.title(actor.language)
        if title in existing:
            continue
        task = CaseTask(title=title, due_date=today + dt.timedelta(days=item.due_days),
                        position=_next_position(case_), created_by=actor.name[:254],
                        status="open")
        case_.tasks.append(task)
        added.append(task)
    return added


def _given(data: CaseReport | CaseTriage) -> set[str]:
    """The fields a person gave a value to (a blank field is no choice)."""
    return {k for k in data.model_fields_set if getattr(data, k) is not None}


def _fill_from_template(case_: Case, template: case_templates.CaseTemplate,
                        sent: set[str]) -> None:
    """Template defaults for what the person did not give; flags only ever turn on."""
    if case_.taxonomy_class is None:
        case_.taxonomy_class = template.taxonomy_class
        case_.taxonomy_type = template.taxonomy_type
    if "tlp" not in sent and not case_.tlp:
        case_.tlp = template.tlp.value
    if "service_impact" not in sent and (case_.service_impact or "none") == "none":
        case_.service_impact = template.service_impact.value
    case_.personal_data = bool(case_.personal_data) or template.personal_data
    case_.dpa_notice_required = bool(case_.dpa_notice_required) or template.dpa_notice_required
    case_.template = template.id


def apply_template(*, session: Session, actor: Actor, case_id: int, template: str,
                   version: int | None) -> Case:
    """Apply a case template to an existing case: defaults for what is unset, its flags,
    and its tasks (those of the same title already there are not added twice)."""
    case_ = get_case(session, actor, case_id, P.CASE_MANAGE)
    check_version(case_.version, version)
    found = case_templates.require(template)
    before = case_state(case_)
    _fill_from_template(case_, found, set())
    added = _template_tasks(case_, found, actor)
    _refresh_severity(session, case_)
    case_.updated_at = utcnow()
    flush_or_conflict(session)
    add_event(session, case_, kind="triaged", actor=actor,
              message=N_("Template %(template)s applied (%(count)s tasks added)."),
              params={"template": found.id, "count": len(added)})
    _record(session, actor, case_, "template", before, template=found.id)
    _sync_clocks(session, actor, case_)
    return case_


# --- reporting --------------------------------------------------------------------------

def _report_institution(session: Session, actor: Actor, data: CaseReport) -> int | None:
    institution_id = data.institution_id
    if not actor.is_national:
        institution_id = institution_id or actor.institution_id
    if institution_id is None:
        if not actor.is_national:
            raise Invalid("Choose the institution affected.")
        return None
    ensure_in_scope(actor, institution_id, P.CASE_REPORT, what=Msg("institution"))
    _check_institution(session, institution_id)
    return institution_id


def report_case(*, session: Session, actor: Actor, data: CaseReport,
                source: str | None = None) -> Case:
    """Open a case: an institution reports an incident (a focal point for its own
    institution), or the centre opens one for any institution.

    ``source`` defaults to ``institution`` for institution roles and ``analyst`` for the
    centre; a national caller may say ``detection`` (public reports have their own service).
    """
    actor.require(P.CASE_REPORT)
    if source is None:
        source = Source.ANALYST.value if actor.is_national else Source.INSTITUTION.value
    elif Source(source) is Source.PUBLIC or (not actor.is_national
                                             and source != Source.INSTITUTION.value):
        raise Invalid("Unknown case source %(value)s.", value=source[:20])
    institution_id = _report_institution(session, actor, data)
    template = case_templates.require(data.template) if data.template else None
    klass, kind = taxonomy.validate(data.taxonomy_class, data.taxonomy_type)
    _check_system(session, data.system_id, institution_id)
    occurred = _past(data.occurred_at, "occurred_at")
    detected = _past(data.detected_at, "detected_at")
    if occurred and detected and detected < occurred:
        raise Invalid("An incident cannot be detected before it occurred.",
                      errors=[{"field": "detected_at", "message": "An incident cannot be "
                               "detected before it occurred."}])
    now = utcnow()
    case_ = Case(
        title=data.title, description=data.description, source=source,
        institution_id=institution_id, system_id=data.system_id, status=Status.NEW.value,
        taxonomy_class=klass, taxonomy_type=kind,
        tlp=_label(data.tlp) if data.tlp else (template.tlp.value if template
                                               else tlp.Tlp.AMBER.value),
        service_impact=(data.service_impact or severity.ServiceImpact.NONE).value,
        people_affected=data.people_affected, personal_data=bool(data.personal_data),
        biometric_data=bool(data.biometric_data),
        institutions_affected=data.institutions_affected or 1,
        reporter_user_id=actor.user_id, occurred_at=occurred, detected_at=detected,
        reported_at=now, created_by=actor.name[:254], created_at=now, updated_at=now)
    if template is not None:
        _fill_from_template(case_, template, _given(data))
    _refresh_severity(session, case_)
    session.add(case_)
    assign_reference(session, case_)
    if template is not None:
        _template_tasks(case_, template, actor)
    add_event(session, case_, kind="created", actor=actor,
              message=N_("Case %(reference)s reported (severity %(severity)s)."),
              params={"reference": case_.reference, "severity": Msg(
                  severity.LABELS[case_.severity])})
    flush_or_conflict(session)
    _record(session, actor, case_, "report", None, source=source, template=case_.template)
    _sync_clocks(session, actor, case_)
    return case_


# --- triage, lifecycle, assignment ------------------------------------------------------

_TRIAGE_FACTS = ("service_impact", "people_affected", "personal_data", "biometric_data",
                 "institutions_affected", "dpa_notice_required")


def _triage_changes(session: Session, case_: Case, data: CaseTriage) -> None:
    sent = data.model_fields_set - {"version"}
    if sent & {"taxonomy_class", "taxonomy_type"}:
        klass = data.taxonomy_class if "taxonomy_class" in sent else case_.taxonomy_class
        kind = data.taxonomy_type if "taxonomy_type" in sent else (
            case_.taxonomy_type if klass == case_.taxonomy_class else None)
        case_.taxonomy_class, case_.taxonomy_type = taxonomy.validate(klass, kind)
    if "tlp" in sent and data.tlp is not None:
        case_.tlp = _label(data.tlp)
    if "institution_id" in sent and data.institution_id != case_.institution_id:
        if data.institution_id is None:
            raise Invalid("A case attributed to an institution cannot be unattributed.")
        _check_institution(session, data.institution_id)
        case_.institution_id = data.institution_id
        if "system_id" not in sent:
            case_.system_id = None
    if "system_id" in sent:
        case_.system_id = data.system_id
    _check_system(session, case_.system_id, case_.institution_id)
    for name in _TRIAGE_FACTS:
        value = getattr(data, name)
        if name in sent and value is not None:
            setattr(case_, name, value.value if name == "service_impact" else value)


def triage_case(*, session: Session, actor: Actor, case_id: int, data: CaseTriage) -> Case:
    """An analyst's triage: classification, facts, TLP, institution (for a report not yet
    attributed), template. A new case moves to ``triage``; the severity is recomputed."""
    case_ = get_case(session, actor, case_id, P.CASE_MANAGE)
    check_version(case_.version, data.version)
    if case_.status == Status.CLOSED:
        raise Invalid("A closed case cannot be triaged; reopen it first.")
    before = case_state(case_)
    with session.no_autoflush:
        _triage_changes(session, case_, data)
        added: list[CaseTask] = []
        if data.template and data.template != case_.template:
            template = case_templates.require(data.template)
            _fill_from_template(case_, template, _given(data))
            added = _template_tasks(case_, template, actor)
        _refresh_severity(session, case_)
    moved = case_.status == Status.NEW
    if moved:
        case_.status = Status.TRIAGE.value
        case_.acknowledged_at = case_.acknowledged_at or utcnow()
    changed = sorted(k for k, v in case_state(case_).items() if before.get(k) != v)
    if not changed and not added:
        return case_
    case_.updated_at = utcnow()
    flush_or_conflict(session)
    add_event(session, case_, kind="triaged", actor=actor,
              message=N_("Case triaged: severity %(severity)s, TLP %(tlp)s."),
              params={"severity": Msg(severity.LABELS[case_.severity]),
                      "tlp": case_.tlp.upper()})
    _record(session, actor, case_, "triage", before, tasks_added=len(added))
    _sync_clocks(session, actor, case_)
    return case_


def _check_move(case_: Case, data: CaseTransition) -> None:
    current, target = Status(case_.status), data.to
    if target not in allowed_moves(case_):
        raise Conflict("A case cannot move from %(current)s to %(target)s.",
                       current=Msg(label(current.value)), target=Msg(label(target.value)))
    if current is Status.CLOSED and not data.comment.strip():
        raise Invalid("Reopening a case needs a reason (comment).",
                      errors=[{"field": "comment", "message": "Give a reason."}])


def _closure(session: Session, actor: Actor, case_: Case, data: CaseTransition) -> None:
    if data.reason is None:
        raise Invalid("Closing a case needs a reason.",
                      errors=[{"field": "reason", "message": "Choose a reason."}])
    if not data.comment.strip():
        raise Invalid("Closing a case needs a comment.",
                      errors=[{"field": "comment", "message": "Write a comment."}])
    duplicate_of = None
    if data.reason is ClosureReason.DUPLICATE:
        if data.duplicate_of is None or data.duplicate_of == case_.id:
            raise Invalid("A duplicate must name the case it duplicates (another case).",
                          errors=[{"field": "duplicate_of", "message": "Name the case."}])
        try:
            duplicate_of = get_case(session, actor, data.duplicate_of).id
        except NotFound:
            raise Invalid("The case %(id)s does not exist.", id=data.duplicate_of) from None
    case_.closure_reason = data.reason.value
    case_.closure_comment = data.comment
    case_.duplicate_of_id = duplicate_of
    case_.closed_at = utcnow()


def transition(*, session: Session, actor: Actor, case_id: int,
               data: CaseTransition) -> Case:
    """Move a case through its lifecycle (see the module's docstring for the rules)."""
    case_ = get_case(session, actor, case_id, P.CASE_MANAGE)
    check_version(case_.version, data.version)
    _check_move(case_, data)
    before = case_state(case_)
    previous = case_.status
    now = utcnow()
    if data.to is Status.CLOSED:
        _closure(session, actor, case_, data)
    elif previous == Status.CLOSED:
        case_.closure_reason = None
        case_.closure_comment = ""
        case_.duplicate_of_id = None
        case_.closed_at = None
    if previous == Status.NEW:
        case_.acknowledged_at = case_.acknowledged_at or now
    if data.to is not Status.CLOSED and \
            LIFECYCLE.index(data.to) >= LIFECYCLE.index(Status.CONTAINMENT):
        case_.contained_at = case_.contained_at or now
    case_.status = data.to.value
    case_.updated_at = now
    flush_or_conflict(session)
    if data.to is Status.CLOSED:
        add_event(session, case_, kind="status", actor=actor,
                  message=N_("Case closed (%(reason)s): %(comment)s"),
                  params={"reason": Msg(label(case_.closure_reason or "")),
                          "comment": data.comment})
    elif previous == Status.CLOSED:
        add_event(session, case_, kind="status", actor=actor,
                  message=N_("Case reopened: %(comment)s"), params={"comment": data.comment})
    else:
        add_event(session, case_, kind="status", actor=actor,
                  message=N_("Status changed from %(from)s to %(to)s."),
                  params={"from": Msg(label(previous)),
                          "to": Msg(label(case_.status))})
    _record(session, actor, case_, "close" if data.to is Status.CLOSED else "transition",
            before, status_from=previous, status_to=case_.status)
    _sync_clocks(session, actor, case_)
    _announce_status(session, case_, previous)
    return case_


def _announce_status(session: Session, case_: Case, previous: str) -> None:
    """Tell the institution's webhooks that its case moved. A case whose label may not leave
    the platform (AMBER+STRICT, RED) is announced by reference and status only."""
    if case_.institution_id is None:
        return
    payload: dict[str, Any] = {"reference": case_.reference, "status_from": previous,
                               "status_to": case_.status,
                               "closure_reason": case_.closure_reason}
    if tlp.shareable(case_.tlp):
        payload.update(title=case_.title, severity=case_.severity, tlp=case_.tlp)
    webhooks.dispatch(session, event="case.status_changed", payload=payload,
                      institution_ids=[case_.institution_id])


def allowed_moves(case_: Case) -> list[Status]:
    """Where a case may go next (for buttons)."""
    current = Status(case_.status)
    if current is Status.CLOSED:
        return [Status.INVESTIGATION]
    return [s for s in LIFECYCLE if LIFECYCLE.index(s) > LIFECYCLE.index(current)]


def assignable_users(*, session: Session) -> list[User]:
    """Active analysts and platform administrators, by name (for the assignment form)."""
    return list(session.scalars(select(User).where(User.role.in_(ASSIGNABLE_ROLES),
                                                   User.is_active.is_(True))
                                .order_by(User.full_name, User.id)))


def _assignee(session: Session, user_id: int) -> User:
    try:
        user = auth_service.get_user(session=session, actor=_lookup_actor(), user_id=user_id)
    except NotFound:
        user = None
    if user is None or not user.is_active or user.role not in ASSIGNABLE_ROLES:
        raise Invalid("A case can only be assigned to an active CSIRT analyst or platform "
                      "administrator.", errors=[{"field": "assignee_id", "message":
                                                "Choose an analyst."}])
    return user


def assign(*, session: Session, actor: Actor, case_id: int, data: CaseAssign) -> Case:
    """Assign a case to an analyst (or unassign it with ``assignee_id`` None); the new
    assignee is notified."""
    case_ = get_case(session, actor, case_id, P.CASE_MANAGE)
    check_version(case_.version, data.version)
    if data.assignee_id == case_.assignee_id:
        return case_
    user = _assignee(session, data.assignee_id) if data.assignee_id is not None else None
    before = case_state(case_)
    case_.assignee_id = user.id if user else None
    case_.updated_at = utcnow()
    flush_or_conflict(session)
    if user is None:
        add_event(session, case_, kind="assigned", actor=actor,
                  message=N_("Case unassigned."))
    else:
        add_event(session, case_, kind="assigned", actor=actor,
                  message=N_("Case assigned to %(name)s."), params={"name": user.full_name})
        if user.id != actor.user_id:
            notify(session=session, user_ids=[user.id],
                   title=N_("Case %(reference)s assigned to you"),
                   body=N_("%(title)s (severity %(severity)s)."),
                   params={"reference": case_.reference or "", "title": case_.title,
                           "severity": case_.severity}, link=f"/csirt/cases/{case_.id}")
    _record(session, actor, case_, "assign", before, assignee_id=case_.assignee_id)
    return case_


# --- manual timeline entries ------------------------------------------------------------

def add_incident_event(*, session: Session, actor: Actor, case_id: int,
                       data: EventCreate) -> CaseEvent:
    """Add to the timeline something that happened in the incident, at the time it
    happened (``kind == "incident"``)."""
    case_ = get_case(session, actor, case_id, P.CASE_CONTRIBUTE)
    at = _past(data.at, "at")
    marking = _label(data.tlp) if data.tlp else case_.tlp
    # The message is the person's own text: stored as a parameter, never as a message id.
    event = add_event(session, case_, kind="incident", actor=actor, message="%(text)s",
                      params={"text": data.message}, tlp=marking, at=at)
    flush_or_conflict(session)
    audit.record(session=session, actor=actor, action="csirt.case.event",
                 object_type="csirt.case", object_id=case_.id,
                 object_repr=f"{case_.reference} {case_.title}"[:300],
                 institution_id=case_.institution_id, details={"event_id": event.id,
                                                               "tlp": marking})
    return event


# --- lists ------------------------------------------------------------------------------

def _filtered(stmt: Select[Any], actor: Actor, query: CaseQuery) -> Select[Any]:
    if query.status is not None:
        stmt = stmt.where(Case.status == query.status.value)
    if query.open is not None:
        stmt = stmt.where(Case.status.in_(OPEN_STATUSES) if query.open
                          else Case.status == Status.CLOSED.value)
    if query.severity is not None:
        stmt = stmt.where(Case.severity == query.severity.value)
    if query.taxonomy_class is not None:
        stmt = stmt.where(Case.taxonomy_class == query.taxonomy_class)
    if query.institution_id is not None:
        stmt = stmt.where(Case.institution_id == query.institution_id)
    if query.source is not None:
        stmt = stmt.where(Case.source == query.source.value)
    if query.assignee == "me":
        stmt = stmt.where(Case.assignee_id == actor.user_id)
    elif query.assignee == "none":
        stmt = stmt.where(Case.assignee_id.is_(None))
    elif query.assignee is not None:
        stmt = stmt.where(Case.assignee_id == int(query.assignee))
    if query.q:
        needle = query.q.lower()
        stmt = stmt.where(func.lower(Case.title).contains(needle, autoescape=True)
                          | func.lower(Case.reference).contains(needle, autoescape=True))
    return stmt


def list_cases(*, session: Session, actor: Actor, query: CaseQuery | None = None
               ) -> tuple[list[Case], int]:
    """Cases the actor sees, filtered, newest first, one page with the total."""
    query = query or CaseQuery()
    stmt = _filtered(restrict_cases(select(Case), actor), actor, query)
    total = count_rows(session, stmt)
    rows = session.scalars(stmt.order_by(Case.reported_at.desc(), Case.id.desc())
                           .limit(query.limit).offset(query.offset)).all()
    return list(rows), total


def queue(*, session: Session, actor: Actor, limit: int = 100) -> list[Case]:
    """The analyst's queue: unassigned new or in-triage cases, and the open cases assigned
    to the analyst; most severe first, then oldest first."""
    stmt = restrict_cases(select(Case), actor, P.CASE_MANAGE).where(or_(
        Case.assignee_id.is_(None) & Case.status.in_((Status.NEW.value, Status.TRIAGE.value)),
        (Case.assignee_id == actor.user_id) & Case.status.in_(OPEN_STATUSES)))
    stmt = stmt.order_by(_SEVERITY_RANK.desc(), Case.reported_at.asc(), Case.id.asc())
    return list(session.scalars(stmt.limit(max(1, min(limit, 500)))))


def count_assigned_to_me(session: Session, actor: Actor) -> int:
    """Open cases assigned to the actor (dashboard)."""
    return count_rows(session, restrict_cases(select(Case.id), actor).where(
        Case.assignee_id == actor.user_id, Case.status.in_(OPEN_STATUSES)))


def count_awaiting_triage(session: Session, actor: Actor) -> int:
    """New cases nobody has triaged yet (dashboard)."""
    return count_rows(session, restrict_cases(select(Case.id), actor).where(
        Case.status == Status.NEW.value))


def get_by_reference(*, session: Session, actor: Actor, reference: str) -> Case:
    """A case by its reference (``INC-2026-00042``), if the actor sees it."""
    found = session.scalar(select(Case.id).where(Case.reference == reference.strip().upper()))
    return get_case(session, actor, found or -1)


def user_names(*, session: Session, user_ids: set[int | None]) -> dict[int, str]:
    """Full names of users by id (for display; ids of deleted users are left out)."""
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    return {u.id: u.full_name or u.email
            for u in session.scalars(select(User).where(User.id.in_(ids)))}


def institution_names(*, session: Session) -> dict[int, str]:
    """Acronym of every institution, by id."""
    return {ident: text.split(" — ", 1)[0]
            for ident, text in registry_service.institution_choices(session=session)}

"""Training services: the catalogue (courses and sessions, kept by the agency), trainees of
each institution, enrolments with a seat limit, attendance and outcomes, certificates issued
on completion, and completion rates per institution and for the nation.

Scope: courses and sessions are national (every staff member reads the catalogue); a
trainee and their enrolments belong to the trainee's institution, so every list goes
through :func:`restrict` and every single object through :func:`ensure_in_scope` (a person
of institution A gets "not found" for a trainee of B). Services never commit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from lakana.awareness.training import certificates
from lakana.awareness.training.models import Course, CourseSession, Enrolment, Trainee
from lakana.awareness.training.permissions import TrainingPermission as P
from lakana.awareness.training.schemas import (
    CompletionRow,
    CompletionTable,
    CourseCreate,
    CourseKind,
    CourseUpdate,
    EnrolmentCreate,
    EnrolmentResult,
    Outcome,
    SessionCreate,
    SessionUpdate,
    TraineeCreate,
    TraineeQuery,
    TraineeUpdate,
)
from lakana.core import audit
from lakana.core.auth.rbac import Actor, ensure_in_scope, restrict
from lakana.core.concurrency import check_version as _check_version
from lakana.core.concurrency import flush_or_conflict as _flush
from lakana.core.db import count_rows as _count
from lakana.core.db import utcnow
from lakana.core.errors import Conflict, Invalid, NotFound
from lakana.core.i18n import Msg
from lakana.registry import service as registry

COURSE_FIELDS = ("kind", "title", "description", "duration_hours", "provider", "url")
SESSION_FIELDS = ("starts_on", "ends_on", "place", "seats")
TRAINEE_FIELDS = ("full_name", "email", "staff_number")


def today() -> dt.date:
    """Today's date (UTC)."""
    return utcnow().date()


def _state(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    state = {}
    for name in names:
        value = getattr(obj, name)
        state[name] = value.isoformat() if isinstance(value, dt.date) else value
    return state


def _not_found(what: str) -> NotFound:
    return NotFound("This %(what)s does not exist or is not visible to you.", what=Msg(what))


def institution_acronyms(*, session: Session) -> dict[int, str]:
    """Acronym of every institution, by id (through the registry's service)."""
    return {ident: text.split(" — ", 1)[0]
            for ident, text in registry.institution_choices(session=session)}


# --- courses ----------------------------------------------------------------------------

def get_course(*, session: Session, actor: Actor, course_id: int) -> Course:
    """One course of the catalogue."""
    actor.require(P.TRAINING_READ)
    course = session.get(Course, course_id)
    if course is None:
        raise _not_found("course")
    return course


def list_courses(*, session: Session, actor: Actor) -> list[Course]:
    """The catalogue, by title."""
    actor.require(P.TRAINING_READ)
    return list(session.scalars(select(Course).order_by(Course.title, Course.id)))


def create_course(*, session: Session, actor: Actor, data: CourseCreate) -> Course:
    """Add a course to the catalogue (the agency)."""
    actor.require(P.TRAINING_MANAGE)
    course = Course(created_by=actor.name, **data.model_dump())
    session.add(course)
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.course.create",
                 object_type="course", object_id=course.id, object_repr=course.title,
                 after=_state(course, COURSE_FIELDS))
    return course


def update_course(*, session: Session, actor: Actor, course_id: int,
                  data: CourseUpdate) -> Course:
    """Change a course; a stale ``version`` is refused with 409."""
    actor.require(P.TRAINING_MANAGE)
    course = get_course(session=session, actor=actor, course_id=course_id)
    _check_version(course.version, data.version)
    before = _state(course, COURSE_FIELDS)
    for key in data.model_fields_set - {"version"}:
        value = getattr(data, key)
        if value is None and key not in ("url",):
            raise Invalid("The field %(field)s cannot be empty.", field=key)
        setattr(course, key, value)
    if course.kind == CourseKind.ELEARNING and not course.url:
        raise Invalid("An e-learning course needs its link (https://...).",
                      errors=[{"field": "url",
                               "message": "An e-learning course needs its link (https://...)."}])
    after = _state(course, COURSE_FIELDS)
    if after == before:
        return course
    course.updated_at = utcnow()
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.course.update",
                 object_type="course", object_id=course.id, object_repr=course.title,
                 before=before, after=after)
    return course


# --- sessions ---------------------------------------------------------------------------

def get_session(*, session: Session, actor: Actor, session_id: int) -> CourseSession:
    """One session of a course."""
    actor.require(P.TRAINING_READ)
    found = session.get(CourseSession, session_id)
    if found is None:
        raise _not_found("session")
    return found


def list_sessions(*, session: Session, actor: Actor,
                  course_id: int | None = None) -> list[CourseSession]:
    """Sessions (of one course, or all), latest first."""
    actor.require(P.TRAINING_READ)
    stmt = select(CourseSession).options(selectinload(CourseSession.course))
    if course_id is not None:
        stmt = stmt.where(CourseSession.course_id == course_id)
    return list(session.scalars(stmt.order_by(CourseSession.starts_on.desc(),
                                              CourseSession.id.desc())))


def seats_taken(session: Session, session_id: int) -> int:
    """Enrolments of a session (every institution's: seats are shared)."""
    return session.scalar(select(func.count()).select_from(Enrolment)
                          .where(Enrolment.session_id == session_id)) or 0


def create_session(*, session: Session, actor: Actor, data: SessionCreate) -> CourseSession:
    """Schedule a session of a course (the agency)."""
    actor.require(P.TRAINING_MANAGE)
    course = get_course(session=session, actor=actor, course_id=data.course_id)
    found = CourseSession(**data.model_dump())
    session.add(found)
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.session.create",
                 object_type="course_session", object_id=found.id,
                 object_repr=f"{course.title} {found.starts_on.isoformat()}",
                 after={"course_id": course.id, **_state(found, SESSION_FIELDS)})
    return found


def update_session(*, session: Session, actor: Actor, session_id: int,
                   data: SessionUpdate) -> CourseSession:
    """Change a session; fewer seats than enrolments, or a bad period, are refused."""
    actor.require(P.TRAINING_MANAGE)
    found = get_session(session=session, actor=actor, session_id=session_id)
    _check_version(found.version, data.version)
    before = _state(found, SESSION_FIELDS)
    for key in data.model_fields_set - {"version"}:
        value = getattr(data, key)
        if value is None and key != "place":
            raise Invalid("The field %(field)s cannot be empty.", field=key)
        setattr(found, key, value or ("" if key == "place" else value))
    if found.ends_on < found.starts_on:
        raise Invalid("The end date may not be before the start date.",
                      errors=[{"field": "ends_on",
                               "message": "The end date may not be before the start date."}])
    taken = seats_taken(session, found.id)
    if found.seats < taken:
        raise Invalid("The session already has %(taken)s enrolments: it needs at least as "
                      "many seats.", taken=taken,
                      errors=[{"field": "seats", "message": "Fewer seats than enrolments."}])
    after = _state(found, SESSION_FIELDS)
    if after == before:
        return found
    found.updated_at = utcnow()
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.session.update",
                 object_type="course_session", object_id=found.id,
                 object_repr=f"{found.course.title} {found.starts_on.isoformat()}",
                 before=before, after=after)
    return found


# --- trainees ---------------------------------------------------------------------------

def get_trainee(*, session: Session, actor: Actor, trainee_id: int,
                permission: str = P.TRAINING_READ) -> Trainee:
    """One trainee the actor may see (404 when absent or out of scope)."""
    trainee = session.get(Trainee, trainee_id)
    ensure_in_scope(actor, trainee.institution_id if trainee else -1, permission,
                    what=Msg("trainee"))
    if trainee is None:
        raise _not_found("trainee")
    return trainee


def _trainees_stmt(actor: Actor) -> Select[Any]:
    return restrict(select(Trainee), actor=actor, permission=P.TRAINING_READ,
                    scope=Trainee.institution_id)


def list_trainees(*, session: Session, actor: Actor,
                  query: TraineeQuery | None = None) -> tuple[list[Trainee], int]:
    """Trainees the actor may see, filtered and paged, with the total."""
    query = query or TraineeQuery()
    stmt = _trainees_stmt(actor)
    if query.institution_id is not None:
        stmt = stmt.where(Trainee.institution_id == query.institution_id)
    if query.q:
        needle = query.q.lower()
        stmt = stmt.where(func.lower(Trainee.full_name).contains(needle, autoescape=True)
                          | Trainee.email.contains(needle, autoescape=True))
    total = _count(session, stmt)
    rows = session.scalars(stmt.order_by(Trainee.full_name, Trainee.id)
                           .limit(query.limit).offset(query.offset)).all()
    return list(rows), total


def _email_taken(session: Session, email: str, but: int | None = None) -> None:
    stmt = select(Trainee.id).where(Trainee.email == email)
    if but is not None:
        stmt = stmt.where(Trainee.id != but)
    if session.scalar(stmt) is not None:
        raise Conflict("A trainee with the e-mail address %(email)s is already registered.",
                       email=email, errors=[{"field": "email",
                                             "message": "This e-mail address is taken."}])


def create_trainee(*, session: Session, actor: Actor, data: TraineeCreate) -> Trainee:
    """Register a public servant of an institution (its focal point, or the agency)."""
    actor.require(P.TRAINING_WRITE)
    ensure_in_scope(actor, data.institution_id, P.TRAINING_WRITE, what=Msg("institution"))
    if data.institution_id not in institution_acronyms(session=session):
        raise Invalid("The institution %(id)s does not exist.", id=data.institution_id)
    email = str(data.email).lower()
    _email_taken(session, email)
    trainee = Trainee(created_by=actor.name, institution_id=data.institution_id,
                      full_name=data.full_name, email=email, staff_number=data.staff_number)
    session.add(trainee)
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.trainee.create",
                 object_type="trainee", object_id=trainee.id, object_repr=trainee.full_name,
                 after=_state(trainee, TRAINEE_FIELDS), institution_id=trainee.institution_id)
    return trainee


def update_trainee(*, session: Session, actor: Actor, trainee_id: int,
                   data: TraineeUpdate) -> Trainee:
    """Change a trainee; a stale ``version`` is refused with 409."""
    trainee = get_trainee(session=session, actor=actor, trainee_id=trainee_id,
                          permission=P.TRAINING_WRITE)
    _check_version(trainee.version, data.version)
    before = _state(trainee, TRAINEE_FIELDS)
    for key in data.model_fields_set - {"version"}:
        value = getattr(data, key)
        if value is None and key != "staff_number":
            raise Invalid("The field %(field)s cannot be empty.", field=key)
        if key == "email":
            value = str(value).lower()
            _email_taken(session, value, but=trainee.id)
        setattr(trainee, key, value or None if key == "staff_number" else value)
    after = _state(trainee, TRAINEE_FIELDS)
    if after == before:
        return trainee
    trainee.updated_at = utcnow()
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.trainee.update",
                 object_type="trainee", object_id=trainee.id, object_repr=trainee.full_name,
                 before=before, after=after, institution_id=trainee.institution_id)
    return trainee


def trainees_by_email(session: Session, emails: list[str]) -> dict[str, Trainee]:
    """Trainees of the given (lower-case) e-mail addresses, by address."""
    found: dict[str, Trainee] = {}
    for start in range(0, len(emails), 500):
        chunk = emails[start:start + 500]
        for trainee in session.scalars(select(Trainee).where(Trainee.email.in_(chunk))):
            found[trainee.email] = trainee
    return found


# --- enrolments -------------------------------------------------------------------------

def get_enrolment(*, session: Session, actor: Actor, enrolment_id: int,
                  permission: str = P.TRAINING_READ) -> Enrolment:
    """One enrolment the actor may see (through its trainee's institution)."""
    found = session.get(Enrolment, enrolment_id)
    ensure_in_scope(actor, found.institution_id if found else -1, permission,
                    what=Msg("enrolment"))
    if found is None:
        raise _not_found("enrolment")
    return found


def list_enrolments(*, session: Session, actor: Actor, session_id: int | None = None,
                    trainee_id: int | None = None) -> list[Enrolment]:
    """Enrolments the actor may see, of a session or a trainee."""
    stmt = restrict(select(Enrolment), actor=actor, permission=P.TRAINING_READ,
                    scope=Enrolment.institution_id)
    if session_id is not None:
        stmt = stmt.where(Enrolment.session_id == session_id)
    if trainee_id is not None:
        stmt = stmt.where(Enrolment.trainee_id == trainee_id)
    stmt = stmt.options(selectinload(Enrolment.trainee), selectinload(Enrolment.certificate),
                        selectinload(Enrolment.session).selectinload(CourseSession.course))
    return list(session.scalars(stmt.order_by(Enrolment.id)))


def check_seat(session: Session, found: CourseSession, wanted: int = 1) -> None:
    """Refuse (409) when the session has fewer than ``wanted`` free seats."""
    taken = seats_taken(session, found.id)
    if taken + wanted > found.seats:
        raise Conflict("This session is full (%(seats)s seats, %(taken)s taken).",
                       seats=found.seats, taken=taken,
                       errors=[{"field": "session_id", "message": "This session is full."}])


def enrol(*, session: Session, actor: Actor, data: EnrolmentCreate) -> Enrolment:
    """Enrol a trainee in a session: one seat each, never more than the session has."""
    actor.require(P.TRAINING_WRITE)
    trainee = get_trainee(session=session, actor=actor, trainee_id=data.trainee_id,
                          permission=P.TRAINING_WRITE)
    found = get_session(session=session, actor=actor, session_id=data.session_id)
    if session.scalar(select(Enrolment.id).where(Enrolment.session_id == found.id,
                                                 Enrolment.trainee_id == trainee.id)):
        raise Conflict("%(name)s is already enrolled in this session.",
                       name=trainee.full_name)
    check_seat(session, found)
    return add_enrolment(session, actor, found, trainee)


def add_enrolment(session: Session, actor: Actor, found: CourseSession,
                  trainee: Trainee) -> Enrolment:
    """Add and ledger an enrolment whose seat and scope the caller checked."""
    enrolment = new_enrolment(found, trainee)
    session.add(enrolment)
    _flush(session)
    ledger_enrolment(session, actor, enrolment, f"{trainee.full_name} — {found.course.title}")
    return enrolment


def new_enrolment(found: CourseSession, trainee: Trainee) -> Enrolment:
    """A new enrolment (not added to the session), with no certificate loaded."""
    return Enrolment(session_id=found.id, trainee_id=trainee.id,
                     institution_id=trainee.institution_id, certificate=None)


def ledger_enrolment(session: Session, actor: Actor, enrolment: Enrolment, label: str) -> None:
    """Ledger a flushed new enrolment (``label`` names person and course)."""
    audit.record(session=session, actor=actor, action="awareness.enrolment.create",
                 object_type="enrolment", object_id=enrolment.id, object_repr=label,
                 after={"session_id": enrolment.session_id, "trainee_id": enrolment.trainee_id},
                 institution_id=enrolment.institution_id)


def cancel_enrolment(*, session: Session, actor: Actor, enrolment_id: int) -> None:
    """Free the seat of an enrolment that has no outcome yet."""
    found = get_enrolment(session=session, actor=actor, enrolment_id=enrolment_id,
                          permission=P.TRAINING_WRITE)
    if found.outcome is not None:
        raise Conflict("An enrolment with an outcome cannot be cancelled.")
    before = {"session_id": found.session_id, "trainee_id": found.trainee_id}
    session.delete(found)
    _flush(session)
    audit.record(session=session, actor=actor, action="awareness.enrolment.delete",
                 object_type="enrolment", object_id=enrolment_id,
                 object_repr=f"enrolment {enrolment_id}", before=before,
                 institution_id=found.institution_id)


def _result_state(found: Enrolment) -> dict[str, Any]:
    return {"attended": found.attended, "outcome": found.outcome, "score": found.score}


def set_result(found: Enrolment, data: EnrolmentResult) -> dict[str, Any] | None:
    """Set attendance, outcome and score on ``found`` without flushing or ledgering;
    returns the state before when something changed, else ``None``."""
    before = _result_state(found)
    fields = data.model_fields_set - {"version"}
    for key in fields:
        value = getattr(data, key)
        setattr(found, key, value.value if isinstance(value, Outcome) else value)
    if found.outcome in (Outcome.COMPLETED, Outcome.FAILED) and "attended" not in fields:
        found.attended = True
    if found.outcome == Outcome.NO_SHOW:
        found.attended, found.score = False, None
    if _result_state(found) == before:
        return None
    found.updated_at = utcnow()
    return before


def ledger_result(session: Session, actor: Actor, found: Enrolment, before: dict[str, Any],
                  label: str) -> None:
    """Ledger a result change made by :func:`set_result` (``label`` names person and course)."""
    audit.record(session=session, actor=actor, action="awareness.enrolment.result",
                 object_type="enrolment", object_id=found.id, object_repr=label,
                 before=before, after=_result_state(found), institution_id=found.institution_id)


def apply_result(session: Session, actor: Actor, found: Enrolment,
                 data: EnrolmentResult) -> bool:
    """Set attendance, outcome and score; issue or revoke the certificate; ledger. Returns
    whether a certificate was issued."""
    before = set_result(found, data)
    if before is None:
        return False
    _flush(session)
    ledger_result(session, actor, found, before,
                  f"{found.trainee.full_name} — {found.session.course.title}")
    if found.outcome == Outcome.COMPLETED:
        return certificates.issue(session=session, actor=actor, enrolment=found)
    certificates.revoke(session=session, actor=actor, enrolment=found)
    return False


def record_result(*, session: Session, actor: Actor, enrolment_id: int,
                  data: EnrolmentResult) -> Enrolment:
    """Record attendance and outcome of an enrolment (the agency, which runs sessions); a
    completion issues the certificate, a later change of outcome revokes it."""
    found = get_enrolment(session=session, actor=actor, enrolment_id=enrolment_id,
                          permission=P.TRAINING_MANAGE)
    _check_version(found.version, data.version)
    apply_result(session, actor, found, data)
    return found


# --- completion -------------------------------------------------------------------------

def _percent(part: int, whole: int) -> int | None:
    return part * 100 // whole if whole else None


def _row(ident: int | None, acronym: str, name: str, counts: dict[str, Any]) -> CompletionRow:
    closed = counts["completions"] + counts["failed"] + counts["no_show"]
    return CompletionRow(
        institution_id=ident, acronym=acronym, name=name, trainees=counts["trainees"],
        enrolments=counts["enrolments"], people_trained=len(counts["trained"]),
        completions=counts["completions"], failed=counts["failed"],
        no_show=counts["no_show"], completion_rate=_percent(counts["completions"], closed),
        coverage=_percent(len(counts["trained"]), counts["trainees"]))


def _blank() -> dict[str, Any]:
    return {"trainees": 0, "enrolments": 0, "completions": 0, "failed": 0, "no_show": 0,
            "trained": set()}


def completion_table(*, session: Session, actor: Actor) -> CompletionTable:
    """Trainees, enrolments, people trained and completions per institution the actor sees,
    and the national total (largest number of people trained first)."""
    counts: dict[int, dict[str, Any]] = defaultdict(_blank)
    trainees = _trainees_stmt(actor).with_only_columns(Trainee.institution_id, func.count()) \
        .group_by(Trainee.institution_id)
    for institution_id, number in session.execute(trainees):
        counts[institution_id]["trainees"] = number
    stmt = restrict(select(Enrolment), actor=actor, permission=P.TRAINING_READ,
                    scope=Enrolment.institution_id).with_only_columns(
        Enrolment.institution_id, Enrolment.trainee_id, Enrolment.outcome)
    names = {"completed": "completions", "failed": "failed", "no_show": "no_show"}
    for institution_id, trainee_id, outcome in session.execute(stmt):
        row = counts[institution_id]
        row["enrolments"] += 1
        if outcome in names:
            row[names[outcome]] += 1
        if outcome == Outcome.COMPLETED:
            row["trained"].add(trainee_id)
    rows = []
    total = _blank()
    for inst in registry.institution_summaries(session=session, actor=actor):
        found = counts.get(inst.id, _blank())
        rows.append(_row(inst.id, inst.acronym, inst.name, found))
        for key in ("trainees", "enrolments", "completions", "failed", "no_show"):
            total[key] += found[key]
        total["trained"] |= found["trained"]
    rows.sort(key=lambda r: (-r.people_trained, -r.trainees, r.acronym))
    return CompletionTable(institutions=rows, total=_row(None, "", "", total))


def institution_completion(*, session: Session, actor: Actor,
                           institution_id: int) -> CompletionRow:
    """One institution's completion figures."""
    ensure_in_scope(actor, institution_id, P.TRAINING_READ, what=Msg("institution"))
    found = next((r for r in completion_table(session=session, actor=actor).institutions
                  if r.institution_id == institution_id), None)
    if found is None:
        raise _not_found("institution")
    return found


def count_people_trained(session: Session, actor: Actor) -> int:
    """People trained (at least one completion) in the institutions the actor sees."""
    return completion_table(session=session, actor=actor).total.people_trained


def coverage_on(*, session: Session, actor: Actor, day: dt.date) -> tuple[int, int]:
    """``(trainees, people trained)`` as they stood on ``day``, over the trainees the actor
    sees: people trained are those with a completed enrolment in a session that ended on or
    before ``day``; trainees are those registered by ``day``, and those trained by then even
    if registered later (a history imported afterwards). Two counting queries."""
    after = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    trained = restrict(select(Enrolment.trainee_id), actor=actor, permission=P.TRAINING_READ,
                       scope=Enrolment.institution_id).join(
        CourseSession, CourseSession.id == Enrolment.session_id).where(
        Enrolment.outcome == Outcome.COMPLETED, CourseSession.ends_on <= day)
    people = _trainees_stmt(actor).where(Trainee.id.in_(trained))
    registered = _trainees_stmt(actor).where(
        (Trainee.created_at < after) | Trainee.id.in_(trained))
    return _count(session, registered), _count(session, people)


def completions_by_quarter(*, session: Session, actor: Actor) -> dict[str, int]:
    """Completions per quarter of their session's last day (``"2026-T3"``: the year and
    the quarter), over the enrolments the actor may see, oldest first."""
    stmt = restrict(select(Enrolment), actor=actor, permission=P.TRAINING_READ,
                    scope=Enrolment.institution_id).join(
        CourseSession, CourseSession.id == Enrolment.session_id).where(
        Enrolment.outcome == Outcome.COMPLETED).with_only_columns(CourseSession.ends_on)
    counts: dict[str, int] = defaultdict(int)
    for (ends_on,) in session.execute(stmt):
        counts[f"{ends_on.year}-T{(ends_on.month - 1) // 3 + 1}"] += 1
    return dict(sorted(counts.items()))

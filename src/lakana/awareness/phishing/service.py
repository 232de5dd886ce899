"""Phishing exercise services: templates, exercises of an institution, target lists,
sending (jobs), events recorded from signed tokens, automatic enrolment of those who
clicked in the follow-up course, GoPhish imports and the results table.

Scope: an exercise belongs to its institution. The agency's exercise team
(``PHISHING_MANAGE``) runs exercises and sees targets' names and addresses; an
institution's managers (``PHISHING_READ``) see their own exercises only, with pseudonyms
and aggregates. Tracking routes have no account: the token is the only credential, and an
event is recorded once per person and kind. What people type on the landing page is never
read. Services never commit.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lakana.awareness.phishing import imports, sending, tracking
from lakana.awareness.phishing.models import (
    PhishingEvent,
    PhishingExercise,
    PhishingTarget,
    PhishingTemplate,
)
from lakana.awareness.phishing.permissions import PhishingPermission as P
from lakana.awareness.phishing.schemas import (
    EventKind,
    ExerciseCreate,
    ExerciseStatus,
    ImportReport,
    Results,
    TargetRow,
    TemplateCreate,
)
from lakana.awareness.training import service as training
from lakana.awareness.training.models import CourseSession, Enrolment
from lakana.awareness.training.schemas import CourseKind, Outcome, SessionCreate, TraineeCreate
from lakana.core import audit
from lakana.core.auth.rbac import Actor, ensure_in_scope, restrict, system_actor
from lakana.core.config import Settings
from lakana.core.db import utcnow
from lakana.core.errors import Conflict, Invalid, NotFound
from lakana.core.i18n import Msg
from lakana.core.jobs.service import enqueue

#: Events implied by another (a click means the message was opened, images or not).
IMPLIED = {EventKind.CLICKED: (EventKind.OPENED,),
           EventKind.SUBMITTED: (EventKind.OPENED, EventKind.CLICKED)}
#: Departments smaller than this are merged in the managers' view (no re-identification).
MIN_GROUP = 5
FOLLOWUP_DAYS = 30


def _not_found(what: str) -> NotFound:
    return NotFound("This %(what)s does not exist or is not visible to you.", what=Msg(what))


# --- templates --------------------------------------------------------------------------

def list_templates(*, session: Session, actor: Actor) -> list[PhishingTemplate]:
    """Message templates (the exercise team's)."""
    actor.require(P.PHISHING_MANAGE)
    return list(session.scalars(select(PhishingTemplate).order_by(PhishingTemplate.name)))


def create_template(*, session: Session, actor: Actor, data: TemplateCreate) -> PhishingTemplate:
    """Add a message template."""
    actor.require(P.PHISHING_MANAGE)
    found = PhishingTemplate(created_by=actor.name, **data.model_dump())
    session.add(found)
    session.flush()
    audit.record(session=session, actor=actor, action="awareness.phishing_template.create",
                 object_type="phishing_template", object_id=found.id, object_repr=found.name,
                 after={"name": found.name, "subject": found.subject})
    return found


# --- exercises --------------------------------------------------------------------------

def get_exercise(*, session: Session, actor: Actor, exercise_id: int,
                 permission: str = P.PHISHING_READ) -> PhishingExercise:
    """One exercise the actor may see (404 when absent or another institution's)."""
    found = session.get(PhishingExercise, exercise_id)
    ensure_in_scope(actor, found.institution_id if found else -1, permission,
                    what=Msg("exercise"))
    if found is None:
        raise _not_found("exercise")
    return found


def list_exercises(*, session: Session, actor: Actor) -> list[PhishingExercise]:
    """Exercises the actor may see, latest first."""
    stmt = restrict(select(PhishingExercise), actor=actor, permission=P.PHISHING_READ,
                    scope=PhishingExercise.institution_id)
    return list(session.scalars(stmt.order_by(PhishingExercise.id.desc())))


def create_exercise(*, session: Session, actor: Actor, data: ExerciseCreate) -> PhishingExercise:
    """Prepare an exercise (a draft) for an institution, with an e-learning follow-up."""
    actor.require(P.PHISHING_MANAGE)
    if data.institution_id not in training.institution_acronyms(session=session):
        raise Invalid("The institution %(id)s does not exist.", id=data.institution_id)
    if session.get(PhishingTemplate, data.template_id) is None:
        raise _not_found("template")
    if data.followup_course_id is not None:
        course = training.get_course(session=session, actor=system_actor("phishing"),
                                     course_id=data.followup_course_id)
        if course.kind != CourseKind.ELEARNING:
            raise Invalid("The follow-up course must be an e-learning course.",
                          errors=[{"field": "followup_course_id",
                                   "message": "The follow-up course must be an e-learning "
                                              "course."}])
    found = PhishingExercise(created_by=actor.name, **data.model_dump())
    session.add(found)
    session.flush()
    audit.record(session=session, actor=actor, action="awareness.phishing_exercise.create",
                 object_type="phishing_exercise", object_id=found.id, object_repr=found.name,
                 after={"name": found.name, "template_id": found.template_id,
                        "followup_course_id": found.followup_course_id},
                 institution_id=found.institution_id)
    return found


def targets_of(session: Session, exercise_id: int) -> list[PhishingTarget]:
    """An exercise's targets, by pseudonym (no scope check: callers checked)."""
    return list(session.scalars(select(PhishingTarget).where(
        PhishingTarget.exercise_id == exercise_id).order_by(PhishingTarget.pseudonym)))


def _pseudonyms(session: Session, exercise_id: int, count: int) -> list[str]:
    """New pseudonyms in random order, so that they do not follow the file's order."""
    start = len(targets_of(session, exercise_id))
    numbers = list(range(start + 1, start + count + 1))
    secrets.SystemRandom().shuffle(numbers)
    return [f"Cible {n:04d}" for n in numbers]


def import_targets(*, session: Session, actor: Actor, exercise_id: int,
                   data: bytes) -> ImportReport:
    """Add the targets of a CSV list (``email``, ``nom``, ``service``) to a draft exercise:
    all lines or none."""
    found = get_exercise(session=session, actor=actor, exercise_id=exercise_id,
                         permission=P.PHISHING_MANAGE)
    if found.status != ExerciseStatus.DRAFT.value:
        raise Conflict("Targets can only be added to a draft exercise.")
    known = {t.email for t in targets_of(session, found.id)}
    lines = imports.parse_targets(data, known)
    for line, pseudonym in zip(lines, _pseudonyms(session, found.id, len(lines)), strict=True):
        session.add(PhishingTarget(exercise_id=found.id, email=line.email,
                                   full_name=line.full_name, department=line.department,
                                   pseudonym=pseudonym))
    session.flush()
    audit.record(session=session, actor=actor, action="awareness.phishing_exercise.targets",
                 object_type="phishing_exercise", object_id=found.id, object_repr=found.name,
                 after={"added": len(lines)}, institution_id=found.institution_id)
    return ImportReport(rows=len(lines), added=len(lines))


def send_exercise(*, session: Session, actor: Actor, exercise_id: int) -> int:
    """Mark a draft exercise sent and enqueue one job per batch of targets; returns the
    number of jobs."""
    found = get_exercise(session=session, actor=actor, exercise_id=exercise_id,
                         permission=P.PHISHING_MANAGE)
    if found.status != ExerciseStatus.DRAFT.value:
        raise Conflict("This exercise was already sent.")
    ids = [t.id for t in targets_of(session, found.id)]
    if not ids:
        raise Invalid("Import the targets before sending the exercise.")
    found.status, found.sent_at = ExerciseStatus.SENT.value, utcnow()
    jobs = 0
    for start in range(0, len(ids), sending.BATCH):
        enqueue(session, sending.SEND_TASK,
                {"exercise_id": found.id, "target_ids": ids[start:start + sending.BATCH]})
        jobs += 1
    session.flush()
    audit.record(session=session, actor=actor, action="awareness.phishing_exercise.send",
                 object_type="phishing_exercise", object_id=found.id, object_repr=found.name,
                 after={"targets": len(ids)}, institution_id=found.institution_id)
    return jobs


def close_exercise(*, session: Session, actor: Actor, exercise_id: int) -> PhishingExercise:
    """Close an exercise: later clicks show the landing page but record nothing."""
    found = get_exercise(session=session, actor=actor, exercise_id=exercise_id,
                         permission=P.PHISHING_MANAGE)
    if found.status == ExerciseStatus.CLOSED.value:
        return found
    found.status, found.closed_at = ExerciseStatus.CLOSED.value, utcnow()
    session.flush()
    audit.record(session=session, actor=actor, action="awareness.phishing_exercise.close",
                 object_type="phishing_exercise", object_id=found.id, object_repr=found.name,
                 institution_id=found.institution_id)
    return found


# --- events -----------------------------------------------------------------------------

def add_events(session: Session, target: PhishingTarget, kinds: list[EventKind],
                at: dt.datetime | None = None, source: str = "lakana") -> list[EventKind]:
    """Add the events the target does not have yet (once per kind, even when two requests
    race); returns the kinds added."""
    have = set(session.scalars(select(PhishingEvent.kind).where(
        PhishingEvent.target_id == target.id)))
    added = []
    for kind in kinds:
        if kind.value in have:
            continue
        try:
            with session.begin_nested():
                session.add(PhishingEvent(target_id=target.id, exercise_id=target.exercise_id,
                                          kind=kind.value, at=at or utcnow(), source=source))
        except IntegrityError:
            continue  # another request recorded it first
        added.append(kind)
    return added


def target_of(*, session: Session, settings: Settings, token: str) -> PhishingTarget:
    """The target a tracking token names; a forged or unknown token is "not found"."""
    ident = tracking.read_token(settings, token)
    found = session.get(PhishingTarget, ident) if ident is not None else None
    if found is None:
        raise _not_found("page")
    return found


def record_event(*, session: Session, settings: Settings, token: str,
                 kind: EventKind) -> PhishingTarget:
    """Record what a person did (with the events it implies), once per kind, while the
    exercise runs; a first click enrols the person in the follow-up course."""
    target = target_of(session=session, settings=settings, token=token)
    if target.exercise.status != ExerciseStatus.SENT.value:
        return target
    added = add_events(session, target, [*IMPLIED.get(kind, ()), kind])
    if EventKind.CLICKED in added:
        enrol_clicker(session=session, exercise=target.exercise, target=target)
    return target


def _followup_session(session: Session, actor: Actor, course_id: int) -> CourseSession:
    today = training.today()
    for found in training.list_sessions(session=session, actor=actor, course_id=course_id):
        if found.ends_on >= today and training.seats_taken(session, found.id) < found.seats:
            return found
    return training.create_session(session=session, actor=actor, data=SessionCreate(
        course_id=course_id, starts_on=today, ends_on=today + dt.timedelta(days=FOLLOWUP_DAYS),
        place="En ligne", seats=1000))


def enrol_clicker(*, session: Session, exercise: PhishingExercise,
                  target: PhishingTarget) -> Enrolment | None:
    """Enrol a person who clicked in the exercise's follow-up course (an open e-learning
    session, or a new one); the trainee is registered when unknown."""
    if exercise.followup_course_id is None or target.enrolment_id is not None:
        return None
    actor = system_actor("phishing exercise", "system")
    trainee = training.trainees_by_email(session, [target.email]).get(target.email)
    if trainee is None:
        name = target.full_name if len(target.full_name) >= 2 else target.email.split("@")[0]
        trainee = training.create_trainee(session=session, actor=actor, data=TraineeCreate(
            institution_id=exercise.institution_id, full_name=name.ljust(2, "_"),
            email=target.email))
    existing = session.scalar(select(Enrolment).join(CourseSession).where(
        Enrolment.trainee_id == trainee.id,
        CourseSession.course_id == exercise.followup_course_id))
    if existing is None:
        found = _followup_session(session, actor, exercise.followup_course_id)
        existing = training.add_enrolment(session, actor, found, trainee)
    target.enrolment_id = existing.id
    session.flush()
    return existing


def import_gophish(*, session: Session, actor: Actor, exercise_id: int,
                   data: bytes) -> ImportReport:
    """Record the results of an exercise run with GoPhish (its CSV or JSON export): people
    are matched by e-mail (added when new), events added once, clickers enrolled."""
    found = get_exercise(session=session, actor=actor, exercise_id=exercise_id,
                         permission=P.PHISHING_MANAGE)
    rows = imports.parse_gophish(data)
    targets = {t.email: t for t in targets_of(session, found.id)}
    new = [row for row in rows if row.email not in targets]
    for row, pseudonym in zip(new, _pseudonyms(session, found.id, len(new)), strict=True):
        target = PhishingTarget(exercise_id=found.id, email=row.email, full_name=row.full_name,
                                department=row.department, pseudonym=pseudonym)
        session.add(target)
        targets[row.email] = target
    session.flush()
    if found.status == ExerciseStatus.DRAFT.value:
        found.status, found.sent_at = ExerciseStatus.SENT.value, utcnow()
    events = 0
    for row in rows:
        target = targets[row.email]
        for kind, at in sorted(row.events.items(), key=lambda item: item[1]):
            added = add_events(session, target, [kind], at=at, source="gophish")
            events += len(added)
            if EventKind.CLICKED in added:
                enrol_clicker(session=session, exercise=found, target=target)
    audit.record(session=session, actor=actor, action="awareness.phishing_exercise.gophish",
                 object_type="phishing_exercise", object_id=found.id, object_repr=found.name,
                 after={"rows": len(rows), "added": len(new), "events": events},
                 institution_id=found.institution_id)
    return ImportReport(rows=len(rows), added=len(new), events=events)


# --- results ----------------------------------------------------------------------------

def _percent(part: int, whole: int) -> int | None:
    return part * 100 // whole if whole else None


def _completion(session: Session, targets: list[PhishingTarget]) -> dict[int, str | None]:
    ids = [t.enrolment_id for t in targets if t.enrolment_id is not None]
    found: dict[int, str | None] = {}
    for start in range(0, len(ids), 500):
        for ident, outcome in session.execute(select(Enrolment.id, Enrolment.outcome).where(
                Enrolment.id.in_(ids[start:start + 500]))):
            found[ident] = outcome
    return found


def _departments(targets: list[PhishingTarget], events: dict[int, dict[str, dt.datetime]],
                 full: bool) -> dict[str, dict[str, int]]:
    groups: dict[str, list[PhishingTarget]] = defaultdict(list)
    for target in targets:
        groups[target.department or "—"].append(target)
    table: dict[str, dict[str, int]] = {}
    for name, members in sorted(groups.items()):
        key = name if full or len(members) >= MIN_GROUP else "Autres"
        row = table.setdefault(key, {"targets": 0, **{k.value: 0 for k in EventKind}})
        row["targets"] += len(members)
        for member in members:
            for kind in events.get(member.id, {}):
                row[kind] += 1
    return table


def results(*, session: Session, actor: Actor, exercise_id: int) -> Results:
    """An exercise's figures and rows: names and addresses for the exercise team only,
    pseudonyms for the institution's managers."""
    found = get_exercise(session=session, actor=actor, exercise_id=exercise_id)
    full = actor.can(P.PHISHING_MANAGE)
    targets = targets_of(session, found.id)
    events: dict[int, dict[str, dt.datetime]] = defaultdict(dict)
    for target_id, kind, at in session.execute(select(
            PhishingEvent.target_id, PhishingEvent.kind, PhishingEvent.at).where(
            PhishingEvent.exercise_id == found.id)):
        events[target_id][kind] = at
    outcomes = _completion(session, targets)
    counts = {k.value: sum(1 for t in targets if k.value in events.get(t.id, {}))
              for k in EventKind}
    sent = counts[EventKind.SENT.value]
    rows = []
    enrolled = completed = 0
    for target in targets:
        done = outcomes.get(target.enrolment_id or -1) == Outcome.COMPLETED.value
        if EventKind.CLICKED.value in events.get(target.id, {}):
            enrolled += target.enrolment_id is not None
            completed += done
        rows.append(TargetRow(
            pseudonym=target.pseudonym, department=target.department if full else "",
            email=target.email if full else None, full_name=target.full_name if full else None,
            events=dict(events.get(target.id, {})), enrolled=target.enrolment_id is not None,
            completed=done))
    return Results(
        exercise_id=found.id, targets=len(targets), counts=counts,
        rates={k: _percent(v, sent) for k, v in counts.items() if k != EventKind.SENT.value},
        by_department=_departments(targets, events, full), clickers_enrolled=enrolled,
        clickers_completed=completed, rows=rows)


def results_summary(session: Session, exercise_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Targets and people per event kind of each exercise (for lists)."""
    summary: dict[int, dict[str, Any]] = {i: {"targets": 0} for i in exercise_ids}
    for exercise_id, in session.execute(select(PhishingTarget.exercise_id).where(
            PhishingTarget.exercise_id.in_(exercise_ids))):
        summary[exercise_id]["targets"] += 1
    for exercise_id, kind in session.execute(select(PhishingEvent.exercise_id,
                                                    PhishingEvent.kind).where(
            PhishingEvent.exercise_id.in_(exercise_ids))):
        summary[exercise_id][kind] = summary[exercise_id].get(kind, 0) + 1
    return summary


@dataclass(frozen=True)
class ExerciseTotals:
    """People mailed, who clicked and who reported, in one sent exercise (for dashboards)."""

    exercise_id: int
    institution_id: int
    day: dt.date
    sent: int
    clicked: int
    reported: int


def exercise_totals(*, session: Session, actor: Actor) -> list[ExerciseTotals]:
    """Totals of every sent exercise the actor may see (none without ``PHISHING_READ``),
    dated by their sending day; aggregates only, never a person."""
    if not actor.can(P.PHISHING_READ):
        return []
    stmt = restrict(select(PhishingExercise), actor=actor, permission=P.PHISHING_READ,
                    scope=PhishingExercise.institution_id).where(
        PhishingExercise.sent_at.is_not(None)).with_only_columns(
        PhishingExercise.id, PhishingExercise.institution_id, PhishingExercise.sent_at)
    exercises: dict[int, tuple[int, dt.datetime]] = {
        ident: (institution_id, sent_at)
        for ident, institution_id, sent_at in session.execute(stmt) if sent_at is not None}
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    ids = list(exercises)
    for start in range(0, len(ids), 500):
        for exercise_id, kind, number in session.execute(
                select(PhishingEvent.exercise_id, PhishingEvent.kind, func.count())
                .where(PhishingEvent.exercise_id.in_(ids[start:start + 500]))
                .group_by(PhishingEvent.exercise_id, PhishingEvent.kind)):
            counts[exercise_id][kind] = number
    return [ExerciseTotals(exercise_id=ident, institution_id=institution_id,
                           day=sent_at.date(), sent=counts[ident].get(EventKind.SENT, 0),
                           clicked=counts[ident].get(EventKind.CLICKED, 0),
                           reported=counts[ident].get(EventKind.REPORTED, 0))
            for ident, (institution_id, sent_at) in sorted(exercises.items())]

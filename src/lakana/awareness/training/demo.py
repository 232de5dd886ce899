"""Demo data: a few courses (e-learning, classroom, university), sessions, public servants
(fictitious Malian names) of demo institutions, enrolments with outcomes and the
certificates they earned, so that the completion table shows contrasts.

Loading twice changes nothing (courses are matched by title, trainees by e-mail);
institutions missing from the registry's demo are skipped.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.awareness.training import service
from lakana.awareness.training.models import Course, Enrolment, Trainee
from lakana.awareness.training.schemas import (
    CourseCreate,
    CourseKind,
    EnrolmentCreate,
    EnrolmentResult,
    Outcome,
    SessionCreate,
    TraineeCreate,
)
from lakana.core.auth.rbac import Actor
from lakana.core.plugins import lookup_institution

#: (title, kind, hours, provider, url, sessions as (days from today, length in days, place,
#: seats)).
COURSES: tuple[tuple[str, CourseKind, int, str, str | None,
                     tuple[tuple[int, int, str, int], ...]], ...] = (
    ("Hygiène numérique des agents publics", CourseKind.ELEARNING, 3, "ANSSI-ML",
     "https://formation.example.ml/hygiene", ((-60, 30, "En ligne", 200),)),
    ("Gestion des incidents de sécurité", CourseKind.CLASSROOM, 21, "ANSSI-ML", None,
     ((-40, 3, "Bamako, ACI 2000", 12), (30, 3, "Kayes", 12))),
    ("Master en cybersécurité", CourseKind.UNIVERSITY, 600, "Université de Bamako", None,
     ((-300, 270, "Bamako, Badalabougou", 25),)),
)

#: (institution, full name, e-mail, staff number).
TRAINEES: tuple[tuple[str, str, str, str | None], ...] = (
    ("MEF", "Aminata Traoré", "aminata.traore@mef.example.ml", "MEF-0412"),
    ("MEF", "Boubacar Keïta", "boubacar.keita@mef.example.ml", "MEF-0977"),
    ("MEF", "Fatoumata Coulibaly", "fatoumata.coulibaly@mef.example.ml", None),
    ("DGI", "Ibrahim Diallo", "ibrahim.diallo@dgi.example.ml", "DGI-1120"),
    ("DGI", "Mariam Sangaré", "mariam.sangare@dgi.example.ml", None),
    ("AGETIC", "Oumar Maïga", "oumar.maiga@agetic.example.ml", "AG-031"),
    ("AGETIC", "Kadiatou Dembélé", "kadiatou.dembele@agetic.example.ml", "AG-044"),
    ("INPS", "Seydou Cissé", "seydou.cisse@inps.example.ml", None),
    ("DGD", "Hawa Konaté", "hawa.konate@dgd.example.ml", "DGD-208"),
    ("GOUV-KAYES", "Moussa Sidibé", "moussa.sidibe@kayes.example.ml", None),
)

#: (course index, session index, trainee e-mail, outcome or None, score).
RESULTS: tuple[tuple[int, int, str, Outcome | None, int | None], ...] = (
    (0, 0, "aminata.traore@mef.example.ml", Outcome.COMPLETED, 92),
    (0, 0, "boubacar.keita@mef.example.ml", Outcome.COMPLETED, 78),
    (0, 0, "fatoumata.coulibaly@mef.example.ml", Outcome.FAILED, 41),
    (0, 0, "ibrahim.diallo@dgi.example.ml", Outcome.COMPLETED, 85),
    (0, 0, "mariam.sangare@dgi.example.ml", Outcome.NO_SHOW, None),
    (0, 0, "hawa.konate@dgd.example.ml", Outcome.COMPLETED, 70),
    (1, 0, "oumar.maiga@agetic.example.ml", Outcome.COMPLETED, 88),
    (1, 0, "kadiatou.dembele@agetic.example.ml", Outcome.COMPLETED, 95),
    (1, 0, "seydou.cisse@inps.example.ml", Outcome.NO_SHOW, None),
    (1, 1, "moussa.sidibe@kayes.example.ml", None, None),
    (2, 0, "kadiatou.dembele@agetic.example.ml", None, None),
)


def _courses(session: Session, actor: Actor, today: dt.date) -> list[list[int]]:
    sessions: list[list[int]] = []
    for title, kind, hours, provider, url, dates in COURSES:
        course = session.scalar(select(Course).where(Course.title == title))
        if course is None:
            course = service.create_course(session=session, actor=actor, data=CourseCreate(
                kind=kind, title=title, duration_hours=hours, provider=provider, url=url))
            for start, length, place, seats in dates:
                first = today + dt.timedelta(days=start)
                service.create_session(session=session, actor=actor, data=SessionCreate(
                    course_id=course.id, starts_on=first,
                    ends_on=first + dt.timedelta(days=length), place=place, seats=seats))
        ordered = sorted(service.list_sessions(session=session, actor=actor,
                                               course_id=course.id),
                         key=lambda s: (s.starts_on, s.id))
        sessions.append([s.id for s in ordered])
    return sessions


def load_demo(*, session: Session, actor: Actor) -> dict[str, int]:
    """Create the demo courses, sessions, trainees, enrolments and certificates that do not
    exist yet."""
    counts = {"courses": 0, "trainees": 0, "enrolments": 0, "certificates": 0}
    before = len(service.list_courses(session=session, actor=actor))
    sessions = _courses(session, actor, service.today())
    counts["courses"] = len(service.list_courses(session=session, actor=actor)) - before
    people: dict[str, int] = {}
    for acronym, name, email, staff in TRAINEES:
        institution_id = lookup_institution(session, acronym)
        if institution_id is None:
            continue
        found = session.scalar(select(Trainee).where(Trainee.email == email))
        if found is None:
            found = service.create_trainee(session=session, actor=actor, data=TraineeCreate(
                institution_id=institution_id, full_name=name, email=email,
                staff_number=staff))
            counts["trainees"] += 1
        people[email] = found.id
    for course, index, email, outcome, score in RESULTS:
        if email not in people:
            continue
        session_id = sessions[course][index]
        if session.scalar(select(Enrolment.id).where(Enrolment.session_id == session_id,
                                                     Enrolment.trainee_id == people[email])):
            continue
        enrolment = service.enrol(session=session, actor=actor, data=EnrolmentCreate(
            session_id=session_id, trainee_id=people[email]))
        counts["enrolments"] += 1
        if outcome is not None:
            service.record_result(session=session, actor=actor, enrolment_id=enrolment.id,
                                  data=EnrolmentResult(
                                      version=enrolment.version, outcome=outcome, score=score))
            counts["certificates"] += outcome == Outcome.COMPLETED
    return counts

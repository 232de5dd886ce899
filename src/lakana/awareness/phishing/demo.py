"""Demo data: a message template and one finished exercise for the MEF (fictitious Malian
names), with realistic events (most open, some click, a few submit, some report) and the
clickers enrolled in the e-learning follow-up course of the training demo.

Loading twice changes nothing (the exercise is matched by name); without the MEF in the
registry's demo, nothing is loaded.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.awareness.phishing import service
from lakana.awareness.phishing.models import PhishingExercise, PhishingTarget
from lakana.awareness.phishing.schemas import EventKind, ExerciseCreate, TemplateCreate
from lakana.awareness.training import service as training
from lakana.awareness.training.schemas import CourseKind
from lakana.core.auth.rbac import Actor
from lakana.core.db import utcnow
from lakana.core.plugins import lookup_institution

EXERCISE = "Exercice « Prime de fin d'année » — MEF"
TEMPLATE = TemplateCreate(
    name="Prime de fin d'année",
    subject="Versement de votre prime de fin d'année : action requise",
    sender_name="Direction des ressources humaines",
    body=("Bonjour,\n\nLe versement de votre prime de fin d'année nécessite la confirmation de "
          "vos coordonnées bancaires avant vendredi.\n\nConfirmez ici : {{lien}}\n\n"
          "La Direction des ressources humaines"),
    landing_text=("Les ressources humaines ne demandent jamais vos coordonnées par un lien "
                  "reçu par courriel. Signalez ce type de message au service informatique."))

#: (full name, department, events after the sending, in minutes).
PEOPLE: tuple[tuple[str, str, dict[EventKind, int]], ...] = (
    ("Adama Konaté", "Budget", {EventKind.OPENED: 12, EventKind.CLICKED: 14}),
    ("Assitan Diarra", "Budget", {EventKind.OPENED: 40, EventKind.REPORTED: 42}),
    ("Bakary Coulibaly", "Budget", {EventKind.OPENED: 5, EventKind.CLICKED: 6,
                                    EventKind.SUBMITTED: 8}),
    ("Djeneba Touré", "Budget", {}),
    ("Fousseyni Sanogo", "Budget", {EventKind.OPENED: 90}),
    ("Kadidia Traoré", "Trésor", {EventKind.OPENED: 20, EventKind.CLICKED: 21}),
    ("Lassana Doumbia", "Trésor", {EventKind.OPENED: 31, EventKind.REPORTED: 33}),
    ("Mamadou Keïta", "Trésor", {EventKind.OPENED: 7}),
    ("Nana Cissé", "Trésor", {EventKind.OPENED: 55, EventKind.CLICKED: 57,
                              EventKind.SUBMITTED: 59}),
    ("Ousmane Dembélé", "Trésor", {}),
    ("Rokia Samaké", "Cabinet", {EventKind.OPENED: 3, EventKind.REPORTED: 4}),
    ("Sidiki Maïga", "Cabinet", {EventKind.OPENED: 64, EventKind.CLICKED: 66}),
)


def _email(name: str) -> str:
    plain = name.lower().translate(str.maketrans("éèëïô ", "eeeio."))
    return f"{plain}@mef.example.ml"


def load_demo(*, session: Session, actor: Actor) -> dict[str, int]:
    """Create the demo exercise with its targets and events, unless it exists."""
    counts = {"exercises": 0, "targets": 0, "events": 0}
    institution_id = lookup_institution(session, "MEF")
    if institution_id is None or session.scalar(
            select(PhishingExercise.id).where(PhishingExercise.name == EXERCISE)):
        return counts
    template = next((t for t in service.list_templates(session=session, actor=actor)
                     if t.name == TEMPLATE.name), None) or service.create_template(
        session=session, actor=actor, data=TEMPLATE)
    course = next((c for c in training.list_courses(session=session, actor=actor)
                   if c.kind == CourseKind.ELEARNING), None)
    start = utcnow() - dt.timedelta(days=20)
    exercise = service.create_exercise(session=session, actor=actor, data=ExerciseCreate(
        institution_id=institution_id, template_id=template.id, name=EXERCISE,
        followup_course_id=course.id if course else None, starts_on=start.date(),
        ends_on=(start + dt.timedelta(days=7)).date()))
    exercise.status, exercise.sent_at = "sent", start
    counts["exercises"] = 1
    for number, (name, department, events) in enumerate(PEOPLE, start=1):
        target = PhishingTarget(exercise_id=exercise.id, email=_email(name), full_name=name,
                                department=department, pseudonym=f"Cible {number * 7:04d}")
        session.add(target)
        session.flush()
        counts["targets"] += 1
        timeline = {EventKind.SENT: 0, **events}
        for kind, minutes in timeline.items():
            counts["events"] += len(service.add_events(
                session, target, [kind], at=start + dt.timedelta(minutes=minutes),
                source="demo"))
        if EventKind.CLICKED in events:
            service.enrol_clicker(session=session, exercise=exercise, target=target)
    service.close_exercise(session=session, actor=actor, exercise_id=exercise.id)
    return counts

"""Demo data of the incident response centre: three fictitious incidents worked by the demo
analyst (``csirt@demo.lakana.ml``).

* a ransomware at the Ministry of Health (MSDS), in containment;
* the defacement of the Ségou regional government's website (GOUV-SEGOU), closed as
  resolved;
* a phishing wave aimed at the Ministry of Economy and Finance (MEF) and three other
  institutions, under investigation, with tasks, notes (one TLP:RED) and timeline entries.

Everything is fictitious. Loading twice changes nothing (cases are matched by title);
institutions missing from the registry's demo are skipped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core.auth import service as auth_service
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Actor, Role
from lakana.core.db import utcnow
from lakana.core.plugins import lookup_institution
from lakana.csirt import service, tasks_service
from lakana.csirt.models import Case
from lakana.csirt.schemas import (
    CaseAssign,
    CaseReport,
    CaseTransition,
    EventCreate,
    NoteCreate,
    Status,
    TaskCreate,
    TaskUpdate,
)

#: The demo analyst, as ``lakana demo`` lists it (the demo steps run before that command
#: creates its accounts, so this step creates the analyst when missing, the same way).
ANALYST = ("csirt@demo.lakana.ml", "Fatoumata Diarra")
DEMO_PASSWORD = "Lakana-Demo-2026!"

RANSOMWARE = "Rançongiciel sur les serveurs de fichiers du ministère"
DEFACEMENT = "Défiguration du site web du gouvernorat"
PHISHING = "Vague d'hameçonnage imitant la messagerie de l'État"


def _analyst(session: Session, actor: Actor) -> User:
    user = auth_service.get_user_by_email(session=session, email=ANALYST[0])
    if user is None:
        user = auth_service.create_user(session=session, actor=actor, email=ANALYST[0],
                                        full_name=ANALYST[1], role=Role.CSIRT_ANALYST,
                                        password=DEMO_PASSWORD)
        user.mfa_secret = pyotp.random_base32()
        user.mfa_enabled = True
    return user


def _exists(session: Session, title: str) -> bool:
    return session.scalar(select(Case.id).where(Case.title == title)) is not None


def _move(session: Session, actor: Actor, case: Case, *steps: Status, **close: Any) -> None:
    for step in steps:
        service.transition(session=session, actor=actor, case_id=case.id, data=CaseTransition(
            version=case.version, to=step, **(close if step is Status.CLOSED else {})))


def _assign(session: Session, actor: Actor, case: Case, user: User) -> None:
    service.assign(session=session, actor=actor, case_id=case.id,
                   data=CaseAssign(version=case.version, assignee_id=user.id))


def _events(session: Session, actor: Actor, case: Case,
            entries: list[tuple[dt.datetime, str]]) -> None:
    for at, message in entries:
        service.add_incident_event(session=session, actor=actor, case_id=case.id,
                                   data=EventCreate(at=at, message=message))


def _ransomware(session: Session, actor: Actor, analyst: Actor, user: User,
                now: dt.datetime) -> int:
    institution_id = lookup_institution(session, "MSDS")
    if institution_id is None or _exists(session, RANSOMWARE):
        return 0
    case = service.report_case(session=session, actor=actor, source="institution",
                               data=CaseReport(
        institution_id=institution_id, title=RANSOMWARE, template="ransomware",
        description="Les agents ne peuvent plus ouvrir les documents partagés : les fichiers "
                    "portent l'extension .lkd et une note de rançon demande un paiement en "
                    "cryptomonnaie sous 72 heures.",
        service_impact="unavailable", people_affected=1200,
        occurred_at=now - dt.timedelta(hours=30), detected_at=now - dt.timedelta(hours=26)))
    _assign(session, analyst, case, user)
    _move(session, analyst, case, Status.INVESTIGATION, Status.CONTAINMENT)
    _events(session, analyst, case, [
        (now - dt.timedelta(hours=30), "Première connexion RDP suspecte sur le serveur de "
                                       "fichiers (compte de service)."),
        (now - dt.timedelta(hours=26), "Chiffrement des partages constaté par le support."),
        (now - dt.timedelta(hours=20), "Serveurs de fichiers isolés du réseau.")])
    tasks_service.add_note(session=session, actor=analyst, case_id=case.id, data=NoteCreate(
        body="Sauvegardes hors ligne de la semaine dernière intactes ; restauration possible "
             "après nettoyage.", tlp="amber"))
    return 1


def _defacement(session: Session, actor: Actor, analyst: Actor, user: User,
                now: dt.datetime) -> int:
    institution_id = lookup_institution(session, "GOUV-SEGOU")
    if institution_id is None or _exists(session, DEFACEMENT):
        return 0
    case = service.report_case(session=session, actor=actor, source="institution",
                               data=CaseReport(
        institution_id=institution_id, title=DEFACEMENT, template="defacement",
        description="La page d'accueil affiche une revendication et des images sans rapport "
                    "avec le gouvernorat.", service_impact="degraded",
        detected_at=now - dt.timedelta(days=12)))
    _assign(session, analyst, case, user)
    _move(session, analyst, case, Status.INVESTIGATION, Status.ERADICATION, Status.RECOVERY,
          Status.CLOSED, reason="resolved",
          comment="Extension vulnérable du CMS mise à jour, comptes changés, site restauré.")
    return 1


def _phishing(session: Session, actor: Actor, analyst: Actor, user: User,
              now: dt.datetime) -> int:
    institution_id = lookup_institution(session, "MEF")
    if institution_id is None or _exists(session, PHISHING):
        return 0
    case = service.report_case(session=session, actor=actor, data=CaseReport(
        institution_id=institution_id, title=PHISHING, template="phishing",
        description="Des courriels « Votre boîte aux lettres est pleine » renvoient vers une "
                    "fausse page de connexion à la messagerie de l'État.",
        institutions_affected=4, people_affected=350,
        detected_at=now - dt.timedelta(hours=50)))
    _assign(session, analyst, case, user)
    _move(session, analyst, case, Status.INVESTIGATION)
    task = tasks_service.create_task(session=session, actor=analyst, case_id=case.id,
                                     data=TaskCreate(
        title="Prévenir les points focaux des institutions visées", owner_id=user.id,
        due_date=now.date()))
    tasks_service.update_task(session=session, actor=analyst, task_id=task.id,
                              data=TaskUpdate(version=task.version, status="done"))
    _events(session, analyst, case, [
        (now - dt.timedelta(hours=52), "Premiers courriels reçus au MEF."),
        (now - dt.timedelta(hours=40), "Domaine frauduleux enregistré la veille identifié."),
        (now - dt.timedelta(hours=30), "Demande de retrait envoyée à l'hébergeur.")])
    tasks_service.add_note(session=session, actor=analyst, case_id=case.id, data=NoteCreate(
        body="Une quarantaine d'agents ont cliqué ; six ont saisi leur mot de passe, "
             "réinitialisés.", tlp="amber"))
    tasks_service.add_note(session=session, actor=analyst, case_id=case.id, data=NoteCreate(
        body="Source fictive d'un partenaire : même kit d'hameçonnage vu dans un pays "
             "voisin. Ne pas diffuser.", tlp="red"))
    return 1


def load_demo(*, session: Session, actor: Actor) -> dict[str, int]:
    """Load the demo incidents (skips those already there)."""
    user = _analyst(session, actor)
    session.flush()
    analyst = auth_service.actor_for(user, via="cli")
    now = utcnow().replace(microsecond=0)
    count = sum(make(session, actor, analyst, user, now)
                for make in (_ransomware, _defacement, _phishing))
    return {"cases": count}

"""Demo data: an open 2026 national campaign on the critical-infrastructure profile,
targeting the finance and digital ministries with the bodies under them, with a few
assessments partly filled in (fictitious comments). Loading twice changes nothing.

Runs after the registry's and the catalogs' demo steps (order 30).
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy.orm import Session

from lakana.compliance import service as catalog_service
from lakana.compliance.campaigns import answers as answer_service
from lakana.compliance.campaigns import service
from lakana.compliance.campaigns.schemas import AnswerIn, AnswerStatus, CampaignCreate
from lakana.core.auth.rbac import Actor
from lakana.registry import service as registry_service

NAME = "Campagne nationale d'auto-évaluation 2026"
PROFILE = ("critical-infrastructure", "2026.1")
MINISTRIES = ("MEF", "MCENMA")
#: Institutions whose assessment is partly filled, with the share of answers given.
FILLED = {"DGI": 0.8, "AGETIC": 0.5, "DGD": 0.3, "ANSSI-ML": 1.0}
COMMENTS = (
    "Procédure rédigée, validation par la direction en cours.",
    "Mesure en place sur les serveurs centraux ; les antennes régionales restent à couvrir.",
    "Prévu au plan d'action 2026 (budget demandé).",
    "Contrôle effectué lors de l'audit interne de mars (fictif).",
)
SEED = 2026


def _rating(rng: random.Random) -> tuple[AnswerStatus, int | None, str]:
    status = rng.choices(list(AnswerStatus), weights=(4, 4, 2, 1))[0]
    if status is AnswerStatus.NOT_APPLICABLE:
        return status, None, "Aucun système concerné dans l'institution (exemple)."
    maturity = {AnswerStatus.IMPLEMENTED: rng.randint(3, 5), AnswerStatus.PARTIAL:
                rng.randint(1, 3), AnswerStatus.NOT_IMPLEMENTED: 0}[status]
    return status, maturity, ""


def load_demo(*, session: Session, actor: Actor) -> dict[str, int]:
    """Create and launch the demo campaign unless it exists; returns what was new."""
    if any(c.name == NAME for c in service.list_campaigns(session=session, actor=actor)):
        return {"campaigns": 0, "answers": 0}
    profile = next((p for p in catalog_service.list_profiles(session=session, actor=actor)
                    if (p.profile_id, p.version) == PROFILE), None)
    roots = [registry_service.get_institution_id_by_acronym(session=session, acronym=a)
             for a in MINISTRIES]
    if profile is None or None in roots:
        return {"campaigns": 0, "answers": 0}
    campaign = service.create_campaign(session=session, actor=actor, data=CampaignCreate(
        name=NAME, year=2026, profile_id=profile.id, deadline=dt.date(2026, 12, 15),
        subtree_ids=[r for r in roots if r is not None]))
    service.launch_campaign(session=session, actor=actor, campaign_id=campaign.id,
                            version=campaign.version)
    rng, answered = random.Random(SEED), 0
    for acronym, share in FILLED.items():
        inst_id = registry_service.get_institution_id_by_acronym(session=session,
                                                                 acronym=acronym)
        found = [a for a in service.list_assessments(session=session, actor=actor,
                                                     campaign_id=campaign.id)
                 if a.institution_id == inst_id]
        if not found:
            continue
        rows = answer_service.list_answers(session=session, actor=actor,
                                           assessment_id=found[0].id)
        for answer in rows[:round(len(rows) * share)]:
            status, maturity, justification = _rating(rng)
            answer_service.update_answer(session=session, actor=actor, answer_id=answer.id,
                                         data=AnswerIn(status=status, maturity=maturity,
                                                       comment=rng.choice(COMMENTS),
                                                       justification=justification,
                                                       version=answer.version))
            answered += 1
        if share == 1.0:
            answer_service.transition(session=session, actor=actor,
                                      assessment_id=found[0].id, action="submit",
                                      version=found[0].version)
    return {"campaigns": 1, "answers": answered}

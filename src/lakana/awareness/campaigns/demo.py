"""Demo data: three Malian awareness campaigns (the cybersecurity month in October, scam SMS
and mobile money fraud on radio in Bambara, a phishing workshop series for public servants),
with reach recorded on their channels and a few outcome indicators.

Loading twice changes nothing (campaigns are matched by title); a lead institution missing
from the registry's demo is left empty.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.awareness.campaigns import service
from lakana.awareness.campaigns.models import AwarenessCampaign
from lakana.awareness.campaigns.schemas import (
    Audience,
    CampaignCreate,
    CampaignStatus,
    Channel,
    Language,
    OutcomeCreate,
    ReachCreate,
)
from lakana.core.auth.rbac import Actor
from lakana.core.db import utcnow
from lakana.core.plugins import lookup_institution

_C = Channel
_L = Language

#: Reach as (day from the start, channel, people, impressions, source, note).
Reach = tuple[int, Channel, int, int | None, str, str]
#: Outcome as (name, value, unit, evidence).
Outcome = tuple[str, float, str, str]


@dataclass(frozen=True)
class DemoCampaign:
    """A demo campaign; its period in days from today (none: the last whole October, the
    cybersecurity month)."""

    title: str
    message: str
    audience: Audience
    channels: list[Channel]
    languages: list[Language]
    period: tuple[int, int] | None
    lead: str | None
    target: int
    status: CampaignStatus
    reach: tuple[Reach, ...]
    outcomes: tuple[Outcome, ...]


CAMPAIGNS: tuple[DemoCampaign, ...] = (
    DemoCampaign("Mois de la cybersécurité — octobre",
     "Un mot de passe fort, la double authentification et les mises à jour protègent vos "
     "comptes : adoptez ces trois réflexes.",
     Audience.GENERAL_PUBLIC, [_C.RADIO, _C.TELEVISION, _C.SOCIAL_MEDIA, _C.POSTER],
     [_L.FRENCH, _L.BAMBARA], None, None, 2_000_000, CampaignStatus.FINISHED,
     ((2, _C.RADIO, 450_000, 900_000, "ORTM, relevé d'audience", "Spot de 30 s, 12 passages"),
      (5, _C.TELEVISION, 600_000, 1_200_000, "ORTM, Médiamétrie locale", ""),
      (10, _C.SOCIAL_MEDIA, 320_000, 1_450_000, "Statistiques Facebook et TikTok", ""),
      (15, _C.POSTER, 40_000, None, "Estimation : 400 affiches", "Gares routières de Bamako")),
     (("Signalements reçus pendant la campagne", 212, "signalements",
       "Formulaire public du CSIRT, octobre"),
      ("Taux de réussite au quiz en ligne", 68, "%", "1 450 participants"))),
    DemoCampaign("Arnaques par SMS et Mobile Money — radios de proximité",
     "Ne communiquez jamais votre code secret Orange Money ou Moov Money : aucun agent ne "
     "vous le demandera.",
     Audience.GENERAL_PUBLIC, [_C.RADIO, _C.SMS], [_L.BAMBARA, _L.FULFULDE, _L.SONGHAY],
     (-10, 50), "AGETIC", 1_500_000, CampaignStatus.RUNNING,
     ((1, _C.RADIO, 180_000, None, "Radios Kledu et Jamana", "Émission interactive en bambara"),
      (3, _C.SMS, 250_000, 250_000, "Opérateurs, accusés de réception", "SMS en bambara")),
     (("Signalements d'arnaques reçus", 57, "signalements", "Formulaire public du CSIRT"),)),
    DemoCampaign("Hameçonnage : ateliers pour les agents publics",
     "Vérifiez l'expéditeur et le lien avant de cliquer ; signalez tout courriel suspect.",
     Audience.PUBLIC_SERVANTS, [_C.WORKSHOP, _C.EMAIL], [_L.FRENCH], (20, 80), "MEF", 3_000,
     CampaignStatus.PLANNED, (), ()),
)


def _period(demo: DemoCampaign, today: dt.date) -> tuple[dt.date, dt.date]:
    if demo.period is None:
        year = today.year if today.month > 10 else today.year - 1
        return dt.date(year, 10, 1), dt.date(year, 10, 31)
    return (today + dt.timedelta(days=demo.period[0]),
            today + dt.timedelta(days=demo.period[1]))


def load_demo(*, session: Session, actor: Actor) -> dict[str, int]:
    """Create the demo campaigns, their reach and outcomes, when they do not exist yet."""
    counts = {"campaigns": 0, "reach": 0, "outcomes": 0}
    today = utcnow().date()
    for demo in CAMPAIGNS:
        if session.scalar(select(AwarenessCampaign.id)
                          .where(AwarenessCampaign.title == demo.title)):
            continue
        starts_on, ends_on = _period(demo, today)
        found = service.create_campaign(session=session, actor=actor, data=CampaignCreate(
            title=demo.title, message=demo.message, audience=demo.audience,
            channels=demo.channels, languages=demo.languages, starts_on=starts_on,
            ends_on=ends_on,
            lead_institution_id=lookup_institution(session, demo.lead) if demo.lead else None,
            target_reach=demo.target, status=demo.status))
        counts["campaigns"] += 1
        for day, channel, people, impressions, source, note in demo.reach:
            service.add_reach(session=session, actor=actor, campaign_id=found.id,
                              data=ReachCreate(reached_on=starts_on + dt.timedelta(days=day),
                                               channel=channel, people=people,
                                               impressions=impressions, source=source,
                                               note=note))
            counts["reach"] += 1
        for name, value, unit, evidence in demo.outcomes:
            service.add_outcome(session=session, actor=actor, campaign_id=found.id,
                                data=OutcomeCreate(name=name, value=value, unit=unit,
                                                   evidence=evidence))
            counts["outcomes"] += 1
    return counts

"""Demo data: people (fictitious) in security roles at a dozen demo institutions, some with
certifications that are valid, expiring or expired, so the staffing gaps and renewals show.
Loading twice changes nothing (holders are matched by institution, profile and name);
institutions missing from the registry's demo are skipped.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.awareness.skills import service
from lakana.awareness.skills.models import RoleHolder
from lakana.awareness.skills.schemas import CertificationCreate, HolderCreate
from lakana.core.auth.rbac import Actor
from lakana.core.plugins import lookup_institution

#: (institution, profile, full name, position, years in post, certification or "",
#: certification expiry in days from today: None for no expiry, negative when expired).
PEOPLE: tuple[tuple[str, str, str, str, int, str, int | None], ...] = (
    ("ANSSI-ML", "ciso", "Aminata Keïta", "Directrice de la sécurité", 4, "CISSP", 400),
    ("ANSSI-ML", "incident-responder", "Boubacar Sangaré", "Analyste CSIRT", 3, "GCIH", 45),
    ("ANSSI-ML", "incident-responder", "Fatoumata Diarra", "Analyste CSIRT", 2, "", None),
    ("ANSSI-ML", "threat-intelligence", "Ibrahim Maïga", "Analyste renseignement", 2,
     "GCTI", 600),
    ("ANSSI-ML", "forensics", "Mariam Coulibaly", "Enquêtrice numérique", 3, "GCFA", -20),
    ("ANSSI-ML", "educator", "Oumar Touré", "Responsable sensibilisation", 1, "", None),
    ("ANSSI-ML", "auditor", "Kadiatou Traoré", "Auditrice", 5,
     "ISO/IEC 27001 Lead Auditor", 200),
    ("ANSSI-ML", "architect", "Seydou Dembélé", "Architecte sécurité", 2, "", None),
    ("ANSSI-ML", "implementer", "Hawa Cissé", "Ingénieure sécurité", 3, "", None),
    ("ANSSI-ML", "implementer", "Moussa Kanté", "Ingénieur réseaux", 1, "", None),
    ("ANSSI-ML", "risk-manager", "Salimata Konaté", "Gestionnaire des risques", 2,
     "ISO/IEC 27005 Risk Manager", 700),
    ("ANSSI-ML", "legal-compliance", "Abdoulaye Sidibé", "Juriste", 3, "", None),
    ("MEF", "ciso", "Drissa Bagayoko", "RSSI", 3, "CISM", 30),
    ("MEF", "implementer", "Awa Sanogo", "Administratrice systèmes", 2, "", None),
    ("MEF", "risk-manager", "Lassana Doumbia", "Contrôleur interne", 1, "", None),
    ("DGI", "ciso", "Rokia Samaké", "RSSI", 2, "", None),
    ("DGI", "implementer", "Yacouba Ballo", "Administrateur réseaux", 4, "", None),
    ("DGD", "ciso", "Adama Koné", "RSSI", 1, "CISSP", -60),
    ("AGETIC", "ciso", "Nana Dicko", "RSSI", 5, "CISSP", 900),
    ("AGETIC", "architect", "Bakary Fofana", "Architecte", 3, "TOGAF", None),
    ("AGETIC", "implementer", "Djeneba Goïta", "Ingénieure sécurité", 2, "", None),
    ("AGETIC", "implementer", "Souleymane Diallo", "Ingénieur SOC", 2, "", None),
    ("AGETIC", "incident-responder", "Assitan Tangara", "Analyste SOC", 1, "", None),
    ("AGETIC", "penetration-tester", "Modibo Camara", "Auditeur technique", 2, "OSCP", None),
    ("DGE", "ciso", "Fanta Berthé", "Chargée de la sécurité", 1, "", None),
    ("INPS", "ciso", "Sékou Tall", "RSSI", 2, "", None),
    ("INPS", "implementer", "Aïssata Guindo", "Administratrice", 3, "", None),
    ("CANAM", "implementer", "Mamadou Sylla", "Informaticien", 2, "", None),
    ("GOUV-KAYES", "implementer", "Kalilou Sacko", "Informaticien", 1, "", None),
)


def load_demo(*, session: Session, actor: Actor) -> dict[str, int]:
    """Create the demo role holders and certifications that do not exist yet."""
    counts = {"holders": 0, "certifications": 0}
    today = service.today()
    for acronym, profile, name, position, years, cert, expiry in PEOPLE:
        institution_id = lookup_institution(session, acronym)
        if institution_id is None:
            continue
        exists = session.scalar(select(RoleHolder.id).where(
            RoleHolder.institution_id == institution_id, RoleHolder.profile_id == profile,
            RoleHolder.full_name == name))
        if exists is not None:
            continue
        since = today.replace(day=1) - dt.timedelta(days=365 * years)
        holder = service.create_holder(session=session, actor=actor, data=HolderCreate(
            institution_id=institution_id, profile_id=profile, full_name=name,
            position=position, since=since))
        counts["holders"] += 1
        if cert:
            expires = today + dt.timedelta(days=expiry) if expiry is not None else None
            obtained = min(since, (expires or today) - dt.timedelta(days=3 * 365))
            service.add_certification(session=session, actor=actor, holder_id=holder.id,
                                      data=CertificationCreate(name=cert, issuer="",
                                                               obtained_on=obtained,
                                                               expires_on=expires))
            counts["certifications"] += 1
    return counts

"""Demo data: about forty plausible risks of ten demo institutions, and two national
priorities fed by some of them. Owners are fictitious. Loading twice changes nothing (risks
are matched by institution and title, priorities by title); institutions missing from the
registry's demo are skipped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.compliance.risks import service
from lakana.compliance.risks.models import Priority, Risk
from lakana.compliance.risks.schemas import PriorityCreate, RiskCreate
from lakana.core.auth.rbac import Actor
from lakana.core.plugins import lookup_institution

#: Kinds of risk: (key, title, asset, threat, vulnerability, L, I, treatment, plan, rL, rI,
#: control id).
KINDS: dict[str, tuple[Any, ...]] = {
    "ransomware": ("Rançongiciel sur les systèmes financiers",
                   "Serveurs et bases de données de la chaîne de dépense",
                   "Chiffrement des données par un rançongiciel introduit par courriel",
                   "Sauvegardes connectées au réseau, correctifs en retard", 4, 5, "mitigate",
                   "Sauvegardes hors ligne hebdomadaires, EDR sur les serveurs, exercice de "
                   "restauration trimestriel", 2, 4, "bcp-2"),
    "voter_leak": ("Fuite du fichier électoral",
                   "Fichier électoral biométrique (données personnelles de millions d'électeurs)",
                   "Exfiltration par un prestataire ou un compte administrateur compromis",
                   "Exports non journalisés, comptes partagés", 3, 5, "mitigate",
                   "Comptes nominatifs, journalisation des exports, chiffrement des extractions",
                   2, 5, "dat-4"),
    "power": ("Coupures d'électricité en salle informatique régionale",
              "Salle serveurs régionale et services locaux",
              "Délestages prolongés et surtensions", "Onduleurs vieillissants, pas de groupe",
              5, 3, "mitigate", "Groupe électrogène, remplacement des batteries, supervision",
              3, 2, "phy-3"),
    "web": ("Portail web non corrigé", "Portail de téléservices exposé sur Internet",
            "Exploitation d'une vulnérabilité connue (CMS et greffons obsolètes)",
            "Pas de processus de mise à jour, pas de pare-feu applicatif", 4, 4, "mitigate",
            "Inventaire des composants, mises à jour mensuelles, WAF", 2, 3, "dev-5"),
    "biometric": ("Usage abusif de données biométriques par un agent",
                  "Base d'empreintes et de photographies",
                  "Consultation ou copie non justifiée par un agent habilité",
                  "Droits trop larges, revue d'accès inexistante", 3, 4, "mitigate",
                  "Revue trimestrielle des droits, alerte sur consultations massives", 2, 4,
                  "iam-3"),
    "phishing": ("Hameçonnage du personnel", "Messagerie et comptes des agents",
                 "Vol d'identifiants par courriels frauduleux",
                 "Pas de MFA, peu de sensibilisation",
                 5, 3, "mitigate", "MFA sur la messagerie, campagnes de sensibilisation", 3, 3,
                 "awa-1"),
    "cloud": ("Dépendance à un fournisseur et hébergement à l'étranger",
              "Messagerie et stockage de documents hébergés hors du pays",
              "Perte de maîtrise des données, interruption ou réquisition étrangère",
              "Contrat sans clause de réversibilité", 3, 4, "transfer",
              "Clause de réversibilité, copie locale des données, migration vers le centre "
              "de données national", 2, 4, "hos-1"),
    "accepted": ("Matériel obsolète sans support", "Postes de travail anciens",
                 "Panne sans pièces de rechange", "Fin de support constructeur", 2, 2, "accept",
                 "", 2, 2, None),
}
#: Which kinds of risk each demo institution records.
PLAN: dict[str, tuple[str, ...]] = {
    "DGI": ("ransomware", "web", "phishing", "cloud", "accepted"),
    "DGD": ("ransomware", "web", "phishing", "power"),
    "DNTCP": ("ransomware", "phishing", "cloud", "accepted"),
    "DGE": ("voter_leak", "biometric", "phishing", "power"),
    "AIGE": ("voter_leak", "web", "phishing", "cloud"),
    "CTDEC": ("biometric", "voter_leak", "power", "ransomware"),
    "INPS": ("ransomware", "web", "phishing", "accepted"),
    "CANAM": ("web", "biometric", "cloud", "phishing"),
    "GOUV-MOPTI": ("power", "phishing", "accepted", "web"),
    "GOUV-GAO": ("power", "phishing", "web"),
}
OWNERS = ("Awa Traoré", "Moussa Keïta", "Fatoumata Diarra", "Boubacar Coulibaly",
          "Aminata Sidibé", "Ibrahim Touré", "Mariam Sangaré", "Seydou Dembélé")
PRIORITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Protéger les systèmes financiers de l'État contre les rançongiciels": (
        "Sauvegardes hors ligne et détection sur les régies financières.", ("ransomware",)),
    "Sécuriser les données électorales et biométriques": (
        "Contrôle d'accès, journalisation et revue des droits sur les fichiers sensibles.",
        ("voter_leak", "biometric")),
}


def _risk(institution_id: int, kind: str, index: int) -> RiskCreate:
    (title, asset, threat, vuln, lik, imp, treatment, plan, r_lik, r_imp,
     control) = KINDS[kind]
    accepted = treatment == "accept"
    return RiskCreate(
        institution_id=institution_id, title=title, asset=asset, threat=threat,
        vulnerability=vuln, likelihood=lik, impact=imp, treatment=treatment,
        treatment_plan=plan, owner=OWNERS[index % len(OWNERS)],
        acceptance_justification="Remplacement prévu au budget de l'an prochain; impact faible."
        if accepted else None,
        due_date=dt.date(2026, 3 + index % 9, 1 + index % 27),
        residual_likelihood=r_lik, residual_impact=r_imp, control_id=control,
        status="open" if index % 3 else "in_treatment")


def load_demo(*, session: Session, actor: Actor) -> dict[str, int]:
    """Create the demo risks and priorities that do not exist yet; returns what was new."""
    counts = {"risks": 0, "priorities": 0}
    by_kind: dict[str, list[int]] = {}
    index = 0
    for acronym, kinds in PLAN.items():
        institution_id = lookup_institution(session, acronym)
        if institution_id is None:
            continue
        for kind in kinds:
            index += 1
            title = KINDS[kind][0]
            risk_id = session.scalar(select(Risk.id).where(
                Risk.institution_id == institution_id, Risk.title == title))
            if risk_id is None:
                risk_id = service.create_risk(session=session, actor=actor,
                                              data=_risk(institution_id, kind, index)).id
                counts["risks"] += 1
            by_kind.setdefault(kind, []).append(risk_id)
    for title, (description, kinds) in PRIORITIES.items():
        if session.scalar(select(Priority.id).where(Priority.title == title)) is not None:
            continue
        risk_ids = [r for kind in kinds for r in by_kind.get(kind, [])]
        service.create_priority(session=session, actor=actor, data=PriorityCreate(
            title=title, description=description, risk_ids=risk_ids))
        counts["priorities"] += 1
    return counts

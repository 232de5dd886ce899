"""Demo data: Malian public institutions (real public bodies), fictitious people and systems.

Contact persons are invented (``@example.ml`` addresses); endpoints live under the reserved
``.example.ml`` names and the documentation IP ranges (RFC 5737): never real hosts. The
random generator is seeded, so every run produces the same data.
"""

from __future__ import annotations

import random
import unicodedata

from sqlalchemy.orm import Session

from lakana.core.auth.rbac import Actor
from lakana.registry import service
from lakana.registry.schemas import ContactIn, EndpointIn, InstitutionCreate, SystemCreate

SEED = 223  # Mali's calling code

# acronym, name, kind, parent, region, sector, tier
INSTITUTIONS: tuple[tuple[str, str, str, str | None, str, str, int], ...] = (
    ("PRIMATURE", "Primature", "presidency", None, "bamako", "government", 1),
    ("MEF", "Ministère de l'Économie et des Finances", "ministry", None, "bamako", "finance", 1),
    ("DGI", "Direction Générale des Impôts", "directorate", "MEF", "bamako", "finance", 1),
    ("DGD", "Direction Générale des Douanes", "directorate", "MEF", "bamako", "finance", 1),
    ("DNTCP", "Direction Nationale du Trésor et de la Comptabilité Publique", "directorate",
     "MEF", "bamako", "finance", 1),
    ("DGB", "Direction Générale du Budget", "directorate", "MEF", "bamako", "finance", 2),
    ("MCENMA", "Ministère de la Communication, de l'Économie Numérique et de la "
     "Modernisation de l'Administration", "ministry", None, "bamako", "telecommunications", 1),
    ("AGETIC", "Agence des Technologies de l'Information et de la Communication", "agency",
     "MCENMA", "bamako", "telecommunications", 1),
    ("AMRTP", "Autorité Malienne de Régulation des Télécommunications/TIC et des Postes",
     "independent_authority", "MCENMA", "bamako", "telecommunications", 1),
    ("ANSSI-ML", "Agence Nationale de la Sécurité des Systèmes d'Information", "agency",
     "MCENMA", "bamako", "security", 1),
    ("ORTM", "Office de Radiodiffusion Télévision du Mali", "public_body", "MCENMA", "bamako",
     "media", 2),
    ("MATD", "Ministère de l'Administration Territoriale et de la Décentralisation", "ministry",
     None, "bamako", "government", 1),
    ("DGE", "Délégation Générale aux Élections", "directorate", "MATD", "bamako",
     "elections", 1),
    ("DNEC", "Direction Nationale de l'État Civil", "directorate", "MATD", "bamako",
     "civil_registry", 1),
    ("CTDEC", "Centre de Traitement des Données de l'État Civil", "agency", "MATD", "bamako",
     "civil_registry", 1),
    ("GOUV-KAYES", "Gouvernorat de la Région de Kayes", "regional_administration", "MATD",
     "kayes", "government", 3),
    ("GOUV-SIKASSO", "Gouvernorat de la Région de Sikasso", "regional_administration", "MATD",
     "sikasso", "government", 3),
    ("GOUV-SEGOU", "Gouvernorat de la Région de Ségou", "regional_administration", "MATD",
     "segou", "government", 3),
    ("GOUV-MOPTI", "Gouvernorat de la Région de Mopti", "regional_administration", "MATD",
     "mopti", "government", 3),
    ("GOUV-GAO", "Gouvernorat de la Région de Gao", "regional_administration", "MATD", "gao",
     "government", 3),
    ("GOUV-TOMBOUCTOU", "Gouvernorat de la Région de Tombouctou", "regional_administration",
     "MATD", "tombouctou", "government", 3),
    ("MAIRIE-CIII", "Mairie de la Commune III du District de Bamako", "local_administration",
     "MATD", "bamako", "civil_registry", 3),
    ("AIGE", "Autorité Indépendante de Gestion des Élections", "independent_authority", None,
     "bamako", "elections", 1),
    ("MSDS", "Ministère de la Santé et du Développement Social", "ministry", None, "bamako",
     "health", 1),
    ("INPS", "Institut National de Prévoyance Sociale", "public_body", "MSDS", "bamako",
     "social_protection", 1),
    ("CANAM", "Caisse Nationale d'Assurance Maladie", "public_body", "MSDS", "bamako",
     "social_protection", 1),
    ("CHU-GT", "Centre Hospitalier Universitaire Gabriel Touré", "public_body", "MSDS",
     "bamako", "health", 2),
    ("MEN", "Ministère de l'Éducation Nationale", "ministry", None, "bamako", "education", 2),
    ("MJDH", "Ministère de la Justice et des Droits de l'Homme", "ministry", None, "bamako",
     "justice", 2),
    ("MSPC", "Ministère de la Sécurité et de la Protection Civile", "ministry", None, "bamako",
     "security", 1),
    ("EDM-SA", "Énergie du Mali", "state_company", None, "bamako", "energy", 1),
    ("BMS-SA", "Banque Malienne de Solidarité", "state_company", None, "bamako", "finance", 2),
)

FIRST_NAMES = ("Aminata", "Moussa", "Fatoumata", "Oumar", "Mariam", "Boubacar", "Awa",
               "Seydou", "Kadiatou", "Ibrahim", "Assétou", "Mamadou", "Hawa", "Souleymane",
               "Djénéba", "Adama", "Rokia", "Bakary", "Oumou", "Cheick")
LAST_NAMES = ("Traoré", "Diarra", "Coulibaly", "Keïta", "Koné", "Sangaré", "Touré", "Cissé",
              "Maïga", "Dembélé", "Sidibé", "Diallo", "Sissoko", "Konaté", "Doumbia", "Kanté")
POSITIONS = ("Responsable de la sécurité des systèmes d'information", "Directeur informatique",
             "Point focal cybersécurité", "Administrateur systèmes et réseaux",
             "Chef de division informatique")

# name template, purpose, criticality, classification, personal, biometric
SYSTEMS: tuple[tuple[str, str, str, str, bool, bool], ...] = (
    ("Messagerie", "Courrier électronique des agents", "high", "internal", True, False),
    ("Site web institutionnel", "Information du public", "medium", "public", False, False),
    ("Gestion des ressources humaines", "Dossiers et carrières des agents", "high",
     "restricted", True, False),
    ("Gestion électronique du courrier", "Suivi du courrier entrant et sortant", "medium",
     "internal", True, False),
    ("Contrôle d'accès aux locaux", "Badges et empreintes du personnel", "high", "restricted",
     True, True),
    ("Comptabilité et budget", "Exécution budgétaire", "high", "restricted", False, False),
    ("Intranet", "Portail interne des agents", "low", "internal", False, False),
    ("Sauvegarde centralisée", "Sauvegardes des serveurs", "high", "restricted", True, False),
)
SPECIFIC: dict[str, tuple[tuple[str, str, str, str, bool, bool], ...]] = {
    "DGI": (("e-Impôts", "Télédéclaration et télépaiement des impôts", "critical",
             "restricted", True, False),
            ("Fichier des contribuables", "Immatriculation fiscale (NIF)", "critical",
             "restricted", True, False)),
    "DGD": (("SYDONIA World", "Dédouanement des marchandises", "critical", "restricted",
             False, False),),
    "DNTCP": (("Paiement des salaires", "Paie des agents de l'État", "critical", "restricted",
               True, False),),
    "AGETIC": (("Centre de données gouvernemental", "Hébergement des services de l'État",
                "critical", "restricted", True, False),
               ("Réseau intranet de l'administration", "Interconnexion des services",
                "critical", "internal", False, False),
               ("Portail des services publics", "Démarches en ligne", "high", "public", True,
                False)),
    "CTDEC": (("RAVEC", "Recensement administratif à vocation d'état civil", "critical",
               "secret", True, True),
              ("Production de la carte NINA", "Numéro d'identification nationale", "critical",
               "secret", True, True)),
    "DGE": (("Fichier électoral", "Liste électorale biométrique", "critical", "secret", True,
             True),),
    "AIGE": (("Transmission des résultats", "Remontée des résultats provisoires", "critical",
              "restricted", False, False),),
    "INPS": (("Gestion des pensions", "Droits et paiement des pensions", "critical",
              "restricted", True, False),),
    "CANAM": (("AMO - Assurance maladie obligatoire", "Immatriculation et prise en charge",
               "critical", "restricted", True, True),),
    "CHU-GT": (("Dossier patient informatisé", "Dossiers médicaux des patients", "critical",
                "secret", True, False),),
    "EDM-SA": (("Facturation Isago", "Prépaiement de l'électricité", "critical",
                "restricted", True, False),
               ("Supervision du réseau électrique (SCADA)", "Conduite du réseau",
                "critical", "secret", False, False)),
    "MSPC": (("Fichier des passeports", "Production des passeports biométriques",
              "critical", "secret", True, True),),
    "ANSSI-ML": (("Plateforme de veille", "Veille et alerte de sécurité", "high",
                  "restricted", False, False),),
}
HOSTINGS = ("own_premises", "own_premises", "government_datacentre", "government_datacentre",
            "national_cloud", "foreign_cloud")
IP_PREFIXES = ("192.0.2.", "198.51.100.", "203.0.113.")


def _slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(c if c.isalnum() else "-" for c in plain).strip("-").replace("--", "-")


def _contacts(rng: random.Random, acronym: str) -> list[ContactIn]:
    people = []
    for _ in range(rng.randint(1, 2)):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{_slug(first)}.{_slug(last)}@{_slug(acronym)}.example.ml"
        phone = f"+223 {rng.randint(20, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} " \
                f"{rng.randint(10, 99)}"
        people.append(ContactIn(full_name=f"{first} {last.upper()}",
                                position=rng.choice(POSITIONS), email=email, phone=phone))
    return people


def _endpoints(rng: random.Random, acronym: str, name: str, public: bool) -> list[EndpointIn]:
    if not public and rng.random() < 0.5:
        return []
    host = f"{_slug(name)[:30].strip('-')}.{_slug(acronym)}.gouv.example.ml"
    found = [EndpointIn(kind="url", value=f"https://{host}/"),
             EndpointIn(kind="domain", value=host)]
    if rng.random() < 0.6:
        found.append(EndpointIn(kind="ip", value=rng.choice(IP_PREFIXES) +
                                str(rng.randint(1, 254))))
    return found


def _systems_for(rng: random.Random, acronym: str, tier: int
                 ) -> list[tuple[str, str, str, str, bool, bool]]:
    count = {1: 5, 2: 4, 3: 3}[tier]
    generic = rng.sample(SYSTEMS, count)
    return [*SPECIFIC.get(acronym, ()), *generic]


def load_demo(*, session: Session, actor: Actor) -> dict[str, int]:
    """Load the demo institutions and systems; does nothing when they are already there."""
    if service.get_institution_id_by_acronym(session=session, acronym=INSTITUTIONS[0][0]):
        return {"institutions": 0, "systems": 0}
    rng = random.Random(SEED)
    ids: dict[str, int] = {}
    systems = 0
    for acronym, name, kind, parent, region, sector, tier in INSTITUTIONS:
        inst = service.create_institution(session=session, actor=actor, data=InstitutionCreate(
            name=name, acronym=acronym, kind=kind, parent_id=ids.get(parent or ""),
            region=region, sector=sector, criticality_tier=tier,
            website=f"https://www.{_slug(acronym)}.gouv.example.ml/",
            contacts=_contacts(rng, acronym)))
        ids[acronym] = inst.id
        for sys_name, purpose, criticality, classification, personal, biometric in \
                _systems_for(rng, acronym, tier):
            service.create_system(session=session, actor=actor, data=SystemCreate(
                name=sys_name, institution_id=inst.id, purpose=purpose, criticality=criticality,
                data_classification=classification, hosting=rng.choice(HOSTINGS),
                personal_data=personal, biometric_data=biometric,
                endpoints=_endpoints(rng, acronym, sys_name, classification == "public")))
            systems += 1
    return {"institutions": len(ids), "systems": systems}

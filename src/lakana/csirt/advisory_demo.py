"""Demo advisories of the national CSIRT (fictitious, but shaped like real ones).

* a public advisory (TLP:CLEAR) about a wave of SMS and WhatsApp messages impersonating the
  Ministry of Economy and Finance;
* an advisory to institutions (TLP:GREEN, critical) about an actively exploited flaw of a
  widely used SSL VPN appliance, published then revised;
* an advisory to institutions (TLP:CLEAR) about a content management system plug-in.

Vendors, products, CVE numbers and addresses are invented (``.example`` domains). Loading
twice changes nothing (advisories are matched by French title).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core.auth.rbac import Actor
from lakana.core.config import Settings
from lakana.csirt import advisories as service
from lakana.csirt.advisories import AdvisoryCreate, AdvisoryRevise
from lakana.csirt.advisory_models import Advisory

SCAM: dict[str, Any] = {
    "title_fr": "Vague de SMS et de messages WhatsApp frauduleux au nom du ministère de "
                "l'Économie et des Finances",
    "title_en": "Wave of fraudulent SMS and WhatsApp messages impersonating the Ministry of "
                "Economy and Finance",
    "summary_fr": "Depuis plusieurs jours, des SMS et des messages WhatsApp annoncent une « aide "
                  "exceptionnelle de l'État » de 75 000 FCFA et invitent à cliquer sur un lien "
                  "pour la recevoir. Le ministère de l'Économie et des Finances n'envoie aucun "
                  "message de ce type.",
    "details_fr": "Le lien mène à une copie du site du ministère qui demande le numéro de "
                  "téléphone, le nom, puis le code secret Mobile Money « pour valider le "
                  "versement ». Les escrocs vident ensuite le compte. Les messages viennent de "
                  "numéros variés et le lien change souvent (domaines imitant « mef.gouv.ml »).\n\n"
                  "Si vous avez communiqué votre code secret, appelez sans attendre le service "
                  "client de votre opérateur pour bloquer le compte, puis signalez les faits.",
    "summary_en": "Messages promise an \"exceptional State grant\" of 75,000 FCFA and ask for "
                  "your Mobile Money PIN through a fake ministry website. The Ministry sends no "
                  "such message: never give your PIN.",
    "audience": "public", "tlp": "clear", "severity": "high",
    "remediations": [
        {"category": "workaround", "details": "Ne cliquez pas sur le lien et ne communiquez "
                                              "jamais votre code secret Mobile Money, même à "
                                              "quelqu'un qui se présente comme un agent de "
                                              "l'État."},
        {"category": "mitigation", "details": "Signalez le message au CSIRT national sur la page "
                                              "« Signaler un incident » (sans compte), puis "
                                              "supprimez-le."}],
}

VPN: dict[str, Any] = {
    "title_fr": "Vulnérabilités critiques activement exploitées dans les passerelles VPN "
                "PortiqueVPN de Nordlys Networks",
    "title_en": "Actively exploited critical vulnerabilities in Nordlys Networks PortiqueVPN "
                "gateways",
    "summary_fr": "Deux vulnérabilités des passerelles SSL VPN PortiqueVPN permettent à un "
                  "attaquant non authentifié d'exécuter du code sur l'équipement. Leur "
                  "exploitation est observée contre des administrations de la sous-région. "
                  "Appliquez les correctifs sans délai.",
    "details_fr": "CVE-2026-31337 : débordement de tampon dans le portail web (exécution de code "
                  "à distance sans authentification). CVE-2026-31338 : contournement de "
                  "l'authentification de l'interface d'administration.\n\nAprès la mise à "
                  "jour, recherchez des traces de compromission : comptes locaux inconnus, "
                  "fichiers récents dans /var/portique/www, connexions sortantes inhabituelles "
                  "depuis l'équipement. Réinitialisez les mots de passe des comptes VPN si "
                  "l'équipement était exposé sans correctif.",
    "summary_en": "Two flaws of PortiqueVPN SSL VPN gateways allow unauthenticated remote code "
                  "execution and are exploited in the wild. Patch now and look for signs of "
                  "compromise.",
    "audience": "institutions", "tlp": "green", "severity": "critical",
    "cves": ["CVE-2026-31337", "CVE-2026-31338"],
    "products": [
        {"vendor": "Nordlys Networks", "product": "PortiqueVPN", "affected": ">=9.0.0 <9.4.2",
         "fixed": "9.4.2"},
        {"vendor": "Nordlys Networks", "product": "PortiqueVPN", "affected": ">=8.0.0 <8.6.11",
         "fixed": "8.6.11"}],
    "remediations": [
        {"category": "vendor_fix", "details": "Mettre à jour vers PortiqueVPN 9.4.2 ou 8.6.11.",
         "url": "https://support.nordlys-networks.example/psirt/NN-SA-2026-014"},
        {"category": "mitigation", "details": "Rendre l'interface d'administration "
                                              "inaccessible depuis Internet."},
        {"category": "workaround", "details": "En attendant la mise à jour, désactiver le "
                                              "portail web SSL VPN (les clients IPsec ne sont "
                                              "pas touchés)."}],
    "references": [{"url": "https://support.nordlys-networks.example/psirt/NN-SA-2026-014",
                    "summary": "Bulletin de l'éditeur NN-SA-2026-014"}],
}

CMS: dict[str, Any] = {
    "title_fr": "Injection SQL dans le module de formulaires du CMS Baobab",
    "summary_fr": "Le module « Formulaires » du CMS Baobab, très utilisé par les sites "
                  "institutionnels, permet à un visiteur d'extraire le contenu de la base de "
                  "données. Mettez à jour le module.",
    "details_fr": "La vulnérabilité CVE-2026-40404 touche le traitement des champs cachés des "
                  "formulaires de contact. Un correctif est disponible depuis la version 3.2.7.",
    "audience": "institutions", "tlp": "clear", "severity": "high",
    "cves": ["CVE-2026-40404"],
    "products": [{"vendor": "Baobab CMS", "product": "Module Formulaires",
                  "affected": "<3.2.7", "fixed": "3.2.7"}],
    "remediations": [{"category": "vendor_fix", "details": "Mettre à jour le module "
                                                          "Formulaires vers la version 3.2.7."}],
}


def _exists(session: Session, title: str) -> bool:
    return session.scalar(select(Advisory.id).where(Advisory.title_fr == title)) is not None


def _publish(session: Session, actor: Actor, settings: Settings, data: dict[str, Any]
             ) -> Advisory:
    advisory = service.create_advisory(session=session, actor=actor,
                                       data=AdvisoryCreate.model_validate(data))
    return service.publish(session=session, actor=actor, settings=settings,
                           advisory_id=advisory.id, version=advisory.version)


def load_demo(*, session: Session, actor: Actor, settings: Settings | None = None
              ) -> dict[str, int]:
    """Publish the demo advisories (skips those already there)."""
    if settings is None:
        from lakana.core.cli_support import cli_settings

        settings = cli_settings()
    count = 0
    for data in (SCAM, CMS, VPN):
        if _exists(session, data["title_fr"]):
            continue
        advisory = _publish(session, actor, settings, data)
        count += 1
        if data is VPN:
            service.revise(session=session, actor=actor, settings=settings,
                           advisory_id=advisory.id, data=AdvisoryRevise(
                               version=advisory.version,
                               revision_summary="Exploitation active confirmée ; ajout des "
                                                "traces de compromission à rechercher."))
    return {"advisories": count}

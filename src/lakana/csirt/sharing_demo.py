"""Demo data of partner sharing: the sharing group ``ecowas-certs``, a fictitious partner CERT
account in it, and one TLP:GREEN case shared with the group (with one TLP:AMBER+STRICT
observable that stays home).

The partner signs in with the demo password (``lakana demo`` prints it with the other demo
accounts) and pulls with a TAXII 2.1 client from ``/taxii2/``. Loading twice changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core.auth import service as auth_service
from lakana.core.auth import sharing
from lakana.core.auth.rbac import Actor, Role
from lakana.core.errors import NotFound
from lakana.core.plugins import lookup_institution
from lakana.csirt import observable_service, service, sharing_service
from lakana.csirt.models import Case
from lakana.csirt.schemas import CaseReport
from lakana.csirt.sharing_models import CaseShare

GROUP = ("ecowas-certs", "CERTs of ECOWAS member states")
#: A fictitious partner CERT (``@demo.lakana.ml`` like every demo account).
PARTNER = ("partner.sn@demo.lakana.ml", "CERT partenaire fictif (Sénégal)")
DEMO_PASSWORD = "Lakana-Demo-2026!"
TITLE = "Serveur de commande d'un botnet visant les administrations de la sous-région"


def _group(session: Session, actor: Actor) -> tuple[int, int]:
    try:
        return sharing.get_group_by_name(session=session, name=GROUP[0]).id, 0
    except NotFound:
        return sharing.create_group(session=session, actor=actor, name=GROUP[0],
                                    description=GROUP[1]).id, 1


def _partner(session: Session, actor: Actor, group_id: int) -> int:
    user = auth_service.get_user_by_email(session=session, email=PARTNER[0])
    created = 0
    if user is None:
        user = auth_service.create_user(session=session, actor=actor, email=PARTNER[0],
                                        full_name=PARTNER[1], role=Role.PARTNER,
                                        password=DEMO_PASSWORD, language="fr")
        created = 1
    group = sharing.get_group_by_name(session=session, name=GROUP[0])
    assert group.id == group_id
    sharing.add_member(session=session, actor=actor, group=group, user=user)
    return created


def _case(session: Session, actor: Actor) -> int | None:
    found = session.scalar(select(Case.id).where(Case.title == TITLE))
    if found is not None:
        return found
    institution_id = lookup_institution(session, "MEF")
    if institution_id is None:
        return None
    case = service.report_case(session=session, actor=actor, source="analyst", data=CaseReport(
        institution_id=institution_id, title=TITLE, tlp="green", taxonomy_class="malicious-code",
        taxonomy_type="infected-system",
        description="Des postes de plusieurs administrations contactent un même serveur de "
                    "commande ; le même botnet est signalé dans d'autres pays de la CEDEAO."))
    for value, label in (("c2-botnet.example.net", "green"), ("203.0.113.45", "green"),
                         ("198.51.100.77", "amber+strict")):
        observable_service.add_to_case(session=session, actor=actor, case_id=case.id,
                                       kind=None, value=value, tlp=label)
    return case.id


def load_sharing_demo(*, session: Session, actor: Actor) -> dict[str, int | str]:
    """Load the sharing group, the partner account and the shared GREEN case."""
    group_id, groups = _group(session, actor)
    partners = _partner(session, actor, group_id)
    case_id = _case(session, actor)
    shared = 0
    if case_id is not None and session.scalar(select(CaseShare.id).where(
            CaseShare.case_id == case_id, CaseShare.group_id == group_id)) is None:
        sharing_service.share_case(session=session, actor=actor, case_id=case_id,
                                   group_id=group_id)
        shared = 1
    return {"groups": groups, "partners": partners, "shared_cases": shared,
            "partner_account": PARTNER[0], "taxii": "/taxii2/"}

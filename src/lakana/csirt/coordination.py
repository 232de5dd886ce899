"""Notices: the centre tells institutions about a case, and they acknowledge.

A notice **carries its own message**: the notified institution reads the notice (in its
inbox, its e-mail and on ``/csirt/notices``), never the case itself when the case belongs
to another institution, so notifying grants no access to the case. Each notified
institution gets:

* an inbox notification and an e-mail (through the configured SMTP server, by the job
  queue) for each of its active focal points; its institution viewers read the notices on
  ``/csirt/notices`` but are not mailed;
* a ``case.notification`` event to its webhooks (and the centre-wide ones);
* a :class:`CaseNotice` row, so the case's "notify" page shows who was notified and who
  acknowledged; a timeline entry on the case and a ledger entry.

TLP: a TLP:RED message is for named people only, so it is refused for institutions. A
TLP:AMBER+STRICT message is not copied into e-mails or webhooks (which leave the platform):
they say that a notice waits on the platform, where the institution reads it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakana.core.audit import record
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Actor, Role, ensure_in_scope, restrict
from lakana.core.db import utcnow
from lakana.core.errors import Forbidden, Invalid, NotFound
from lakana.core.i18n import N_, Msg
from lakana.core.notifications.service import notify
from lakana.csirt import timeline, webhooks
from lakana.csirt.access import get_case
from lakana.csirt.coordination_models import CaseNotice
from lakana.csirt.models import Case
from lakana.csirt.permissions import CsirtPermission as P
from lakana.csirt.tlp import LABELS, Tlp, parse, shareable
from lakana.registry import service as registry_service

NOTICE = Msg("notice")
MAX_MESSAGE = 10_000
MAX_INSTITUTIONS = 200

TITLE = N_("Notice from the national CSIRT about %(reference)s")
BODY = N_("%(tlp)s\n\n%(message)s\n\nPlease acknowledge this notice on the platform.")
BODY_WITHHELD = N_("A %(tlp)s notice waits for you on the platform: it is not copied into "
                   "e-mails. Read and acknowledge it there.")
SENT_EVENT = N_("Notice (%(tlp)s) sent to %(institutions)s.")
ACK_EVENT = N_("Notice acknowledged by %(institution)s (%(person)s).")
ACK_TITLE = N_("%(institution)s acknowledged your notice about %(reference)s")


def _reference(case: Case) -> str:
    return case.reference or f"#{case.id}"


def _clean_message(message: str) -> str:
    text = message.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise Invalid("Write the message to send.",
                      errors=[{"field": "message", "message": N_("Write the message to send.")}])
    if len(text) > MAX_MESSAGE:
        raise Invalid("A message has at most %(max)s characters.", max=MAX_MESSAGE,
                      errors=[{"field": "message", "message": N_("The message is too long.")}])
    if any(not (c.isprintable() or c in "\n\t") for c in text):
        raise Invalid("The message contains control characters.",
                      errors=[{"field": "message",
                               "message": N_("The message contains control characters.")}])
    return text


def _label(tlp: str | None) -> Tlp:
    label = parse(tlp)
    if label is Tlp.RED:
        raise Invalid("A TLP:RED message is for named people only: it cannot be sent to an "
                      "institution. Choose AMBER+STRICT or a wider label.",
                      errors=[{"field": "tlp", "message":
                               N_("TLP:RED cannot be sent to an institution.")}])
    return label


def _institutions(session: Session, institution_ids: Iterable[int]) -> dict[int, str]:
    wanted = list(dict.fromkeys(int(i) for i in institution_ids))
    if not wanted:
        raise Invalid("Choose at least one institution.", errors=[{
            "field": "institution_ids", "message": N_("Choose at least one institution.")}])
    if len(wanted) > MAX_INSTITUTIONS:
        raise Invalid("At most %(max)s institutions at once.", max=MAX_INSTITUTIONS)
    known = dict(registry_service.institution_choices(session=session))
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise Invalid("Unknown institution %(id)s.", id=unknown[0], errors=[{
            "field": "institution_ids", "message": N_("Unknown institution.")}])
    return {i: known[i] for i in wanted}


def focal_points(session: Session, institution_id: int) -> list[int]:
    """The active focal points of an institution (who is told about a notice)."""
    return list(session.scalars(select(User.id).where(
        User.role == Role.FOCAL_POINT.value, User.institution_id == institution_id,
        User.is_active.is_(True)).order_by(User.id)))


def webhook_payload(notice: CaseNotice, case: Case) -> dict[str, Any]:
    """What a ``case.notification`` webhook carries (no message for AMBER+STRICT)."""
    payload: dict[str, Any] = {
        "notice_id": notice.id, "case_reference": _reference(case),
        "institution_id": notice.institution_id, "sent_by": notice.sent_by,
        "sent_at": notice.sent_at.isoformat(), "link": f"/csirt/notices#notice-{notice.id}"}
    if shareable(notice.tlp):
        payload.update({"tlp": notice.tlp, "message": notice.message})
    else:
        # Neither the text nor its label leave the platform: the receiver reads it there.
        payload.update({"withheld": True, "message": None})
    return payload


def _tell(session: Session, notice: CaseNotice, case: Case) -> None:
    label = Tlp(notice.tlp)
    params = {"reference": _reference(case), "message": notice.message,
              "tlp": LABELS[label]}
    notify(session=session, user_ids=focal_points(session, notice.institution_id),
           title=TITLE, body=BODY if shareable(label) else BODY_WITHHELD, params=params,
           link=f"/csirt/notices#notice-{notice.id}", level="warning")
    webhooks.dispatch(session, event="case.notification", payload=webhook_payload(notice, case),
                      institution_ids=[notice.institution_id])


def notify_institutions(*, session: Session, actor: Actor, case_id: int,
                        institution_ids: Iterable[int], message: str,
                        tlp: str | None) -> list[CaseNotice]:
    """Send a notice about a case to institutions (the centre: ``COORDINATE``).

    See the module's docstring for what each institution receives. Everything joins the
    caller's transaction: a refusal leaves nothing half-sent.
    """
    case = get_case(session, actor, case_id, P.COORDINATE)
    label = _label(tlp)
    text = _clean_message(message)
    targets = _institutions(session, institution_ids)
    now = utcnow()
    notices = []
    for institution_id, name in targets.items():
        notice = CaseNotice(case_id=case.id, institution_id=institution_id, message=text,
                            tlp=label.value, sent_by_id=actor.user_id, sent_by=actor.name,
                            sent_at=now)
        session.add(notice)
        session.flush()
        _tell(session, notice, case)
        record(session=session, actor=actor, action="csirt.notice.send",
               object_type="csirt.notice", object_id=notice.id,
               object_repr=f"{_reference(case)} → {name.split(' — ')[0]}",
               institution_id=institution_id,
               details={"case_id": case.id, "tlp": label.value, "length": len(text)})
        notices.append(notice)
    timeline.add_event(session, case, kind="notice", message=SENT_EVENT, actor=actor,
                       params={"tlp": LABELS[label], "institutions": ", ".join(
                           n.split(" — ")[0] for n in targets.values())})
    return notices


def list_for_case(*, session: Session, actor: Actor, case_id: int) -> list[CaseNotice]:
    """The notices sent about a case, newest first (the centre)."""
    case = get_case(session, actor, case_id, P.COORDINATE)
    return list(session.scalars(select(CaseNotice).where(CaseNotice.case_id == case.id)
                                .order_by(CaseNotice.sent_at.desc(), CaseNotice.id.desc())))


def list_notices(*, session: Session, actor: Actor, limit: int = 50, offset: int = 0,
                 pending_only: bool = False) -> tuple[list[CaseNotice], int]:
    """Notices the actor sees (an institution: its own; the centre: all), newest first,
    and how many there are."""
    stmt = restrict(select(CaseNotice), actor=actor, permission=P.CASE_READ,
                    scope=CaseNotice.institution_id)
    if pending_only:
        stmt = stmt.where(CaseNotice.acknowledged_at.is_(None))
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.scalars(stmt.order_by(CaseNotice.sent_at.desc(), CaseNotice.id.desc())
                           .limit(max(1, min(limit, 200))).offset(max(0, offset)))
    return list(rows), int(total)


def get_notice(*, session: Session, actor: Actor, notice_id: int,
               for_update: bool = False) -> CaseNotice:
    """One notice the actor sees (404 for another institution's)."""
    notice = session.get(CaseNotice, notice_id, with_for_update=for_update)
    ensure_in_scope(actor, notice.institution_id if notice else -1, P.CASE_READ, what=NOTICE)
    if notice is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=NOTICE)
    return notice


def case_references(*, session: Session, notices: Iterable[CaseNotice]) -> dict[int, str]:
    """The reference of each notice's case (what the institution may know of the case)."""
    ids = {n.case_id for n in notices}
    if not ids:
        return {}
    rows = session.execute(select(Case.id, Case.reference).where(Case.id.in_(ids))).all()
    return {row.id: row.reference or f"#{row.id}" for row in rows}


def acknowledge(*, session: Session, actor: Actor, notice_id: int) -> CaseNotice:
    """Acknowledge a notice for one's institution (its focal points); the sender is told.

    Acknowledging twice keeps the first acknowledgement.
    """
    notice = get_notice(session=session, actor=actor, notice_id=notice_id, for_update=True)
    actor.require(P.CASE_CONTRIBUTE)
    if actor.institution_id is None or actor.institution_id != notice.institution_id:
        raise Forbidden("Only the notified institution can acknowledge a notice.")
    if notice.acknowledged_at is not None:
        return notice
    notice.acknowledged_at = utcnow()
    notice.acknowledged_by_id, notice.acknowledged_by = actor.user_id, actor.name
    session.flush()
    # The event goes on the case whoever may read it; the acknowledging person does not
    # thereby see the case (another institution's case stays invisible to them).
    case = session.get(Case, notice.case_id)
    names = dict(registry_service.institution_choices(session=session))
    institution = names.get(notice.institution_id, "?").split(" — ")[0]
    if case is not None:
        timeline.add_event(session, case, kind="notice", message=ACK_EVENT, actor=actor,
                           params={"institution": institution, "person": actor.name})
        if notice.sent_by_id is not None:
            notify(session=session, user_ids=[notice.sent_by_id], title=ACK_TITLE,
                   params={"institution": institution, "reference": _reference(case)},
                   link=f"/csirt/cases/{case.id}/notify", level="success")
    record(session=session, actor=actor, action="csirt.notice.acknowledge",
           object_type="csirt.notice", object_id=notice.id,
           object_repr=f"notice {notice.id} ({institution})",
           institution_id=notice.institution_id)
    return notice


DEMO_MESSAGE = ("Une vague d'hameçonnage imitant la messagerie de l'État vise aussi votre "
                "institution. Bloquez le domaine frauduleux signalé au MEF et rappelez aux "
                "agents de ne jamais saisir leur mot de passe depuis un lien reçu par courriel.")


def load_demo(*, session: Session, actor: Actor) -> dict[str, int]:
    """Demo: one notice about the demo phishing case to the Ministry of Health (MSDS)."""
    from lakana.core.auth import service as auth_service
    from lakana.core.plugins import lookup_institution
    from lakana.csirt import demo

    user = auth_service.get_user_by_email(session=session, email=demo.ANALYST[0])
    case_id = session.scalar(select(Case.id).where(Case.title == demo.PHISHING))
    target = lookup_institution(session, "MSDS")
    if user is None or case_id is None or target is None or session.scalar(
            select(CaseNotice.id).where(CaseNotice.case_id == case_id)) is not None:
        return {"notices": 0}
    sent = notify_institutions(session=session, actor=auth_service.actor_for(user, via="cli"),
                               case_id=case_id, institution_ids=[target],
                               message=DEMO_MESSAGE, tlp=Tlp.AMBER.value)
    return {"notices": len(sent)}

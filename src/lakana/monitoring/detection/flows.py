"""Where detection alerts leave the domain: CSIRT cases.

An analyst opens a case from an alert in one click (:func:`open_case`): source "detection",
the rule's title, the alert's institution and system, classed as an intrusion attempt
(brute force for ATT&CK T1110 rules, an IDS alert otherwise); the source IP addresses of
the alert's events become case observables, the user names they name go in the description
(the CSIRT keeps no user-name indicators). The alert becomes ``escalated`` and keeps the case
reference. An alert has at most one case.

Every entry point (API, CLI, syslog receiver, demo) ingests through :func:`ingest`: the
events are stored and analysed (:func:`service.ingest`), then each open alert of the batch
that an enabled escalation rule matches (:mod:`policies`) gets its case, opened by the
system. An escalation runs in a savepoint: if opening the case fails, only that is undone
(logged and ledgered), and the events of the batch are still committed and acknowledged.

Case texts are stored data, written in the platform's default language (French).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core import audit, i18n
from lakana.core.audit.ledger import _PENDING_KEY as AUDIT_PENDING_KEY
from lakana.core.auth.rbac import Actor, ensure_in_scope, system_actor
from lakana.core.errors import Conflict, Invalid, NotFound
from lakana.core.i18n import N_, Msg
from lakana.csirt import observable_service
from lakana.csirt import service as csirt
from lakana.csirt.schemas import CaseReport
from lakana.monitoring.detection import policies, service
from lakana.monitoring.detection.models import DetectionAlert
from lakana.monitoring.detection.permissions import DetectionPermission as P
from lakana.monitoring.detection.schemas import LABELS, AlertStatus, IngestResult

log = logging.getLogger("lakana.detection")

STORED_LANGUAGE = "fr"
CASE_TITLE = N_("Detection: %(rule)s (%(subject)s)")
CASE_BODY = N_("The detection rule \"%(rule)s\" (%(level)s) raised an alert on %(count)s "
               "event(s), from %(first)s to %(last)s.\n\n%(description)s\n\n"
               "Source addresses: %(ips)s\nUser names: %(users)s\n\nAlert: %(link)s")
#: How many of the alert's events feed the case (observables, user names).
EVENTS_READ = 200


def _taxonomy(alert: DetectionAlert) -> tuple[str, str]:
    tags = {t.lower() for t in alert.tags or ()}
    if any(t == "attack.t1110" or t.startswith("attack.t1110.") for t in tags):
        return "intrusion-attempts", "brute-force"
    return "intrusion-attempts", "ids-alert"


def _indicators(session: Session, actor: Actor, alert: DetectionAlert
                ) -> tuple[list[str], list[str]]:
    """The alert's distinct source IPs and user names, in order seen."""
    ips: dict[str, None] = {}
    users: dict[str, None] = {}
    for event in service.alert_events(session=session, actor=actor, alert_id=alert.id,
                                      limit=EVENTS_READ):
        ip, user = event.fields.get("source.ip"), event.fields.get("user.name")
        if ip:
            ips[str(ip)] = None
        if user:
            users[str(user)[:100]] = None
    return list(ips), list(users)


def _report(alert: DetectionAlert, ips: list[str], users: list[str]) -> CaseReport:
    klass, kind = _taxonomy(alert)
    description = str(alert.attribution.get("description") or "") \
        if isinstance(alert.attribution, dict) else ""
    with i18n.use_language(STORED_LANGUAGE):
        title = i18n.gettext(CASE_TITLE, rule=alert.rule_title, subject=alert.subject or "-")
        body = i18n.gettext(
            CASE_BODY, rule=alert.rule_title,
            level=Msg(LABELS.get(alert.level, alert.level)), count=alert.event_count,
            first=alert.first_seen.strftime("%Y-%m-%d %H:%M UTC"),
            last=alert.last_seen.strftime("%Y-%m-%d %H:%M UTC"), description=description,
            ips=", ".join(ips[:50]) or "-", users=", ".join(users[:50]) or "-",
            link=f"/detection/alerts/{alert.id}")
    return CaseReport(title=title[:200], description=body[:20_000],
                      institution_id=alert.institution_id, system_id=alert.system_id,
                      taxonomy_class=klass, taxonomy_type=kind)


def open_case(*, session: Session, actor: Actor, alert_id: int) -> str:
    """Open a CSIRT case for an alert; returns the case reference. Refused (409) when the
    alert already has one."""
    alert = session.get(DetectionAlert, alert_id)
    ensure_in_scope(actor, alert.institution_id if alert else -1, P.TRIAGE,
                    what=Msg("alert"))
    if alert is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("alert"))
    if alert.case_id is not None or alert.case_reference:
        raise Conflict("A CSIRT case is already open for this alert: %(reference)s.",
                       reference=alert.case_reference or "")
    ips, users = _indicators(session, actor, alert)
    case = csirt.report_case(session=session, actor=actor, data=_report(alert, ips, users),
                             source="detection")
    added = 0
    if ips:
        items = [observable_service.NewObservable(
            value=ip, comment=f"detection alert #{alert.id}") for ip in ips[:100]]
        try:
            added = len(observable_service.add_many(
                session=session, actor=actor, case_id=case.id, items=items).accepted)
        except Invalid:
            # Addresses the CSIRT refuses (reserved ranges...) stay in the description only.
            added = 0
    before = service.alert_state(alert)
    alert.status = AlertStatus.ESCALATED.value
    alert.case_id, alert.case_reference = case.id, case.reference
    session.flush()
    audit.record(session=session, actor=actor, action="detection.alert.case",
                 object_type="detection.alert", object_id=alert.id,
                 object_repr=f"{alert.rule_title} {alert.subject}"[:300], before=before,
                 after=service.alert_state(alert), institution_id=alert.institution_id,
                 details={"case": case.reference, "observables": added})
    return case.reference or f"#{case.id}"


# --- ingest and automatic escalation ----------------------------------------------------

@contextmanager
def _savepoint(session: Session) -> Iterator[None]:
    """A SAVEPOINT whose rollback also drops the audit entries recorded inside it: the
    ledger keeps pending entries per outer transaction, and an entry describing a case that
    was rolled back must not be chained."""
    pending: list[Any] = session.info.setdefault(AUDIT_PENDING_KEY, [])
    mark = len(pending)
    try:
        with session.begin_nested():
            yield
    except BaseException:
        del session.info.get(AUDIT_PENDING_KEY, [])[mark:]
        raise


def _follow_up(session: Session, actor: Actor, alert: DetectionAlert,
               escalation_rule: int) -> str | None:
    """When the same group (rule, institution, system, subject) was escalated within the
    grouping window, the new alert joins that case instead of opening another: an attack
    that goes on is one case, not one per batch. Returns the case reference joined."""
    earlier = session.scalars(select(DetectionAlert).where(
        DetectionAlert.group_key == alert.group_key, DetectionAlert.id != alert.id,
        DetectionAlert.status == AlertStatus.ESCALATED.value,
        DetectionAlert.case_id.is_not(None),
        DetectionAlert.last_seen >= alert.last_seen - service.GROUP_WINDOW)
        .order_by(DetectionAlert.id.desc()).limit(1)).first()
    if earlier is None:
        return None
    before = service.alert_state(alert)
    alert.status = AlertStatus.ESCALATED.value
    alert.case_id, alert.case_reference = earlier.case_id, earlier.case_reference
    session.flush()
    audit.record(session=session, actor=actor, action="detection.alert.case",
                 object_type="detection.alert", object_id=alert.id,
                 object_repr=f"{alert.rule_title} {alert.subject}"[:300], before=before,
                 after=service.alert_state(alert), institution_id=alert.institution_id,
                 details={"case": earlier.case_reference, "follows_alert": earlier.id,
                          "escalation_rule": escalation_rule})
    return earlier.case_reference or f"#{earlier.case_id}"


def escalate(*, session: Session, alert_ids: Iterable[int]) -> list[str]:
    """Open a CSIRT case, as the system, for each open alert among ``alert_ids`` without a
    case that an enabled escalation rule matches; returns the case references.

    A failure to open one case is logged and ledgered and leaves the alert open; it never
    undoes anything else of the caller's transaction (the batch's events).
    """
    ids = sorted(set(alert_ids))
    if not ids:
        return []
    rules = policies.enabled_rules(session)
    if not rules:
        return []
    actor = system_actor("detection escalation", "system")
    alerts = list(session.scalars(select(DetectionAlert).where(
        DetectionAlert.id.in_(ids), DetectionAlert.status == AlertStatus.OPEN.value,
        DetectionAlert.case_id.is_(None)).order_by(DetectionAlert.id)))
    references: list[str] = []
    for alert in alerts:
        rule = policies.matching_rule(rules, alert)
        if rule is None:
            continue
        alert_id, institution_id, rule_id = alert.id, alert.institution_id, rule.id
        try:
            with _savepoint(session):
                reference = _follow_up(session, actor, alert, rule_id) or open_case(
                    session=session, actor=actor, alert_id=alert_id)
        except Exception as exc:  # noqa: BLE001  (the events must outlive any CSIRT failure)
            log.exception("escalation of detection alert %s (rule #%s) failed", alert_id,
                          rule_id)
            audit.record(session=session, actor=actor,
                         action="detection.alert.escalation_failed",
                         object_type="detection.alert", object_id=alert_id,
                         object_repr=f"alert #{alert_id}", institution_id=institution_id,
                         details={"escalation_rule": rule_id,
                                  "error": type(exc).__name__})
            continue
        audit.record(session=session, actor=actor, action="detection.alert.escalate",
                     object_type="detection.alert", object_id=alert_id,
                     object_repr=f"alert #{alert_id}", institution_id=institution_id,
                     details={"escalation_rule": rule_id, "case": reference})
        references.append(reference)
    return references


def ingest(*, session: Session, actor: Actor, lines: list[str] | None = None,
           records: list[dict[str, Any]] | None = None, system_id: int | None = None,
           channel: str = "http", institution_id: int | None = None) -> IngestResult:
    """Store and analyse a batch (:func:`service.ingest`, same arguments and checks), then
    escalate the alerts it raised or added to that an escalation rule matches."""
    result = service.ingest(session=session, actor=actor, lines=lines, records=records,
                            system_id=system_id, channel=channel,
                            institution_id=institution_id)
    escalate(session=session, alert_ids=result.alert_ids)
    return result

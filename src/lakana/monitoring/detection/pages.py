"""HTML pages of detection (under ``/detection``).

Alerts (filters; open first, worst level first), one alert (rule, level, ATT&CK tags, the
rule's author, licence and references, the matching events with their message and fields,
the triage form, "open a CSIRT case" and the suppression form), the event search (raw lines
included), the rules loaded and those that could not be, with the suppressions in force, and
the "send logs" help page with shipper configurations for curl, Fluent Bit, Vector and
rsyslog.

Forms carry the CSRF token like every other form; a refused form comes back with the
reason (422, 409) and what was typed.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Conflict, Invalid
from lakana.core.i18n import N_
from lakana.core.web.errors import redirect
from lakana.core.web.forms import Form, problem_of, text_field
from lakana.core.web.templating import render
from lakana.monitoring.detection import flows, rules, service
from lakana.monitoring.detection.models import DetectionAlert, DetectionEvent
from lakana.monitoring.detection.permissions import DetectionPermission as P
from lakana.monitoring.detection.schemas import (
    LABELS,
    MAX_BYTES,
    MAX_LINES,
    AlertQuery,
    AlertStatus,
    AlertTriage,
    EventQuery,
    Level,
    SuppressionIn,
)
from lakana.registry import service as registry_service

router = APIRouter(prefix="/detection")

NOTICES = {"triaged": N_("The alert was updated."),
           "case": N_("A CSIRT case is open for this alert."),
           "suppressed": N_("Alerts of this rule are suppressed as asked.")}
HELPERS: dict[str, Any] = {"labels": LABELS, "levels": [str(v) for v in reversed(Level)],
                           "statuses": [str(s) for s in AlertStatus],
                           "triage_statuses": ["open", "true_positive", "false_positive"]}
INGEST_PATH = "/api/v1/detection/ingest"
#: Events shown on an alert page.
ALERT_EVENTS = 50
#: Unsupported rules listed by name on the rules page (the counts cover them all).
UNSUPPORTED_SHOWN = 200





def institution_names(session: Session, actor: Actor) -> dict[int, str]:
    """Institution labels by id, for national roles' lists (an institution's staff see only
    their own, so the column is left out)."""
    if not actor.is_national:
        return {}
    return dict(registry_service.institution_choices(session=session))


def event_fields(event: DetectionEvent) -> list[tuple[str, str]]:
    """An event's parsed fields as sorted (name, text) pairs, the raw line left for last."""
    fields = event.fields or {}
    pairs = [(k, v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str))
             for k, v in sorted(fields.items()) if k not in ("log.original", "message")]
    original = fields.get("log.original")
    if isinstance(original, str) and original != event.message:
        pairs.append(("log.original", original))
    return pairs


def rule_details(rule_id: str) -> dict[str, Any]:
    """What the loaded rule (or correlation) says beyond the alert's copy: description and
    log source; both empty when it is no longer loaded (the page shows the alert's copy)."""
    pack = rules.rule_pack()
    for rule in pack.rules:
        if rule.id == rule_id:
            product, category, log_service = rule.logsource
            return {"description": rule.description or "",
                    "logsource": " / ".join(p for p in (product, category, log_service) if p)}
    for correlation in pack.correlations:
        if correlation.id == rule_id:
            return {"description": correlation.description or "",
                    "logsource": f"{correlation.kind}: {', '.join(correlation.rule_refs)}"}
    return {"description": "", "logsource": ""}


# --- alerts -----------------------------------------------------------------------------------

@router.get("")
def alerts(request: Request, session: DbSession, actor: CurrentActor,
           query: Annotated[AlertQuery, Query()]) -> Response:
    """Alerts the person reads, open first and worst first, filtered and paged."""
    rows = service.list_alerts(session=session, actor=actor, query=query)
    total = service.count_alerts(session=session, actor=actor, query=query)
    params = {k: v for k, v in query.model_dump(exclude={"limit", "offset"}).items()
              if v is not None}
    return render(request, "detection/alerts.html", {
        "alerts": rows, "query": query, "names": institution_names(session, actor),
        "filter_query": urlencode({k: str(v) for k, v in params.items()}),
        "total": total, **HELPERS})


def _alert_page(request: Request, session: Session, alert: DetectionAlert, actor: Actor, *,
                notice: str | None = None, problem: str | None = None,
                values: dict[str, str] | None = None, status_code: int = 200) -> Response:
    events = service.alert_events(session=session, actor=actor, alert_id=alert.id,
                                  limit=ALERT_EVENTS)
    names = institution_names(session, actor)
    return render(request, "detection/alert.html", {
        "alert": alert, "events": events, "event_fields": event_fields,
        "rule": rule_details(alert.rule_id), "notice": notice, "problem": problem,
        "institution": names.get(alert.institution_id, ""),
        "values": values or {"status": alert.status if alert.status in
                             HELPERS["triage_statuses"] else "open",
                             "reason": alert.status_reason, "days": "30"},
        "can_triage": actor.can(P.TRIAGE), **HELPERS}, status_code=status_code)


@router.get("/alerts/{alert_id}")
def alert_detail(alert_id: int, request: Request, session: DbSession, actor: CurrentActor,
                 done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """One alert: the rule and its attribution, matching events, triage."""
    alert = service.get_alert(session=session, actor=actor, alert_id=alert_id)
    return _alert_page(request, session, alert, actor, notice=NOTICES.get(done or ""))


@router.post("/alerts/{alert_id}/triage")
def triage(alert_id: int, request: Request, session: DbSession, actor: CurrentActor,
           form: Form) -> Response:
    """Save a triage decision; a refused one comes back with the reason."""
    alert = service.get_alert(session=session, actor=actor, alert_id=alert_id)
    actor.require(P.TRIAGE)
    values = {"status": text_field(form, "status"), "reason": text_field(form, "reason"),
              "days": "30"}
    try:
        data = AlertTriage.model_validate({"status": values["status"],
                                           "reason": values["reason"],
                                           "version": text_field(form, "version")})
        service.triage_alert(session=session, actor=actor, alert_id=alert_id, data=data)
    except (ValidationError, Invalid, Conflict) as exc:
        session.rollback()
        problem, status = problem_of(exc)
        alert = service.get_alert(session=session, actor=actor, alert_id=alert_id)
        return _alert_page(request, session, alert, actor, problem=problem, values=values,
                           status_code=status)
    return redirect(request, f"/detection/alerts/{alert.id}?done=triaged")


@router.post("/alerts/{alert_id}/case")
def open_case(alert_id: int, request: Request, session: DbSession, actor: CurrentActor,
              form: Form) -> Response:
    """Open a CSIRT case for the alert, in one click."""
    alert = service.get_alert(session=session, actor=actor, alert_id=alert_id)
    actor.require(P.TRIAGE)
    try:
        flows.open_case(session=session, actor=actor, alert_id=alert.id)
    except (Invalid, Conflict) as exc:
        session.rollback()
        problem, status = problem_of(exc)
        alert = service.get_alert(session=session, actor=actor, alert_id=alert_id)
        return _alert_page(request, session, alert, actor, problem=problem,
                           status_code=status)
    return redirect(request, f"/detection/alerts/{alert_id}?done=case")


@router.post("/alerts/{alert_id}/suppress")
def suppress(alert_id: int, request: Request, session: DbSession, actor: CurrentActor,
             form: Form) -> Response:
    """Suppress the alert's rule (for its subject, or every subject) in its institution (or,
    for the centre, everywhere) for some days."""
    alert = service.get_alert(session=session, actor=actor, alert_id=alert_id)
    actor.require(P.TRIAGE)
    everywhere = actor.is_national and text_field(form, "everywhere") == "1"
    every_subject = text_field(form, "every_subject") == "1"
    values = {"status": alert.status, "reason": alert.status_reason,
              "suppress_reason": text_field(form, "suppress_reason"),
              "days": text_field(form, "days")}
    try:
        data = SuppressionIn.model_validate({
            "rule_id": alert.rule_id, "subject": "" if every_subject else alert.subject,
            "reason": values["suppress_reason"], "days": values["days"] or "30",
            "institution_id": None if everywhere else alert.institution_id})
        service.suppress(session=session, actor=actor, data=data)
    except (ValidationError, Invalid, Conflict) as exc:
        session.rollback()
        problem, status = problem_of(exc)
        alert = service.get_alert(session=session, actor=actor, alert_id=alert_id)
        return _alert_page(request, session, alert, actor, problem=problem, values=values,
                           status_code=status)
    return redirect(request, f"/detection/alerts/{alert_id}?done=suppressed")


# --- events, rules, help ----------------------------------------------------------------------

#: ``event.outcome`` choices of the event search, with their labels (message ids).
OUTCOMES = (("success", N_("Success")), ("failure", N_("Failure")), ("unknown", N_("Unknown")))

@router.get("/events")
def events(request: Request, session: DbSession, actor: CurrentActor,
           query: Annotated[EventQuery, Query()]) -> Response:
    """Search the stored events (parsed or kept raw), newest first."""
    rows = service.search_events(session=session, actor=actor, query=query)
    return render(request, "detection/events.html", {
        "events": rows, "query": query, "names": institution_names(session, actor),
        "outcomes": OUTCOMES, "event_fields": event_fields, **HELPERS})


@router.get("/rules")
def rules_page(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """The rules loaded, those that could not be (with the reason), and suppressions."""
    summary = service.rules_summary(actor=actor)
    return render(request, "detection/rules.html", {
        "summary": summary, "unsupported": summary.unsupported_rules[:UNSUPPORTED_SHOWN],
        "suppressions": service.list_suppressions(session=session, actor=actor),
        "names": dict(registry_service.institution_choices(session=session)), **HELPERS})


@router.get("/send-logs")
def send_logs(request: Request, actor: CurrentActor) -> Response:
    """How to configure a log shipper (curl, Fluent Bit, Vector, rsyslog) to send logs."""
    actor.require(P.READ)
    base = str(request.base_url).rstrip("/")
    tls = base.startswith("https://")
    netloc = base.split("://", 1)[-1].split("/", 1)[0]
    host, _sep, port = netloc.rpartition(":") if ":" in netloc else (netloc, "", "")
    return render(request, "detection/send_logs.html", {
        "url": base + INGEST_PATH, "path": INGEST_PATH, "host": host,
        "port": port or ("443" if tls else "80"), "tls": tls,
        "max_lines": MAX_LINES, "max_mib": MAX_BYTES // (1024 * 1024),
        "can_ingest": actor.can(P.INGEST)})

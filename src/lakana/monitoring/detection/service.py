"""Detection services: ingest log lines and records (store every event, then run the Sigma
rules), alerts (list, read, triage), suppression rules and event search, for the API, pages,
CLI and demo.

Scope: a focal point ships and reads only its own institution's events and alerts; the centre
(national roles) everything and must name the institution it ingests for. Events and alerts
carry their institution; every list goes through :func:`restrict`, single objects through
:func:`ensure_in_scope` (404 for another institution's).

Grouping: one alert per rule, institution, system and subject (``source.ip``, else
``user.name``, else ``host.name``) while it stays open (or triaged true positive) and was
seen in the last 24 hours; later matches add to it. An unexpired suppression rule turns what
would be raised into a ``suppressed`` alert (kept for audit, left out of lists by default).

Correlations (Sigma correlation rules: brute force, password spraying, success after
failures): each match of a rule a correlation refers to is stored as a
:class:`~lakana.monitoring.detection.models.CorrelationHit` (institution, group-by values, time),
so that batches from different workers count together. The windows of the groups a batch
touches are read back (one query per correlation and 500 groups, never one per event) and
replayed by :class:`~lakana.monitoring.detection.sigma.Window` (the evaluator file hunting
uses too); while the condition holds at one of the batch's hits, the window's events are
linked to one grouped alert of the correlation (same 24-hour grouping and suppressions),
whose ``event_count`` grows with a sustained attack. Rules that only feed correlations with
``generate: false`` raise no alert of their own. Hits older than the longest time span (before
the batch's newest event) are deleted as each batch ends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Select, String, case, cast, delete, func, or_, select
from sqlalchemy.orm import Session

from lakana.core import audit
from lakana.core.auth.rbac import Actor, ensure_in_scope, restrict, system_actor
from lakana.core.concurrency import check_version, flush_or_conflict
from lakana.core.db import as_utc, count_rows, utcnow
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from lakana.core.i18n import Msg
from lakana.monitoring.detection.models import (
    CorrelationHit,
    DetectionAlert,
    DetectionEvent,
    SuppressionRule,
)
from lakana.monitoring.detection.parsers.dispatch import parse_line, parse_record
from lakana.monitoring.detection.permissions import DetectionPermission as P
from lakana.monitoring.detection.rules import pack_summary, rule_pack
from lakana.monitoring.detection.schemas import (
    LEVEL_RANK,
    MAX_BYTES,
    MAX_LINES,
    AlertQuery,
    AlertStatus,
    AlertTriage,
    EventQuery,
    IngestResult,
    PackSummary,
    SuppressionIn,
    TriageStatus,
)
from lakana.monitoring.detection.sigma import (
    CompiledCorrelation,
    CompiledRule,
    RulePack,
    Window,
    group_hash,
)
from lakana.registry import service as registry_service

__all__ = [
    "alert_events", "count_alerts", "count_open_alerts", "get_alert", "ingest", "list_alerts",
    "list_suppressions", "pack_summary", "rules_summary", "search_events", "suppress",
    "triage_alert",
]

ALERT, EVENT = Msg("alert"), Msg("event")
#: How long an open alert keeps taking matches of its group.
GROUP_WINDOW = dt.timedelta(hours=24)
#: Statuses an alert keeps grouping in (new matches add to it): an escalated alert too, so
#: an attack that goes on adds to the alert its CSIRT case follows instead of raising anew.
_GROUPING = (AlertStatus.OPEN.value, AlertStatus.TRUE_POSITIVE.value,
             AlertStatus.ESCALATED.value)
CHANNELS = frozenset({"http", "syslog", "cli", "demo"})


def _missing(what: Msg) -> NotFound:
    return NotFound("This %(what)s does not exist or is not visible to you.", what=what)


# --- ingest -----------------------------------------------------------------------------

def _owner(session: Session, actor: Actor, institution_id: int | None) -> int:
    """The institution the events belong to: the actor's own, or the one the centre names."""
    if not actor.is_national:
        if actor.institution_id is None:
            raise Forbidden("Only an institution's account may send its logs.")
        if institution_id is not None and institution_id != actor.institution_id:
            raise Forbidden("You may send only your own institution's logs.")
        return actor.institution_id
    if institution_id is None:
        raise Invalid("Name the institution these logs belong to.")
    registry_service.get_institution(session=session, actor=actor, institution_id=institution_id)
    return institution_id


def _registry_reader() -> Actor:
    """Reads the registry to check a system's owner (the caller may not read systems: a
    shipper's token only sends logs); the answer never leaves this module."""
    return system_actor("detection", "system")


def _check_system(session: Session, system_id: int | None, institution_id: int) -> None:
    if system_id is None:
        return
    try:
        system = registry_service.get_system(session=session, actor=_registry_reader(),
                                             system_id=system_id)
    except NotFound:
        system = None
    if system is None or system.institution_id != institution_id:
        raise Invalid("This information system is not one of the institution's.")


def _check_size(lines: Sequence[str], records: Sequence[dict[str, Any]]) -> None:
    if len(lines) + len(records) > MAX_LINES:
        raise TooLarge("At most %(limit)s lines may be sent at once.", limit=MAX_LINES)
    size = sum(len(line.encode("utf-8", "replace")) + 1 for line in lines)
    for record in records:
        if size > MAX_BYTES:
            break
        try:
            size += len(json.dumps(record, default=str)) + 1
        except (TypeError, ValueError, RecursionError) as exc:
            raise Invalid("A record cannot be read as JSON.") from exc
    if size > MAX_BYTES:
        raise TooLarge("At most %(limit)s bytes may be sent at once.", limit=MAX_BYTES)


def _occurred(event: dict[str, Any], received: dt.datetime) -> dt.datetime:
    stamp = event.get("@timestamp")
    if isinstance(stamp, str):
        try:
            return as_utc(dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")))
        except ValueError:
            pass
    return received


def _text(value: object, size: int) -> str | None:
    return str(value)[:size] if value not in (None, "") else None


def subject_of(fields: dict[str, Any]) -> str:
    """What an alert on this event is grouped on: source IP, else user, else host."""
    for key in ("source.ip", "user.name", "host.name"):
        value = fields.get(key)
        if value not in (None, ""):
            return str(value)[:300]
    return ""


def group_key(rule_id: str, institution_id: int, system_id: int | None, subject: str) -> str:
    """sha256 of rule id | institution | system | subject: one grouping alert per key."""
    raw = f"{rule_id}|{institution_id}|{system_id or ''}|{subject}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _attribution(rule: CompiledRule | CompiledCorrelation) -> dict[str, Any]:
    # Only the rule file's name: a server path says nothing useful to a reader.
    return {"author": rule.author, "license": rule.license, "references": list(rule.references),
            "description": rule.description, "status": rule.status,
            "source": Path(rule.source).name if rule.source else None}


class _Batch:
    """Alerts touched by one ingest batch, found or made once per group key."""

    def __init__(self, session: Session, institution_id: int, system_id: int | None,
                 now: dt.datetime) -> None:
        self.session, self.institution_id, self.system_id, self.now = (
            session, institution_id, system_id, now)
        self.alerts: dict[tuple[str, bool], DetectionAlert] = {}
        self.suppressions = list(session.scalars(select(SuppressionRule).where(
            SuppressionRule.expires_at > now,
            or_(SuppressionRule.institution_id.is_(None),
                SuppressionRule.institution_id == institution_id))))

    def _suppressed(self, rule_id: str, subject: str) -> SuppressionRule | None:
        for rule in self.suppressions:
            if rule.rule_id == rule_id and rule.subject in ("", subject):
                return rule
        return None

    def alert_for(self, rule: CompiledRule | CompiledCorrelation, subject: str,
                  count: int = 1) -> DetectionAlert:
        """The alert of ``rule`` for ``subject`` this batch adds to (found or made), its
        ``event_count`` grown by ``count``."""
        key = group_key(rule.id, self.institution_id, self.system_id, subject)
        suppression = self._suppressed(rule.id, subject)
        slot = (key, suppression is not None)
        alert = self.alerts.get(slot)
        if alert is None:
            statuses = (AlertStatus.SUPPRESSED.value,) if suppression else _GROUPING
            alert = self.session.scalars(select(DetectionAlert).where(
                DetectionAlert.group_key == key, DetectionAlert.status.in_(statuses),
                DetectionAlert.last_seen >= self.now - GROUP_WINDOW)
                .order_by(DetectionAlert.id.desc()).limit(1)
                # PostgreSQL: concurrent batches adding to one alert wait for each other
                # instead of failing on its version (SQLite writes one at a time anyway).
                .with_for_update()).first()
        if alert is None:
            alert = DetectionAlert(
                group_key=key, institution_id=self.institution_id, system_id=self.system_id,
                rule_id=rule.id[:80], rule_title=rule.title[:300],
                level=(rule.level or "medium")[:15], tags=list(rule.tags),
                attribution=_attribution(rule), subject=subject,
                status=AlertStatus.SUPPRESSED.value if suppression else AlertStatus.OPEN.value,
                status_reason=suppression.reason if suppression else "", event_count=0,
                first_seen=self.now, last_seen=self.now)
            self.session.add(alert)
        alert.event_count = (alert.event_count or 0) + count
        alert.last_seen = self.now
        self.alerts[slot] = alert
        return alert


def ingest(*, session: Session, actor: Actor, lines: list[str] | None = None,
           records: list[dict[str, Any]] | None = None, system_id: int | None = None,
           channel: str = "http", institution_id: int | None = None) -> IngestResult:
    """Parse and store log lines and JSON records for an institution, then run the rules.

    A focal point's events belong to its institution; the centre names ``institution_id``.
    ``system_id`` must be one of that institution's systems. Every event is stored (flushed)
    before any rule runs; matches raise or add to grouped alerts. At most
    :data:`MAX_LINES` lines and :data:`MAX_BYTES` bytes (413). One audit record per batch,
    with counts only.
    """
    actor.require(P.INGEST)
    owner = _owner(session, actor, institution_id)
    _check_system(session, system_id, owner)
    lines, records = list(lines or ()), list(records or ())
    _check_size(lines, records)
    if channel not in CHANNELS:
        raise Invalid("Unknown channel %(value)s.", value=channel[:20])
    now = utcnow()
    parsed = [parse_line(line, received=now) for line in lines]
    for record in records:
        if not isinstance(record, dict):
            raise Invalid("Each record must be a JSON object.")
        parsed.append(parse_record(record))
    events = [DetectionEvent(
        institution_id=owner, system_id=system_id, received_at=now,
        occurred_at=_occurred(fields, now),
        dataset=str(fields.get("event.dataset") or "raw")[:60],
        message=str(fields.get("message", "")), fields=fields, channel=channel,
        source_ip=_text(fields.get("source.ip"), 45), host_name=_text(fields.get("host.name"), 255),
        user_name=_text(fields.get("user.name"), 255),
        outcome=_text(fields.get("event.outcome"), 20), alert_ids=[]) for fields in parsed]
    session.add_all(events)
    session.flush()
    pack = rule_pack()
    batch = _Batch(session, owner, system_id, now)
    matched: list[tuple[DetectionEvent, list[DetectionAlert]]] = []
    feeds: list[tuple[DetectionEvent, list[CompiledRule]]] = []
    for event in events:
        rules = pack.match(event.fields)
        if not rules:
            continue
        alerts = [batch.alert_for(rule, subject_of(event.fields))
                  for rule in rules if rule.generates]
        if alerts:
            matched.append((event, alerts))
        if pack.correlations:
            feeds.append((event, rules))
    session.flush()
    for event, alerts in matched:
        event.alert_ids = sorted({a.id for a in alerts})
    if pack.correlations:
        _correlate(batch, pack, events, feeds)
    raised = {a.id: a for a in batch.alerts.values()
              if a.status != AlertStatus.SUPPRESSED.value}
    result = IngestResult(accepted=len(lines) + len(records), stored=len(events),
                          alerts=len(raised), alert_ids=sorted(raised))
    session.flush()
    audit.record(session=session, actor=actor, action="detection.ingest",
                 object_type="detection.batch", object_id=None,
                 object_repr=f"{result.stored} events", institution_id=owner,
                 details={**result.model_dump(), "channel": channel, "system_id": system_id,
                          "suppressed": len(batch.alerts) - len(raised)})
    return result


# --- correlations -----------------------------------------------------------------------

class _Touched:
    """A correlation group this batch added hits to."""

    __slots__ = ("correlation", "first", "group", "hits", "last")

    def __init__(self, correlation: CompiledCorrelation, group: dict[str, str],
                 when: dt.datetime) -> None:
        self.correlation, self.group = correlation, group
        self.first = self.last = when
        self.hits: list[CorrelationHit] = []


def correlation_subject(group: dict[str, str]) -> str:
    """What a correlation alert is grouped on: the group-by value (``name=value, ...`` for
    several)."""
    if len(group) == 1:
        return next(iter(group.values()))[:300]
    return ", ".join(f"{k}={v}" for k, v in group.items())[:300]


def _record_hits(batch: _Batch, pack: RulePack,
                 feeds: Sequence[tuple[DetectionEvent, list[CompiledRule]]]
                 ) -> dict[tuple[str, str], _Touched]:
    """Store one hit per (matched rule, correlation referring to it) with a group."""
    touched: dict[tuple[str, str], _Touched] = {}
    for event, rules in feeds:
        when = as_utc(event.occurred_at)
        for rule in rules:
            for c in pack.correlations_for(rule.id):
                group = c.group_of(rule.id, event.fields)
                value = c.value_of(rule.id, event.fields)
                if group is None or value is None:
                    continue  # no group-by value: the event takes no part (as SIEMs do)
                ghash = group_hash(c.id, group)
                hit = CorrelationHit(
                    institution_id=batch.institution_id, system_id=batch.system_id,
                    correlation_id=c.id[:80], group_hash=ghash, group_values=group,
                    rule_ref=rule.id[:80], value=value, occurred_at=when, event_id=event.id)
                state = touched.get((c.id, ghash))
                if state is None:
                    state = touched[(c.id, ghash)] = _Touched(c, group, when)
                state.first, state.last = min(state.first, when), max(state.last, when)
                state.hits.append(hit)
    return touched


#: Groups whose windows one query reads back.
_GROUPS_PER_QUERY = 500


def _fired_events(session: Session, institution_id: int, states: Sequence[_Touched]
                  ) -> dict[str, set[int]]:
    """Replay the windows of one correlation's touched groups around the batch's hits (one
    query per :data:`_GROUPS_PER_QUERY` groups): per group hash, the events of the windows in
    which the condition held at one of the batch's hits."""
    c = states[0].correlation
    refs = {ref[:80]: ref for ref in c.rule_refs}
    new = {hit.id for state in states for hit in state.hits}
    by_group = {state.hits[0].group_hash: state for state in states}
    rows = session.execute(
        select(CorrelationHit.id, CorrelationHit.group_hash, CorrelationHit.rule_ref,
               CorrelationHit.value, CorrelationHit.occurred_at, CorrelationHit.event_id)
        .where(CorrelationHit.correlation_id == c.id[:80],
               CorrelationHit.institution_id == institution_id,
               CorrelationHit.group_hash.in_(list(by_group)),
               CorrelationHit.occurred_at >= min(s.first for s in states) - c.timespan,
               CorrelationHit.occurred_at <= max(s.last for s in states))
        .order_by(CorrelationHit.occurred_at, CorrelationHit.id)).all()
    windows = {ghash: Window(c) for ghash in by_group}
    # Per group, how many pushes were already collected: a sustained attack re-checks the
    # window at every new hit, but each hit's event is collected once (linear, not
    # hits x window).
    collected: dict[str, int] = {}
    fired: dict[str, set[int]] = {}
    for hit_id, ghash, rule_ref, value, occurred, event_id in rows:
        window = windows[ghash]
        # Hits before a group's own span drop out as the window advances; hits after its
        # last new hit are never evaluated at: the wider range of the query changes nothing.
        window.push(as_utc(occurred), refs.get(rule_ref, rule_ref), value, event_id)
        if hit_id in new and window.holds():
            fired.setdefault(ghash, set()).update(
                e for e in window.payloads_since(collected.get(ghash, 0)) if e is not None)
            collected[ghash] = window.pushed
    return fired


def _link(session: Session, batch_events: Sequence[DetectionEvent],
          links: Sequence[tuple[DetectionAlert, set[int]]]) -> None:
    """Link events to correlation alerts (events of earlier batches are loaded in one query)
    and count each event once per alert."""
    known = {e.id: e for e in batch_events}
    wanted = set().union(*(ids for _, ids in links)) - known.keys()
    # Events of earlier batches: most are linked already (the window slides over them at
    # every batch of a sustained attack); read their ids and links first, whole rows only
    # for those that change.
    alert_ids = {a.id for a, _ in links}
    stale: list[int] = []
    for chunk in (sorted(wanted)[i:i + 500] for i in range(0, len(wanted), 500)):
        for event_id, linked in session.execute(
                select(DetectionEvent.id, DetectionEvent.alert_ids)
                .where(DetectionEvent.id.in_(chunk))):
            if not alert_ids <= set(linked or ()):
                stale.append(event_id)
    for chunk in (stale[i:i + 500] for i in range(0, len(stale), 500)):
        known.update((e.id, e) for e in session.scalars(
            select(DetectionEvent).where(DetectionEvent.id.in_(chunk))))
    for alert, ids in links:
        first = as_utc(alert.first_seen)
        for event_id in sorted(ids):
            event = known.get(event_id)
            if event is None or alert.id in (event.alert_ids or ()):
                continue
            event.alert_ids = sorted({*(event.alert_ids or ()), alert.id})
            alert.event_count = (alert.event_count or 0) + 1
            # The alert's events are looked up by reception time: cover the earliest one.
            first = min(first, as_utc(event.received_at))
        alert.first_seen = first


def _correlate(batch: _Batch, pack: RulePack, events: Sequence[DetectionEvent],
               feeds: Sequence[tuple[DetectionEvent, list[CompiledRule]]]) -> None:
    """Store the batch's correlation hits, evaluate each touched group once, raise or add to
    the correlations' alerts, then prune hits no window can need any more."""
    session = batch.session
    touched = _record_hits(batch, pack, feeds)
    if touched:
        session.add_all([hit for state in touched.values() for hit in state.hits])
        session.flush()
    per_correlation: dict[str, list[_Touched]] = {}
    for (cid, _), state in touched.items():
        per_correlation.setdefault(cid, []).append(state)
    pending: list[tuple[DetectionAlert, set[int]]] = []
    for states in per_correlation.values():
        for i in range(0, len(states), _GROUPS_PER_QUERY):
            chunk = states[i:i + _GROUPS_PER_QUERY]
            fired = _fired_events(session, batch.institution_id, chunk)
            for state in chunk:
                linked = fired.get(state.hits[0].group_hash)
                if linked:
                    alert = batch.alert_for(state.correlation,
                                            correlation_subject(state.group), count=0)
                    pending.append((alert, linked))
    if pending:
        session.flush()
        _link(session, events, pending)
    # Windows end at the newest event time (logs may be replayed from the past), never later
    # than now (a sender's clock ahead must not wipe everyone's windows).
    newest = max((as_utc(e.occurred_at) for e in events), default=batch.now)
    longest = max(c.timespan for c in pack.correlations)
    session.execute(delete(CorrelationHit).where(
        CorrelationHit.institution_id == batch.institution_id,
        CorrelationHit.occurred_at < min(newest, batch.now) - longest))


# --- alerts -----------------------------------------------------------------------------

def _alerts(actor: Actor, query: AlertQuery) -> Select[Any]:
    stmt = restrict(select(DetectionAlert), actor=actor, permission=P.READ,
                    scope=DetectionAlert.institution_id)
    if query.institution_id is not None:
        stmt = stmt.where(DetectionAlert.institution_id == query.institution_id)
    if query.status is not None:
        stmt = stmt.where(DetectionAlert.status == query.status.value)
    else:
        stmt = stmt.where(DetectionAlert.status != AlertStatus.SUPPRESSED.value)
    if query.level is not None:
        stmt = stmt.where(DetectionAlert.level == query.level.value)
    if query.q:
        needle = query.q.lower()
        stmt = stmt.where(or_(*(func.lower(c).contains(needle, autoescape=True) for c in (
            DetectionAlert.rule_title, DetectionAlert.rule_id, DetectionAlert.subject))))
    return stmt


def list_alerts(*, session: Session, actor: Actor, query: AlertQuery | None = None
                ) -> list[DetectionAlert]:
    """Alerts the actor may see, filtered: open first, worst level first, latest first."""
    query = query or AlertQuery()
    is_open = case((DetectionAlert.status == AlertStatus.OPEN.value, 0), else_=1)
    rank = case(LEVEL_RANK, value=DetectionAlert.level, else_=5)
    stmt = _alerts(actor, query).order_by(is_open, rank, DetectionAlert.last_seen.desc(),
                                          DetectionAlert.id.desc())
    return list(session.scalars(stmt.limit(query.limit).offset(query.offset)))


def count_alerts(*, session: Session, actor: Actor, query: AlertQuery | None = None) -> int:
    """How many alerts match ``query`` (ignoring its page)."""
    return count_rows(session, _alerts(actor, query or AlertQuery()))


def count_open_alerts(session: Session, actor: Actor) -> int:
    """Open alerts in the actor's scope (the dashboard card)."""
    return count_alerts(session=session, actor=actor,
                        query=AlertQuery(status=AlertStatus.OPEN))


def get_alert(*, session: Session, actor: Actor, alert_id: int,
              permission: str = P.READ) -> DetectionAlert:
    """One alert (404 when absent or of another institution)."""
    alert = session.get(DetectionAlert, alert_id)
    ensure_in_scope(actor, alert.institution_id if alert else -1, permission, what=ALERT)
    if alert is None:
        raise _missing(ALERT)
    return alert


def alert_events(*, session: Session, actor: Actor, alert_id: int,
                 limit: int = 50) -> list[DetectionEvent]:
    """The latest events that matched an alert, newest first."""
    alert = get_alert(session=session, actor=actor, alert_id=alert_id)
    # JSON containment differs by database: narrow by institution, time and text, then
    # check the id list exactly here.
    stmt = select(DetectionEvent).where(
        DetectionEvent.institution_id == alert.institution_id,
        DetectionEvent.received_at >= alert.first_seen,
        DetectionEvent.received_at <= alert.last_seen,
        cast(DetectionEvent.alert_ids, String).contains(str(alert.id)),
    ).order_by(DetectionEvent.received_at.desc(), DetectionEvent.id.desc())
    found: list[DetectionEvent] = []
    for event in session.scalars(stmt.execution_options(yield_per=200)):
        if alert.id in (event.alert_ids or ()):
            found.append(event)
            if len(found) >= max(1, min(limit, 500)):
                break
    return found


def alert_state(alert: DetectionAlert) -> dict[str, Any]:
    """The ledgered state of an alert's triage."""
    return {"status": alert.status, "reason": alert.status_reason,
            "case_id": alert.case_id}


def triage_alert(*, session: Session, actor: Actor, alert_id: int,
                 data: AlertTriage) -> DetectionAlert:
    """Mark a true or false positive (with a reason) or reopen; 409 when ``version`` is stale
    or the alert was escalated to a CSIRT case."""
    alert = get_alert(session=session, actor=actor, alert_id=alert_id, permission=P.TRIAGE)
    check_version(alert.version, data.version)
    if alert.status == AlertStatus.ESCALATED.value:
        raise Conflict("This alert was escalated to a CSIRT case; follow it there.")
    if data.status is not TriageStatus.OPEN and not data.reason.strip():
        raise Invalid("Give a reason for marking a true or false positive.")
    before = alert_state(alert)
    alert.status, alert.status_reason = data.status.value, data.reason.strip()
    if alert_state(alert) == before:
        return alert
    flush_or_conflict(session)
    audit.record(session=session, actor=actor, action="detection.alert.triage",
                 object_type="detection.alert", object_id=alert.id,
                 object_repr=f"{alert.rule_title} {alert.subject}"[:300], before=before,
                 after=alert_state(alert), institution_id=alert.institution_id)
    return alert


# --- suppressions -----------------------------------------------------------------------

def suppress(*, session: Session, actor: Actor, data: SuppressionIn) -> SuppressionRule:
    """Suppress a rule's alerts (for one subject, one institution, or all) for ``days`` days;
    open alerts it covers become ``suppressed`` now."""
    actor.require(P.TRIAGE)
    institution_id = data.institution_id
    if not actor.is_national:
        if institution_id is not None and institution_id != actor.institution_id:
            raise Forbidden("You may suppress alerts of your own institution only.")
        institution_id = actor.institution_id
    if institution_id is not None:
        registry_service.get_institution(session=session, actor=actor,
                                         institution_id=institution_id)
    now = utcnow()
    rule = SuppressionRule(rule_id=data.rule_id, institution_id=institution_id,
                           subject=data.subject, reason=data.reason,
                           expires_at=now + dt.timedelta(days=data.days),
                           created_by=actor.name[:254], created_at=now)
    session.add(rule)
    stmt = select(DetectionAlert).where(DetectionAlert.rule_id == data.rule_id,
                                        DetectionAlert.status == AlertStatus.OPEN.value)
    if institution_id is not None:
        stmt = stmt.where(DetectionAlert.institution_id == institution_id)
    if data.subject:
        stmt = stmt.where(DetectionAlert.subject == data.subject)
    covered = list(session.scalars(stmt))
    for alert in covered:
        alert.status, alert.status_reason = AlertStatus.SUPPRESSED.value, data.reason
    flush_or_conflict(session)
    audit.record(session=session, actor=actor, action="detection.suppression.create",
                 object_type="detection.suppression", object_id=rule.id,
                 object_repr=f"{rule.rule_id} {rule.subject}"[:300],
                 after={"rule_id": rule.rule_id, "subject": rule.subject,
                        "institution_id": institution_id,
                        "expires_at": rule.expires_at.isoformat()},
                 institution_id=institution_id, details={"alerts_suppressed": len(covered)})
    return rule


def list_suppressions(*, session: Session, actor: Actor, include_expired: bool = False
                      ) -> list[SuppressionRule]:
    """Suppression rules the actor may see (an institution's own and the global ones),
    newest first; unexpired only unless ``include_expired``."""
    actor.require(P.READ)
    stmt = select(SuppressionRule)
    if not actor.is_national:
        stmt = stmt.where(or_(SuppressionRule.institution_id.is_(None),
                              SuppressionRule.institution_id == actor.institution_id))
    if not include_expired:
        stmt = stmt.where(SuppressionRule.expires_at > utcnow())
    return list(session.scalars(stmt.order_by(SuppressionRule.created_at.desc(),
                                              SuppressionRule.id.desc())))


# --- events -----------------------------------------------------------------------------

def search_events(*, session: Session, actor: Actor, query: EventQuery | None = None
                  ) -> list[DetectionEvent]:
    """Stored events the actor may see, filtered as :class:`EventQuery` says, newest
    first."""
    query = query or EventQuery()
    stmt = restrict(select(DetectionEvent), actor=actor, permission=P.READ,
                    scope=DetectionEvent.institution_id)
    if query.institution_id is not None:
        stmt = stmt.where(DetectionEvent.institution_id == query.institution_id)
    if query.dataset:
        stmt = stmt.where(DetectionEvent.dataset == query.dataset)
    for column, value in ((DetectionEvent.host_name, query.host),
                          (DetectionEvent.user_name, query.user),
                          (DetectionEvent.source_ip, query.source_ip),
                          (DetectionEvent.outcome, query.outcome.value if query.outcome else None)):
        if value:
            stmt = stmt.where(column == value)
    if query.start is not None:
        stmt = stmt.where(DetectionEvent.occurred_at >= query.start)
    if query.end is not None:
        stmt = stmt.where(DetectionEvent.occurred_at <= query.end)
    if query.q:
        stmt = stmt.where(func.lower(DetectionEvent.message).contains(
            query.q.lower(), autoescape=True))
    stmt = stmt.order_by(DetectionEvent.received_at.desc(), DetectionEvent.id.desc())
    return list(session.scalars(stmt.limit(query.limit)))


def get_event(*, session: Session, actor: Actor, event_id: int) -> DetectionEvent:
    """One stored event (404 when absent or of another institution)."""
    event = session.get(DetectionEvent, event_id)
    ensure_in_scope(actor, event.institution_id if event else -1, P.READ, what=EVENT)
    if event is None:
        raise _missing(EVENT)
    return event


def rules_summary(*, actor: Actor) -> PackSummary:
    """The loaded rule pack's summary (needs the rules permission)."""
    actor.require(P.RULES_READ)
    return pack_summary()

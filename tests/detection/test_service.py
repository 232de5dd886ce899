"""Detection service: ingest (store every event, then rules), grouping, suppression, scope,
triage, search, limits."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit.models import AuditEntry
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from lakana.monitoring.detection import rules, service
from lakana.monitoring.detection.models import DetectionAlert, DetectionEvent
from lakana.monitoring.detection.schemas import (
    MAX_LINES,
    AlertQuery,
    AlertTriage,
    EventQuery,
    SuppressionIn,
)
from tests.detection import service_fixtures
from tests.detection.service_fixtures import OPENSSH, World, needs_samples

world = service_fixtures.world

INVALID = re.compile(r"Invalid user .*from (\S+)$")
CLEARED = {"EventID": 1102, "Channel": "Security", "Computer": "dc01.dgi.example",
           "SubjectUserName": "admin"}


def _ssh(n: int, ip: str = "203.0.113.9", user: str = "oracle") -> list[str]:
    return [f"Dec 10 06:55:{i % 60:02d} web01 sshd[24200]: Invalid user {user} from {ip}"
            for i in range(n)]


def _alerts(session_factory: sessionmaker[Session]) -> list[DetectionAlert]:
    with session_factory() as session:
        return list(session.scalars(select(DetectionAlert).order_by(DetectionAlert.id)))


@needs_samples
def test_ingest_real_openssh_sample(world: World,
                                    session_factory: sessionmaker[Session]) -> None:
    lines = OPENSSH.read_text(encoding="utf-8").splitlines()
    with session_factory.begin() as session:
        result = service.ingest(session=session, actor=world.focal_a, lines=lines,
                                system_id=world.a_system)
    # Every line is stored, as sent
    assert result.accepted == result.stored == len(lines)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(DetectionEvent)) == len(lines)
    # Invalid-user alerts are grouped by source address, counting each matching line
    expected = Counter(m.group(1) for line in lines if (m := INVALID.search(line)))
    invalid = [a for a in _alerts(session_factory) if a.rule_title.startswith("SSH login "
                                                                              "attempt")]
    assert {a.subject: a.event_count for a in invalid} == dict(expected)
    assert all(a.institution_id == world.a and a.system_id == world.a_system for a in invalid)
    assert result.alerts == len(_alerts(session_factory))
    # The alert page's events are the alert's own
    alert = max(invalid, key=lambda a: a.event_count)
    with session_factory() as session:
        events = service.alert_events(session=session, actor=world.focal_a, alert_id=alert.id)
    assert len(events) == min(50, alert.event_count)
    assert all(e.source_ip == alert.subject and alert.id in e.alert_ids for e in events)


def test_windows_audit_log_cleared_raises_an_alert(world: World,
                                                   session_factory: sessionmaker[Session]
                                                   ) -> None:
    with session_factory.begin() as session:
        result = service.ingest(session=session, actor=world.focal_a, records=[CLEARED])
    assert (result.stored, result.alerts) == (1, 1)
    (alert,) = _alerts(session_factory)
    assert alert.rule_title == "Windows security audit log cleared" and alert.level == "high"
    assert alert.subject == "admin" and "attack.t1070.001" in alert.tags
    assert alert.attribution["author"] == "Lakana"
    assert alert.attribution["license"] == "AGPL-3.0-or-later"


def test_later_matches_add_to_the_open_alert(world: World,
                                             session_factory: sessionmaker[Session]) -> None:
    for _ in range(2):
        with session_factory.begin() as session:
            service.ingest(session=session, actor=world.focal_a, lines=_ssh(3))
    (alert,) = _alerts(session_factory)
    assert alert.event_count == 6
    # A closed (false positive) alert takes no more; a new one opens
    with session_factory.begin() as session:
        service.triage_alert(session=session, actor=world.analyst, alert_id=alert.id,
                             data=AlertTriage(status="false_positive", reason="our scanner",
                                              version=alert.version))
    with session_factory.begin() as session:
        service.ingest(session=session, actor=world.focal_a, lines=_ssh(1))
    old, new = _alerts(session_factory)
    assert (old.status, old.event_count) == ("false_positive", 6)
    assert (new.status, new.event_count) == ("open", 1)
    # An alert last seen over 24 hours ago takes no more either
    with session_factory.begin() as session:
        stale = session.get(DetectionAlert, new.id)
        assert stale is not None
        stale.last_seen = stale.last_seen - dt.timedelta(hours=25)
    with session_factory.begin() as session:
        service.ingest(session=session, actor=world.focal_a, lines=_ssh(1))
    assert len(_alerts(session_factory)) == 3


def test_suppression(world: World, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        service.ingest(session=session, actor=world.focal_a, lines=_ssh(2))
    (alert,) = _alerts(session_factory)
    with session_factory.begin() as session:
        rule = service.suppress(session=session, actor=world.analyst, data=SuppressionIn(
            rule_id=alert.rule_id, subject="203.0.113.9", reason="Pentest", days=7))
        assert rule.institution_id is None
    # The open alert it covers is suppressed now, and new matches stay suppressed
    with session_factory.begin() as session:
        result = service.ingest(session=session, actor=world.focal_a,
                                lines=_ssh(2) + _ssh(1, ip="198.51.100.4"))
    assert result.alerts == 1
    by_subject = {a.subject: a for a in _alerts(session_factory)}
    assert by_subject["203.0.113.9"].status == "suppressed"
    assert by_subject["203.0.113.9"].event_count == 4
    assert by_subject["198.51.100.4"].status == "open"
    with session_factory() as session:
        shown = service.list_alerts(session=session, actor=world.focal_a)
        hidden = service.list_alerts(session=session, actor=world.focal_a,
                                     query=AlertQuery(status="suppressed"))
        assert [a.subject for a in shown] == ["198.51.100.4"]
        assert [a.subject for a in hidden] == ["203.0.113.9"]
        assert len(service.list_suppressions(session=session, actor=world.focal_b)) == 1
    # Focal points may not suppress
    with session_factory.begin() as session, pytest.raises(Forbidden):
        service.suppress(session=session, actor=world.focal_a, data=SuppressionIn(
            rule_id=alert.rule_id, reason="no"))


def test_scope(world: World, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        service.ingest(session=session, actor=world.focal_a, lines=_ssh(1))
        service.ingest(session=session, actor=world.focal_b, records=[CLEARED])
    a_alert, b_alert = _alerts(session_factory)
    with session_factory() as session:
        assert [a.id for a in service.list_alerts(session=session, actor=world.focal_a)] \
            == [a_alert.id]
        assert service.count_open_alerts(session, world.focal_b) == 1
        assert service.count_open_alerts(session, world.analyst) == 2
        with pytest.raises(NotFound):
            service.get_alert(session=session, actor=world.focal_a, alert_id=b_alert.id)
        with pytest.raises(NotFound):
            service.alert_events(session=session, actor=world.focal_a, alert_id=b_alert.id)
        assert {e.institution_id for e in service.search_events(
            session=session, actor=world.focal_b)} == {world.b}
    # Another institution's logs or system are refused
    with session_factory.begin() as session:
        with pytest.raises(Forbidden):
            service.ingest(session=session, actor=world.focal_a, lines=["x"],
                           institution_id=world.b)
        with pytest.raises(Invalid):
            service.ingest(session=session, actor=world.focal_a, lines=["x"],
                           system_id=world.b_system)
        # The centre must say whose logs these are
        with pytest.raises(Invalid):
            service.ingest(session=session, actor=world.analyst, lines=["x"])
        assert service.ingest(session=session, actor=world.analyst, lines=["x"],
                              institution_id=world.b, channel="cli").stored == 1


def test_triage(world: World, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        service.ingest(session=session, actor=world.focal_a, lines=_ssh(1))
    (alert,) = _alerts(session_factory)
    with session_factory.begin() as session:
        with pytest.raises(Forbidden):
            service.triage_alert(session=session, actor=world.focal_a, alert_id=alert.id,
                                 data=AlertTriage(status="true_positive", reason="yes", version=1))
        with pytest.raises(Invalid):
            service.triage_alert(session=session, actor=world.analyst, alert_id=alert.id,
                                 data=AlertTriage(status="true_positive", version=1))
    with session_factory.begin() as session:
        done = service.triage_alert(session=session, actor=world.analyst, alert_id=alert.id,
                                    data=AlertTriage(status="true_positive", reason="Scan",
                                                     version=alert.version))
        assert done.status == "true_positive"
    with session_factory.begin() as session, pytest.raises(Conflict):
        service.triage_alert(session=session, actor=world.analyst, alert_id=alert.id,
                             data=AlertTriage(status="open", version=alert.version))
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "detection.alert.triage")) == 1


def test_search_events(world: World, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        service.ingest(session=session, actor=world.focal_a, lines=[
            *_ssh(2), "Dec 10 07:00:00 web01 CRON[1]: (root) CMD (run-parts /etc/cron.hourly)"])
    with session_factory() as session:
        found = service.search_events(session=session, actor=world.focal_a,
                                      query=EventQuery(q="RUN-PARTS"))
        assert [e.message for e in found] == ["(root) CMD (run-parts /etc/cron.hourly)"]
        sshd = service.search_events(session=session, actor=world.focal_a,
                                     query=EventQuery(dataset="sshd"))
        assert len(sshd) == 2
        assert service.search_events(session=session, actor=world.focal_a,
                                     query=EventQuery(q="100%")) == []


def test_limits_and_audit(world: World, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        with pytest.raises(TooLarge):
            service.ingest(session=session, actor=world.focal_a, lines=["x"] * (MAX_LINES + 1))
        with pytest.raises(TooLarge):
            service.ingest(session=session, actor=world.focal_a,
                           lines=["y" * 1_000_000] * 11)
    with session_factory.begin() as session:
        service.ingest(session=session, actor=world.focal_a, lines=_ssh(3))
    with session_factory() as session:
        (entry,) = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "detection.ingest"))
        assert entry.institution_id == world.a
        assert "oracle" not in str(entry.details) and "203.0.113.9" not in str(entry.details)


def test_rule_pack_and_extra_dir(tmp_path: object, world: World) -> None:
    summary = rules.pack_summary()
    assert summary.loaded >= 7 and summary.unsupported == 0
    assert all(r["license"] == "AGPL-3.0-or-later" and r["author"] == "Lakana"
               for r in summary.rules)
    assert rules.rule_pack() is rules.rule_pack()
    extra = rules.build_pack(service_fixtures.SAMPLES / "missing-folder")
    assert extra.summary()["unsupported"] == 1 and len(extra.rules) == summary.loaded

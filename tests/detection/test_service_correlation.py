"""Correlation rules through ingestion: windows kept in the database across batches, one
grouped alert per attacking source with its events linked, institutions apart, suppressions."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.db import utcnow
from lakana.monitoring.detection import service
from lakana.monitoring.detection.models import CorrelationHit, DetectionAlert, DetectionEvent
from lakana.monitoring.detection.schemas import SuppressionIn
from tests.detection import service_fixtures
from tests.detection.service_fixtures import OPENSSH, World, needs_samples

world = service_fixtures.world

BRUTE, SPRAY, AFTER = ("SSH brute force", "SSH password spraying",
                       "SSH login accepted after failures")
WIN_BRUTE, WIN_SPRAY, WIN_AFTER = ("Windows logon brute force", "Windows password spraying",
                                   "Windows logon after failures")
FAILED = re.compile(r"sshd\[\d+\]: Failed password for (?:invalid user )?.* from (\S+) port")
ATTACKER = "183.62.140.253"  # the real brute force in the OpenSSH sample
START = (utcnow() - dt.timedelta(hours=2)).replace(microsecond=0)


def _stamp(t: dt.datetime) -> str:
    return f"{t:%b} {t.day:2d} {t:%H:%M:%S}"  # RFC 3164


def _failed(i: int, ip: str = "198.51.100.23", user: str = "root",
            minutes: float = 0.0) -> str:
    t = START + dt.timedelta(minutes=minutes, seconds=i)
    return (f"{_stamp(t)} web01 sshd[{4000 + i}]: Failed password for {user} from {ip} "
            f"port {40000 + i} ssh2")


def _accepted(ip: str = "198.51.100.23", user: str = "deploy", minutes: float = 1.0) -> str:
    t = START + dt.timedelta(minutes=minutes)
    return (f"{_stamp(t)} web01 sshd[4999]: Accepted password for {user} from {ip} "
            "port 50000 ssh2")


def _windows(event_id: int, user: str, ip: str = "203.0.113.50", seconds: int = 0,
             logon_type: str = "3") -> dict[str, Any]:
    t = START + dt.timedelta(seconds=seconds)
    return {"EventID": event_id, "Channel": "Security", "Computer": "dc01.dgi.example",
            "TimeCreated": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "TargetUserName": user,
            "TargetDomainName": "DGI", "IpAddress": ip, "IpPort": "51234",
            "LogonType": logon_type, "SubStatus": "0xc000006a"}


def _ingest(session_factory: sessionmaker[Session], actor: Any, system_id: int,
            lines: list[str] | None = None,
            records: list[dict[str, Any]] | None = None) -> service.IngestResult:
    with session_factory.begin() as session:
        return service.ingest(session=session, actor=actor, lines=lines, records=records,
                              system_id=system_id)


def _alerts(session_factory: sessionmaker[Session], institution_id: int | None = None,
            title: str | None = None) -> list[DetectionAlert]:
    with session_factory() as session:
        stmt = select(DetectionAlert).order_by(DetectionAlert.id)
        if institution_id is not None:
            stmt = stmt.where(DetectionAlert.institution_id == institution_id)
        if title is not None:
            stmt = stmt.where(DetectionAlert.rule_title == title)
        return list(session.scalars(stmt))


def _linked(session_factory: sessionmaker[Session], alert_id: int) -> list[DetectionEvent]:
    with session_factory() as session:
        return [e for e in session.scalars(select(DetectionEvent).order_by(DetectionEvent.id))
                if alert_id in (e.alert_ids or ())]


@needs_samples
def test_real_brute_force_in_several_batches_is_one_alert(
        world: World, session_factory: sessionmaker[Session]) -> None:
    lines = OPENSSH.read_text(encoding="utf-8").splitlines()
    # Institution a receives the sample in four batches, institution b in one
    raised: set[int] = set()
    for start in range(0, len(lines), 500):
        result = _ingest(session_factory, world.focal_a, world.a_system,
                         lines=lines[start:start + 500])
        raised.update(result.alert_ids)
    whole = _ingest(session_factory, world.focal_b, world.b_system, lines=lines)

    brute = [a for a in _alerts(session_factory, world.a, BRUTE) if a.subject == ATTACKER]
    assert len(brute) == 1
    alert = brute[0]
    assert alert.id in raised and alert.status == "open" and alert.level == "high"
    assert "attack.t1110.001" in alert.tags
    assert alert.attribution["author"] == "Lakana"
    assert alert.attribution["license"] == "AGPL-3.0-or-later"
    assert alert.attribution["source"] == "sshd_brute_force.yml"
    # Its events are the attacker's failed passwords, each counted once
    linked = _linked(session_factory, alert.id)
    failures = Counter(m.group(1) for line in lines if (m := FAILED.search(line)))
    assert alert.event_count == len(linked) > 100
    assert len(linked) <= failures[ATTACKER]
    assert all(e.source_ip == ATTACKER and "Failed password" in e.message for e in linked)
    # The alert page finds them, events of earlier batches included
    with session_factory() as session:
        shown = service.alert_events(session=session, actor=world.analyst, alert_id=alert.id,
                                     limit=500)
    assert {e.id for e in shown} == {e.id for e in linked}

    # Cut into batches or not, the same windows hold: same alerts, same counts
    def counts(institution_id: int) -> dict[tuple[str, str], int]:
        return {(a.rule_title, a.subject): a.event_count
                for a in _alerts(session_factory, institution_id)}

    assert counts(world.a) == counts(world.b)
    assert whole.alerts == len(counts(world.b))
    # The failures alone raise nothing (their rule only feeds the correlations)
    titles = {a.rule_title for a in _alerts(session_factory)}
    assert "SSH authentication failure" not in titles
    assert {BRUTE, SPRAY, "SSH login attempt with an invalid user"} <= titles


def test_brute_force_across_two_batches(world: World,
                                        session_factory: sessionmaker[Session]) -> None:
    first = _ingest(session_factory, world.focal_a, world.a_system,
                    lines=[_failed(i) for i in range(6)])
    assert first.alerts == 0 and _alerts(session_factory) == []
    second = _ingest(session_factory, world.focal_a, world.a_system,
                     lines=[_failed(i) for i in range(6, 10)])
    [alert] = _alerts(session_factory, title=BRUTE)
    assert second.alert_ids == [alert.id]
    assert alert.subject == "198.51.100.23" and alert.event_count == 10
    assert len(_linked(session_factory, alert.id)) == 10
    # A sustained attack grows the same alert
    third = _ingest(session_factory, world.focal_a, world.a_system,
                    lines=[_failed(i) for i in range(10, 15)])
    [alert] = _alerts(session_factory, title=BRUTE)
    assert third.alert_ids == [alert.id] and alert.event_count == 15


def test_failures_spread_beyond_the_window_raise_nothing(
        world: World, session_factory: sessionmaker[Session]) -> None:
    # Nine failures, then the tenth six minutes after the first: never ten in five minutes
    lines = [_failed(i) for i in range(9)] + [_failed(0, minutes=6)]
    _ingest(session_factory, world.focal_a, world.a_system, lines=lines)
    assert _alerts(session_factory, title=BRUTE) == []


def test_password_spraying(world: World, session_factory: sessionmaker[Session]) -> None:
    users = ["root", "admin", "oracle", "postgres", "ubuntu", "admin"]
    # Four distinct accounts: not yet
    _ingest(session_factory, world.focal_a, world.a_system,
            lines=[_failed(i, ip="192.0.2.77", user=u) for i, u in enumerate(users[:4])])
    assert _alerts(session_factory, title=SPRAY) == []
    # The fifth distinct account (next batch) raises it; a repeated account adds its event
    result = _ingest(session_factory, world.focal_a, world.a_system,
                     lines=[_failed(i, ip="192.0.2.77", user=u)
                            for i, u in enumerate(users[4:], start=4)])
    [alert] = _alerts(session_factory, title=SPRAY)
    assert result.alert_ids == [alert.id]
    assert alert.subject == "192.0.2.77" and alert.event_count == 6
    assert "attack.t1110.003" in alert.tags
    assert _alerts(session_factory, title=BRUTE) == []


def test_success_after_failures(world: World, session_factory: sessionmaker[Session]) -> None:
    _ingest(session_factory, world.focal_a, world.a_system,
            lines=[_failed(i, ip="192.0.2.10") for i in range(3)])
    # A success from another address is nothing; from the failing one, an alert
    _ingest(session_factory, world.focal_a, world.a_system,
            lines=[_accepted(ip="192.0.2.99")])
    assert _alerts(session_factory, title=AFTER) == []
    result = _ingest(session_factory, world.focal_a, world.a_system,
                     lines=[_accepted(ip="192.0.2.10", minutes=4)])
    [alert] = _alerts(session_factory, title=AFTER)
    assert result.alert_ids == [alert.id] and alert.event_count == 4
    linked = _linked(session_factory, alert.id)
    assert [e.fields["event.outcome"] for e in linked] == ["failure"] * 3 + ["success"]
    # A success before the failures is not "after"
    lines = [_accepted(ip="192.0.2.11", minutes=0)] + [
        _failed(i, ip="192.0.2.11", minutes=1) for i in range(3)]
    _ingest(session_factory, world.focal_a, world.a_system, lines=lines)
    assert [a.subject for a in _alerts(session_factory, title=AFTER)] == ["192.0.2.10"]


def test_windows_brute_force_spraying_and_success(
        world: World, session_factory: sessionmaker[Session]) -> None:
    failures = [_windows(4625, f"user{i % 6}", seconds=i) for i in range(12)]
    result = _ingest(session_factory, world.focal_a, world.a_system, records=failures[:7])
    assert result.alerts == 1  # six distinct accounts: spraying, not yet brute force
    _ingest(session_factory, world.focal_a, world.a_system, records=failures[7:])
    _ingest(session_factory, world.focal_a, world.a_system,
            records=[_windows(4624, "user3", seconds=60)])
    alerts = {a.rule_title: a for a in _alerts(session_factory, world.a)}
    assert set(alerts) == {WIN_BRUTE, WIN_SPRAY, WIN_AFTER}
    assert alerts[WIN_BRUTE].event_count == 12 and alerts[WIN_SPRAY].event_count == 12
    assert alerts[WIN_AFTER].event_count == 13
    assert {a.subject for a in alerts.values()} == {"203.0.113.50"}
    # A logon without a source address (a service's, local) takes no part
    _ingest(session_factory, world.focal_a, world.a_system,
            records=[_windows(4624, "svc", ip="-", seconds=61)])
    assert alerts[WIN_AFTER].event_count == _alerts(
        session_factory, title=WIN_AFTER)[0].event_count


def test_institutions_are_counted_apart(world: World,
                                        session_factory: sessionmaker[Session]) -> None:
    _ingest(session_factory, world.focal_a, world.a_system,
            lines=[_failed(i, ip="192.0.2.200") for i in range(5)])
    _ingest(session_factory, world.focal_b, world.b_system,
            lines=[_failed(i, ip="192.0.2.200") for i in range(5, 10)])
    assert _alerts(session_factory, title=BRUTE) == []
    _ingest(session_factory, world.focal_b, world.b_system,
            lines=[_failed(i, ip="192.0.2.200") for i in range(10, 15)])
    [alert] = _alerts(session_factory, title=BRUTE)
    assert alert.institution_id == world.b
    assert {e.institution_id for e in _linked(session_factory, alert.id)} == {world.b}


def test_suppression_covers_correlation_alerts(world: World,
                                               session_factory: sessionmaker[Session]) -> None:
    _ingest(session_factory, world.focal_a, world.a_system,
            lines=[_failed(i) for i in range(10)])
    [alert] = _alerts(session_factory, title=BRUTE)
    with session_factory.begin() as session:
        service.suppress(session=session, actor=world.analyst, data=SuppressionIn(
            rule_id=alert.rule_id, subject="198.51.100.23", reason="Our vulnerability scanner",
            days=7))
    result = _ingest(session_factory, world.focal_a, world.a_system,
                     lines=[_failed(i) for i in range(10, 20)])
    assert result.alert_ids == []
    statuses = Counter(a.status for a in _alerts(session_factory, title=BRUTE))
    assert statuses == {"suppressed": 1}  # the suppressed alert keeps the matches, apart
    # Another source is still alerted on
    other = _ingest(session_factory, world.focal_a, world.a_system,
                    lines=[_failed(i, ip="192.0.2.1") for i in range(10)])
    assert len(other.alert_ids) == 1


def test_old_hits_are_pruned(world: World, session_factory: sessionmaker[Session]) -> None:
    _ingest(session_factory, world.focal_a, world.a_system,
            lines=[_failed(i) for i in range(5)])
    with session_factory() as session:
        # brute force, spraying and success-after-failures each count every failure
        assert session.scalar(select(func.count()).select_from(CorrelationHit)) == 15
    # An hour later, the earlier failures can be in no window (10 minutes at most)
    _ingest(session_factory, world.focal_a, world.a_system,
            lines=[_failed(0, ip="192.0.2.5", minutes=60)])
    with session_factory() as session:
        hits = list(session.scalars(select(CorrelationHit)))
    assert {h.group_values["source.ip"] for h in hits} == {"192.0.2.5"}
    assert len(hits) == 3

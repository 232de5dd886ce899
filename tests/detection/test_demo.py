"""The detection demo: realistic lines of two demo institutions raise alerts, once."""

from __future__ import annotations

import ipaddress

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.rbac import system_actor
from lakana.monitoring.detection import demo, rules
from lakana.monitoring.detection.models import DetectionAlert, DetectionEvent
from lakana.registry import demo as registry_demo
from lakana.registry import service as registry_service

DOCUMENTATION = [ipaddress.ip_network(n) for n in
                 ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]


def test_demo_raises_alerts_once(session_factory: sessionmaker[Session]) -> None:
    # Given the registry's demo institutions and Lakana's own rules
    rules.clear_cache()
    rules.configure(None)
    actor = system_actor("lakana demo", "cli")
    with session_factory.begin() as session:
        registry_demo.load_demo(session=session, actor=actor)
    # When the detection demo is loaded twice
    with session_factory.begin() as session:
        counts = demo.load_demo(session=session, actor=actor)
    with session_factory.begin() as session:
        again = demo.load_demo(session=session, actor=actor)
    # Then every line is stored once, and the second load changes nothing
    sent = len(demo.linux_lines(demo.utcnow())) + len(demo.windows_lines(demo.utcnow()))
    assert counts["events"] == sent and counts["alerts"] >= 4
    assert again == {"events": 0, "alerts": 0}
    with session_factory() as session:
        mef = registry_service.get_institution_id_by_acronym(session=session, acronym="MEF")
        dgi = registry_service.get_institution_id_by_acronym(session=session, acronym="DGI")
        alerts = list(session.scalars(select(DetectionAlert)))
        by_rule = {(a.institution_id, a.rule_title): a for a in alerts}
        # The brute force is one alert per source address, counting each attempt
        invalid = by_rule[(mef, "SSH login attempt with an invalid user")]
        assert invalid.subject == demo.ATTACKER or invalid.subject == demo.SPRAYER
        brute = [a for a in alerts if a.subject == demo.ATTACKER
                 and a.rule_title == invalid.rule_title]
        assert brute and brute[0].event_count == len(demo.USERS)
        assert (dgi, "Windows security audit log cleared") in by_rule
        assert all(a.system_id is not None for a in alerts)
        # Only documentation addresses appear
        ips = {e.source_ip for e in session.scalars(select(DetectionEvent)) if e.source_ip}
        assert ips and all(any(ipaddress.ip_address(ip) in n for n in DOCUMENTATION)
                           for ip in ips)


def test_demo_without_registry_does_nothing(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        assert demo.load_demo(session=session, actor=system_actor("lakana demo", "cli")) == {
            "events": 0, "alerts": 0}
